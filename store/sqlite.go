package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite is the store on one SQLite file. Writes go through a single
// connection, so that writers queue in Go instead of spinning on SQLite's
// lock; reads use a pool of their own, which WAL lets run beside the writer.
type SQLite struct {
	writer *sql.DB
	reader *sql.DB
	// w and r prepare the queries of each pool once.
	w, r *preparer
	// wr runs the writes, in batches.
	wr *writer
	// sessions keeps sessions read, for SessionByTokenHash.
	sessions *sessionCache
	// schema is the number of migrations this binary has.
	schema int
}

// read is the read pool; write runs inside tx, a transaction of the writer
// (or outside any when tx is nil).
func (s *SQLite) read() conn            { return conn{p: s.r} }
func (s *SQLite) write(tx *sql.Tx) conn { return conn{p: s.w, tx: tx} }

// ErrMigrationsPending is the store's answer to Ready while the database's
// schema is older than the binary's.
var ErrMigrationsPending = errors.New("migrations pending")

// Option changes how OpenSQLite opens a database.
type Option func(*openOptions)

type openOptions struct{ migrate bool }

// WithoutMigrations opens the database as it is: `meapi serve
// --migrate=false` (for deployments that run `meapi migrate` as a step of
// their own) and `meapi backup` use it. Ready reports pending migrations.
func WithoutMigrations() Option { return func(o *openOptions) { o.migrate = false } }

// sqlitePragmas are set on every connection. busy_timeout comes first so
// that the ones after it wait for a lock instead of failing.
var sqlitePragmas = []string{
	// Wait up to 5 s for a lock held by another process (a second replica
	// or `meapi backup`) instead of failing at once with SQLITE_BUSY.
	"busy_timeout(5000)",
	// WAL lets readers run while one writer writes, and commits with one
	// fsync-free append in NORMAL mode.
	"journal_mode(WAL)",
	// NORMAL in WAL mode never corrupts the database and never loses a
	// commit to a process crash or kill; only a power cut can roll back
	// the last commits.
	"synchronous(NORMAL)",
	// SQLite leaves foreign keys off unless asked, per connection.
	"foreign_keys(1)",
}

// OpenSQLite opens (creating it if needed) the database file at path and
// applies the migrations it has not seen yet.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	o := openOptions{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	ms, err := migrations("sqlite")
	if err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite path %q: must be a file name without '?' or '#'", path)
	}
	dsn := func(extra ...string) string {
		q := make([]string, 0, len(sqlitePragmas)+len(extra))
		for _, p := range sqlitePragmas {
			q = append(q, "_pragma="+p)
		}
		return path + "?" + strings.Join(append(q, extra...), "&")
	}
	// BEGIN IMMEDIATE takes the write lock when a write transaction starts,
	// so a transaction that reads before it writes can never be refused
	// halfway for a lock that another writer took in between.
	writer, err := sql.Open("sqlite", dsn("_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if o.migrate {
		if _, err := migrate(ctx, writer, ms, time.Now); err != nil {
			writer.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	// query_only makes a write through the read pool an error instead of a
	// second writer.
	reader, err := sql.Open("sqlite", dsn("_pragma=query_only(1)"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	reader.SetMaxOpenConns(4)
	reader.SetMaxIdleConns(4)
	reader.SetConnMaxIdleTime(0)
	s := &SQLite{writer: writer, reader: reader, w: &preparer{db: writer}, r: &preparer{db: reader}, schema: len(ms),
		sessions: newSessionCache(sessionCacheSize)}
	s.wr = newWriter(s)
	return s, nil
}

// Migrate applies the migrations the database has not seen yet and says
// how many that was.
func (s *SQLite) Migrate(ctx context.Context) (int, error) {
	ms, err := migrations("sqlite")
	if err != nil {
		return 0, err
	}
	return migrate(ctx, s.writer, ms, time.Now)
}

// Backup writes a consistent copy of the database to the file path, which
// must not exist, while others go on reading and writing (VACUUM INTO reads
// one snapshot; in WAL mode it blocks no writer).
func (s *SQLite) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup: %s exists already", path)
	}
	if _, err := s.writer.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// Close closes both connection pools.
func (s *SQLite) Close() error {
	s.wr.close()
	s.r.close()
	s.w.close()
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// Ready reports whether the database answers a query, and returns
// ErrMigrationsPending when its schema is older than the binary's.
func (s *SQLite) Ready(ctx context.Context) error {
	var version int
	var migrated bool
	// A database opened WithoutMigrations may not have the table yet.
	if err := s.read().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&migrated); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	if migrated {
		if err := s.read().QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return fmt.Errorf("ready: %w", err)
		}
	}
	if version < s.schema {
		return fmt.Errorf("ready: the schema is at version %d of %d: %w", version, s.schema, ErrMigrationsPending)
	}
	return nil
}

// isUniqueViolation reports whether err is SQLite refusing a row that a
// UNIQUE index forbids.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

const userColumns = `u.id, u.email, u.username, u.first_name, u.last_name, u.image_url, u.phone_number,
	u.password_hash, u.two_factor_enabled, u.email_verified, u.phone_verified, u.version, u.created_at, u.updated_at`

// userScan holds the scan destinations of userColumns.
type userScan struct {
	u                                           User
	username, firstName, lastName, image, phone sql.NullString
	createdAt, updatedAt                        int64
}

func (s *userScan) dest() []any {
	return []any{&s.u.ID, &s.u.Email, &s.username, &s.firstName, &s.lastName, &s.image, &s.phone,
		&s.u.PasswordHash, &s.u.TwoFactorEnabled, &s.u.EmailVerified, &s.u.PhoneVerified, &s.u.Version,
		&s.createdAt, &s.updatedAt}
}

func (s *userScan) user() User {
	u := s.u
	u.Username = nullString(s.username)
	u.FirstName = nullString(s.firstName)
	u.LastName = nullString(s.lastName)
	u.ImageURL = nullString(s.image)
	u.PhoneNumber = nullString(s.phone)
	u.CreatedAt = fromMillis(s.createdAt)
	u.UpdatedAt = fromMillis(s.updatedAt)
	return u
}

func nullString(ns sql.NullString) *string {
	if !ns.Valid {
		return nil
	}
	return &ns.String
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// sessionQuery selects a live browser session with its live sign-ins and
// their users in one round trip. ?1 picks the session, ?2 is now.
const sessionQuery = `SELECT bs.id, bs.generation, bs.created_at, bs.last_active_at, bs.idle_expires_at,
	si.id, si.created_at, si.expires_at, si.activated_seq, ` + userColumns + `
FROM browser_sessions bs
JOIN signins si ON si.session_id = bs.id AND si.expires_at > ?2
JOIN users u ON u.id = si.user_id
WHERE %s = ?1 AND bs.idle_expires_at > ?2
ORDER BY si.created_at, si.rowid`

var (
	sessionByTokenQuery = fmt.Sprintf(sessionQuery, "bs.token_hash")
	sessionByIDQuery    = fmt.Sprintf(sessionQuery, "bs.id")
)

func loadSession(ctx context.Context, q conn, query string, key any, now time.Time) (*Session, error) {
	rows, err := q.QueryContext(ctx, query, key, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	var sess *Session
	for rows.Next() {
		var (
			id                        string
			generation                int64
			created, lastActive, idle int64
			si                        Signin
			siCreated, siExpires      int64
			us                        userScan
		)
		dest := append([]any{&id, &generation, &created, &lastActive, &idle, &si.ID, &siCreated, &siExpires, &si.ActivatedSeq}, us.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("load session: %w", err)
		}
		if sess == nil {
			sess = &Session{ID: id, generation: generation, CreatedAt: fromMillis(created), LastActiveAt: fromMillis(lastActive), IdleExpiresAt: fromMillis(idle)}
		}
		si.CreatedAt, si.ExpiresAt, si.User = fromMillis(siCreated), fromMillis(siExpires), us.user()
		sess.Signins = append(sess.Signins, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if sess == nil {
		return nil, ErrNotFound
	}
	return sess, nil
}

// SessionByTokenHash returns the live browser session whose token has this
// SHA-256, or ErrNotFound when there is none (unknown, expired or ended).
//
// Every call asks the database, so that an ended session ends at once for
// every server; but when the session's generation is still the one of a
// copy this process read before, it asks only for that, and returns the
// copy (see sessionCache).
func (s *SQLite) SessionByTokenHash(ctx context.Context, tokenHash []byte, now time.Time) (*Session, error) {
	return s.sessionByToken(ctx, s.read(), tokenHash, now)
}

// SessionForWrite is SessionByTokenHash through the writer connection, for
// a request that is about to write. Every write empties the page cache of
// every reader connection (WAL mode), but not the writer's own: a request
// that writes anyway reads its session at a third of the cost this way,
// for a few microseconds more of the writer's time.
func (s *SQLite) SessionForWrite(ctx context.Context, tokenHash []byte, now time.Time) (*Session, error) {
	var sess *Session
	err := s.readInWriter(ctx, func(ctx context.Context, w conn) (err error) {
		sess, err = s.sessionByToken(ctx, w, tokenHash, now)
		return err
	})
	return sess, err
}

func (s *SQLite) sessionByToken(ctx context.Context, c conn, tokenHash []byte, now time.Time) (*Session, error) {
	key := string(tokenHash)
	if cached := s.sessions.get(key); cached != nil {
		var id string
		var generation int64
		err := c.QueryRowContext(ctx, `SELECT id, generation FROM browser_sessions WHERE token_hash = ? AND idle_expires_at > ?`,
			tokenHash, now.UnixMilli()).Scan(&id, &generation)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			s.sessions.drop(key)
			return nil, ErrNotFound
		case err != nil:
			return nil, fmt.Errorf("load session: %w", err)
		case id == cached.ID && generation == cached.generation:
			if live := cached.liveCopy(now); live != nil {
				return live, nil
			}
		}
	}
	sess, err := loadSession(ctx, c, sessionByTokenQuery, tokenHash, now)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.sessions.drop(key)
		}
		return nil, err
	}
	s.sessions.put(key, sess.copy())
	return sess, nil
}

// SignUp creates a user, signs them in on the caller's browser session (or
// a new one) as its active sign-in, and gives the session the new token.
// It returns the session as it stands afterwards. Nothing is written when
// any part fails.
func (s *SQLite) SignUp(ctx context.Context, in SignUp) (*Session, error) {
	var sess *Session
	err := s.inWriter(ctx, true, func(ctx context.Context, w conn) (err error) {
		sess, err = signUp(ctx, w, in)
		return err
	})
	return sess, err
}

func signUp(ctx context.Context, w conn, in SignUp) (*Session, error) {
	now := in.Grant.Now.UnixMilli()
	userID := newID("user")
	var usernameFolded *string
	if in.User.Username != nil {
		f := fold(*in.User.Username)
		usernameFolded = &f
	}
	_, err := w.ExecContext(ctx, `INSERT INTO users
		(id, email, email_folded, username, username_folded, first_name, last_name, password_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		userID, in.User.Email, fold(in.User.Email), in.User.Username, usernameFolded,
		in.User.FirstName, in.User.LastName, in.User.PasswordHash, now, now)
	if isUniqueViolation(err) {
		return nil, takenError(ctx, w, in.User)
	}
	if err != nil {
		return nil, fmt.Errorf("sign up: insert user: %w", err)
	}
	sess, err := grant(ctx, w, userID, in.Grant)
	if err != nil {
		return nil, fmt.Errorf("sign up: %w", err)
	}
	return sess, nil
}

// takenError says which of the new user's unique members are taken. It is
// asked after the unique index refused the row, inside the same
// transaction, so the answer cannot be raced.
func takenError(ctx context.Context, tx conn, u NewUser) error {
	var emailTaken, usernameTaken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email_folded = ?)`, fold(u.Email)).Scan(&emailTaken); err != nil {
		return fmt.Errorf("sign up: %w", err)
	}
	if u.Username != nil {
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE username_folded = ?)`, fold(*u.Username)).Scan(&usernameTaken); err != nil {
			return fmt.Errorf("sign up: %w", err)
		}
	}
	var errs []error
	if emailTaken {
		errs = append(errs, ErrEmailTaken)
	}
	if usernameTaken {
		errs = append(errs, ErrUsernameTaken)
	}
	if len(errs) == 0 {
		return errors.New("sign up: unique violation on neither email nor username")
	}
	return errors.Join(errs...)
}

// updateProfileQuery applies a ProfileUpdate in one statement, so that the
// single writer connection is held for one step of SQLite rather than a
// transaction of several round trips. Each member is set only when it is
// part of the update (?1, ?3, ?5, ?8); the version and updated_at move only
// when some member really changes; ?12 lists the versions the update may
// apply to, as a JSON array, or is NULL for any. Merging happens inside the
// statement, on the row as it is, so concurrent updates of different
// members never lose each other.
var updateProfileQuery = `UPDATE users SET
	first_name = CASE WHEN ?1 THEN ?2 ELSE first_name END,
	last_name = CASE WHEN ?3 THEN ?4 ELSE last_name END,
	username = CASE WHEN ?5 THEN ?6 ELSE username END,
	username_folded = CASE WHEN ?5 THEN ?7 ELSE username_folded END,
	image_url = CASE WHEN ?8 THEN ?9 ELSE image_url END,
	version = version + (` + profileChanged + `),
	updated_at = CASE WHEN ` + profileChanged + ` THEN ?10 ELSE updated_at END
WHERE id = ?11 AND (?12 IS NULL OR version IN (SELECT value FROM json_each(?12)))
RETURNING ` + strings.ReplaceAll(userColumns, "u.", "")

const profileChanged = `(?1 AND first_name IS NOT ?2) OR (?3 AND last_name IS NOT ?4) OR (?5 AND username IS NOT ?6) OR (?8 AND image_url IS NOT ?9)`

// UpdateProfile applies a partial update to a user and returns the user
// afterwards. A member set to the value it already has is no change; when
// nothing changes neither the version nor updated_at moves.
func (s *SQLite) UpdateProfile(ctx context.Context, in ProfileUpdate) (*User, error) {
	var u *User
	var moved []movedSession
	// Atomic: the generations must move with the user, or neither.
	err := s.inWriter(ctx, true, func(ctx context.Context, w conn) (err error) {
		u, moved, err = updateProfile(ctx, w, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Committed: what this process keeps of those sessions may follow.
	for _, m := range moved {
		s.sessions.userChanged(m.id, m.generation, *u)
	}
	return u, nil
}

func updateProfile(ctx context.Context, w conn, in ProfileUpdate) (*User, []movedSession, error) {
	var usernameFolded *string
	if in.Username.Value != nil {
		f := fold(*in.Username.Value)
		usernameFolded = &f
	}
	var versions any // NULL: any version
	if in.IfVersions != nil {
		b, err := json.Marshal(in.IfVersions)
		if err != nil {
			return nil, nil, fmt.Errorf("update profile: %w", err)
		}
		versions = string(b)
	}
	var us userScan
	err := w.QueryRowContext(ctx, updateProfileQuery,
		in.FirstName.Set, in.FirstName.Value, in.LastName.Set, in.LastName.Value,
		in.Username.Set, in.Username.Value, usernameFolded, in.ImageURL.Set, in.ImageURL.Value,
		in.Now.UnixMilli(), in.UserID, versions).Scan(us.dest()...)
	switch {
	case isUniqueViolation(err):
		return nil, nil, ErrUsernameTaken
	case errors.Is(err, sql.ErrNoRows):
		// No such user, or not at a version the update may apply to.
		var version int64
		err := w.QueryRowContext(ctx, `SELECT version FROM users WHERE id = ?`, in.UserID).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, ErrNotFound
		}
		if err != nil {
			return nil, nil, fmt.Errorf("update profile: %w", err)
		}
		return nil, nil, ErrPreconditionFailed
	case err != nil:
		return nil, nil, fmt.Errorf("update profile: %w", err)
	}
	u := us.user()
	var moved []movedSession
	if u.UpdatedAt.Equal(fromMillis(in.Now.UnixMilli())) {
		// It changed: so did every session it is signed in on.
		if moved, err = bumpSessionsOf(ctx, w, u.ID); err != nil {
			return nil, nil, fmt.Errorf("update profile: %w", err)
		}
	}
	return &u, moved, nil
}

// movedSession is a session whose generation a write moved, and to what.
type movedSession struct {
	id         string
	generation int64
}

// bumpSessionsOf moves the generation of every session the user is signed
// in on, so that no server uses a copy read before a change of the user.
func bumpSessionsOf(ctx context.Context, w conn, userID string) ([]movedSession, error) {
	rows, err := w.QueryContext(ctx, `UPDATE browser_sessions SET generation = generation + 1
		WHERE id IN (SELECT session_id FROM signins WHERE user_id = ?) RETURNING id, generation`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var moved []movedSession
	for rows.Next() {
		var m movedSession
		if err := rows.Scan(&m.id, &m.generation); err != nil {
			return nil, err
		}
		moved = append(moved, m)
	}
	return moved, rows.Err()
}
