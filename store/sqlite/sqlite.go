// Package sqlite is meapi's store on one SQLite file (modernc.org/sqlite,
// pure Go, so no cgo): the embedded default.
//
// Writes go through a single connection held by one goroutine that commits
// them in batches (writer.go); reads use a pool of their own, which WAL lets
// run beside the writer. Sessions read are kept and used again after one
// indexed lookup confirms their generation (store/internal/sessioncache).
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"meapi/store"
	"meapi/store/internal/rowscan"
	"meapi/store/internal/sessioncache"
)

// Store is the store on one SQLite file.
type Store struct {
	path string
	// file is the database file as opened, so that Ready can tell when the
	// path names another file (deleted, or replaced by a restore).
	file   os.FileInfo
	reader *sql.DB
	r      *readPool
	writer *sql.DB
	wr     *writer
	// sessions keeps sessions read, for SessionByTokenHash.
	sessions *sessioncache.Cache
	obs      store.Observer
	// schema is the number of migrations this binary has.
	schema int
}

var _ store.Engine = (*Store)(nil)

// Option changes how Open opens a database.
type Option func(*options)

type options struct {
	migrate   bool
	obs       store.Observer
	cacheSize int
}

// WithoutMigrations opens the database as it is: `meapi serve
// --migrate=false` (for deployments that run `meapi migrate` as a step of
// their own) and `meapi backup` use it. Ready reports pending migrations.
func WithoutMigrations() Option { return func(o *options) { o.migrate = false } }

// WithObserver has obs told of every operation (see store.Observer).
func WithObserver(obs store.Observer) Option { return func(o *options) { o.obs = obs } }

// WithSessionCacheSize bounds how many sessions are kept (default
// sessioncache.DefaultSize).
func WithSessionCacheSize(n int) Option { return func(o *options) { o.cacheSize = n } }

// pragmas are set on every connection. busy_timeout comes first so that
// the ones after it wait for a lock instead of failing.
var pragmas = []string{
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

// Open opens (creating it if needed) the database file at path and applies
// the migrations it has not seen yet.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite path %q: must be a file name without '?' or '#'", path)
	}
	dsn := func(extra ...string) string {
		q := make([]string, 0, len(pragmas)+len(extra))
		for _, p := range pragmas {
			q = append(q, "_pragma="+p)
		}
		return path + "?" + strings.Join(append(q, extra...), "&")
	}
	// BEGIN IMMEDIATE (the writer says it itself; _txlock does for the
	// migrations' transactions) takes the write lock when a write
	// transaction starts, so a transaction that reads before it writes can
	// never be refused halfway for a lock another writer took in between.
	writerDB, err := sql.Open("sqlite", dsn("_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	writerDB.SetMaxOpenConns(1)
	writerDB.SetMaxIdleConns(1)
	writerDB.SetConnMaxLifetime(0)
	writerDB.SetConnMaxIdleTime(0)
	conn, err := writerDB.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		writerDB.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if o.migrate {
		if _, err := migrate(ctx, conn, ms, time.Now); err != nil {
			conn.Close()
			writerDB.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	file, err := os.Stat(path)
	if err != nil {
		conn.Close()
		writerDB.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// query_only makes a write through the read pool an error instead of a
	// second writer.
	reader, err := sql.Open("sqlite", dsn("_pragma=query_only(1)"))
	if err != nil {
		conn.Close()
		writerDB.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// On two cores, more readers than this only queue for the CPU.
	reader.SetMaxOpenConns(4)
	reader.SetMaxIdleConns(4)
	reader.SetConnMaxIdleTime(0)
	s := &Store{path: path, file: file, reader: reader, r: &readPool{db: reader}, writer: writerDB,
		sessions: sessioncache.New(o.cacheSize), obs: o.obs, schema: len(ms)}
	s.wr = newWriter(s, writerDB, conn)
	return s, nil
}

// observe tells the observer that op has ended, and makes an error caused
// by ctx ending recognisable as such. Every operation calls it, deferred.
func (s *Store) observe(ctx context.Context, op string, start time.Time, err *error) {
	*err = store.ContextError(ctx, *err)
	if s.obs != nil {
		s.obs.StoreOp(op, *err, time.Since(start))
	}
}

// Migrate applies the migrations the database has not seen yet and says how
// many that was.
func (s *Store) Migrate(ctx context.Context) (n int, err error) {
	defer s.observe(ctx, store.OpMigrate, time.Now(), &err)
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	err = s.onConn(ctx, func(ctx context.Context, c *sql.Conn) (err error) {
		n, err = migrate(ctx, c, ms, time.Now)
		return err
	})
	return n, err
}

// Backup writes a consistent copy of the database to the file path, which
// must not exist, while others go on reading and writing (VACUUM INTO reads
// one snapshot; in WAL mode it blocks no writer of another process).
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup: %s exists already", path)
	}
	err := s.onConn(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `VACUUM INTO ?`, path)
		return err
	})
	if err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// Close stops the writer and closes both connection pools.
func (s *Store) Close() error {
	s.wr.close()
	s.r.close()
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// stillThere reports, as store.ErrReplaced, that the file at the store's
// path is no longer the one it opened (deleted, or replaced by a restore
// done under it). What the store wrote now would go to a file that is gone
// and be lost at the next start.
func (s *Store) stillThere() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("the database file: %w: %w", store.ErrReplaced, err)
	}
	if !os.SameFile(fi, s.file) {
		return fmt.Errorf("%s is no longer the file this server opened: restart it: %w", s.path, store.ErrReplaced)
	}
	return nil
}

// Ready reports whether the database answers, is the file this store
// opened, has a current schema (else store.ErrMigrationsPending), and can
// be written: a small write that must commit.
func (s *Store) Ready(ctx context.Context) (err error) {
	defer s.observe(ctx, store.OpReady, time.Now(), &err)
	if err := s.stillThere(); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	var version int
	var migrated bool
	// A database opened WithoutMigrations may not have the table yet.
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&migrated); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	if migrated {
		if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return fmt.Errorf("ready: %w", err)
		}
	}
	if version < s.schema {
		return fmt.Errorf("ready: the schema is at version %d of %d: %w", version, s.schema, store.ErrMigrationsPending)
	}
	err = s.write(ctx, func(ctx context.Context, w *wtx) error {
		_, err := w.ExecContext(ctx, `UPDATE readiness_probe SET probed_at = ? WHERE id = 1`, time.Now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("ready: %w: %w", store.ErrNotWritable, err)
	}
	return nil
}

// isUniqueViolation reports whether err is SQLite refusing a row that a
// UNIQUE index forbids.
func isUniqueViolation(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// userScan holds the scan destinations of rowscan.UserColumns.
type userScan struct {
	u                                           store.User
	username, firstName, lastName, image, phone sql.NullString
	createdAt, updatedAt                        int64
}

func (s *userScan) Dest() []any {
	return []any{&s.u.ID, &s.u.Email, &s.username, &s.firstName, &s.lastName, &s.image, &s.phone,
		&s.u.PasswordHash, &s.u.TwoFactorEnabled, &s.u.EmailVerified, &s.u.PhoneVerified, &s.u.Version,
		&s.createdAt, &s.updatedAt}
}

func (s *userScan) User() store.User {
	u := s.u
	u.Username = nullString(s.username)
	u.FirstName = nullString(s.firstName)
	u.LastName = nullString(s.lastName)
	u.ImageURL = nullString(s.image)
	u.PhoneNumber = nullString(s.phone)
	u.CreatedAt = rowscan.FromMillis(s.createdAt)
	u.UpdatedAt = rowscan.FromMillis(s.updatedAt)
	return u
}

func nullString(ns sql.NullString) *string {
	if !ns.Valid {
		return nil
	}
	return &ns.String
}

// sessionQuery selects a live browser session with its live sign-ins and
// their users in one round trip. ?1 picks the session, ?2 is now.
const sessionQuery = `SELECT ` + rowscan.SessionColumns + `
FROM browser_sessions bs
JOIN signins si ON si.session_id = bs.id AND si.expires_at > ?2
JOIN users u ON u.id = si.user_id
WHERE %s = ?1 AND bs.idle_expires_at > ?2
ORDER BY si.created_at, si.rowid`

var (
	sessionByTokenQuery = fmt.Sprintf(sessionQuery, "bs.token_hash")
	sessionByIDQuery    = fmt.Sprintf(sessionQuery, "bs.id")
)

// loadSession reads a session whole, and the hash of its token.
func loadSession(ctx context.Context, q querier, query string, key any, now time.Time) (*store.Session, []byte, error) {
	rows, err := q.QueryContext(ctx, query, key, now.UnixMilli())
	if err != nil {
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	return rowscan.Session[userScan](rows)
}

// SessionByTokenHash returns the live browser session whose token has this
// SHA-256, or store.ErrNotFound when there is none (unknown, expired or
// ended).
//
// Every call asks the database, so that an ended session ends at once for
// every server; but when the session's generation is still the one of a
// copy this process read before, it asks only for that, and returns the
// copy. It reads through the read pool, which sees only what has committed,
// so what it keeps is always true of a committed state.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash []byte, now time.Time) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSessionByTokenHash, time.Now(), &err)
	return s.sessions.Lookup(tokenHash, now, func() (id string, generation int64, err error) {
		err = s.r.QueryRowContext(ctx, `SELECT id, generation FROM browser_sessions WHERE token_hash = ? AND idle_expires_at > ?`,
			tokenHash, now.UnixMilli()).Scan(&id, &generation)
		if errors.Is(err, sql.ErrNoRows) {
			err = store.ErrNotFound
		}
		return id, generation, err
	}, func() (*store.Session, error) {
		sess, _, err := loadSession(ctx, s.r, sessionByTokenQuery, tokenHash, now)
		return sess, err
	})
}

// keepAfterCommit keeps a session read inside w's transaction once (and if)
// that transaction commits.
func (s *Store) keepAfterCommit(w *wtx, tokenHash []byte, sess *store.Session) {
	if sess == nil || tokenHash == nil {
		return
	}
	kept := sessioncache.Copy(sess)
	w.AfterCommit(func() { s.sessions.Put(tokenHash, kept) })
}

// SignUp creates a user, signs them in on the caller's browser session (or
// a new one) as its active sign-in, and gives the session the new token.
// It returns the session as it stands afterwards. Nothing is written when
// any part fails.
func (s *Store) SignUp(ctx context.Context, in store.SignUp) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSignUp, time.Now(), &err)
	err = s.write(ctx, func(ctx context.Context, w *wtx) (err error) {
		sess, err = s.signUp(ctx, w, in)
		return err
	})
	return sess, err
}

func (s *Store) signUp(ctx context.Context, w *wtx, in store.SignUp) (*store.Session, error) {
	now := in.Grant.Now.UnixMilli()
	userID := store.NewID("user")
	_, err := w.ExecContext(ctx, `INSERT INTO users (`+rowscan.NewUserColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rowscan.NewUserValues(userID, in.User, now)...)
	if isUniqueViolation(err) {
		return nil, takenError(ctx, w, in.User)
	}
	if err != nil {
		return nil, fmt.Errorf("sign up: insert user: %w", err)
	}
	sess, err := s.grant(ctx, w, userID, in.Grant)
	if err != nil {
		return nil, fmt.Errorf("sign up: %w", err)
	}
	return sess, nil
}

// takenError says which of the new user's unique members are taken. It is
// asked after the unique index refused the row, inside the same
// transaction, so the answer cannot be raced.
func takenError(ctx context.Context, q querier, u store.NewUser) error {
	var emailTaken, usernameTaken bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email_folded = ?)`, store.Fold(u.Email)).Scan(&emailTaken); err != nil {
		return fmt.Errorf("sign up: %w", err)
	}
	if u.Username != nil {
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE username_folded = ?)`, store.Fold(*u.Username)).Scan(&usernameTaken); err != nil {
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
// members never lose each other. The trigger users_move_generation moves
// the generation of the user's sessions in the same statement.
var updateProfileQuery = `UPDATE users SET
	first_name = CASE WHEN ?1 THEN ?2 ELSE first_name END,
	last_name = CASE WHEN ?3 THEN ?4 ELSE last_name END,
	username = CASE WHEN ?5 THEN ?6 ELSE username END,
	username_folded = CASE WHEN ?5 THEN ?7 ELSE username_folded END,
	image_url = CASE WHEN ?8 THEN ?9 ELSE image_url END,
	version = version + (` + profileChanged + `),
	updated_at = CASE WHEN ` + profileChanged + ` THEN ?10 ELSE updated_at END
WHERE id = ?11 AND (?12 IS NULL OR version IN (SELECT value FROM json_each(?12)))
RETURNING ` + strings.ReplaceAll(rowscan.UserColumns, "u.", "")

const profileChanged = `(?1 AND first_name IS NOT ?2) OR (?3 AND last_name IS NOT ?4) OR (?5 AND username IS NOT ?6) OR (?8 AND image_url IS NOT ?9)`

// UpdateProfile applies a partial update to a user and returns the user
// afterwards. A member set to the value it already has is no change; when
// nothing changes neither the version nor updated_at moves.
func (s *Store) UpdateProfile(ctx context.Context, in store.ProfileUpdate) (u *store.User, err error) {
	defer s.observe(ctx, store.OpUpdateProfile, time.Now(), &err)
	err = s.write(ctx, func(ctx context.Context, w *wtx) (err error) {
		u, err = s.updateProfile(ctx, w, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Store) updateProfile(ctx context.Context, w *wtx, in store.ProfileUpdate) (*store.User, error) {
	var versions any // NULL: any version
	if in.IfVersions != nil {
		b, err := json.Marshal(in.IfVersions)
		if err != nil {
			return nil, fmt.Errorf("update profile: %w", err)
		}
		versions = string(b)
	}
	var us userScan
	err := w.QueryRowContext(ctx, updateProfileQuery,
		in.FirstName.Set, in.FirstName.Value, in.LastName.Set, in.LastName.Value,
		in.Username.Set, in.Username.Value, store.FoldOptional(in.Username.Value), in.ImageURL.Set, in.ImageURL.Value,
		in.Now.UnixMilli(), in.UserID, versions).Scan(us.Dest()...)
	switch {
	case isUniqueViolation(err):
		return nil, store.ErrUsernameTaken
	case errors.Is(err, sql.ErrNoRows):
		// No such user, or not at a version the update may apply to.
		var version int64
		err := w.QueryRowContext(ctx, `SELECT version FROM users WHERE id = ?`, in.UserID).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("update profile: %w", err)
		}
		return nil, store.ErrPreconditionFailed
	case err != nil:
		return nil, fmt.Errorf("update profile: %w", err)
	}
	u := us.User()
	if u.UpdatedAt.Equal(rowscan.FromMillis(in.Now.UnixMilli())) {
		// It changed, and the trigger moved its sessions' generations:
		// once committed, what this process keeps of them may follow.
		if err := s.followUser(ctx, w, u); err != nil {
			return nil, fmt.Errorf("update profile: %w", err)
		}
	}
	return &u, nil
}

// followUser arranges for the kept sessions of u to follow its change once
// the transaction commits (see sessioncache.Cache.UserChanged).
func (s *Store) followUser(ctx context.Context, w *wtx, u store.User) error {
	rows, err := w.QueryContext(ctx, `SELECT bs.id, bs.token_hash, bs.generation FROM browser_sessions bs
		JOIN signins si ON si.session_id = bs.id WHERE si.user_id = ?`, u.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var hash []byte
		var generation int64
		if err := rows.Scan(&id, &hash, &generation); err != nil {
			return err
		}
		w.AfterCommit(func() { s.sessions.UserChanged(hash, id, generation, u) })
	}
	return rows.Err()
}
