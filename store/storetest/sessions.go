package storetest

import (
	"errors"
	"testing"
	"time"

	"meapi/store"
)

var _ = register("SigninLifetimeEndsSession", func(t *testing.T, s Engine) {
	g := grantFor("", "t")
	g.IdleExpiresAt, g.SigninExpiresAt = now.Add(48*time.Hour), now.Add(time.Hour)
	if _, err := s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: "a@example.com", PasswordHash: "x"}, Grant: g}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(59*time.Minute)); err != nil {
		t.Errorf("before the sign-in's lifetime: %v", err)
	}
	// Kept or not, a session is not handed out past the end of its
	// sign-ins' lifetime, which passes without any write.
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the sign-in's lifetime: %v, want ErrNotFound", err)
	}
})

var _ = register("SignInAddsAndReactivates", func(t *testing.T, s Engine) {
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
	if got := read(t, s, "browser-3"); got.Active().ID != first.ID {
		t.Errorf("read after: active %s", got.Active().ID)
	}
})

var _ = register("SignInLimitsAccountsPerSession", func(t *testing.T, s Engine) {
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
	if n := s.Int(t, `SELECT count(*) FROM signins WHERE session_id = `+quote(sess.ID)); n != 2 {
		t.Errorf("%d sign-ins, want 2", n)
	}
})

var _ = register("SwitchAndSignOut", func(t *testing.T, s Engine) {
	ids := accounts(t, s, 3)
	sess, _ := s.SignIn(ctx, ids[0], grantFor("", "b"))
	sess, _ = s.SignIn(ctx, ids[1], grantFor(sess.ID, "b"))
	sess, _ = s.SignIn(ctx, ids[2], grantFor(sess.ID, "b"))
	signin := map[string]string{}
	for _, si := range sess.Signins {
		signin[si.User.ID] = si.ID
	}
	read(t, s, "b") // kept now, where the engine keeps sessions
	sess, err := s.SwitchSignin(ctx, sess.ID, signin[ids[0]], now)
	if err != nil || sess.Active().User.ID != ids[0] {
		t.Fatalf("switch: %v, %v", sess, err)
	}
	if got := read(t, s, "b"); got.Active().User.ID != ids[0] {
		t.Errorf("read after the switch: active %s, want %s", got.Active().User.ID, ids[0])
	}
	other := read(t, s, "own-1")
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
	if got := read(t, s, "b"); len(got.Signins) != 2 || got.Active().User.ID != ids[2] {
		t.Errorf("read after signing one out: %v", userIDs(got))
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
})

var _ = register("SignOutAll", func(t *testing.T, s Engine) {
	ids := accounts(t, s, 2)
	sess, _ := s.SignIn(ctx, ids[0], grantFor("", "b"))
	sess, _ = s.SignIn(ctx, ids[1], grantFor(sess.ID, "b"))
	read(t, s, "b")
	if got, err := s.SignOut(ctx, sess.ID, "", now); err != nil || got != nil {
		t.Fatalf("sign out all: %v, %v", got, err)
	}
	if n := s.Int(t, `SELECT count(*) FROM signins WHERE session_id = `+quote(sess.ID)); n != 0 {
		t.Errorf("%d sign-ins left, want 0", n)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("b"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a signed-out session still reads: %v", err)
	}
	// The accounts' own sessions are untouched.
	read(t, s, "own-0")
})

var _ = register("IdleExpiryAndTouch", func(t *testing.T, s Engine) {
	sess := signUp(t, s, "a@example.com", nil, "", "t")
	day := 24 * time.Hour
	read(t, s, "t")
	if err := s.TouchSession(ctx, sess.ID, now.Add(6*day), now.Add(13*day)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(12*day))
	if err != nil || !got.LastActiveAt.Equal(now.Add(6*day)) || !got.IdleExpiresAt.Equal(now.Add(13*day)) {
		t.Errorf("after touch: %+v, %v", got, err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(13*day)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("past the new idle expiry: %v, want ErrNotFound", err)
	}
})

var _ = register("Sweep", func(t *testing.T, s Engine) {
	ids := accounts(t, s, 2) // two sessions, idle expiry now+7d, sign-ins now+30d
	g := grantFor("", "short")
	g.SigninExpiresAt = now.Add(time.Hour)
	short, err := s.SignIn(ctx, ids[0], g)
	if err != nil {
		t.Fatal(err)
	}
	limit := []store.Limit{{Subject: "id:x", Max: 5, Window: time.Hour}}
	for _, at := range []time.Time{now, now.Add(2 * time.Hour)} {
		if _, err := s.ReserveAttempt(ctx, limit, at); err != nil {
			t.Fatal(err)
		}
	}
	sw, err := s.Sweep(ctx, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sw != (store.Swept{Signins: 1, Sessions: 1, Attempts: 1}) {
		t.Errorf("first sweep: %+v; want the short sign-in, its session and the old attempt", sw)
	}
	if n := s.Int(t, `SELECT count(*) FROM browser_sessions WHERE id = `+quote(short.ID)); n != 0 {
		t.Errorf("the session without sign-ins survived")
	}
	sw, err = s.Sweep(ctx, now.Add(8*24*time.Hour))
	if err != nil || sw.Sessions != 2 || sw.Attempts != 1 {
		t.Errorf("after the idle timeout: %+v, %v; want both sessions and the other attempt swept", sw, err)
	}
})

// Kept sessions are copies: changing what a read returned changes nothing
// a later read returns.
var _ = register("KeptSessionsAreCopies", func(t *testing.T, s Engine) {
	signUp(t, s, "a@example.com", nil, "", "t")
	first := read(t, s, "t")
	first.Signins[0].User.Email = "changed@example.com"
	if second := read(t, s, "t"); second.Signins[0].User.Email != "a@example.com" {
		t.Errorf("a read returned what an earlier caller changed")
	}
})

// An edit by hand moves the generation too (triggers), so that a kept
// session never hides it.
var _ = register("HandEditsAreSeen", func(t *testing.T, s Engine) {
	sess := signUp(t, s, "a@example.com", nil, "", "t")
	id := sess.Active().User.ID
	read(t, s, "t")
	read(t, s, "t")
	mustExec(t, s, `UPDATE users SET first_name = 'Hand' WHERE id = `+quote(id))
	if got := read(t, s, "t").Active().User.FirstName; str(got) != "Hand" {
		t.Errorf("after a hand edit of the user: first_name %s", str(got))
	}
	mustExec(t, s, `UPDATE browser_sessions SET idle_expires_at = `+itoa(now.Add(time.Minute).UnixMilli())+` WHERE id = `+quote(sess.ID))
	if got := read(t, s, "t"); !got.IdleExpiresAt.Equal(now.Add(time.Minute)) {
		t.Errorf("after a hand edit of the session: idle expiry %v", got.IdleExpiresAt)
	}
	mustExec(t, s, `DELETE FROM signins WHERE session_id = `+quote(sess.ID))
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after deleting its sign-ins by hand: %v, want ErrNotFound", err)
	}
})
