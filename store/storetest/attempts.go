package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"meapi/store"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var _ = register("AttemptLimitsCount", func(t *testing.T, s Engine) {
	account := store.Limit{Subject: "user:ada", Max: 3, Window: 10 * time.Minute}
	addr := store.Limit{Subject: "addr:10.0.0.1", Max: 5, Window: 10 * time.Minute}
	var kept []store.Reservation
	for i := range 3 {
		r, err := s.ReserveAttempt(ctx, []store.Limit{account, addr}, now.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		if len(r.IDs) != 2 {
			t.Fatalf("reservation %+v: want one row per subject", r)
		}
		kept = append(kept, r)
	}
	// The fourth: the account has 3 in the window. Nothing is recorded, and
	// it is free when the oldest of the three leaves the window.
	_, err := s.ReserveAttempt(ctx, []store.Limit{account, addr}, now.Add(5*time.Minute))
	var limited *store.LimitedError
	if !errors.As(err, &limited) || limited.Subject != account.Subject || !limited.RetryAt.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("over the limit: %v, want LimitedError for %s until %v", err, account.Subject, now.Add(10*time.Minute))
	}
	if n := s.Int(t, `SELECT count(*) FROM attempts WHERE subject = 'addr:10.0.0.1'`); n != 3 {
		t.Errorf("a refused attempt was recorded: %d rows for the address, want 3", n)
	}
	// Other accounts from the same address go on.
	if _, err := s.ReserveAttempt(ctx, []store.Limit{{Subject: "user:bob", Max: 3, Window: 10 * time.Minute}, addr}, now.Add(5*time.Minute)); err != nil {
		t.Errorf("another account: %v", err)
	}
	// Releasing a reservation (a sign-in that succeeded) frees its place,
	// and only its own.
	if err := s.ReleaseAttempt(ctx, kept[2]); err != nil {
		t.Fatal(err)
	}
	if n := s.Int(t, `SELECT count(*) FROM attempts`); n != 2+2+2 {
		t.Errorf("%d attempts after the release, want 6", n)
	}
	if _, err := s.ReserveAttempt(ctx, []store.Limit{account, addr}, now.Add(6*time.Minute)); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	// The address has attempts at 0, 1, 5 (bob) and 6 minutes: a fifth
	// fills it, and a sixth must wait until the one at 0 leaves the window.
	carol := store.Limit{Subject: "user:carol", Max: 3, Window: 10 * time.Minute}
	if _, err := s.ReserveAttempt(ctx, []store.Limit{carol, addr}, now.Add(7*time.Minute)); err != nil {
		t.Errorf("the fifth from the address: %v", err)
	}
	_, err = s.ReserveAttempt(ctx, []store.Limit{carol, addr}, now.Add(8*time.Minute))
	if !errors.As(err, &limited) || limited.Subject != addr.Subject || !limited.RetryAt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("the address at its limit: %v, want LimitedError for %s until %v", err, addr.Subject, now.Add(10*time.Minute))
	}
	if _, err := s.ReserveAttempt(ctx, []store.Limit{carol, addr}, now.Add(10*time.Minute)); err != nil {
		t.Errorf("once the oldest left the window: %v", err)
	}
	if err := s.ReleaseAttempt(ctx, store.Reservation{}); err != nil {
		t.Errorf("releasing nothing: %v", err)
	}
	if _, err := s.ReserveAttempt(ctx, []store.Limit{{Subject: "x", Max: 0, Window: time.Minute}}, now); err == nil || errors.As(err, &limited) {
		t.Errorf("a limit of 0: %v, want a refusal of the call", err)
	}
})

// reserveBurst runs n reservations of one subject at once, spread over
// the engines, and returns how many were granted.
func reserveBurst(t *testing.T, engines []store.Engine, n, max int) int64 {
	t.Helper()
	errs := atOnce(n, func(i int) error {
		limits := []store.Limit{{Subject: "user:burst", Max: max, Window: time.Hour}, {Subject: fmt.Sprintf("addr:%d", i), Max: 100, Window: time.Hour}}
		_, err := engines[i%len(engines)].ReserveAttempt(ctx, limits, now)
		return err
	})
	var granted int64
	for i, err := range errs {
		var limited *store.LimitedError
		switch {
		case err == nil:
			granted++
		case !errors.As(err, &limited):
			t.Errorf("reservation %d: %v", i, err)
		}
	}
	return granted
}

var _ = register("AttemptBurst", func(t *testing.T, s Engine) {
	got := reserveBurst(t, []store.Engine{s}, 300, 10)
	if got != 10 {
		t.Errorf("300 concurrent reservations with Max 10: %d granted, want exactly 10", got)
	}
	t.Logf("300 concurrent reservations, Max 10, one instance: %d granted", got)
	if n := s.Int(t, `SELECT count(*) FROM attempts WHERE subject = 'user:burst'`); n != 10 {
		t.Errorf("%d rows recorded, want 10", n)
	}
})

var _ = register("AttemptBurstAcrossInstances", func(t *testing.T, s Engine) {
	b := s.Another(t, nil)
	got := reserveBurst(t, []store.Engine{s, b}, 300, 10)
	if got != 10 {
		t.Errorf("300 concurrent reservations with Max 10 over two instances: %d granted, want exactly 10", got)
	}
	t.Logf("300 concurrent reservations, Max 10, two instances on one database: %d granted", got)
})
