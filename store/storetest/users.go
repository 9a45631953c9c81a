package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"meapi/store"
)

var _ = register("SignUpAndSessionLookup", func(t *testing.T, s Engine) {
	sess := signUp(t, s, "Ada@Example.com", ptr("Ada"), "", "token-a")
	if len(sess.Signins) != 1 || sess.Active() == nil || sess.Active().User.Email != "Ada@Example.com" {
		t.Fatalf("session after sign-up: %+v", sess)
	}
	u := sess.Active().User
	if u.Version != 1 || !u.CreatedAt.Equal(now) || !u.UpdatedAt.Equal(now) || *u.Username != "Ada" {
		t.Errorf("new user: %+v", u)
	}
	got := read(t, s, "token-a")
	if got.ID != sess.ID || got.Active().User.ID != u.ID {
		t.Fatalf("SessionByTokenHash: %+v", got)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("token-b"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: %v, want ErrNotFound", err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("token-a"), now.Add(7*24*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("idle-expired session: %v, want ErrNotFound", err)
	}
	if got.ExpiresAt() != now.Add(7*24*time.Hour) {
		t.Errorf("ExpiresAt %v, want the idle expiry", got.ExpiresAt())
	}
})

var _ = register("SignUpIntoExistingSession", func(t *testing.T, s Engine) {
	first := signUp(t, s, "a@example.com", nil, "", "token-1")
	second := signUp(t, s, "b@example.com", nil, first.ID, "token-2")
	if second.ID != first.ID || len(second.Signins) != 2 {
		t.Fatalf("want both sign-ins in one session: %+v", second)
	}
	if second.Active().User.Email != "b@example.com" {
		t.Errorf("active: %s, want the newest sign-in", second.Active().User.Email)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("token-1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced token still finds the session: %v", err)
	}
	// A session that no longer exists is replaced by a new one.
	third := signUp(t, s, "c@example.com", nil, "sess_gone", "token-3")
	if third.ID == first.ID || len(third.Signins) != 1 {
		t.Errorf("signing up into a vanished session: %+v", third)
	}
})

var _ = register("FoldedUniqueness", func(t *testing.T, s Engine) {
	signUp(t, s, "Taken@Example.com", ptr("Taken"), "", "t1")
	tests := []struct {
		email    string
		username *string
		want     []error
	}{
		{"taken@example.com", nil, []error{store.ErrEmailTaken}},
		{"TAKEN@EXAMPLE.COM", ptr("free"), []error{store.ErrEmailTaken}},
		{"free@example.com", ptr("taken"), []error{store.ErrUsernameTaken}},
		{"taken@example.com", ptr("TAKEN"), []error{store.ErrEmailTaken, store.ErrUsernameTaken}},
	}
	for _, tt := range tests {
		_, err := s.SignUp(ctx, store.SignUp{
			User:  store.NewUser{Email: tt.email, PasswordHash: "x", Username: tt.username},
			Grant: grantFor("", tt.email),
		})
		for _, want := range tt.want {
			if !errors.Is(err, want) {
				t.Errorf("SignUp(%s, %v): %v, want %v", tt.email, str(tt.username), err, want)
			}
		}
		if len(tt.want) == 1 && errors.Is(err, store.ErrEmailTaken) && errors.Is(err, store.ErrUsernameTaken) {
			t.Errorf("SignUp(%s): reports both taken: %v", tt.email, err)
		}
	}
	if users, sessions := s.Int(t, `SELECT count(*) FROM users`), s.Int(t, `SELECT count(*) FROM browser_sessions`); users != 1 || sessions != 1 {
		t.Errorf("refused sign-ups wrote: %d users, %d sessions", users, sessions)
	}
	// The unique indexes alone refuse a second spelling, around the store.
	for _, stmt := range []string{
		`INSERT INTO users (id, email, email_folded, password_hash, created_at, updated_at) VALUES ('u2', 'TAKEN@example.com', 'taken@example.com', 'x', 0, 0)`,
		`INSERT INTO users (id, email, email_folded, username, username_folded, password_hash, created_at, updated_at) VALUES ('u3', 'b@example.com', 'b@example.com', 'TAKEN', 'taken', 'x', 0, 0)`,
	} {
		if s.Exec(stmt) == nil {
			t.Errorf("the database accepted: %s", stmt)
		}
	}
	// My own name in another case is not a conflict.
	id := read(t, s, "t1").Active().User.ID
	if u, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: id, Now: now, Username: store.Change{Set: true, Value: ptr("TAKEN")}}); err != nil || *u.Username != "TAKEN" {
		t.Errorf("own username in another case: %v, %v", u, err)
	}
})

var _ = register("UpdateProfile", func(t *testing.T, s Engine) {
	u := signUp(t, s, "a@example.com", ptr("ada"), "", "t").Active().User
	later := now.Add(time.Minute)
	got, err := s.UpdateProfile(ctx, store.ProfileUpdate{
		UserID: u.ID, Now: later,
		FirstName: store.Change{Set: true, Value: ptr("Ada")},
		ImageURL:  store.Change{Set: true, Value: ptr("https://example.com/a.png")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *got.FirstName != "Ada" || *got.ImageURL != "https://example.com/a.png" || *got.Username != "ada" || got.LastName != nil {
		t.Errorf("after update: %+v", got)
	}
	if got.Version != 2 || !got.UpdatedAt.Equal(later) || !got.CreatedAt.Equal(now) {
		t.Errorf("version %d, updated_at %v; want 2, %v", got.Version, got.UpdatedAt, later)
	}
	// The same values again change nothing.
	same, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: u.ID, Now: later.Add(time.Minute),
		FirstName: store.Change{Set: true, Value: ptr("Ada")}, LastName: store.Change{Set: true}})
	if err != nil || same.Version != 2 || !same.UpdatedAt.Equal(later) {
		t.Errorf("a no-op update moved the version or updated_at: %+v, %v", same, err)
	}
	// A stale version (If-Match) is refused and writes nothing.
	_, err = s.UpdateProfile(ctx, store.ProfileUpdate{UserID: u.ID, Now: later, IfVersions: []int64{1},
		FirstName: store.Change{Set: true}})
	if !errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("stale version: %v, want ErrPreconditionFailed", err)
	}
	if first, _ := s.Text(t, `SELECT first_name FROM users WHERE id = `+quote(u.ID)); first != "Ada" {
		t.Errorf("a refused update wrote first_name %q", first)
	}
	cleared, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: u.ID, Now: later, IfVersions: []int64{1, 2},
		FirstName: store.Change{Set: true}, Username: store.Change{Set: true}})
	if err != nil || cleared.FirstName != nil || cleared.Username != nil || cleared.Version != 3 {
		t.Errorf("clearing at one of the versions listed: %+v, %v", cleared, err)
	}
	if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: "user_nobody", Now: later}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	// What a session read returns follows.
	if got := read(t, s, "t").Active().User; got.FirstName != nil || got.Version != 3 {
		t.Errorf("the session shows %+v", got)
	}
})

var _ = register("UpdateProfileUsernameTaken", func(t *testing.T, s Engine) {
	signUp(t, s, "a@example.com", ptr("Ada"), "", "t1")
	b := signUp(t, s, "b@example.com", ptr("bob"), "", "t2").Active().User
	_, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: b.ID, Now: now,
		FirstName: store.Change{Set: true, Value: ptr("Bob")},
		Username:  store.Change{Set: true, Value: ptr("ADA")}})
	if !errors.Is(err, store.ErrUsernameTaken) {
		t.Fatalf("got %v, want ErrUsernameTaken", err)
	}
	if u := read(t, s, "t2").Active().User; u.FirstName != nil || *u.Username != "bob" || u.Version != 1 {
		t.Errorf("a refused update wrote part of itself: %+v", u)
	}
})

// Writers update different members of one user at once; none may undo
// another.
var _ = register("ConcurrentPatchesLoseNothing", func(t *testing.T, s Engine) {
	u := signUp(t, s, "a@example.com", nil, "", "t").Active().User
	const rounds = 40
	var wg sync.WaitGroup
	setters := []func(v string) store.ProfileUpdate{
		func(v string) store.ProfileUpdate {
			return store.ProfileUpdate{FirstName: store.Change{Set: true, Value: &v}}
		},
		func(v string) store.ProfileUpdate {
			return store.ProfileUpdate{LastName: store.Change{Set: true, Value: &v}}
		},
		func(v string) store.ProfileUpdate {
			return store.ProfileUpdate{ImageURL: store.Change{Set: true, Value: &v}}
		},
	}
	for w, set := range setters {
		wg.Go(func() {
			for i := range rounds {
				in := set(fmt.Sprintf("w%d-%d", w, i))
				in.UserID, in.Now = u.ID, now
				if _, err := s.UpdateProfile(ctx, in); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := read(t, s, "t").Active().User
	want := fmt.Sprintf("w0-%d w1-%d w2-%d", rounds-1, rounds-1, rounds-1)
	if have := str(got.FirstName) + " " + str(got.LastName) + " " + str(got.ImageURL); have != want || got.Version != 1+3*rounds {
		t.Errorf("after concurrent updates: %s, version %d; want %s, version %d", have, got.Version, want, 1+3*rounds)
	}
})

var _ = register("ContestedUsernameHasOneWinner", func(t *testing.T, s Engine) {
	const n = 16
	ids := accounts(t, s, n)
	// One name in several spellings: uniqueness ignores case.
	spellings := []string{"winner", "Winner", "WINNER"}
	errs := atOnce(n, func(i int) error {
		_, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: ids[i], Now: now, Username: store.Change{Set: true, Value: ptr(spellings[i%len(spellings)])}})
		return err
	})
	if won := winners(t, errs, store.ErrUsernameTaken); won != 1 {
		t.Errorf("%d winners, want 1", won)
	}
	if n := s.Int(t, `SELECT count(*) FROM users WHERE username_folded = 'winner'`); n != 1 {
		t.Errorf("%d users hold the name", n)
	}
})

var _ = register("ContestedEmailHasOneWinner", func(t *testing.T, s Engine) {
	const n = 16
	errs := atOnce(n, func(i int) error {
		email := []string{"same@example.com", "Same@Example.com", "SAME@EXAMPLE.COM"}[i%3]
		_, err := s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: email, PasswordHash: "x"}, Grant: grantFor("", fmt.Sprintf("c%d", i))})
		return err
	})
	if won := winners(t, errs, store.ErrEmailTaken); won != 1 {
		t.Errorf("%d winners, want 1", won)
	}
	if users, sessions := s.Int(t, `SELECT count(*) FROM users`), s.Int(t, `SELECT count(*) FROM browser_sessions`); users != 1 || sessions != 1 {
		t.Errorf("%d users and %d sessions, want 1 each", users, sessions)
	}
})

func winners(t *testing.T, errs []error, loss error) int {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, loss):
			t.Errorf("unexpected error: %v", err)
		}
	}
	return won
}

// Many sign-ups at once, some bound to fail: taken emails, and sign-ups
// into a browser session already full, which fail after their user row is
// written. Each failure must undo exactly its own writes (an engine that
// shares transactions between operations must keep them apart), and every
// other sign-up must stand.
var _ = register("ConcurrentWritesFailAlone", func(t *testing.T, s Engine) {
	full := signUp(t, s, "owner@example.com", nil, "", "full")
	for i := range 4 {
		signUp(t, s, fmt.Sprintf("member%d@example.com", i), nil, full.ID, "full")
	}
	signUp(t, s, "taken@example.com", nil, "", "taken")
	const n = 48
	errs := atOnce(n, func(i int) error {
		in := store.SignUp{User: store.NewUser{Email: fmt.Sprintf("new%d@example.com", i), PasswordHash: "$argon2id$test"},
			Grant: grantFor("", fmt.Sprintf("new%d", i))}
		switch i % 3 {
		case 1:
			in.User.Email = "TAKEN@example.com"
		case 2:
			in.Grant = grantFor(full.ID, fmt.Sprintf("full-%d", i))
		}
		_, err := s.SignUp(ctx, in)
		return err
	})
	ok := 0
	for i, err := range errs {
		want := []error{nil, store.ErrEmailTaken, store.ErrTooManySignins}[i%3]
		if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("sign-up %d: %v, want %v", i, err, want)
		}
		if err == nil {
			ok++
		}
	}
	if got, want := s.Int(t, `SELECT count(*) FROM users`), int64(6+ok); got != want {
		t.Errorf("%d users, want %d: a failed sign-up left its user behind, or a good one was undone", got, want)
	}
	if got := s.Int(t, `SELECT count(*) FROM signins WHERE session_id = `+quote(full.ID)); got != 5 {
		t.Errorf("the full session has %d sign-ins, want 5", got)
	}
	if got, want := s.Int(t, `SELECT count(*) FROM browser_sessions`), int64(2+ok); got != want {
		t.Errorf("%d browser sessions, want %d", got, want)
	}
	for i := 0; i < n; i += 3 {
		if _, err := s.SessionByTokenHash(ctx, hashOf(fmt.Sprintf("new%d", i)), now); err != nil {
			t.Errorf("sign-up %d succeeded but its session does not read: %v", i, err)
		}
	}
})

var _ = register("UserByLogin", func(t *testing.T, s Engine) {
	id := signUp(t, s, "Ada@Example.com", ptr("Ada.L"), "", "t").Active().User.ID
	for _, find := range []func() (*store.User, error){
		func() (*store.User, error) { return s.UserByEmail(ctx, "ada@EXAMPLE.com") },
		func() (*store.User, error) { return s.UserByUsername(ctx, "ADA.l") },
	} {
		if u, err := find(); err != nil || u.ID != id || u.PasswordHash == "" || u.Email != "Ada@Example.com" {
			t.Errorf("lookup: %+v, %v", u, err)
		}
	}
	if _, err := s.UserByEmail(ctx, "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown email: %v", err)
	}
	if _, err := s.UserByUsername(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown username: %v", err)
	}
})

// Seeded users (meapi seed) are accounts like signed-up ones: each token
// reads its session and user, the user is found by its folded email and
// username, and their spellings are taken.
var _ = register("SeedSignUpsAreAccounts", func(t *testing.T, s Engine) {
	seeder, ok := s.(store.Seeder)
	if !ok {
		t.Fatalf("%s's store is no store.Seeder", s.Dialect())
	}
	in := []store.SignUp{
		{User: store.NewUser{Email: "Seed1@Example.com", PasswordHash: "x", Username: ptr("Grace")}, Grant: grantFor("", "seed-1")},
		{User: store.NewUser{Email: "seed2@example.com", PasswordHash: "x", FirstName: ptr("Ada")}, Grant: grantFor("", "seed-2")},
	}
	if err := seeder.SeedSignUps(ctx, in); err != nil {
		t.Fatal(err)
	}
	for i, token := range []string{"seed-1", "seed-2"} {
		sess := read(t, s, token)
		if u := sess.Active().User; u.Email != in[i].User.Email || str(u.Username) != str(in[i].User.Username) ||
			str(u.FirstName) != str(in[i].User.FirstName) || u.Version != 1 || !u.CreatedAt.Equal(now) {
			t.Errorf("seeded user %d: %+v", i, u)
		}
	}
	if u, err := s.UserByUsername(ctx, "GRACE"); err != nil || u.Email != "Seed1@Example.com" {
		t.Errorf("UserByUsername(GRACE): %v, %v", u, err)
	}
	if u, err := s.UserByEmail(ctx, "seed1@example.com"); err != nil || str(u.Username) != "Grace" {
		t.Errorf("UserByEmail(seed1@example.com): %v, %v", u, err)
	}
	_, err := s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: "free@example.com", PasswordHash: "x", Username: ptr("grace")}, Grant: grantFor("", "t")})
	if !errors.Is(err, store.ErrUsernameTaken) {
		t.Errorf("signing up a seeded username in another case: %v, want ErrUsernameTaken", err)
	}
})
