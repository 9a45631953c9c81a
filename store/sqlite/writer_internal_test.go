package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"meapi/store"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func insertAttempt(subject string) func(context.Context, *wtx) error {
	return func(ctx context.Context, w *wtx) error {
		_, err := w.ExecContext(ctx, `INSERT INTO attempts (subject, created_at, expires_at) VALUES (?, 0, 0)`, subject)
		return err
	}
}

func countAttempts(t *testing.T, s *Store, subject string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(context.Background(), `SELECT count(*) FROM attempts WHERE subject = ?`, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// holdWriter runs an operation that blocks the writer until release is
// closed, and waits until it runs: operations sent meanwhile queue up and
// share the next batch, in the order they were sent (see queue).
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	ch := make(chan struct{})
	running := make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.write(context.Background(), func(context.Context, *wtx) error { close(running); <-ch; return nil })
	}()
	<-running
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(ch)
			if err := <-held; err != nil {
				t.Errorf("the holding write: %v", err)
			}
		})
	}
	t.Cleanup(release) // also when the test stops early
	return release
}

// waitQueued polls, with a deadline, until n operations are queued for the
// writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.wr.ops) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d operations queued, want %d", len(s.wr.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// queue sends op on a goroutine of its own, waits until it is queued as the
// nth, and returns where its answer will arrive.
func queue(t *testing.T, s *Store, n int, op func() error) <-chan error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- op() }()
	waitQueued(t, s, n)
	return ch
}

// TestWriterIsolatesFailures sends writes that share one batch: one
// panics, one is given up by its caller before it runs, one fails with an
// error that is no answer of the store's, one with an answer. Each of
// those fails alone, writing nothing; every other write is committed, and
// the writer goes on serving.
func TestWriterIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s := openInternal(t)
	release := holdWriter(t, s)
	const n = 40
	answers := make([]<-chan error, n)
	for i := range n {
		op := func() error { return s.write(ctx, insertAttempt(fmt.Sprintf("ok-%d", i))) }
		switch i {
		case 7:
			op = func() error {
				return s.write(ctx, func(ctx context.Context, w *wtx) error {
					if err := insertAttempt("panicked")(ctx, w); err != nil {
						return err
					}
					panic("a bug in a store operation")
				})
			}
		case 13:
			gone, cancel := context.WithCancel(ctx)
			op = func() error {
				return s.write(gone, func(ctx context.Context, w *wtx) error {
					cancel() // gives up once queued, before its turn
					return insertAttempt("given up")(ctx, w)
				})
			}
			defer cancel()
		case 21:
			op = func() error {
				return s.write(ctx, func(ctx context.Context, w *wtx) error {
					if err := insertAttempt("broken")(ctx, w); err != nil {
						return err
					}
					_, err := w.ExecContext(ctx, `INSERT INTO no_such_table VALUES (1)`)
					return err
				})
			}
		case 30:
			op = func() error {
				return s.write(ctx, func(ctx context.Context, w *wtx) error {
					if err := insertAttempt("answered")(ctx, w); err != nil {
						return err
					}
					return store.ErrNotFound
				})
			}
		}
		answers[i] = queue(t, s, i+1, op)
	}
	release()
	for i, ch := range answers {
		err := <-ch
		switch i {
		case 7:
			if err == nil || !strings.Contains(err.Error(), "panic") {
				t.Errorf("the panicking write: %v, want its panic as an error", err)
			}
		case 13:
			// It was queued before it gave up: whether it ran first or not,
			// its answer tells the truth.
			if err == nil && countAttempts(t, s, "given up") != 1 {
				t.Errorf("the given-up write was answered done but is not stored")
			}
			if err != nil && countAttempts(t, s, "given up") != 0 {
				t.Errorf("the given-up write was answered %v but is stored", err)
			}
		case 21:
			if err == nil || !strings.Contains(err.Error(), "no_such_table") {
				t.Errorf("the broken write: %v", err)
			}
		case 30:
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the answered write: %v, want ErrNotFound", err)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			} else if countAttempts(t, s, fmt.Sprintf("ok-%d", i)) != 1 {
				t.Errorf("write %d was answered but is not stored", i)
			}
		}
	}
	for _, subject := range []string{"panicked", "broken", "answered"} {
		if c := countAttempts(t, s, subject); c != 0 {
			t.Errorf("the %s write left %d rows", subject, c)
		}
	}
	if err := s.write(ctx, insertAttempt("after")); err != nil || countAttempts(t, s, "after") != 1 {
		t.Errorf("the writer stopped serving: %v", err)
	}
	s.Close()
	if err := s.write(ctx, insertAttempt("closed")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("a write after Close: %v, want ErrClosed", err)
	}
}

// TestFailedBatchLeavesNoKeptSession is the regression test of a kept
// session from a transaction that did not commit. One batch holds a profile
// change, a read of the same user's session and a write whose COMMIT fails
// (a deferred foreign key). All three fail, and the database has first_name
// NULL. Then the next committed change (last_name) moves the generation to
// the number the rolled-back batch had used: a session kept from inside
// that batch would pass the generation check and show first_name X without
// the last name.
func TestFailedBatchLeavesNoKeptSession(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	s := openInternal(t)
	sum := sha256.Sum256([]byte("tok"))
	hash := sum[:]
	sess, err := s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: "ada@example.com", PasswordHash: "x"},
		Grant: store.Grant{TokenHash: hash, Now: now, IdleExpiresAt: now.Add(time.Hour), SigninExpiresAt: now.Add(time.Hour), MaxSignins: 5}})
	if err != nil {
		t.Fatal(err)
	}
	userID := sess.Active().User.ID

	release := holdWriter(t, s)
	x := "X"
	first := queue(t, s, 1, func() error {
		_, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: userID, Now: now.Add(time.Minute), FirstName: store.Change{Set: true, Value: &x}})
		return err
	})
	// What a request that writes did before: read its session in the batch.
	read := queue(t, s, 2, func() error {
		return s.write(ctx, func(ctx context.Context, w *wtx) error {
			sess, hash, err := loadSession(ctx, w, sessionByTokenQuery, hash, now)
			s.keepAfterCommit(w, hash, sess)
			return err
		})
	})
	deferred := queue(t, s, 3, func() error {
		return s.write(ctx, func(ctx context.Context, w *wtx) error {
			if _, err := w.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
			_, err := w.ExecContext(ctx, `INSERT INTO signins (id, session_id, user_id, created_at, expires_at, activated_seq)
				VALUES ('signin_bad', 'sess_none', ?, 0, 0, 1)`, userID)
			return err
		})
	})
	release()
	// The change and the read were no fault of their own: they commit on
	// their own. The one that broke the commit fails alone.
	if err := <-first; err != nil {
		t.Errorf("the profile change: %v", err)
	}
	if err := <-read; err != nil {
		t.Errorf("the read: %v", err)
	}
	if err := <-deferred; err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Errorf("the write that breaks the commit: %v, want its foreign key failure", err)
	}
	var bad int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM signins WHERE id = 'signin_bad'`).Scan(&bad); err != nil || bad != 0 {
		t.Errorf("the failed write is stored: %d, %v", bad, err)
	}

	ln := "Lovelace"
	if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: userID, Now: now.Add(2 * time.Minute), LastName: store.Change{Set: true, Value: &ln}}); err != nil {
		t.Fatalf("the next change: %v", err)
	}
	got, err := s.SessionByTokenHash(ctx, hash, now)
	if err != nil {
		t.Fatal(err)
	}
	var dbFirst, dbLast sql.NullString
	if err := s.r.QueryRowContext(ctx, `SELECT first_name, last_name FROM users WHERE id = ?`, userID).Scan(&dbFirst, &dbLast); err != nil {
		t.Fatal(err)
	}
	u := got.Active().User
	if deref(u.FirstName) != nullText(dbFirst) || deref(u.LastName) != nullText(dbLast) {
		t.Errorf("served first_name %s, last_name %s; the database has %s, %s", deref(u.FirstName), deref(u.LastName), nullText(dbFirst), nullText(dbLast))
	}
	if deref(u.LastName) != "Lovelace" {
		t.Errorf("served last_name %s, want Lovelace", deref(u.LastName))
	}
}

func deref(p *string) string {
	if p == nil {
		return "<NULL>"
	}
	return *p
}

func nullText(ns sql.NullString) string {
	if !ns.Valid {
		return "<NULL>"
	}
	return ns.String
}
