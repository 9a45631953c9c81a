package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"meapi/store"
)

var ctx = context.Background()

// now is a fixed instant, whole milliseconds, as the store keeps times.
var now = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

func openStore(t *testing.T) (*store.SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meapi.db")
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func hashOf(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func signUp(t *testing.T, s *store.SQLite, email string, username *string, sessionID, token string) *store.Session {
	t.Helper()
	sess, err := s.SignUp(ctx, store.SignUp{
		User:  store.NewUser{Email: email, PasswordHash: "$argon2id$test", Username: username},
		Grant: grantFor(sessionID, token),
	})
	if err != nil {
		t.Fatalf("SignUp(%s): %v", email, err)
	}
	return sess
}

func ptr(s string) *string { return &s }

// grantFor is a sign-in on sessionID (or a new session) with token, at now,
// with the default lifetimes and at most 5 accounts per session.
func grantFor(sessionID, token string) store.Grant {
	return store.Grant{
		SessionID:       sessionID,
		TokenHash:       hashOf(token),
		Now:             now,
		IdleExpiresAt:   now.Add(7 * 24 * time.Hour),
		SigninExpiresAt: now.Add(30 * 24 * time.Hour),
		MaxSignins:      5,
	}
}

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	s, path := openStore(t)
	s.Close()
	// Opening again applies nothing twice.
	s2, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s2.Close()
	db := rawDB(t, path)
	var versions, maxVersion int
	if err := db.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&versions, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if versions != maxVersion || versions < 1 {
		t.Errorf("schema_migrations: %d rows, newest %d; want one row per migration", versions, maxVersion)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
	// A database from a newer meapi is refused rather than misread.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if s3, err := store.OpenSQLite(ctx, path); err == nil {
		s3.Close()
		t.Errorf("opened a database at a schema version newer than the binary")
	}
}

func TestOpenRefusesBadPath(t *testing.T) {
	for _, p := range []string{"", "a.db?mode=memory", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := store.OpenSQLite(ctx, p); err == nil {
			s.Close()
			t.Errorf("OpenSQLite(%q) succeeded", p)
		}
	}
}

func TestSignUpAndSessionLookup(t *testing.T) {
	s, _ := openStore(t)
	sess := signUp(t, s, "Ada@Example.com", ptr("Ada"), "", "token-a")
	if len(sess.Signins) != 1 || sess.Active() == nil || sess.Active().User.Email != "Ada@Example.com" {
		t.Fatalf("session after sign-up: %+v", sess)
	}
	u := sess.Active().User
	if u.Version != 1 || !u.CreatedAt.Equal(now) || !u.UpdatedAt.Equal(now) || *u.Username != "Ada" {
		t.Errorf("new user: %+v", u)
	}

	got, err := s.SessionByTokenHash(ctx, hashOf("token-a"), now)
	if err != nil || got.ID != sess.ID || got.Active().User.ID != u.ID {
		t.Fatalf("SessionByTokenHash: %+v, %v", got, err)
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
}

func TestSigninLifetimeEndsSession(t *testing.T) {
	s, _ := openStore(t)
	g := grantFor("", "t")
	g.IdleExpiresAt, g.SigninExpiresAt = now.Add(48*time.Hour), now.Add(time.Hour)
	_, err := s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: "a@example.com", PasswordHash: "x"}, Grant: g})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(59*time.Minute)); err != nil {
		t.Errorf("before the sign-in's lifetime: %v", err)
	}
	if _, err := s.SessionByTokenHash(ctx, hashOf("t"), now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the sign-in's lifetime: %v, want ErrNotFound", err)
	}
}

func TestSignUpIntoExistingSession(t *testing.T) {
	s, _ := openStore(t)
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
}

func TestSignUpUniqueness(t *testing.T) {
	s, path := openStore(t)
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
				t.Errorf("SignUp(%s, %v): %v, want %v", tt.email, tt.username, err, want)
			}
		}
		if len(tt.want) == 1 && (errors.Is(err, store.ErrEmailTaken) && errors.Is(err, store.ErrUsernameTaken)) {
			t.Errorf("SignUp(%s): reports both taken: %v", tt.email, err)
		}
	}
	var users, sessions int
	db := rawDB(t, path)
	db.QueryRow(`SELECT count(*) FROM users`).Scan(&users)
	db.QueryRow(`SELECT count(*) FROM browser_sessions`).Scan(&sessions)
	if users != 1 || sessions != 1 {
		t.Errorf("refused sign-ups wrote: %d users, %d sessions", users, sessions)
	}
}

// TestUniquenessIsInTheDatabase inserts around the store's own code: the
// unique indexes alone refuse a second spelling of a taken email.
func TestUniquenessIsInTheDatabase(t *testing.T) {
	s, path := openStore(t)
	signUp(t, s, "a@example.com", ptr("ada"), "", "t")
	db := rawDB(t, path)
	for _, stmt := range []string{
		`INSERT INTO users (id, email, email_folded, password_hash, created_at, updated_at) VALUES ('u2', 'A@example.com', 'a@example.com', 'x', 0, 0)`,
		`INSERT INTO users (id, email, email_folded, username, username_folded, password_hash, created_at, updated_at) VALUES ('u3', 'b@example.com', 'b@example.com', 'ADA', 'ada', 'x', 0, 0)`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("the database accepted: %s", stmt)
		}
	}
}

func TestUpdateProfile(t *testing.T) {
	s, _ := openStore(t)
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

	// A stale version is refused and writes nothing.
	_, err = s.UpdateProfile(ctx, store.ProfileUpdate{UserID: u.ID, Now: later, IfVersions: []int64{1},
		FirstName: store.Change{Set: true}})
	if !errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("stale version: %v, want ErrPreconditionFailed", err)
	}
	cleared, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: u.ID, Now: later, IfVersions: []int64{1, 2},
		FirstName: store.Change{Set: true}, Username: store.Change{Set: true}})
	if err != nil || cleared.FirstName != nil || cleared.Username != nil || cleared.Version != 3 {
		t.Errorf("clearing at the current version: %+v, %v", cleared, err)
	}

	if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: "user_nobody", Now: later}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}

func TestUpdateProfileUsernameTaken(t *testing.T) {
	s, _ := openStore(t)
	signUp(t, s, "a@example.com", ptr("Ada"), "", "t1")
	b := signUp(t, s, "b@example.com", ptr("bob"), "", "t2").Active().User
	_, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: b.ID, Now: now,
		FirstName: store.Change{Set: true, Value: ptr("Bob")},
		Username:  store.Change{Set: true, Value: ptr("ADA")}})
	if !errors.Is(err, store.ErrUsernameTaken) {
		t.Fatalf("got %v, want ErrUsernameTaken", err)
	}
	sess, _ := s.SessionByTokenHash(ctx, hashOf("t2"), now)
	if u := sess.Active().User; u.FirstName != nil || *u.Username != "bob" || u.Version != 1 {
		t.Errorf("a refused update wrote part of itself: %+v", u)
	}
	// My own name in another case is not a conflict.
	if u, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: b.ID, Now: now, Username: store.Change{Set: true, Value: ptr("Bob")}}); err != nil || *u.Username != "Bob" {
		t.Errorf("own username in another case: %v, %v", u, err)
	}
}

// TestConcurrentUpdatesKeepEveryMember has writers update different
// members of one user at once; none may undo another.
func TestConcurrentUpdatesKeepEveryMember(t *testing.T) {
	s, _ := openStore(t)
	u := signUp(t, s, "a@example.com", nil, "", "t").Active().User
	const rounds = 50
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				in := set(fmt.Sprintf("w%d-%d", w, i))
				in.UserID, in.Now = u.ID, now
				if _, err := s.UpdateProfile(ctx, in); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sess, err := s.SessionByTokenHash(ctx, hashOf("t"), now)
	if err != nil {
		t.Fatal(err)
	}
	got := sess.Active().User
	if *got.FirstName != "w0-49" || *got.LastName != "w1-49" || *got.ImageURL != "w2-49" || got.Version != 1+3*rounds {
		t.Errorf("after concurrent updates: first %s, last %s, image %s, version %d", *got.FirstName, *got.LastName, *got.ImageURL, got.Version)
	}
}

func TestContestedUsernameHasOneWinner(t *testing.T) {
	s, _ := openStore(t)
	const n = 16
	ids := make([]string, n)
	for i := range ids {
		ids[i] = signUp(t, s, fmt.Sprintf("u%d@example.com", i), nil, "", fmt.Sprintf("t%d", i)).Active().User.ID
	}
	// One name in several spellings: uniqueness ignores case.
	spellings := []string{"winner", "Winner", "WINNER"}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UpdateProfile(ctx, store.ProfileUpdate{UserID: id, Now: now, Username: store.Change{Set: true, Value: ptr(spellings[i%len(spellings)])}})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrUsernameTaken):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d winners, want 1", won)
	}
}

// TestBatchedWritesFailAlone sends many sign-ups at once, so that the
// writer runs them in shared transactions, some of them bound to fail:
// taken emails, and sign-ups into a browser session already full, which
// fail after their user row is written. Each failure must undo exactly its
// own writes, and every other sign-up must stand.
func TestBatchedWritesFailAlone(t *testing.T) {
	s, path := openStore(t)
	full := signUp(t, s, "owner@example.com", nil, "", "full")
	for i := range 4 {
		signUp(t, s, fmt.Sprintf("member%d@example.com", i), nil, full.ID, "full")
	}
	signUp(t, s, "taken@example.com", nil, "", "taken")

	const n = 48
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := store.SignUp{User: store.NewUser{Email: fmt.Sprintf("new%d@example.com", i), PasswordHash: "$argon2id$test"},
				Grant: grantFor("", fmt.Sprintf("new%d", i))}
			switch i % 3 {
			case 1:
				in.User.Email = "TAKEN@example.com"
			case 2:
				in.Grant = grantFor(full.ID, fmt.Sprintf("full-%d", i))
			}
			_, errs[i] = s.SignUp(ctx, in)
		}()
	}
	wg.Wait()

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
	db := rawDB(t, path)
	count := func(q string) int {
		t.Helper()
		var c int
		if err := db.QueryRow(q).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got, want := count(`SELECT count(*) FROM users`), 6+ok; got != want {
		t.Errorf("%d users, want %d: a failed sign-up left its user behind, or a good one was undone", got, want)
	}
	if got := count(`SELECT count(*) FROM signins WHERE session_id = '` + full.ID + `'`); got != 5 {
		t.Errorf("the full session has %d sign-ins, want 5", got)
	}
	if got, want := count(`SELECT count(*) FROM browser_sessions`), 2+ok; got != want {
		t.Errorf("%d browser sessions, want %d", got, want)
	}
	for i := 0; i < n; i += 3 {
		if _, err := s.SessionByTokenHash(ctx, hashOf(fmt.Sprintf("new%d", i)), now); err != nil {
			t.Errorf("sign-up %d succeeded but its session does not read: %v", i, err)
		}
	}
}

// TestUpdateProfileIsAtomic: a change of a user moves the generation of
// its sessions in the same step; when that fails, the change is not
// written either, although the batch it ran in commits.
func TestUpdateProfileIsAtomic(t *testing.T) {
	s, path := openStore(t)
	id := signUp(t, s, "ada@example.com", nil, "", "t").Active().User.ID
	if _, err := rawDB(t, path).Exec(`CREATE TRIGGER fail_bump BEFORE UPDATE OF generation ON browser_sessions
		BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	name := "Augusta"
	if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: id, Now: now.Add(time.Minute), FirstName: store.Change{Set: true, Value: &name}}); err == nil {
		t.Fatal("the update succeeded although its sessions could not follow")
	}
	var first sql.NullString
	if err := rawDB(t, path).QueryRow(`SELECT first_name FROM users WHERE id = ?`, id).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first.Valid {
		t.Errorf("first_name is %q after a failed update", first.String)
	}
}
