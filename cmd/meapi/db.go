package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"meapi/store"
	"meapi/store/postgres"
	"meapi/store/sqlite"
)

const dbUsage = "the database: a postgres:// or postgresql:// URL selects PostgreSQL; anything else is an SQLite file (created if missing)"

// defaultPoolSize is PostgreSQL's pool: on a 2-core machine, a few more
// connections than cores keep the database busy while some wait on the
// network; more only queue inside PostgreSQL.
const defaultPoolSize = 8

// isPostgres says whether --db names a PostgreSQL database.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

func engineOf(db string) string {
	if isPostgres(db) {
		return "postgres"
	}
	return "sqlite"
}

// redactDB is --db as it may be logged: a URL without its password.
func redactDB(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://(unparsable)"
	}
	return u.Redacted()
}

type storeOptions struct {
	migrate  bool
	observer store.Observer
	poolSize int
}

// openStore opens the engine --db names.
func openStore(ctx context.Context, db string, o storeOptions) (store.Engine, error) {
	if isPostgres(db) {
		opts := []postgres.Option{postgres.WithPoolSize(o.poolSize)}
		if !o.migrate {
			opts = append(opts, postgres.WithoutMigrations())
		}
		if o.observer != nil {
			opts = append(opts, postgres.WithObserver(o.observer))
		}
		st, err := postgres.Open(ctx, db, opts...)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", redactDB(db), err)
		}
		return st, nil
	}
	var opts []sqlite.Option
	if !o.migrate {
		opts = append(opts, sqlite.WithoutMigrations())
	}
	if o.observer != nil {
		opts = append(opts, sqlite.WithObserver(o.observer))
	}
	return sqlite.Open(ctx, db, opts...)
}
