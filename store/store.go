package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
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
	// ErrMigrationsPending is Ready's answer while the database's schema
	// is older than the binary's.
	ErrMigrationsPending = errors.New("migrations pending")
	// ErrClosed is the answer of a store that has been closed.
	ErrClosed = errors.New("store closed")
	// ErrNotWritable is Ready's answer when a small write fails: the
	// database is read-only, its disk is full, or it refuses writes.
	ErrNotWritable = errors.New("the database cannot be written")
	// ErrReplaced is Ready's answer when the database is no longer the one
	// the store opened (its file deleted or replaced): nothing written now
	// would be kept.
	ErrReplaced = errors.New("the database was deleted or replaced")
)

// IsAnswer reports whether err is one of the answers that are part of the
// store's contract (not found, taken, stale version, too many sign-ins,
// limited) rather than a failure.
func IsAnswer(err error) bool {
	var limited *LimitedError
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrEmailTaken) || errors.Is(err, ErrUsernameTaken) ||
		errors.Is(err, ErrPreconditionFailed) || errors.Is(err, ErrTooManySignins) || errors.As(err, &limited)
}

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
	// Generation is browser_sessions.generation as it was read. Triggers
	// in the database move it with every change of what a session read
	// returns (the session, its sign-ins, their users), so an engine may
	// keep a session it read and use it again while the generation stored
	// is still this one.
	Generation    int64
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

// Swept counts what a sweep deleted.
type Swept struct {
	Signins, Sessions, Attempts int64
}

// Limit bounds attempts of one subject (an account, a client address) in a
// sliding window: at most Max within any Window.
type Limit struct {
	Subject string
	Max     int
	Window  time.Duration
}

// Reservation is what ReserveAttempt recorded: one attempt row per subject.
// ReleaseAttempt deletes exactly these rows.
type Reservation struct {
	IDs []int64
}

// LimitedError is ReserveAttempt's answer when a subject already has its
// Max attempts within its window: nothing was recorded, and the subject is
// free again at RetryAt. When several are limited it names the one free
// last.
type LimitedError struct {
	Subject string
	RetryAt time.Time
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("too many attempts for %s until %s", e.Subject, e.RetryAt.UTC().Format(time.RFC3339))
}

// Observer learns of every store operation when it ends: its name (one of
// Ops), its error (nil, an answer such as ErrNotFound, or a failure), and
// how long it took. Engines call it on the one path every operation
// passes, so that no operation goes unseen.
type Observer interface {
	StoreOp(op string, err error, d time.Duration)
}

// The names of the store's operations, as an Observer sees them.
const (
	OpSessionByTokenHash = "session_by_token_hash"
	OpTouchSession       = "touch_session"
	OpSignUp             = "sign_up"
	OpSignIn             = "sign_in"
	OpSwitchSignin       = "switch_signin"
	OpSignOut            = "sign_out"
	OpUserByEmail        = "user_by_email"
	OpUserByUsername     = "user_by_username"
	OpUpdateProfile      = "update_profile"
	OpReserveAttempt     = "reserve_attempt"
	OpReleaseAttempt     = "release_attempt"
	OpSweep              = "sweep"
	OpReady              = "ready"
	OpMigrate            = "migrate"
)

// Ops lists every operation name, for metrics registered before use.
var Ops = []string{OpSessionByTokenHash, OpTouchSession, OpSignUp, OpSignIn, OpSwitchSignin, OpSignOut,
	OpUserByEmail, OpUserByUsername, OpUpdateProfile, OpReserveAttempt, OpReleaseAttempt, OpSweep, OpReady, OpMigrate}

// Engine is what every engine satisfies, and what store/storetest holds
// each of them to.
type Engine interface {
	// SessionByTokenHash returns the live browser session whose token has
	// this SHA-256, or ErrNotFound (unknown, expired or ended).
	SessionByTokenHash(ctx context.Context, tokenHash []byte, now time.Time) (*Session, error)
	// TouchSession records that the session was used now, which moves its
	// idle expiry.
	TouchSession(ctx context.Context, sessionID string, now, idleExpiresAt time.Time) error
	// SignUp creates a user and signs them in on the grant's browser
	// session (or a new one) as its active sign-in, with the new token.
	SignUp(ctx context.Context, in SignUp) (*Session, error)
	// SignIn signs an existing user in, as SignUp does a new one.
	SignIn(ctx context.Context, userID string, g Grant) (*Session, error)
	// SwitchSignin makes a live sign-in of the session the active one, or
	// answers ErrNotFound.
	SwitchSignin(ctx context.Context, sessionID, signinID string, now time.Time) (*Session, error)
	// SignOut ends one sign-in of the session, or all when signinID is "";
	// it returns nil when none is left (the session is then deleted).
	SignOut(ctx context.Context, sessionID, signinID string, now time.Time) (*Session, error)
	// UserByEmail and UserByUsername find a user, case-folded, or answer
	// ErrNotFound.
	UserByEmail(ctx context.Context, email string) (*User, error)
	UserByUsername(ctx context.Context, username string) (*User, error)
	// UpdateProfile applies a partial update and returns the user after it.
	UpdateProfile(ctx context.Context, in ProfileUpdate) (*User, error)
	// ReserveAttempt, in one atomic step, either records one attempt per
	// limit's subject and returns them, or, when any subject already has
	// its Max attempts within its window, records nothing and returns a
	// *LimitedError.
	ReserveAttempt(ctx context.Context, limits []Limit, now time.Time) (Reservation, error)
	// ReleaseAttempt deletes exactly the reservation's attempts.
	ReleaseAttempt(ctx context.Context, r Reservation) error
	// Sweep deletes what has ended by now: sign-ins, sessions, attempts
	// whose window has passed.
	Sweep(ctx context.Context, now time.Time) (Swept, error)
	// Ready reports whether the store answers, its schema is current
	// (else ErrMigrationsPending), and it can be written.
	Ready(ctx context.Context) error
	// Migrate applies the migrations the database has not seen yet and
	// says how many.
	Migrate(ctx context.Context) (int, error)
	Close() error
}

// Seeder stores many sign-ups in few transactions, for `meapi seed`, which
// fills a database for load tests. Each sign-up is a new user on a new
// browser session; a taken email fails the whole call. Both engines have
// it; impl does not need it.
type Seeder interface {
	SeedSignUps(ctx context.Context, in []SignUp) error
}

// Fold is the case folding under which emails and usernames are unique and
// looked up: ASCII letters to lower case, nothing else. Both are ASCII by
// the contract's rules; folding only ASCII means that no other character
// can ever fold into one (the Kelvin sign K into k, as Unicode case folding
// does), whatever reaches it.
func Fold(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// FoldOptional is Fold of an optional value (a username), nil for none.
func FoldOptional(s *string) *string {
	if s == nil {
		return nil
	}
	f := Fold(*s)
	return &f
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns prefix_ followed by 128 random bits in lower-case base32:
// opaque, unguessable and never sequential.
func NewID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// ContextError makes an error caused by ctx ending recognisable as such
// (errors.Is(err, context.Canceled) or context.DeadlineExceeded), whatever
// a driver made of it.
func ContextError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
