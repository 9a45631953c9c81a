package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"meapi/store"
	"meapi/store/internal/rowscan"
)

// grant signs the user in on g's browser session, or on a new one when it
// has none or it has ended, and makes that sign-in the active one. An
// account already signed in there is made active again, with a new
// lifetime, rather than signed in twice. The session gets g's token either
// way. It runs inside the caller's transaction; the session it returns is
// kept once that has committed.
func (s *Store) grant(ctx context.Context, w *wtx, userID string, g store.Grant) (*store.Session, error) {
	now := g.Now.UnixMilli()
	sessionID := g.SessionID
	if sessionID != "" {
		res, err := w.ExecContext(ctx, `UPDATE browser_sessions SET token_hash = ?, last_active_at = ?, idle_expires_at = ?
			WHERE id = ? AND idle_expires_at > ?`,
			g.TokenHash, now, g.IdleExpiresAt.UnixMilli(), sessionID, now)
		if err != nil {
			return nil, fmt.Errorf("renew session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			sessionID = "" // it ended meanwhile: start a new one
		}
	}
	if sessionID == "" {
		sessionID = store.NewID("sess")
		if _, err := w.ExecContext(ctx, `INSERT INTO browser_sessions (id, token_hash, created_at, last_active_at, idle_expires_at)
			VALUES (?, ?, ?, ?, ?)`, sessionID, g.TokenHash, now, now, g.IdleExpiresAt.UnixMilli()); err != nil {
			return nil, fmt.Errorf("insert session: %w", err)
		}
	}

	// An ended sign-in of this account that the sweeper has not removed yet
	// is renewed like a live one, and counts as new.
	res, err := w.ExecContext(ctx, `UPDATE signins SET
			activated_seq = (SELECT max(activated_seq) + 1 FROM signins WHERE session_id = ?1),
			created_at = CASE WHEN expires_at <= ?3 THEN ?3 ELSE created_at END,
			expires_at = ?4
		WHERE session_id = ?1 AND user_id = ?2`,
		sessionID, userID, now, g.SigninExpiresAt.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("reactivate sign-in: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		var live int
		if err := w.QueryRowContext(ctx, `SELECT count(*) FROM signins WHERE session_id = ? AND expires_at > ?`,
			sessionID, now).Scan(&live); err != nil {
			return nil, fmt.Errorf("count sign-ins: %w", err)
		}
		if g.MaxSignins > 0 && live >= g.MaxSignins {
			return nil, store.ErrTooManySignins
		}
		if _, err := w.ExecContext(ctx, `INSERT INTO signins (id, session_id, user_id, created_at, expires_at, activated_seq)
			VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(activated_seq), 0) + 1 FROM signins WHERE session_id = ?))`,
			store.NewID("signin"), sessionID, userID, now, g.SigninExpiresAt.UnixMilli(), sessionID); err != nil {
			return nil, fmt.Errorf("insert sign-in: %w", err)
		}
	}
	sess, hash, err := loadSession(ctx, w, sessionByIDQuery, sessionID, g.Now)
	if err != nil {
		return nil, err
	}
	s.keepAfterCommit(w, hash, sess)
	return sess, nil
}

// SignIn signs an existing user in, as SignUp does a new one.
func (s *Store) SignIn(ctx context.Context, userID string, g store.Grant) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSignIn, time.Now(), &err)
	err = s.write(ctx, func(ctx context.Context, w *wtx) (err error) {
		sess, err = s.grant(ctx, w, userID, g)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	return sess, nil
}

// UserByEmail returns the user with this email address, compared
// case-folded, or store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (u *store.User, err error) {
	defer s.observe(ctx, store.OpUserByEmail, time.Now(), &err)
	return s.userBy(ctx, "u.email_folded", store.Fold(email))
}

// UserByUsername returns the user with this username, compared
// case-folded, or store.ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (u *store.User, err error) {
	defer s.observe(ctx, store.OpUserByUsername, time.Now(), &err)
	return s.userBy(ctx, "u.username_folded", store.Fold(username))
}

func (s *Store) userBy(ctx context.Context, column, value string) (*store.User, error) {
	var us userScan
	err := s.r.QueryRowContext(ctx, `SELECT `+rowscan.UserColumns+` FROM users u WHERE `+column+` = ?`, value).Scan(us.Dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	u := us.User()
	return &u, nil
}

// SwitchSignin makes a live sign-in of the session the active one and
// returns the session afterwards, or store.ErrNotFound when the session has
// no such live sign-in.
func (s *Store) SwitchSignin(ctx context.Context, sessionID, signinID string, now time.Time) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSwitchSignin, time.Now(), &err)
	err = s.write(ctx, func(ctx context.Context, w *wtx) error {
		res, err := w.ExecContext(ctx, `UPDATE signins SET activated_seq = (SELECT max(activated_seq) + 1 FROM signins WHERE session_id = ?1)
			WHERE id = ?2 AND session_id = ?1 AND expires_at > ?3`, sessionID, signinID, now.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return store.ErrNotFound
		}
		var hash []byte
		sess, hash, err = loadSession(ctx, w, sessionByIDQuery, sessionID, now)
		s.keepAfterCommit(w, hash, sess)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("switch sign-in: %w", err)
	}
	return sess, err
}

// SignOut ends one sign-in of the session, or all of them when signinID is
// "". It returns the session afterwards, or nil when no live sign-in is
// left, in which case the session is deleted and its token stops working.
func (s *Store) SignOut(ctx context.Context, sessionID, signinID string, now time.Time) (sess *store.Session, err error) {
	defer s.observe(ctx, store.OpSignOut, time.Now(), &err)
	err = s.write(ctx, func(ctx context.Context, w *wtx) error {
		sess = nil
		if signinID != "" {
			if _, err := w.ExecContext(ctx, `DELETE FROM signins WHERE id = ? AND session_id = ?`, signinID, sessionID); err != nil {
				return err
			}
		}
		var err error
		var hash []byte
		sess, hash, err = loadSession(ctx, w, sessionByIDQuery, sessionID, now)
		if signinID == "" || errors.Is(err, store.ErrNotFound) {
			// Deleting the session deletes its sign-ins (ON DELETE CASCADE).
			sess = nil
			_, err = w.ExecContext(ctx, `DELETE FROM browser_sessions WHERE id = ?`, sessionID)
			return err
		}
		s.keepAfterCommit(w, hash, sess)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign out: %w", err)
	}
	return sess, nil
}

// TouchSession records that the session was used now, which moves its
// idle expiry (and, by trigger, its generation).
func (s *Store) TouchSession(ctx context.Context, sessionID string, now, idleExpiresAt time.Time) (err error) {
	defer s.observe(ctx, store.OpTouchSession, time.Now(), &err)
	err = s.write(ctx, func(ctx context.Context, w *wtx) error {
		_, err := w.ExecContext(ctx, `UPDATE browser_sessions SET last_active_at = ?, idle_expires_at = ? WHERE id = ?`,
			now.UnixMilli(), idleExpiresAt.UnixMilli(), sessionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// ReserveAttempt checks the limits and records one attempt per subject, in
// one operation of the single writer: no two reservations ever interleave,
// so no number of concurrent attempts gets past a limit.
func (s *Store) ReserveAttempt(ctx context.Context, limits []store.Limit, now time.Time) (r store.Reservation, err error) {
	defer s.observe(ctx, store.OpReserveAttempt, time.Now(), &err)
	if err := checkLimits(limits); err != nil {
		return store.Reservation{}, err
	}
	err = s.write(ctx, func(ctx context.Context, w *wtx) error {
		r = store.Reservation{}
		var limited *store.LimitedError
		for _, l := range limits {
			// The Max-th most recent attempt within the window: when it
			// ages out, the subject is free again.
			var at int64
			err := w.QueryRowContext(ctx, `SELECT created_at FROM attempts WHERE subject = ? AND created_at > ?
				ORDER BY created_at DESC LIMIT 1 OFFSET ?`, l.Subject, now.Add(-l.Window).UnixMilli(), l.Max-1).Scan(&at)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("count attempts: %w", err)
			}
			if free := rowscan.FromMillis(at).Add(l.Window); limited == nil || free.After(limited.RetryAt) {
				limited = &store.LimitedError{Subject: l.Subject, RetryAt: free}
			}
		}
		if limited != nil {
			return limited
		}
		for _, l := range limits {
			var id int64
			if err := w.QueryRowContext(ctx, `INSERT INTO attempts (subject, created_at, expires_at) VALUES (?, ?, ?) RETURNING id`,
				l.Subject, now.UnixMilli(), now.Add(l.Window).UnixMilli()).Scan(&id); err != nil {
				return fmt.Errorf("record attempt: %w", err)
			}
			r.IDs = append(r.IDs, id)
		}
		return nil
	})
	return r, err
}

func checkLimits(limits []store.Limit) error {
	for _, l := range limits {
		if l.Max < 1 || l.Window <= 0 || l.Subject == "" {
			return fmt.Errorf("reserve attempt: limit %+v: needs a subject, Max of 1 or more and a positive window", l)
		}
	}
	return nil
}

// ReleaseAttempt deletes exactly the attempts of r.
func (s *Store) ReleaseAttempt(ctx context.Context, r store.Reservation) (err error) {
	defer s.observe(ctx, store.OpReleaseAttempt, time.Now(), &err)
	if len(r.IDs) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, w *wtx) error {
		for _, id := range r.IDs {
			if _, err := w.ExecContext(ctx, `DELETE FROM attempts WHERE id = ?`, id); err != nil {
				return fmt.Errorf("release attempt: %w", err)
			}
		}
		return nil
	})
}

// sweepBatch bounds how many rows one sweep transaction deletes, so that
// the write lock is never held for long.
const sweepBatch = 500

// Sweep deletes what has ended by now: sign-ins past their lifetime,
// sessions past their idle expiry or without a sign-in, and attempts that
// no window counts any more.
func (s *Store) Sweep(ctx context.Context, now time.Time) (sw store.Swept, err error) {
	defer s.observe(ctx, store.OpSweep, time.Now(), &err)
	steps := []struct {
		n    *int64
		stmt string
	}{
		{&sw.Signins, `DELETE FROM signins WHERE rowid IN (SELECT rowid FROM signins WHERE expires_at <= ? LIMIT ?)`},
		{&sw.Sessions, `DELETE FROM browser_sessions WHERE rowid IN (SELECT rowid FROM browser_sessions bs WHERE idle_expires_at <= ?1
			OR NOT EXISTS (SELECT 1 FROM signins si WHERE si.session_id = bs.id) LIMIT ?2)`},
		{&sw.Attempts, `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE expires_at <= ? LIMIT ?)`},
	}
	for _, st := range steps {
		for {
			// Each batch is one write among the others, through the writer.
			var n int64
			err := s.write(ctx, func(ctx context.Context, w *wtx) error {
				res, err := w.ExecContext(ctx, st.stmt, now.UnixMilli(), sweepBatch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return sw, fmt.Errorf("sweep: %w", err)
			}
			*st.n += n
			if n < sweepBatch {
				break
			}
		}
	}
	return sw, nil
}
