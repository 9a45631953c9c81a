package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"meapi/store"
)

// accounts signs up n users, each on a browser session of its own, and
// returns their ids.
func accounts(t *testing.T, s *store.SQLite, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = signUp(t, s, fmt.Sprintf("user%d@example.com", i), nil, "", fmt.Sprintf("own-%d", i)).Active().User.ID
	}
	return ids
}

func userIDs(sess *store.Session) []string {
	var ids []string
	for _, si := range sess.Signins {
		ids = append(ids, si.User.ID)
	}
	return ids
}

func TestSignInAddsAndReactivates(t *testing.T) {
	s, _ := openStore(t)
	ids := accounts(t, s, 3)

	sess, err := s.SignIn(ctx, ids[0], grantFor("", "browser-1"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err = s.SignIn(ctx, ids[1], grantFor(sess.ID, "browser-2"))
	if err != nil {
		t.Fatal(err)
	}
	if got := userIDs(sess); len(got) != 2 || sess.Active().User.ID != ids[1] {
		t.Fatalf("after two sign-ins: %v, active %s; want both, the second active", got, sess.Active().User.ID)
	}
	var first store.Signin
	for _, si := range sess.Signins {
		if si.User.ID == ids[0] {
			first = si
		}
	}

	// Signing in again as the first account makes its sign-in active,
	// with a new lifetime, instead of adding one.
	g := grantFor(sess.ID, "browser-3")
	g.Now = now.Add(time.Hour)
	g.SigninExpiresAt = g.Now.Add(30 * 24 * time.Hour)
	sess, err = s.SignIn(ctx, ids[0], g)
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Signins) != 2 || sess.Active().ID != first.ID {
		t.Fatalf("re-signing in: %v, active %s; want the same two, the first active again", userIDs(sess), sess.Active().ID)
	}
	if !sess.Active().ExpiresAt.Equal(g.SigninExpiresAt) || !sess.Active().CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("reactivated sign-in: created %v, expires %v; want created unchanged, expiry renewed", sess.Active().CreatedAt, sess.Active().ExpiresAt)
	}
	for _, tok := range []string{"browser-1", "browser-2"} {
		if _, err := s.SessionByTokenHash(ctx, hashOf(tok), now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old token %s still works: %v", tok, err)
		}
	}
}

func TestSignInLimitsAccountsPerSession(t *testing.T) {
	s, path := openStore(t)
	ids := accounts(t, s, 3)
	g := grantFor("", "tok-0")
	g.MaxSignins = 2
	sess, err := s.SignIn(ctx, ids[0], g)
	if err != nil {
		t.Fatal(err)
	}
	g.SessionID, g.TokenHash = sess.ID, hashOf("tok-1")
	if _, err := s.SignIn(ctx, ids[1], g); err != nil {
		t.Fatal(err)
	}
	g.TokenHash = hashOf("tok-2")
	if _, err := s.SignIn(ctx, ids[2], g); !errors.Is(err, store.ErrTooManySignins) {
		t.Fatalf("third account: %v, want ErrTooManySignins", err)
	}
	// Nothing of the refused sign-in was written, the token included.
	if got, err := s.SessionByTokenHash(ctx, hashOf("tok-1"), now); err != nil || len(got.Signins) != 2 {
		t.Errorf("after the refusal: %v, %v; want the session as it was", got, err)
	}
	// An account already there is no new one.
	g.TokenHash = hashOf("tok-3")
	if _, err := s.SignIn(ctx, ids[0], g); err != nil {
		t.Errorf("re-signing in at the limit: %v", err)
	}
	var n int
	rawDB(t, path).QueryRow(`SELECT count(*) FROM signins WHERE session_id = ?`, sess.ID).Scan(&n)
	if n != 2 {
		t.Errorf("%d sign-ins, want 2", n)
	}
}

func TestSwitchAndSignOut(t *testing.T) {
	s, _ := openStore(t)
	ids := accounts(t, s, 3)
	sess, _ := s.SignIn(ctx, ids[0], grantFor("", "b"))
	sess, _ = s.SignIn(ctx, ids[1], grantFor(sess.ID, "b"))
	sess, _ = s.SignIn(ctx, ids[2], grantFor(sess.ID, "b"))
	signin := map[string]string{}
	for _, si := range sess.Signins {
		signin[si.User.ID] = si.ID
	}

	sess, err := s.SwitchSignin(ctx, sess.ID, signin[ids[0]], now)
	if err != nil || sess.Active().User.ID != ids[0] {
		t.Fatalf("switch: %v, %v", sess, err)
	}
	other, _ := s.SessionByTokenHash(ctx, hashOf("own-1"), now)
	if _, err := s.SwitchSignin(ctx, sess.ID, other.Signins[0].ID, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("switching to another session's sign-in: %v, want ErrNotFound", err)
	}
	if _, err := s.SwitchSignin(ctx, sess.ID, signin[ids[1]], now.Add(31*24*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("switching to an ended sign-in: %v, want ErrNotFound", err)
	}

	// Signing out the active (ids[0]) leaves the most recently active: ids[2].
	sess, err = s.SignOut(ctx, sess.ID, signin[ids[0]], now)
	if err != nil || len(sess.Signins) != 2 || sess.Active().User.ID != ids[2] {
		t.Fatalf("sign out one: %v, %v; want two left, %s active", sess, err, ids[2])
	}
	sess, err = s.SignOut(ctx, sess.ID, signin[ids[2]], now)
	if err != nil || sess.Active().User.ID != ids[1] {
		t.Fatalf("sign out another: %v, %v", sess, err)
	}
	sess, err = s.SignOut(ctx, sess.ID, signin[ids[1]], now)
	if err != nil || sess != nil {
		t.Fatalf("sign out the last: %v, %v; want no session", sess, err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("b"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the token outlived its last sign-in: %v", err)
	}
}

func TestSignOutAll(t *testing.T) {
	s, path := openStore(t)
	ids := accounts(t, s, 2)
	sess, _ := s.SignIn(ctx, ids[0], grantFor("", "b"))
	sess, _ = s.SignIn(ctx, ids[1], grantFor(sess.ID, "b"))
	if got, err := s.SignOut(ctx, sess.ID, "", now); err != nil || got != nil {
		t.Fatalf("sign out all: %v, %v", got, err)
	}
	var n int
	rawDB(t, path).QueryRow(`SELECT count(*) FROM signins WHERE session_id = ?`, sess.ID).Scan(&n)
	if n != 0 {
		t.Errorf("%d sign-ins left, want 0", n)
	}
}

func TestTouchSessionMovesIdleExpiry(t *testing.T) {
	s, _ := openStore(t)
	sess := signUp(t, s, "a@example.com", nil, "", "t")
	day := 24 * time.Hour
	if err := s.TouchSession(ctx, sess.ID, now.Add(6*day), now.Add(13*day)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(12*day))
	if err != nil || !got.LastActiveAt.Equal(now.Add(6*day)) || !got.IdleExpiresAt.Equal(now.Add(13*day)) {
		t.Errorf("after touch: %+v, %v", got, err)
	}
}

func TestUserByLogin(t *testing.T) {
	s, _ := openStore(t)
	id := signUp(t, s, "Ada@Example.com", ptr("Ada.L"), "", "t").Active().User.ID
	for _, find := range []func() (*store.User, error){
		func() (*store.User, error) { return s.UserByEmail(ctx, "ada@EXAMPLE.com") },
		func() (*store.User, error) { return s.UserByUsername(ctx, "ADA.l") },
	} {
		if u, err := find(); err != nil || u.ID != id || u.PasswordHash == "" {
			t.Errorf("lookup: %+v, %v", u, err)
		}
	}
	if _, err := s.UserByEmail(ctx, "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown email: %v", err)
	}
	if _, err := s.UserByUsername(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown username: %v", err)
	}
}

func TestSigninFailures(t *testing.T) {
	s, _ := openStore(t)
	for i := range 5 {
		if err := s.RecordSigninFailure(ctx, []string{"id:ada", "addr:10.0.0.1"}, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	window := now.Add(-time.Second)
	// The 3rd most recent of the failures at 0..4 minutes is at 2 minutes.
	if at, err := s.SigninFailureAt(ctx, "id:ada", window, 3); err != nil || !at.Equal(now.Add(2*time.Minute)) {
		t.Errorf("3rd most recent: %v, %v", at, err)
	}
	if _, err := s.SigninFailureAt(ctx, "addr:10.0.0.1", window, 6); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("6th of 5: %v, want ErrNotFound", err)
	}
	if _, err := s.SigninFailureAt(ctx, "id:ada", now.Add(2*time.Minute), 3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("only 2 after the window's start: want ErrNotFound, got %v", err)
	}
	if _, err := s.SigninFailureAt(ctx, "id:bob", window, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another subject: %v", err)
	}
}

func TestSweep(t *testing.T) {
	s, path := openStore(t)
	ids := accounts(t, s, 2) // two sessions, idle expiry now+7d, sign-ins now+30d
	g := grantFor("", "short")
	g.SigninExpiresAt = now.Add(time.Hour)
	short, _ := s.SignIn(ctx, ids[0], g)
	s.RecordSigninFailure(ctx, []string{"id:x"}, now)
	s.RecordSigninFailure(ctx, []string{"id:x"}, now.Add(2*time.Hour))

	sw, err := s.Sweep(ctx, now.Add(2*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sw != (store.Swept{Signins: 1, Sessions: 1, Failures: 1}) {
		t.Errorf("first sweep: %+v; want the short sign-in, its session and the old failure", sw)
	}
	var n int
	rawDB(t, path).QueryRow(`SELECT count(*) FROM browser_sessions WHERE id = ?`, short.ID).Scan(&n)
	if n != 0 {
		t.Errorf("the session without sign-ins survived")
	}
	sw, err = s.Sweep(ctx, now.Add(8*24*time.Hour), now)
	if err != nil || sw.Sessions != 2 {
		t.Errorf("after the idle timeout: %+v, %v; want both sessions swept", sw, err)
	}
}
