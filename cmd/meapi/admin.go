package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"meapi/store/sqlite"
)

// dbFlags parses the flags of a command that only needs the database.
func dbFlags(name, usage string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (db string, err error) {
	fs := flag.NewFlagSet("meapi "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&db, "db", "meapi.db", dbUsage)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: meapi %s [flags]\n\n%s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("%s takes no arguments, got %q", name, fs.Args())
	}
	if err := checkDB(db); err != nil {
		return "", err
	}
	return db, nil
}

// migrateDB applies pending migrations and exits: for deployments that
// migrate as a step of their own and serve with --migrate=false.
func migrateDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	db, err := dbFlags("migrate", "Applies the migrations the database has not seen yet, then exits.", args, stderr, nil)
	if err != nil {
		return flagError(err)
	}
	st, err := openStore(ctx, db, storeOptions{})
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migrations to %s\n", n, redactDB(db))
	return nil
}

// backupDB writes a consistent copy of the database while meapi serves
// from it.
func backupDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var to string
	db, err := dbFlags("backup", "Writes a consistent copy of the database to a new file, also while meapi serves from it.",
		args, stderr, func(fs *flag.FlagSet) { fs.StringVar(&to, "to", "", "the file to write (must not exist)") })
	if err != nil {
		return flagError(err)
	}
	if to == "" {
		return errors.New("--to is required")
	}
	if isPostgres(db) {
		return errors.New("meapi backup is for SQLite only: back a PostgreSQL database up with pg_dump (docs/OPERATIONS.md)")
	}
	// Opening a file that does not exist would create an empty database
	// and back that up: a typo would look like a backup.
	if err := checkFolder("--db", db); err != nil {
		return err
	}
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--db %s: no such database; nothing was backed up", db)
	} else if err != nil {
		return fmt.Errorf("--db %s: %w", db, err)
	}
	if err := checkFolder("--to", to); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, db, sqlite.WithoutMigrations())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, to); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", db, to)
	return nil
}

// flagError turns -help into success.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
