package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"meapi/store"
	"meapi/store/postgres"
	"meapi/store/sqlite"
)

const dbUsage = "the database: a postgres:// or postgresql:// URL selects PostgreSQL (its password is never logged); anything else is an SQLite file (created if missing)"

// defaultPoolSize is PostgreSQL's pool: on a 2-core machine, a few more
// connections than cores keep the database busy while some wait on the
// network; more only queue inside PostgreSQL.
const defaultPoolSize = 8

// isPostgres says whether --db names a PostgreSQL database. The scheme is
// read in any case, as URL schemes are: POSTGRES://… taken for an SQLite
// file would make a folder of its host and echo its password in the error.
func isPostgres(db string) bool {
	lower := strings.ToLower(db)
	return strings.HasPrefix(lower, "postgres:") || strings.HasPrefix(lower, "postgresql:")
}

// postgresURL is --db as pgx reads it: pgx knows a URL by a lower-case
// postgres:// or postgresql:// only, and reads anything else as key=value
// settings.
func postgresURL(db string) (string, error) {
	scheme, rest, ok := strings.Cut(db, "://")
	if !ok {
		return "", errors.New("--db: a PostgreSQL URL starts with postgres:// or postgresql://, e.g. postgres://meapi@db.example.com:5432/meapi")
	}
	return strings.ToLower(scheme) + "://" + rest, nil
}

func engineOf(db string) string {
	if isPostgres(db) {
		return "postgres"
	}
	return "sqlite"
}

// conninfo finds libpq's key=value connection strings ("host=db
// dbname=meapi"), which meapi does not read: it would take one for the
// name of an SQLite file, and create it, password and all.
var conninfo = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|passfile|sslmode|sslpassword|service|connect_timeout|options|application_name)\s*=`)

// checkDB refuses a --db that cannot be what the operator meant, before
// anything is opened or created. The message does not repeat the value:
// it may hold a password.
func checkDB(db string) error {
	if isPostgres(db) {
		_, err := postgresURL(db)
		return err
	}
	if conninfo.MatchString(db) {
		return errors.New("--db looks like a PostgreSQL key=value connection string, which meapi does not read: give it as a URL, e.g. postgres://meapi@db.example.com:5432/meapi?sslmode=require")
	}
	if strings.Contains(db, "://") {
		// A URL that does not start with postgres:// (quoted, after a
		// space, another scheme) would be an SQLite file's name, with a
		// folder made of its host and password.
		return errors.New("--db looks like a URL but does not start with postgres:// or postgresql:// (quotes or spaces around it?): give a PostgreSQL URL as it is, or an SQLite file's path")
	}
	return nil
}

// conninfoPassword is a password in key=value form, quoted or not.
var conninfoPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)

// redactDB is --db as it may be logged or printed: without its password,
// whether in the URL's user information or in its query (libpq and pgx
// read password and sslpassword there too).
func redactDB(db string) string {
	if !isPostgres(db) {
		return conninfoPassword.ReplaceAllString(db, "${1}=xxxxx")
	}
	norm, err := postgresURL(db)
	if err != nil {
		return "postgres:(unparsable)"
	}
	u, err := url.Parse(norm)
	if err != nil {
		return "postgres://(unparsable)"
	}
	u.RawQuery = redactQuery(u.RawQuery)
	return u.Redacted()
}

// redactQuery masks the values of a query's password parameters, leaving
// the rest as it was written. A key is compared as pgx reads it, decoded
// (pass%77ord is password), and in any case; one that cannot be decoded
// is masked too.
func redactQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || strings.EqualFold(key, "password") || strings.EqualFold(key, "sslpassword") {
			parts[i] = k + "=xxxxx"
		}
	}
	return strings.Join(parts, "&")
}

// oneLine is an error printed on one line: pgx puts each address it tried
// on a line of its own, which breaks the one-line errors of meapi and the
// log lines that quote them.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	out := strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if strings.HasSuffix(out, ":") {
			out += " " + l
		} else {
			out += "; " + l
		}
	}
	return out
}

func (e oneLine) Unwrap() error { return e.err }

type storeOptions struct {
	migrate  bool
	observer store.Observer
	poolSize int
}

// openStore opens the engine --db names.
func openStore(ctx context.Context, db string, o storeOptions) (store.Engine, error) {
	if err := checkDB(db); err != nil {
		return nil, err
	}
	if isPostgres(db) {
		pgURL, _ := postgresURL(db) // checkDB has checked it
		opts := []postgres.Option{postgres.WithPoolSize(o.poolSize)}
		if !o.migrate {
			opts = append(opts, postgres.WithoutMigrations())
		}
		if o.observer != nil {
			opts = append(opts, postgres.WithObserver(o.observer))
		}
		st, err := postgres.Open(ctx, pgURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", redactDB(db), oneLine{err})
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
