package store_test

import (
	"errors"
	"testing"
	"time"

	"meapi/store"
)

// TestKeptSessionsFollowOtherServers opens two stores on one file, as two
// servers would be: every change made through one is seen at once by the
// other's next read, although that one keeps the sessions it read.
func TestKeptSessionsFollowOtherServers(t *testing.T) {
	a, b := twoServers(t)
	sess := signUp(t, a, "ada@example.com", ptr("ada"), "", "browser")
	other := signUp(t, a, "bob@example.com", nil, "", "bob-browser").Active().User.ID
	hash := hashOf("browser")
	read := func() *store.Session {
		t.Helper()
		s, err := a.SessionByTokenHash(ctx, hash, now)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return s
	}
	read() // a keeps it now
	read()

	// A change of the user, through the other server.
	name := "Augusta"
	if _, err := b.UpdateProfile(ctx, store.ProfileUpdate{UserID: sess.Active().User.ID, Now: now.Add(time.Minute), FirstName: store.Change{Set: true, Value: &name}}); err != nil {
		t.Fatal(err)
	}
	if got := read().Active().User.FirstName; got == nil || *got != "Augusta" {
		t.Errorf("after another server renamed the user: first_name %v", got)
	}

	// A second account joins the session (and the token changes).
	joined, err := b.SignIn(ctx, other, grantFor(sess.ID, "browser-2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SessionByTokenHash(ctx, hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced token still reads: %v", err)
	}
	hash = hashOf("browser-2")
	if s := read(); len(s.Signins) != 2 || s.Active().User.ID != other {
		t.Errorf("after the sign-in: %d sign-ins, active %s", len(s.Signins), s.Active().User.ID)
	}

	// Switching back.
	adaSignin := joined.Signins[0].ID
	if _, err := b.SwitchSignin(ctx, sess.ID, adaSignin, now); err != nil {
		t.Fatal(err)
	}
	if s := read(); s.Active().ID != adaSignin {
		t.Errorf("after the switch: active %s, want %s", s.Active().ID, adaSignin)
	}

	// Renewal moves the idle expiry.
	later := now.Add(24 * time.Hour)
	if err := b.TouchSession(ctx, sess.ID, later, later.Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s := read(); !s.IdleExpiresAt.Equal(later.Add(7 * 24 * time.Hour)) {
		t.Errorf("after the renewal: idle expiry %v", s.IdleExpiresAt)
	}

	// Signing one out, then all.
	if _, err := b.SignOut(ctx, sess.ID, adaSignin, now); err != nil {
		t.Fatal(err)
	}
	if s := read(); len(s.Signins) != 1 || s.Active().User.ID != other {
		t.Errorf("after signing Ada out: %+v", s.Signins)
	}
	if _, err := b.SignOut(ctx, sess.ID, "", now); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SessionByTokenHash(ctx, hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a signed-out session still reads: %v", err)
	}
}

// twoServers opens two stores on one file, as two servers would.
func twoServers(t *testing.T) (a, b *store.SQLite) {
	t.Helper()
	a, path := openStore(t)
	b, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// TestKeptSessionsExpire: a kept session is not handed out past the end of
// its sign-ins' lifetime, which passes without any write.
func TestKeptSessionsExpire(t *testing.T) {
	s, _ := openStore(t)
	g := grantFor("", "t")
	g.SigninExpiresAt = now.Add(time.Hour)
	if _, err := s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: "a@example.com", PasswordHash: "x"}, Grant: g}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a kept session outlived its sign-in: %v", err)
	}
}

// TestKeptSessionsAreCopies: changing a session a read returned changes
// nothing that a later read returns.
func TestKeptSessionsAreCopies(t *testing.T) {
	s, _ := openStore(t)
	signUp(t, s, "a@example.com", nil, "", "t")
	first, _ := s.SessionByTokenHash(ctx, hashOf("t"), now)
	first.Signins[0].User.Email = "changed@example.com"
	second, _ := s.SessionByTokenHash(ctx, hashOf("t"), now)
	if second.Signins[0].User.Email != "a@example.com" {
		t.Errorf("a read returned what an earlier caller changed")
	}
}

// TestKeptSessionsFollowOwnChanges: a server that changes a user keeps its
// copy of the session current without reading it again, and still never
// hands out a copy that misses a change another server made in between.
func TestKeptSessionsFollowOwnChanges(t *testing.T) {
	a, b := twoServers(t)
	sess := signUp(t, a, "ada@example.com", ptr("ada"), "", "browser")
	userID := sess.Active().User.ID
	hash := hashOf("browser")
	first := func(s *store.SQLite) string {
		t.Helper()
		got, err := s.SessionForWrite(ctx, hash, now)
		if err != nil {
			t.Fatal(err)
		}
		if v := got.Active().User.FirstName; v != nil {
			return *v
		}
		return ""
	}
	rename := func(s *store.SQLite, name string, at time.Duration) {
		t.Helper()
		if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: userID, Now: now.Add(at), FirstName: store.Change{Set: true, Value: &name}}); err != nil {
			t.Fatal(err)
		}
	}

	first(a) // a keeps it
	rename(a, "Augusta", time.Minute)
	if got := first(a); got != "Augusta" {
		t.Errorf("after its own change a reads first_name %q", got)
	}

	// b renews the session, then a changes the user: a's copy is two
	// changes behind, and must not become "a's change only".
	renewed := now.Add(2 * time.Minute).Add(7 * 24 * time.Hour)
	if err := b.TouchSession(ctx, sess.ID, now.Add(2*time.Minute), renewed); err != nil {
		t.Fatal(err)
	}
	name := "Lovelace"
	if _, err := a.UpdateProfile(ctx, store.ProfileUpdate{UserID: userID, Now: now.Add(3 * time.Minute), LastName: store.Change{Set: true, Value: &name}}); err != nil {
		t.Fatal(err)
	}
	got, err := a.SessionByTokenHash(ctx, hash, now)
	if err != nil {
		t.Fatal(err)
	}
	if u := got.Active().User; u.LastName == nil || *u.LastName != "Lovelace" {
		t.Errorf("after its change a reads last_name %v", u.LastName)
	}
	if !got.IdleExpiresAt.Equal(renewed) {
		t.Errorf("a missed the renewal by the other server: idle expiry %v, want %v", got.IdleExpiresAt, renewed)
	}
}
