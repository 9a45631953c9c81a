package impl_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"meapi/store"
	"meapi/store/postgres"
	"meapi/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openPostgres opens a store on a new PostgreSQL database (pgtest), and a
// pool of the test's own on it.
func openPostgres(t *testing.T, obs store.Observer) (store.Engine, testDB) {
	t.Helper()
	url := pgtest.URL(t)
	st, err := postgres.Open(context.Background(), url, postgres.WithObserver(obs))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return st, pgDB{pool}
}

type pgDB struct{ pool *pgxpool.Pool }

func (d pgDB) exec(t *testing.T, query string) {
	t.Helper()
	if _, err := d.pool.Exec(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func (d pgDB) count(t *testing.T, query string) int64 {
	t.Helper()
	var n int64
	if err := d.pool.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (d pgDB) text(t *testing.T, query string) string {
	t.Helper()
	var s string
	if err := d.pool.QueryRow(context.Background(), query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}
