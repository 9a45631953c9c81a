package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"meapi/store"
	"meapi/store/internal/rowscan"
)

var _ store.Seeder = (*Store)(nil)

// SeedSignUps stores the sign-ups in one transaction, each table's rows in
// one COPY.
func (s *Store) SeedSignUps(ctx context.Context, in []store.SignUp) error {
	users := make([][]any, 0, len(in))
	sessions := make([][]any, 0, len(in))
	signins := make([][]any, 0, len(in))
	for _, su := range in {
		u, g := su.User, su.Grant
		now := g.Now.UnixMilli()
		userID, sessionID := store.NewID("user"), store.NewID("sess")
		users = append(users, rowscan.NewUserValues(userID, u, now))
		sessions = append(sessions, []any{sessionID, g.TokenHash, now, now, g.IdleExpiresAt.UnixMilli()})
		signins = append(signins, []any{store.NewID("signin"), sessionID, userID, now, g.SigninExpiresAt.UnixMilli(), int64(1)})
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"users", strings.Split(rowscan.NewUserColumns, ", "), users},
			{"browser_sessions", []string{"id", "token_hash", "created_at", "last_active_at", "idle_expires_at"}, sessions},
			{"signins", []string{"id", "session_id", "user_id", "created_at", "expires_at", "activated_seq"}, signins},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Statistics for the planner now, not whenever autovacuum gets to it:
	// without them it plans the session read with a scan of every
	// sign-in's expiry, tens of times slower.
	_, err = s.pool.Exec(ctx, `ANALYZE users, browser_sessions, signins`)
	return err
}
