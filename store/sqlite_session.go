package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// grant signs the user in on g's browser session, or on a new one when it
// has none or it has ended, and makes that sign-in the active one. An
// account already signed in there is made active again, with a new
// lifetime, rather than signed in twice. The session gets g's token either
// way. It runs inside the caller's transaction.
func grant(ctx context.Context, tx conn, userID string, g Grant) (*Session, error) {
	now := g.Now.UnixMilli()
	sessionID := g.SessionID
	if sessionID != "" {
		res, err := tx.ExecContext(ctx, `UPDATE browser_sessions SET token_hash = ?, last_active_at = ?, idle_expires_at = ?,
			generation = generation + 1 WHERE id = ? AND idle_expires_at > ?`,
			g.TokenHash, now, g.IdleExpiresAt.UnixMilli(), sessionID, now)
		if err != nil {
			return nil, fmt.Errorf("renew session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			sessionID = "" // it ended meanwhile: start a new one
		}
	}
	if sessionID == "" {
		sessionID = newID("sess")
		if _, err := tx.ExecContext(ctx, `INSERT INTO browser_sessions (id, token_hash, created_at, last_active_at, idle_expires_at)
			VALUES (?, ?, ?, ?, ?)`, sessionID, g.TokenHash, now, now, g.IdleExpiresAt.UnixMilli()); err != nil {
			return nil, fmt.Errorf("insert session: %w", err)
		}
	}

	// An ended sign-in of this account that the sweeper has not removed yet
	// is renewed like a live one, and counts as new.
	res, err := tx.ExecContext(ctx, `UPDATE signins SET
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
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM signins WHERE session_id = ? AND expires_at > ?`,
			sessionID, now).Scan(&live); err != nil {
			return nil, fmt.Errorf("count sign-ins: %w", err)
		}
		if g.MaxSignins > 0 && live >= g.MaxSignins {
			return nil, ErrTooManySignins
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signins (id, session_id, user_id, created_at, expires_at, activated_seq)
			VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(activated_seq), 0) + 1 FROM signins WHERE session_id = ?))`,
			newID("signin"), sessionID, userID, now, g.SigninExpiresAt.UnixMilli(), sessionID); err != nil {
			return nil, fmt.Errorf("insert sign-in: %w", err)
		}
	}
	return loadSession(ctx, tx, sessionByIDQuery, sessionID, g.Now)
}

// bumpSession moves a session's generation after a change of its sign-ins.
func bumpSession(ctx context.Context, w conn, sessionID string) error {
	_, err := w.ExecContext(ctx, `UPDATE browser_sessions SET generation = generation + 1 WHERE id = ?`, sessionID)
	return err
}

// SignIn signs an existing user in, as SignUp does a new one.
func (s *SQLite) SignIn(ctx context.Context, userID string, g Grant) (*Session, error) {
	var sess *Session
	err := s.inWriter(ctx, true, func(ctx context.Context, w conn) (err error) {
		sess, err = grant(ctx, w, userID, g)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	return sess, nil
}

// UserByEmail returns the user with this email address, compared
// case-folded, or ErrNotFound.
func (s *SQLite) UserByEmail(ctx context.Context, email string) (*User, error) {
	return s.userBy(ctx, "u.email_folded", fold(email))
}

// UserByUsername returns the user with this username, compared
// case-folded, or ErrNotFound.
func (s *SQLite) UserByUsername(ctx context.Context, username string) (*User, error) {
	return s.userBy(ctx, "u.username_folded", fold(username))
}

func (s *SQLite) userBy(ctx context.Context, column, value string) (*User, error) {
	var us userScan
	err := s.read().QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE `+column+` = ?`, value).Scan(us.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	u := us.user()
	return &u, nil
}

// SwitchSignin makes a live sign-in of the session the active one and
// returns the session afterwards, or ErrNotFound when the session has no
// such live sign-in.
func (s *SQLite) SwitchSignin(ctx context.Context, sessionID, signinID string, now time.Time) (*Session, error) {
	var sess *Session
	err := s.inWriter(ctx, true, func(ctx context.Context, w conn) error {
		res, err := w.ExecContext(ctx, `UPDATE signins SET activated_seq = (SELECT max(activated_seq) + 1 FROM signins WHERE session_id = ?1)
			WHERE id = ?2 AND session_id = ?1 AND expires_at > ?3`, sessionID, signinID, now.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return ErrNotFound
		}
		if err := bumpSession(ctx, w, sessionID); err != nil {
			return err
		}
		sess, err = loadSession(ctx, w, sessionByIDQuery, sessionID, now)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("switch sign-in: %w", err)
	}
	return sess, err
}

// SignOut ends one sign-in of the session, or all of them when signinID is
// "". It returns the session afterwards, or nil when no live sign-in is
// left, in which case the session is deleted and its token stops working.
func (s *SQLite) SignOut(ctx context.Context, sessionID, signinID string, now time.Time) (*Session, error) {
	var sess *Session
	err := s.inWriter(ctx, true, func(ctx context.Context, w conn) error {
		if signinID != "" {
			if _, err := w.ExecContext(ctx, `DELETE FROM signins WHERE id = ? AND session_id = ?`, signinID, sessionID); err != nil {
				return err
			}
			if err := bumpSession(ctx, w, sessionID); err != nil {
				return err
			}
		}
		var err error
		sess, err = loadSession(ctx, w, sessionByIDQuery, sessionID, now)
		if signinID == "" || errors.Is(err, ErrNotFound) {
			// Deleting the session deletes its sign-ins (ON DELETE CASCADE).
			sess = nil
			_, err = w.ExecContext(ctx, `DELETE FROM browser_sessions WHERE id = ?`, sessionID)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign out: %w", err)
	}
	return sess, nil
}

// TouchSession records that the session was used now, which moves its
// idle expiry.
func (s *SQLite) TouchSession(ctx context.Context, sessionID string, now, idleExpiresAt time.Time) error {
	err := s.inWriter(ctx, false, func(ctx context.Context, w conn) error {
		_, err := w.ExecContext(ctx, `UPDATE browser_sessions SET last_active_at = ?, idle_expires_at = ?, generation = generation + 1 WHERE id = ?`,
			now.UnixMilli(), idleExpiresAt.UnixMilli(), sessionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// RecordSigninFailure records one failed sign-in under each subject.
func (s *SQLite) RecordSigninFailure(ctx context.Context, subjects []string, now time.Time) error {
	err := s.inWriter(ctx, true, func(ctx context.Context, w conn) error {
		for _, subj := range subjects {
			if _, err := w.ExecContext(ctx, `INSERT INTO signin_failures (subject, created_at) VALUES (?, ?)`, subj, now.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record sign-in failure: %w", err)
	}
	return nil
}

// SigninFailureAt returns when the nth most recent failed sign-in of
// subject after since happened (n counts from 1), or ErrNotFound when
// there were fewer than n. With n the limit, that failure is the one whose
// aging out of the window lets the subject try again.
func (s *SQLite) SigninFailureAt(ctx context.Context, subject string, since time.Time, n int) (time.Time, error) {
	var at int64
	err := s.read().QueryRowContext(ctx, `SELECT created_at FROM signin_failures
		WHERE subject = ? AND created_at > ? ORDER BY created_at DESC LIMIT 1 OFFSET ?`,
		subject, since.UnixMilli(), n-1).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("count sign-in failures: %w", err)
	}
	return fromMillis(at), nil
}

// Swept counts what a sweep deleted.
type Swept struct {
	Signins, Sessions, Failures int64
}

// sweepBatch bounds how many rows one sweep transaction deletes, so that
// the write lock is never held for long.
const sweepBatch = 500

// Sweep deletes what has ended by now: sign-ins past their lifetime,
// sessions past their idle expiry or without a sign-in, and failed
// sign-ins from before failuresBefore, which no limit counts any more.
func (s *SQLite) Sweep(ctx context.Context, now, failuresBefore time.Time) (Swept, error) {
	var sw Swept
	steps := []struct {
		n    *int64
		stmt string
		arg  int64
	}{
		{&sw.Signins, `DELETE FROM signins WHERE rowid IN (SELECT rowid FROM signins WHERE expires_at <= ? LIMIT ?)`, now.UnixMilli()},
		{&sw.Sessions, `DELETE FROM browser_sessions WHERE rowid IN (SELECT rowid FROM browser_sessions bs WHERE idle_expires_at <= ?
			OR NOT EXISTS (SELECT 1 FROM signins si WHERE si.session_id = bs.id) LIMIT ?)`, now.UnixMilli()},
		{&sw.Failures, `DELETE FROM signin_failures WHERE id IN (SELECT id FROM signin_failures WHERE created_at <= ? LIMIT ?)`, failuresBefore.UnixMilli()},
	}
	for _, st := range steps {
		for {
			// Each batch is one write among the others, through the writer.
			var n int64
			err := s.inWriter(ctx, false, func(ctx context.Context, w conn) error {
				res, err := w.ExecContext(ctx, st.stmt, st.arg, sweepBatch)
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
