// Package postgres is meapi's store on PostgreSQL, through pgx's pool
// (github.com/jackc/pgx/v5). Any number of replicas may share one database:
// every write is a transaction of PostgreSQL's own (no group commit here),
// uniqueness is its unique indexes, limits are counted under advisory
// locks, and sessions read are kept and used again after one indexed lookup
// confirms their generation, which triggers move (store/internal/sessioncache).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"meapi/store"
	"meapi/store/internal/migrations"
	"meapi/store/internal/sessioncache"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func loadMigrations() ([]migrations.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return migrations.Load(sub)
}

// Store is the store on one PostgreSQL database.
type Store struct {
	pool     *pgxpool.Pool
	sessions *sessioncache.Cache
	obs      store.Observer
	schema   int
	closed   atomic.Bool
}

var _ store.Engine = (*Store)(nil)

// Option changes how Open opens a database.
type Option func(*options)

type options struct {
	migrate   bool
	obs       store.Observer
	poolSize  int
	cacheSize int
}

// WithoutMigrations opens the database as it is; Ready reports pending
// migrations until Migrate has run.
func WithoutMigrations() Option { return func(o *options) { o.migrate = false } }

// WithObserver has obs told of every operation (see store.Observer).
func WithObserver(obs store.Observer) Option { return func(o *options) { o.obs = obs } }

// WithPoolSize sets how many connections the pool keeps at most (default
// pgxpool's: the larger of 4 and the number of CPUs).
func WithPoolSize(n int) Option { return func(o *options) { o.poolSize = n } }

// WithSessionCacheSize bounds how many sessions are kept.
func WithSessionCacheSize(n int) Option { return func(o *options) { o.cacheSize = n } }

// Open connects to the database that url names (postgres://…) and applies
// the migrations it has not seen yet.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	if o.poolSize > 0 {
		cfg.MaxConns = int32(o.poolSize)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, sessions: sessioncache.New(o.cacheSize), obs: o.obs, schema: len(ms)}
	if o.migrate {
		if _, err := s.migrate(ctx, ms); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}

// observe tells the observer that op has ended, and makes an error caused
// by ctx ending recognisable as such. Every operation calls it, deferred.
func (s *Store) observe(ctx context.Context, op string, start time.Time, err *error) {
	if *err != nil && s.closed.Load() {
		*err = fmt.Errorf("%w: %w", store.ErrClosed, *err)
	}
	*err = store.ContextError(ctx, *err)
	if s.obs != nil {
		s.obs.StoreOp(op, *err, time.Since(start))
	}
}

// migrateLock is the advisory lock replicas take around migrating, so that
// those that start at the same moment migrate once.
const migrateLock = 0x6d65617069 // "meapi"

// Migrate applies the migrations the database has not seen yet and says
// how many that was.
func (s *Store) Migrate(ctx context.Context) (n int, err error) {
	defer s.observe(ctx, store.OpMigrate, time.Now(), &err)
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	return s.migrate(ctx, ms)
}

// migrate applies each migration in its own transaction together with its
// row in schema_migrations, all under one session-level advisory lock.
func (s *Store) migrate(ctx context.Context, ms []migrations.Migration) (int, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return 0, fmt.Errorf("lock for migrating: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	todo, err := migrations.Unapplied(ms, newest)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, m := range todo {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		applied++
	}
	return applied, nil
}

// Ready reports whether the database answers, its schema is current (else
// store.ErrMigrationsPending), and it can be written: a small write that
// must commit (a read-only database, a standby or a full disk fail it).
func (s *Store) Ready(ctx context.Context) (err error) {
	defer s.observe(ctx, store.OpReady, time.Now(), &err)
	var version int
	var migrated bool
	// A database opened WithoutMigrations may not have the table yet.
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&migrated); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	if migrated {
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return fmt.Errorf("ready: %w", err)
		}
	}
	if version < s.schema {
		return fmt.Errorf("ready: the schema is at version %d of %d: %w", version, s.schema, store.ErrMigrationsPending)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE readiness_probe SET probed_at = $1 WHERE id = 1`, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("ready: %w: %w", store.ErrNotWritable, err)
	}
	return nil
}

// tx is one transaction of the store's, with what to do once it has
// committed.
type tx struct {
	pgx.Tx
	after []func()
}

// AfterCommit runs f once the transaction has committed, and never if it
// does not: nothing read inside a transaction is kept before then.
func (t *tx) AfterCommit(f func()) { t.after = append(t.after, f) }

// inTx runs fn in a transaction, again when PostgreSQL gave it up for a
// deadlock or a serialization failure.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, t *tx) error) error {
	var t *tx
	err := s.retry(ctx, func() error {
		t = &tx{}
		return pgx.BeginFunc(ctx, s.pool, func(ptx pgx.Tx) error {
			t.Tx = ptx
			return fn(ctx, t)
		})
	})
	if err != nil {
		return err
	}
	for _, f := range t.after {
		f()
	}
	return nil
}

// retry runs a transaction again when PostgreSQL gave it up for a deadlock
// or a serialization failure (which roll it back whole), twice at most.
func (s *Store) retry(ctx context.Context, run func() error) error {
	for attempt := 1; ; attempt++ {
		err := run()
		if err != nil && attempt < 3 && ctx.Err() == nil && (sqlState(err) == "40P01" || sqlState(err) == "40001") {
			continue
		}
		return err
	}
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// uniqueViolation returns the name of the unique constraint err violates,
// or "".
func uniqueViolation(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName
	}
	return ""
}

// lockKeys are the advisory lock keys of the subjects, sorted and without
// repeats, so that two reservations always take the locks they share in
// the same order and never deadlock.
func lockKeys(limits []store.Limit) []int64 {
	keys := make([]int64, 0, len(limits))
	for _, l := range limits {
		h := fnv.New64a()
		h.Write([]byte("meapi attempts\x00" + l.Subject))
		keys = append(keys, int64(h.Sum64()))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
