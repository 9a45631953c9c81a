// Package rowscan reads the rows both engines select in the same shape:
// the columns of a user, and a session with its sign-ins and their users.
// Each engine keeps its own SQL (placeholders differ) and its own way of
// scanning a nullable column; what the rows mean is written once, here.
package rowscan

import (
	"fmt"
	"time"

	"meapi/store"
)

// UserColumns are the columns of users (aliased u) that a User is read
// from, in the order of a UserScan's Dest.
const UserColumns = `u.id, u.email, u.username, u.first_name, u.last_name, u.image_url, u.phone_number,
	u.password_hash, u.two_factor_enabled, u.email_verified, u.phone_verified, u.version, u.created_at, u.updated_at`

// SessionColumns come before UserColumns in the rows of a session, one row
// a sign-in.
const SessionColumns = `bs.id, bs.token_hash, bs.generation, bs.created_at, bs.last_active_at, bs.idle_expires_at,
	si.id, si.created_at, si.expires_at, si.activated_seq, ` + UserColumns

// NewUserColumns are the columns of users a sign-up inserts, in the order
// of NewUserValues.
const NewUserColumns = `id, email, email_folded, username, username_folded, first_name, last_name, password_hash, created_at, updated_at`

// NewUserValues are the values of NewUserColumns for a new user with this
// id, made at now (Unix milliseconds): the folded forms the uniqueness of
// emails and usernames is kept on are made here, once for both engines.
func NewUserValues(id string, u store.NewUser, now int64) []any {
	return []any{id, u.Email, store.Fold(u.Email), u.Username, store.FoldOptional(u.Username),
		u.FirstName, u.LastName, u.PasswordHash, now, now}
}

// UserScan is an engine's scan destinations for UserColumns.
type UserScan interface {
	Dest() []any
	User() store.User
}

// Rows is what both database/sql's and pgx's rows have.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// FromMillis is a stored time: Unix milliseconds, read as UTC.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Session reads the rows of SessionColumns into a session with its
// sign-ins in the rows' order, and returns the hash of its token;
// store.ErrNotFound when there is no row. The caller closes rows.
func Session[U any, PU interface {
	*U
	UserScan
}](rows Rows) (*store.Session, []byte, error) {
	var sess *store.Session
	var tokenHash []byte
	for rows.Next() {
		var (
			id                        string
			hash                      []byte
			generation                int64
			created, lastActive, idle int64
			si                        store.Signin
			siCreated, siExpires      int64
			us                        U
		)
		dest := append([]any{&id, &hash, &generation, &created, &lastActive, &idle, &si.ID, &siCreated, &siExpires, &si.ActivatedSeq}, PU(&us).Dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("load session: %w", err)
		}
		if sess == nil {
			sess = &store.Session{ID: id, Generation: generation, CreatedAt: FromMillis(created), LastActiveAt: FromMillis(lastActive), IdleExpiresAt: FromMillis(idle)}
			tokenHash = hash
		}
		si.CreatedAt, si.ExpiresAt, si.User = FromMillis(siCreated), FromMillis(siExpires), PU(&us).User()
		sess.Signins = append(sess.Signins, si)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	if sess == nil {
		return nil, nil, store.ErrNotFound
	}
	return sess, tokenHash, nil
}
