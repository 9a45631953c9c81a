package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"meapi/store/internal/migrations"
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

// migrate applies the migrations that the database has not seen yet, each
// in its own transaction together with its row in schema_migrations, so that
// a crash leaves every migration either applied and recorded or not at all.
// Replicas starting at once are safe: the check for each migration is made
// inside its transaction, which takes the write lock first (BEGIN
// IMMEDIATE, from the connection's _txlock).
//
// It returns how many migrations it applied.
func migrate(ctx context.Context, c *sql.Conn, ms []migrations.Migration, now func() time.Time) (int, error) {
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest int
	if err := c.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	todo, err := migrations.Unapplied(ms, newest)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, m := range todo {
		did, err := applyMigration(ctx, c, m, now())
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

func applyMigration(ctx context.Context, c *sql.Conn, m migrations.Migration, now time.Time) (bool, error) {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var applied int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&applied); err != nil {
		return false, err
	}
	if applied > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, now.UnixMilli()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
