package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"meapi/store"
	"meapi/store/internal/rowscan"
)

var _ store.Seeder = (*Store)(nil)

// SeedSignUps stores the sign-ups in one transaction of the writer's, with
// statements prepared once for all of them.
func (s *Store) SeedSignUps(ctx context.Context, in []store.SignUp) error {
	return s.onConn(ctx, func(ctx context.Context, c *sql.Conn) error {
		// Rows go in at random places of every index (ids and token hashes
		// are random): a page cache that holds the whole database (a
		// million users take about 1 GiB) saves reading and writing each
		// page again and again, and checkpoints of the WAL far apart write
		// each page once for many batches. They stay set on the writer
		// connection: seeding is the work of a process of its own (meapi
		// seed), and setting the cache back would empty it between batches.
		for _, p := range []string{`PRAGMA cache_size = -2097152`, `PRAGMA wal_autocheckpoint = 262144`} {
			if _, err := c.ExecContext(ctx, p); err != nil {
				return err
			}
		}
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		stmts := make([]*sql.Stmt, 3)
		for i, q := range []string{
			`INSERT INTO users (` + rowscan.NewUserColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			`INSERT INTO browser_sessions (id, token_hash, created_at, last_active_at, idle_expires_at) VALUES (?, ?, ?, ?, ?)`,
			`INSERT INTO signins (id, session_id, user_id, created_at, expires_at, activated_seq) VALUES (?, ?, ?, ?, ?, 1)`,
		} {
			if stmts[i], err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			defer stmts[i].Close()
		}
		for _, su := range in {
			u, g := su.User, su.Grant
			now := g.Now.UnixMilli()
			userID, sessionID := store.NewID("user"), store.NewID("sess")
			if _, err := stmts[0].ExecContext(ctx, rowscan.NewUserValues(userID, u, now)...); err != nil {
				return fmt.Errorf("seed %s: %w", u.Email, err)
			}
			if _, err := stmts[1].ExecContext(ctx, sessionID, g.TokenHash, now, now, g.IdleExpiresAt.UnixMilli()); err != nil {
				return fmt.Errorf("seed %s: %w", u.Email, err)
			}
			if _, err := stmts[2].ExecContext(ctx, store.NewID("signin"), sessionID, userID, now, g.SigninExpiresAt.UnixMilli()); err != nil {
				return fmt.Errorf("seed %s: %w", u.Email, err)
			}
		}
		return tx.Commit()
	})
}
