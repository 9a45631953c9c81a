package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestWriterIsolatesFailures sends many writes at once, so that they share
// batches: one panics, one is given up by its caller before it runs. Each
// of those fails alone, writing nothing; every other write is committed,
// and the writer goes on serving.
func TestWriterIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	insert := func(subject string) func(context.Context, conn) error {
		return func(ctx context.Context, w conn) error {
			_, err := w.ExecContext(ctx, `INSERT INTO signin_failures (subject, created_at) VALUES (?, 0)`, subject)
			return err
		}
	}
	count := func(subject string) int {
		t.Helper()
		var n int
		if err := s.read().QueryRowContext(ctx, `SELECT count(*) FROM signin_failures WHERE subject = ?`, subject).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject := fmt.Sprintf("ok-%d", i)
			switch i {
			case 7:
				errs[i] = s.inWriter(ctx, true, func(ctx context.Context, w conn) error {
					if err := insert("panicked")(ctx, w); err != nil {
						return err
					}
					panic("a bug in a store operation")
				})
			case 13:
				gone, cancel := context.WithCancel(ctx)
				cancel()
				errs[i] = s.inWriter(gone, false, insert("given up"))
			default:
				errs[i] = s.inWriter(ctx, false, insert(subject))
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		switch i {
		case 7:
			if err == nil || !strings.Contains(err.Error(), "panic") {
				t.Errorf("the panicking write: %v, want its panic as an error", err)
			}
		case 13:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("the given-up write: %v, want context.Canceled", err)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			} else if count(fmt.Sprintf("ok-%d", i)) != 1 {
				t.Errorf("write %d was answered but is not stored", i)
			}
		}
	}
	if c := count("panicked"); c != 0 {
		t.Errorf("the panicking write left %d rows", c)
	}
	if c := count("given up"); c != 0 {
		t.Errorf("the given-up write left %d rows", c)
	}
	if err := s.inWriter(ctx, false, insert("after")); err != nil || count("after") != 1 {
		t.Errorf("the writer stopped serving: %v", err)
	}

	s.Close()
	if err := s.inWriter(ctx, false, insert("closed")); !errors.Is(err, errClosed) {
		t.Errorf("a write after Close: %v, want errClosed", err)
	}
}
