package store

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"
	"time"
)

// Errors the store returns. Callers check them with errors.Is; a sign-up
// whose email and username are both taken returns both, joined.
var (
	ErrNotFound           = errors.New("not found")
	ErrEmailTaken         = errors.New("email address taken")
	ErrUsernameTaken      = errors.New("username taken")
	ErrPreconditionFailed = errors.New("version does not match")
	// ErrTooManySignins: the browser session already holds as many
	// accounts as it may.
	ErrTooManySignins = errors.New("too many sign-ins in this browser session")
)

// User is a person with an account.
type User struct {
	ID               string
	Email            string
	Username         *string
	FirstName        *string
	LastName         *string
	ImageURL         *string
	PhoneNumber      *string
	PasswordHash     string
	TwoFactorEnabled bool
	EmailVerified    bool
	PhoneVerified    bool
	// Version starts at 1 and moves by one with every change.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Signin is one account signed in on a browser session.
type Signin struct {
	ID        string
	User      User
	CreatedAt time.Time
	ExpiresAt time.Time
	// ActivatedSeq orders the sign-ins of a session by when each was last
	// made active; the highest is the active one.
	ActivatedSeq int64
}

// Session is a browser session: what one __session cookie names.
type Session struct {
	ID string
	// generation is browser_sessions.generation as it was read.
	generation    int64
	CreatedAt     time.Time
	LastActiveAt  time.Time
	IdleExpiresAt time.Time
	// Signins holds the live sign-ins, oldest first. A session the store
	// returns has at least one.
	Signins []Signin
}

// Active returns the sign-in that /me acts on, or nil.
func (s *Session) Active() *Signin {
	if s == nil {
		return nil
	}
	var active *Signin
	for i := range s.Signins {
		if active == nil || s.Signins[i].ActivatedSeq > active.ActivatedSeq {
			active = &s.Signins[i]
		}
	}
	return active
}

// ExpiresAt returns when the session ends if it is not used again: at its
// idle expiry, or earlier when every sign-in has reached its absolute
// lifetime by then.
func (s *Session) ExpiresAt() time.Time {
	var last time.Time
	for _, si := range s.Signins {
		if si.ExpiresAt.After(last) {
			last = si.ExpiresAt
		}
	}
	if s.IdleExpiresAt.Before(last) {
		return s.IdleExpiresAt
	}
	return last
}

// NewUser is what a sign-up stores.
type NewUser struct {
	Email        string
	PasswordHash string
	FirstName    *string
	LastName     *string
	Username     *string
}

// Grant is what signing an account in gives: a sign-in on the caller's
// browser session, or on a new one, and a new token for it.
type Grant struct {
	// SessionID is the caller's browser session, or "" for none. When it
	// has ended meanwhile a new session is started instead.
	SessionID string
	// TokenHash is the SHA-256 of the new session token, which replaces
	// the old one of an existing session.
	TokenHash     []byte
	Now           time.Time
	IdleExpiresAt time.Time
	// SigninExpiresAt is the end of the sign-in's absolute lifetime.
	SigninExpiresAt time.Time
	// MaxSignins is how many accounts one browser session may hold; a
	// grant that would add one more fails with ErrTooManySignins.
	MaxSignins int
}

// SignUp creates a user and signs them in.
type SignUp struct {
	User  NewUser
	Grant Grant
}

// Change is one member of a profile update: Set says whether it is part of
// the update at all, and a nil Value clears it.
type Change struct {
	Set   bool
	Value *string
}

// ProfileUpdate is a partial update of a user's profile.
type ProfileUpdate struct {
	UserID string
	// IfVersions, when not nil, lists the versions the update may apply
	// to; at any other version it fails with ErrPreconditionFailed.
	IfVersions []int64
	FirstName  Change
	LastName   Change
	Username   Change
	ImageURL   Change
	Now        time.Time
}

// fold is the case folding under which emails and usernames are unique.
func fold(s string) string { return strings.ToLower(s) }

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix_ followed by 128 random bits in lower-case base32:
// opaque, unguessable and never sequential.
func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}
