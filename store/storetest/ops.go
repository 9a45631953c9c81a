package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"meapi/store"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu  sync.Mutex
	ops map[string][]error
}

func (r *recorder) StoreOp(op string, err error, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ops == nil {
		r.ops = map[string][]error{}
	}
	r.ops[op] = append(r.ops[op], err)
}

// calls makes one call of every operation of store.Engine but Close, on a
// database with one account signed in as token "t".
func calls(ctx context.Context, s store.Engine, sessionID, userID string) map[string]error {
	errs := map[string]error{}
	_, errs[store.OpSessionByTokenHash] = s.SessionByTokenHash(ctx, hashOf("t"), now)
	errs[store.OpTouchSession] = s.TouchSession(ctx, sessionID, now, now.Add(time.Hour))
	_, errs[store.OpSignUp] = s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: "new@example.com", PasswordHash: "x"}, Grant: grantFor("", "new")})
	_, errs[store.OpSignIn] = s.SignIn(ctx, userID, grantFor(sessionID, "t"))
	_, errs[store.OpSwitchSignin] = s.SwitchSignin(ctx, sessionID, "signin_none", now)
	_, errs[store.OpUserByEmail] = s.UserByEmail(ctx, "a@example.com")
	_, errs[store.OpUserByUsername] = s.UserByUsername(ctx, "ada")
	_, errs[store.OpUpdateProfile] = s.UpdateProfile(ctx, store.ProfileUpdate{UserID: userID, Now: now, FirstName: store.Change{Set: true, Value: ptr("Ada")}})
	r, err := s.ReserveAttempt(ctx, []store.Limit{{Subject: "id:a", Max: 5, Window: time.Minute}}, now)
	errs[store.OpReserveAttempt] = err
	if len(r.IDs) == 0 {
		r.IDs = []int64{-1} // a reservation of nothing stored
	}
	errs[store.OpReleaseAttempt] = s.ReleaseAttempt(ctx, r)
	_, errs[store.OpSweep] = s.Sweep(ctx, now)
	errs[store.OpReady] = s.Ready(ctx)
	_, errs[store.OpMigrate] = s.Migrate(ctx)
	_, errs[store.OpSignOut] = s.SignOut(ctx, sessionID, "", now)
	return errs
}

// Every operation is told to the observer, by its name. The count of
// methods guards the list: a method added to store.Engine without a call
// here fails this test.
var _ = register("EveryOperationIsObserved", func(t *testing.T, s Engine) {
	sess := signUp(t, s, "a@example.com", ptr("ada"), "", "t")
	rec := &recorder{}
	o := s.Another(t, rec)
	errs := calls(ctx, o, sess.ID, sess.Active().User.ID)
	if want := reflect.TypeFor[store.Engine]().NumMethod() - 1; len(errs) != want || len(store.Ops) != want {
		t.Fatalf("calls makes %d calls and store.Ops has %d names for %d operations of store.Engine (Close aside)", len(errs), len(store.Ops), want)
	}
	for _, op := range store.Ops {
		seen := rec.ops[op]
		if len(seen) != 1 {
			t.Errorf("%s: observed %d times, want once", op, len(seen))
			continue
		}
		if (seen[0] == nil) != (errs[op] == nil) {
			t.Errorf("%s: observed %v, answered %v", op, seen[0], errs[op])
		}
		if errs[op] != nil && !store.IsAnswer(errs[op]) {
			t.Errorf("%s failed: %v", op, errs[op])
		}
	}
})

// An operation whose caller has given up answers with an error that says
// so, whatever the engine's driver made of it.
var _ = register("CallerContextEnds", func(t *testing.T, s Engine) {
	sess := signUp(t, s, "a@example.com", ptr("ada"), "", "t")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for op, err := range calls(canceled, s, sess.ID, sess.Active().User.ID) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", op, err)
		}
	}
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	for op, err := range calls(expired, s, sess.ID, sess.Active().User.ID) {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s past its deadline: %v, want context.DeadlineExceeded", op, err)
		}
	}
	// Nothing was written by any of them.
	if n := s.Int(t, `SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	read(t, s, "t")
})
