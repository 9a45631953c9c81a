package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"meapi/store"
	"meapi/store/postgres"
	"meapi/store/postgres/pgtest"
	"meapi/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

// engine is the PostgreSQL store under the contract suite, with a pool of
// the test's own on the same database for what the suite does around it.
type engine struct {
	*postgres.Store
	url string
	raw *pgxpool.Pool
}

func open(t testing.TB, opts ...postgres.Option) *engine {
	t.Helper()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	return &engine{Store: s, url: url, raw: raw}
}

func (e *engine) Another(t *testing.T, obs store.Observer) store.Engine {
	var opts []postgres.Option
	if obs != nil {
		opts = append(opts, postgres.WithObserver(obs))
	}
	s, err := postgres.Open(ctx, e.url, opts...)
	if err != nil {
		t.Fatalf("open another: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (e *engine) Exec(query string) error {
	_, err := e.raw.Exec(ctx, query)
	return err
}

func (e *engine) Int(t *testing.T, query string) int64 {
	t.Helper()
	var n int64
	if err := e.raw.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (e *engine) Text(t *testing.T, query string) (string, bool) {
	t.Helper()
	var s *string
	if err := e.raw.QueryRow(ctx, query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if s == nil {
		return "", false
	}
	return *s, true
}

func (e *engine) Dialect() string { return "postgres" }

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Engine { return open(t) })
}

// TestMigrationsOnceUnderConcurrentStarts opens several stores on one empty
// database at the same moment, as replicas starting together do: the
// migrations are applied once, and every store opens.
func TestMigrationsOnceUnderConcurrentStarts(t *testing.T) {
	url := pgtest.URL(t)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	s, err := postgres.Open(ctx, url, postgres.WithoutMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("Migrate after them: %d, %v; want 0 applied", n, err)
	}
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var rows, newest int
	if err := raw.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &newest); err != nil || rows != newest || rows < 4 {
		t.Errorf("schema_migrations: %d rows, newest %d (%v); want one row per migration", rows, newest, err)
	}
	// A database from a newer meapi is refused rather than misread.
	if _, err := raw.Exec(ctx, `INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if s2, err := postgres.Open(ctx, url); err == nil {
		s2.Close()
		t.Errorf("opened a database at a schema version newer than the binary")
	}
}

func TestReadyWithPendingMigrations(t *testing.T) {
	s, err := postgres.Open(ctx, pgtest.URL(t), postgres.WithoutMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(ctx); !errors.Is(err, store.ErrMigrationsPending) {
		t.Fatalf("Ready before migrating: %v, want ErrMigrationsPending", err)
	}
	if n, err := s.Migrate(ctx); err != nil || n < 4 {
		t.Fatalf("Migrate: %d, %v", n, err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready after migrating: %v", err)
	}
}

// TestReadyFailsReadOnly: a database that refuses writes (a standby, or
// one set read-only) makes the store not ready.
func TestReadyFailsReadOnly(t *testing.T) {
	e := open(t)
	if err := e.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Exec(`ALTER DATABASE ` + dbName(e.url) + ` SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	// New connections get the setting.
	s, err := postgres.Open(ctx, e.url, postgres.WithoutMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(ctx); err == nil {
		t.Errorf("Ready on a read-only database: no error")
	}
}

func dbName(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func TestClosedStore(t *testing.T) {
	e := open(t)
	e.Close()
	if _, err := e.UpdateProfile(ctx, store.ProfileUpdate{UserID: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("a write after Close: %v, want ErrClosed", err)
	}
}
