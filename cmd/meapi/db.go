package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
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
	if err := checkFolder("--db", db); err != nil {
		return nil, err
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

// checkFolder says, before SQLite does, that a file cannot be made because
// its folder does not exist: SQLite's own words for that are "unable to
// open database file (14)", which names neither the folder nor the flag.
func checkFolder(flagName, path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: the folder %s does not exist; create it first (mkdir -p %s)", flagName, path, dir, dir)
	case err != nil:
		return fmt.Errorf("%s %s: %w", flagName, path, err)
	case !fi.IsDir():
		return fmt.Errorf("%s %s: %s is not a folder", flagName, path, dir)
	}
	return nil
}
