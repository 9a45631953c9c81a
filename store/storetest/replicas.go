package storetest

import (
	"errors"
	"testing"
	"time"

	"meapi/store"
)

// Two store instances on one database, as two replicas are: every change
// made through one is seen by the other's next read at once, although that
// one keeps the sessions it read.
var _ = register("TwoInstancesSeeEachOther", func(t *testing.T, a Engine) {
	b := a.Another(t, nil)
	sess := signUp(t, a, "ada@example.com", ptr("ada"), "", "browser")
	other := signUp(t, a, "bob@example.com", nil, "", "bob-browser").Active().User.ID
	token := "browser"
	readA := func() *store.Session { t.Helper(); return read(t, a, token) }
	readA() // a keeps it now
	readA()
	read(t, b, token) // and so does b

	// A patch through the other instance.
	rename(t, b, sess.Active().User.ID, "Augusta", time.Minute)
	if got := readA().Active().User.FirstName; str(got) != "Augusta" {
		t.Errorf("after the other instance renamed the user: first_name %s", str(got))
	}
	// And back: b's kept copy follows a's change.
	rename(t, a, sess.Active().User.ID, "Ada", 2*time.Minute)
	if got := read(t, b, token).Active().User.FirstName; str(got) != "Ada" {
		t.Errorf("the first instance's change, read through the second: first_name %s", str(got))
	}

	// A second account joins the session (and the token changes).
	joined, err := b.SignIn(ctx, other, grantFor(sess.ID, "browser-2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SessionByTokenHash(ctx, hashOf(token), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced token still reads: %v", err)
	}
	token = "browser-2"
	if s := readA(); len(s.Signins) != 2 || s.Active().User.ID != other {
		t.Errorf("after the sign-in: %d sign-ins, active %s", len(s.Signins), s.Active().User.ID)
	}

	// A switch back, through b.
	adaSignin := joined.Signins[0].ID
	if _, err := b.SwitchSignin(ctx, sess.ID, adaSignin, now); err != nil {
		t.Fatal(err)
	}
	if s := readA(); s.Active().ID != adaSignin {
		t.Errorf("after the switch: active %s, want %s", s.Active().ID, adaSignin)
	}
	// Renewal moves the idle expiry.
	later := now.Add(24 * time.Hour)
	if err := b.TouchSession(ctx, sess.ID, later, later.Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s := readA(); !s.IdleExpiresAt.Equal(later.Add(7 * 24 * time.Hour)) {
		t.Errorf("after the renewal: idle expiry %v", s.IdleExpiresAt)
	}
	// Signing one out, then all.
	if _, err := b.SignOut(ctx, sess.ID, adaSignin, now); err != nil {
		t.Fatal(err)
	}
	if s := readA(); len(s.Signins) != 1 || s.Active().User.ID != other {
		t.Errorf("after signing Ada out: %v", userIDs(s))
	}
	if _, err := b.SignOut(ctx, sess.ID, "", now); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]store.Engine{"a": a, "b": b} {
		if _, err := e.SessionByTokenHash(ctx, hashOf(token), now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a signed-out session still reads on %s: %v", name, err)
		}
	}
})

// A server that changes a user keeps its copy of the session current, and
// still never hands out a copy that misses a change another server made in
// between.
var _ = register("KeptSessionsFollowOwnChanges", func(t *testing.T, a Engine) {
	b := a.Another(t, nil)
	sess := signUp(t, a, "ada@example.com", ptr("ada"), "", "browser")
	userID := sess.Active().User.ID
	read(t, a, "browser") // a keeps it
	rename(t, a, userID, "Augusta", time.Minute)
	if got := read(t, a, "browser").Active().User.FirstName; str(got) != "Augusta" {
		t.Errorf("after its own change a reads first_name %s", str(got))
	}
	// b renews the session, then a changes the user: a's copy is two
	// changes behind, and must not become "a's change only".
	renewed := now.Add(2 * time.Minute).Add(7 * 24 * time.Hour)
	if err := b.TouchSession(ctx, sess.ID, now.Add(2*time.Minute), renewed); err != nil {
		t.Fatal(err)
	}
	ln := "Lovelace"
	if _, err := a.UpdateProfile(ctx, store.ProfileUpdate{UserID: userID, Now: now.Add(3 * time.Minute), LastName: store.Change{Set: true, Value: &ln}}); err != nil {
		t.Fatal(err)
	}
	got := read(t, a, "browser")
	if u := got.Active().User; str(u.LastName) != "Lovelace" || str(u.FirstName) != "Augusta" {
		t.Errorf("after its change a reads %s %s", str(u.FirstName), str(u.LastName))
	}
	if !got.IdleExpiresAt.Equal(renewed) {
		t.Errorf("a missed the renewal by the other server: idle expiry %v, want %v", got.IdleExpiresAt, renewed)
	}
})
