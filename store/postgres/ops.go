package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"meapi/store"
	"meapi/store/internal/rowscan"
	"meapi/store/internal/sessioncache"
)

// querier is what the store's queries run on: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// userScan holds the scan destinations of rowscan.UserColumns.
type userScan struct {
	u                    store.User
	createdAt, updatedAt int64
}

func (s *userScan) Dest() []any {
	return []any{&s.u.ID, &s.u.Email, &s.u.Username, &s.u.FirstName, &s.u.LastName, &s.u.ImageURL, &s.u.PhoneNumber,
		&s.u.PasswordHash, &s.u.TwoFactorEnabled, &s.u.EmailVerified, &s.u.PhoneVerified, &s.u.Version,
		&s.createdAt, &s.updatedAt}
}

func (s *userScan) User() store.User {
	u := s.u
	u.CreatedAt, u.UpdatedAt = rowscan.FromMillis(s.createdAt), rowscan.FromMillis(s.updatedAt)
	return u
}

// sessionQuery selects a live browser session with its live sign-ins and
// their users in one round trip. $1 picks the session, $2 is now.
const sessionQuery = `SELECT ` + rowscan.SessionColumns + `
FROM browser_sessions bs
JOIN signins si ON si.session_id = bs.id AND si.expires_at > $2
JOIN users u ON u.id = si.user_id
WHERE %s = $1 AND bs.idle_expires_at > $2
ORDER BY si.created_at, si.seq`

var (
	sessionByTokenQuery = fmt.Sprintf(sessionQuery, "bs.token_hash")
	sessionByIDQuery    = fmt.Sprintf(sessionQuery, "bs.id")
)

func loadSession(ctx context.Context, q querier, query string, key any, now time.Time) (*store.Session, []byte, error) {
	rows, err := q.Query(ctx, query, key, now.UnixMilli())
	if err != nil {
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	return rowscan.Session[userScan](rows)
}

// sessionGenerationQuery confirms a kept session: its id and generation.
const sessionGenerationQuery = `SELECT id, generation FROM browser_sessions WHERE token_hash = $1 AND idle_expires_at > $2`

// sessionsOfUserQuery reads the generations of a user's sessions, after a
// change of the user moved them.
const sessionsOfUserQuery = `SELECT bs.id, bs.token_hash, bs.generation FROM browser_sessions bs
	JOIN signins si ON si.session_id = bs.id WHERE si.user_id = $1`

// Statements are the statements GET and PATCH /me send, for bench/pgxloop,
// which runs them in a plain loop to find PostgreSQL's own limit on a
// machine. Arguments as in SessionByTokenHash and UpdateProfile.
var Statements = struct {
	SessionGeneration, SessionByToken, UpdateProfile, SessionsOfUser string
}{sessionGenerationQuery, sessionByTokenQuery, updateProfileQuery, sessionsOfUserQuery}

// SessionByTokenHash returns the live browser session whose token has this
// SHA-256, or store.ErrNotFound. A kept copy is used again after one
// indexed lookup says its generation has not moved; it asks the database
// every time, so that an ended session ends at once on every replica.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash []byte, now time.Time) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSessionByTokenHash, time.Now(), &err)
	return s.sessions.Lookup(tokenHash, now, func() (id string, generation int64, err error) {
		err = s.pool.QueryRow(ctx, sessionGenerationQuery, tokenHash, now.UnixMilli()).Scan(&id, &generation)
		if errors.Is(err, pgx.ErrNoRows) {
			err = store.ErrNotFound
		}
		return id, generation, err
	}, func() (*store.Session, error) {
		// Outside a transaction: this read sees only what has committed.
		sess, _, err := loadSession(ctx, s.pool, sessionByTokenQuery, tokenHash, now)
		return sess, err
	})
}

// keepAfterCommit keeps a session read inside t once t has committed.
func (s *Store) keepAfterCommit(t *tx, tokenHash []byte, sess *store.Session) {
	if sess == nil || tokenHash == nil {
		return
	}
	kept := sessioncache.Copy(sess)
	t.AfterCommit(func() { s.sessions.Put(tokenHash, kept) })
}

// SignUp creates a user and signs them in, in one transaction.
func (s *Store) SignUp(ctx context.Context, in store.SignUp) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSignUp, time.Now(), &err)
	now := in.Grant.Now.UnixMilli()
	err = s.inTx(ctx, func(ctx context.Context, t *tx) error {
		userID := store.NewID("user")
		if _, err := t.Exec(ctx, `INSERT INTO users (`+rowscan.NewUserColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			rowscan.NewUserValues(userID, in.User, now)...); err != nil {
			return err
		}
		var err error
		sess, err = s.grant(ctx, t, userID, in.Grant)
		return err
	})
	if name := uniqueViolation(err); name != "" {
		return nil, s.takenError(ctx, name, in.User)
	}
	if err != nil && !errors.Is(err, store.ErrTooManySignins) {
		return nil, fmt.Errorf("sign up: %w", err)
	}
	return sess, err
}

// takenError says which of the new user's unique members are taken: the
// one whose constraint refused the row, and the other if it is taken too
// (PostgreSQL reports only the first violation).
func (s *Store) takenError(ctx context.Context, constraint string, u store.NewUser) error {
	emailTaken := constraint == "users_email_folded"
	usernameTaken := constraint == "users_username_folded"
	if !emailTaken && !usernameTaken {
		return fmt.Errorf("sign up: unique violation of %s", constraint)
	}
	if !emailTaken {
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email_folded = $1)`, store.Fold(u.Email)).Scan(&emailTaken); err != nil {
			return fmt.Errorf("sign up: %w", err)
		}
	}
	if !usernameTaken && u.Username != nil {
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE username_folded = $1)`, store.Fold(*u.Username)).Scan(&usernameTaken); err != nil {
			return fmt.Errorf("sign up: %w", err)
		}
	}
	var errs []error
	if emailTaken {
		errs = append(errs, store.ErrEmailTaken)
	}
	if usernameTaken {
		errs = append(errs, store.ErrUsernameTaken)
	}
	return errors.Join(errs...)
}

// grant signs the user in on g's browser session, or on a new one, as SQLite's
// grant does. Renewing the session first locks its row, so that grants into
// one session take turns (the count of its sign-ins holds).
func (s *Store) grant(ctx context.Context, t *tx, userID string, g store.Grant) (*store.Session, error) {
	now := g.Now.UnixMilli()
	sessionID := g.SessionID
	if sessionID != "" {
		tag, err := t.Exec(ctx, `UPDATE browser_sessions SET token_hash = $1, last_active_at = $2, idle_expires_at = $3
			WHERE id = $4 AND idle_expires_at > $2`, g.TokenHash, now, g.IdleExpiresAt.UnixMilli(), sessionID)
		if err != nil {
			return nil, fmt.Errorf("renew session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			sessionID = "" // it ended meanwhile: start a new one
		}
	}
	if sessionID == "" {
		sessionID = store.NewID("sess")
		if _, err := t.Exec(ctx, `INSERT INTO browser_sessions (id, token_hash, created_at, last_active_at, idle_expires_at)
			VALUES ($1, $2, $3, $3, $4)`, sessionID, g.TokenHash, now, g.IdleExpiresAt.UnixMilli()); err != nil {
			return nil, fmt.Errorf("insert session: %w", err)
		}
	}
	tag, err := t.Exec(ctx, `UPDATE signins SET
			activated_seq = (SELECT max(activated_seq) + 1 FROM signins WHERE session_id = $1),
			created_at = CASE WHEN expires_at <= $3 THEN $3 ELSE created_at END,
			expires_at = $4
		WHERE session_id = $1 AND user_id = $2`, sessionID, userID, now, g.SigninExpiresAt.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("reactivate sign-in: %w", err)
	}
	if tag.RowsAffected() == 0 {
		var live int
		if err := t.QueryRow(ctx, `SELECT count(*) FROM signins WHERE session_id = $1 AND expires_at > $2`, sessionID, now).Scan(&live); err != nil {
			return nil, fmt.Errorf("count sign-ins: %w", err)
		}
		if g.MaxSignins > 0 && live >= g.MaxSignins {
			return nil, store.ErrTooManySignins
		}
		if _, err := t.Exec(ctx, `INSERT INTO signins (id, session_id, user_id, created_at, expires_at, activated_seq)
			VALUES ($1, $2, $3, $4, $5, (SELECT coalesce(max(activated_seq), 0) + 1 FROM signins WHERE session_id = $2))`,
			store.NewID("signin"), sessionID, userID, now, g.SigninExpiresAt.UnixMilli()); err != nil {
			return nil, fmt.Errorf("insert sign-in: %w", err)
		}
	}
	sess, hash, err := loadSession(ctx, t, sessionByIDQuery, sessionID, g.Now)
	if err != nil {
		return nil, err
	}
	s.keepAfterCommit(t, hash, sess)
	return sess, nil
}

// SignIn signs an existing user in, as SignUp does a new one.
func (s *Store) SignIn(ctx context.Context, userID string, g store.Grant) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSignIn, time.Now(), &err)
	err = s.inTx(ctx, func(ctx context.Context, t *tx) (err error) {
		sess, err = s.grant(ctx, t, userID, g)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	return sess, nil
}

// UserByEmail returns the user with this email address, compared
// case-folded, or store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (u *store.User, err error) {
	defer s.observe(ctx, store.OpUserByEmail, time.Now(), &err)
	return s.userBy(ctx, `SELECT `+rowscan.UserColumns+` FROM users u WHERE u.email_folded = $1`, store.Fold(email))
}

// UserByUsername returns the user with this username, compared
// case-folded, or store.ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (u *store.User, err error) {
	defer s.observe(ctx, store.OpUserByUsername, time.Now(), &err)
	return s.userBy(ctx, `SELECT `+rowscan.UserColumns+` FROM users u WHERE u.username_folded = $1`, store.Fold(username))
}

func (s *Store) userBy(ctx context.Context, query, value string) (*store.User, error) {
	var us userScan
	err := s.pool.QueryRow(ctx, query, value).Scan(us.Dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	u := us.User()
	return &u, nil
}

// lockSession takes the session's row lock for the rest of the
// transaction, so that changes of its sign-ins take turns.
func lockSession(ctx context.Context, t *tx, sessionID string) error {
	_, err := t.Exec(ctx, `SELECT 1 FROM browser_sessions WHERE id = $1 FOR UPDATE`, sessionID)
	return err
}

// SwitchSignin makes a live sign-in of the session the active one.
func (s *Store) SwitchSignin(ctx context.Context, sessionID, signinID string, now time.Time) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSwitchSignin, time.Now(), &err)
	err = s.inTx(ctx, func(ctx context.Context, t *tx) error {
		if err := lockSession(ctx, t, sessionID); err != nil {
			return err
		}
		tag, err := t.Exec(ctx, `UPDATE signins SET activated_seq = (SELECT max(activated_seq) + 1 FROM signins WHERE session_id = $1)
			WHERE id = $2 AND session_id = $1 AND expires_at > $3`, sessionID, signinID, now.UnixMilli())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		var hash []byte
		sess, hash, err = loadSession(ctx, t, sessionByIDQuery, sessionID, now)
		s.keepAfterCommit(t, hash, sess)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("switch sign-in: %w", err)
	}
	return sess, err
}

// SignOut ends one sign-in of the session, or all of them when signinID is
// "", deleting the session when none is left.
func (s *Store) SignOut(ctx context.Context, sessionID, signinID string, now time.Time) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSignOut, time.Now(), &err)
	err = s.inTx(ctx, func(ctx context.Context, t *tx) error {
		sess = nil
		if err := lockSession(ctx, t, sessionID); err != nil {
			return err
		}
		if signinID != "" {
			if _, err := t.Exec(ctx, `DELETE FROM signins WHERE id = $1 AND session_id = $2`, signinID, sessionID); err != nil {
				return err
			}
		}
		var err error
		var hash []byte
		sess, hash, err = loadSession(ctx, t, sessionByIDQuery, sessionID, now)
		if signinID == "" || errors.Is(err, store.ErrNotFound) {
			sess = nil
			_, err = t.Exec(ctx, `DELETE FROM browser_sessions WHERE id = $1`, sessionID)
			return err
		}
		s.keepAfterCommit(t, hash, sess)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign out: %w", err)
	}
	return sess, nil
}

// TouchSession records that the session was used now.
func (s *Store) TouchSession(ctx context.Context, sessionID string, now, idleExpiresAt time.Time) (err error) {
	defer s.observe(ctx, store.OpTouchSession, time.Now(), &err)
	if _, err := s.pool.Exec(ctx, `UPDATE browser_sessions SET last_active_at = $1, idle_expires_at = $2 WHERE id = $3`,
		now.UnixMilli(), idleExpiresAt.UnixMilli(), sessionID); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// updateProfileQuery applies a ProfileUpdate in one statement, merging on
// the row as it is (PostgreSQL re-reads a row another transaction changed
// meanwhile before it applies the SET), so concurrent updates of different
// members never lose each other. $12 lists the versions the update may
// apply to, or is NULL for any.
const updateProfileQuery = `UPDATE users SET
	first_name = CASE WHEN $1 THEN $2 ELSE first_name END,
	last_name = CASE WHEN $3 THEN $4 ELSE last_name END,
	username = CASE WHEN $5 THEN $6 ELSE username END,
	username_folded = CASE WHEN $5 THEN $7 ELSE username_folded END,
	image_url = CASE WHEN $8 THEN $9 ELSE image_url END,
	version = version + CASE WHEN ` + profileChanged + ` THEN 1 ELSE 0 END,
	updated_at = CASE WHEN ` + profileChanged + ` THEN $10 ELSE updated_at END
WHERE id = $11 AND ($12::bigint[] IS NULL OR version = ANY($12))
RETURNING id, email, username, first_name, last_name, image_url, phone_number,
	password_hash, two_factor_enabled, email_verified, phone_verified, version, created_at, updated_at`

const profileChanged = `($1 AND first_name IS DISTINCT FROM $2::text) OR ($3 AND last_name IS DISTINCT FROM $4::text)
	OR ($5 AND username IS DISTINCT FROM $6::text) OR ($8 AND image_url IS DISTINCT FROM $9::text)`

// UpdateProfile applies a partial update and returns the user afterwards.
// The update, and the read of its sessions' generations that lets this
// process's kept copies follow, go in one round trip.
func (s *Store) UpdateProfile(ctx context.Context, in store.ProfileUpdate) (u *store.User, err error) {
	defer s.observe(ctx, store.OpUpdateProfile, time.Now(), &err)
	var versions []int64 // nil: any version
	if in.IfVersions != nil {
		versions = append([]int64{}, in.IfVersions...)
	}
	type moved struct {
		id         string
		hash       []byte
		generation int64
	}
	var sessions []moved
	var us userScan
	found := false
	// One batch is one round trip and, without BEGIN, one implicit
	// transaction: the update and the read of the generations it moved
	// commit or fail together.
	err = s.retry(ctx, func() error {
		sessions, found = nil, false
		b := &pgx.Batch{}
		b.Queue(updateProfileQuery, in.FirstName.Set, in.FirstName.Value, in.LastName.Set, in.LastName.Value,
			in.Username.Set, in.Username.Value, store.FoldOptional(in.Username.Value), in.ImageURL.Set, in.ImageURL.Value,
			in.Now.UnixMilli(), in.UserID, versions)
		b.Queue(sessionsOfUserQuery, in.UserID)
		br := s.pool.SendBatch(ctx, b)
		err := br.QueryRow().Scan(us.Dest()...)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			br.Close()
			return err
		default:
			found = true
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		for rows.Next() {
			var m moved
			if err := rows.Scan(&m.id, &m.hash, &m.generation); err != nil {
				rows.Close()
				br.Close()
				return err
			}
			sessions = append(sessions, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return err
		}
		// Close reads the batch's end, where a failed commit (a deferred
		// constraint) reports.
		return br.Close()
	})
	switch {
	case uniqueViolation(err) != "":
		return nil, store.ErrUsernameTaken
	case err != nil:
		return nil, fmt.Errorf("update profile: %w", err)
	case !found:
		// No such user, or not at a version the update may apply to.
		var version int64
		err := s.pool.QueryRow(ctx, `SELECT version FROM users WHERE id = $1`, in.UserID).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("update profile: %w", err)
		}
		return nil, store.ErrPreconditionFailed
	}
	user := us.User()
	// Committed: what this process keeps of those sessions may follow.
	for _, m := range sessions {
		s.sessions.UserChanged(m.hash, m.id, m.generation, user)
	}
	return &user, nil
}

// ReserveAttempt checks the limits and records one attempt per subject in
// one transaction that holds an advisory lock per subject (taken in sorted
// order): reservations of one subject take turns, on every replica.
func (s *Store) ReserveAttempt(ctx context.Context, limits []store.Limit, now time.Time) (r store.Reservation, err error) {
	defer s.observe(ctx, store.OpReserveAttempt, time.Now(), &err)
	for _, l := range limits {
		if l.Max < 1 || l.Window <= 0 || l.Subject == "" {
			return store.Reservation{}, fmt.Errorf("reserve attempt: limit %+v: needs a subject, Max of 1 or more and a positive window", l)
		}
	}
	err = s.inTx(ctx, func(ctx context.Context, t *tx) error {
		r = store.Reservation{}
		for _, k := range lockKeys(limits) {
			if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, k); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		var limited *store.LimitedError
		for _, l := range limits {
			// The Max-th most recent attempt within the window: when it
			// ages out, the subject is free again.
			var at int64
			err := t.QueryRow(ctx, `SELECT created_at FROM attempts WHERE subject = $1 AND created_at > $2
				ORDER BY created_at DESC LIMIT 1 OFFSET $3`, l.Subject, now.Add(-l.Window).UnixMilli(), l.Max-1).Scan(&at)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("count attempts: %w", err)
			}
			if free := rowscan.FromMillis(at).Add(l.Window); limited == nil || free.After(limited.RetryAt) {
				limited = &store.LimitedError{Subject: l.Subject, RetryAt: free}
			}
		}
		if limited != nil {
			return limited
		}
		for _, l := range limits {
			var id int64
			if err := t.QueryRow(ctx, `INSERT INTO attempts (subject, created_at, expires_at) VALUES ($1, $2, $3) RETURNING id`,
				l.Subject, now.UnixMilli(), now.Add(l.Window).UnixMilli()).Scan(&id); err != nil {
				return fmt.Errorf("record attempt: %w", err)
			}
			r.IDs = append(r.IDs, id)
		}
		return nil
	})
	return r, err
}

// ReleaseAttempt deletes exactly the attempts of r.
func (s *Store) ReleaseAttempt(ctx context.Context, r store.Reservation) (err error) {
	defer s.observe(ctx, store.OpReleaseAttempt, time.Now(), &err)
	if len(r.IDs) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM attempts WHERE id = ANY($1)`, r.IDs); err != nil {
		return fmt.Errorf("release attempt: %w", err)
	}
	return nil
}

// sweepBatch bounds how many rows one sweep statement deletes.
const sweepBatch = 500

// Sweep deletes what has ended by now, in batches.
func (s *Store) Sweep(ctx context.Context, now time.Time) (sw store.Swept, err error) {
	defer s.observe(ctx, store.OpSweep, time.Now(), &err)
	steps := []struct {
		n    *int64
		stmt string
	}{
		{&sw.Signins, `DELETE FROM signins WHERE id IN (SELECT id FROM signins WHERE expires_at <= $1 LIMIT $2)`},
		{&sw.Sessions, `DELETE FROM browser_sessions WHERE id IN (SELECT id FROM browser_sessions bs WHERE idle_expires_at <= $1
			OR NOT EXISTS (SELECT 1 FROM signins si WHERE si.session_id = bs.id) LIMIT $2)`},
		{&sw.Attempts, `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE expires_at <= $1 LIMIT $2)`},
	}
	for _, st := range steps {
		for {
			tag, err := s.pool.Exec(ctx, st.stmt, now.UnixMilli(), sweepBatch)
			if err != nil {
				return sw, fmt.Errorf("sweep: %w", err)
			}
			*st.n += tag.RowsAffected()
			if tag.RowsAffected() < sweepBatch {
				break
			}
		}
	}
	return sw, nil
}
