package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meapi/store"
	"meapi/store/internal/rowscan"
	"meapi/store/sqlite"
	"meapi/store/storetest"
)

var ctx = context.Background()

// engine is the SQLite store under the contract suite, with a connection of
// the test's own to the same file for what the suite does around it.
type engine struct {
	*sqlite.Store
	path string
	raw  *sql.DB
}

func open(t testing.TB, opts ...sqlite.Option) *engine {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meapi.db")
	s, err := sqlite.Open(ctx, path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &engine{Store: s, path: path, raw: rawDB(t, path)}
}

func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (e *engine) Another(t *testing.T, obs store.Observer) store.Engine {
	var opts []sqlite.Option
	if obs != nil {
		opts = append(opts, sqlite.WithObserver(obs))
	}
	s, err := sqlite.Open(ctx, e.path, opts...)
	if err != nil {
		t.Fatalf("open another: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (e *engine) Exec(query string) error {
	_, err := e.raw.Exec(query)
	return err
}

func (e *engine) Int(t *testing.T, query string) int64 {
	t.Helper()
	var n int64
	if err := e.raw.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (e *engine) Text(t *testing.T, query string) (string, bool) {
	t.Helper()
	var s sql.NullString
	if err := e.raw.QueryRow(query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s.String, s.Valid
}

func (e *engine) Dialect() string { return "sqlite" }

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Engine { return open(t) })
}

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	e := open(t)
	e.Close()
	// Opening again applies nothing twice.
	s2, err := sqlite.Open(ctx, e.path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s2.Close()
	var versions, maxVersion int
	if err := e.raw.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&versions, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if versions != maxVersion || versions < 4 {
		t.Errorf("schema_migrations: %d rows, newest %d; want one row per migration", versions, maxVersion)
	}
	var mode string
	if err := e.raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
	// A database from a newer meapi is refused rather than misread.
	if _, err := e.raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if s3, err := sqlite.Open(ctx, e.path); err == nil {
		s3.Close()
		t.Errorf("opened a database at a schema version newer than the binary")
	}
}

func TestOpenRefusesBadPath(t *testing.T) {
	for _, p := range []string{"", "a.db?mode=memory", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := sqlite.Open(ctx, p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// TestReadyWithPendingMigrations: a database opened as it is answers
// Ready with ErrMigrationsPending until Migrate has run.
func TestReadyWithPendingMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := sqlite.Open(ctx, path, sqlite.WithoutMigrations())
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

// TestReadyNoticesTheFileGone: a database file deleted or replaced under
// the server (a restore done wrong) makes it not ready, although its open
// file still answers.
func TestReadyNoticesTheFileGone(t *testing.T) {
	e := open(t)
	if err := e.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	other := open(t)
	other.Close()
	if err := os.Rename(other.path, e.path); err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(ctx); err == nil {
		t.Errorf("Ready with the file replaced: no error")
	}
	if err := os.Remove(e.path); err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(ctx); err == nil {
		t.Errorf("Ready with the file deleted: no error")
	}
}

// TestClosedStore: operations after Close say so.
func TestClosedStore(t *testing.T) {
	e := open(t)
	e.Close()
	if _, err := e.UpdateProfile(ctx, store.ProfileUpdate{UserID: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("a write after Close: %v, want ErrClosed", err)
	}
}

// TestUserTriggerWatchesEveryColumn: SQLite cannot compare whole rows, so
// the trigger that moves the sessions' generation when a user changes
// names each column. A column a session read returns (rowscan.UserColumns)
// that the trigger does not name, such as a new profile member's, would
// change unseen by kept sessions when it changes alone, as an edit by hand
// does: the trigger must name every one.
func TestUserTriggerWatchesEveryColumn(t *testing.T) {
	e := open(t)
	trigger, ok := e.Text(t, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'users_move_generation'`)
	if !ok {
		t.Fatal("no trigger users_move_generation")
	}
	cols := strings.Split(rowscan.UserColumns, ",")
	for _, c := range cols {
		col := strings.TrimPrefix(strings.TrimSpace(c), "u.")
		if !strings.Contains(trigger, "OLD."+col+" IS NOT NEW."+col) {
			t.Errorf("users_move_generation does not watch users.%s: the migration that adds the column must recreate the trigger with OLD.%s IS NOT NEW.%s", col, col, col)
		}
	}
	if len(cols) < 10 {
		t.Fatalf("only %d columns in rowscan.UserColumns", len(cols))
	}
}
