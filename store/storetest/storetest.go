// Package storetest is the contract every store engine is held to: one
// suite of tests, run on each engine against a real database (SQLite in a
// temporary folder, a real PostgreSQL).
//
//	func TestContract(t *testing.T) { storetest.Run(t, openMyEngine) }
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"meapi/store"
)

// Engine is an engine under test: the store itself, and what the suite
// needs around it. An engine's own test files provide the extras (from a
// connection of their own to the database, never through the engine's
// production interface).
type Engine interface {
	store.Engine
	// Another opens one more store instance on the same database, as
	// another replica would, told of its operations by obs when not nil.
	// The test closes it.
	Another(t *testing.T, obs store.Observer) store.Engine
	// Exec runs statements on the database directly, around the store: to
	// edit by hand, or to inject a fault.
	Exec(query string) error
	// Int returns the integer the query selects, read directly.
	Int(t *testing.T, query string) int64
	// Text returns the text the query selects, read directly, and whether
	// it is not NULL.
	Text(t *testing.T, query string) (string, bool)
	// Dialect is "sqlite" or "postgres", for the SQL of injected faults.
	Dialect() string
}

// Run runs the whole contract. open gives a new database for each test,
// with a store open on it; the test closes it.
func Run(t *testing.T, open func(t *testing.T) Engine) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, e Engine)
}

// cases is every test of the contract; each file adds its own.
var cases []testCase

func register(name string, run func(t *testing.T, e Engine)) bool {
	cases = append(cases, testCase{name, run})
	return true
}

var ctx = context.Background()

// now is a fixed instant, whole milliseconds, as the stores keep times.
var now = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

func hashOf(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// atOnce runs op(0) to op(n-1) concurrently and returns their errors,
// each at its index.
func atOnce(n int, op func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = op(i) })
	}
	wg.Wait()
	return errs
}

func ptr(s string) *string { return &s }

func str(p *string) string {
	if p == nil {
		return "<NULL>"
	}
	return *p
}

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

func signUp(t *testing.T, s store.Engine, email string, username *string, sessionID, token string) *store.Session {
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

// accounts signs up n users, each on a browser session of its own (token
// own-i), and returns their ids.
func accounts(t *testing.T, s store.Engine, n int) []string {
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

func read(t *testing.T, s store.Engine, token string) *store.Session {
	t.Helper()
	sess, err := s.SessionByTokenHash(ctx, hashOf(token), now)
	if err != nil {
		t.Fatalf("SessionByTokenHash(%s): %v", token, err)
	}
	return sess
}

func rename(t *testing.T, s store.Engine, userID, first string, at time.Duration) *store.User {
	t.Helper()
	u, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: userID, Now: now.Add(at), FirstName: store.Change{Set: true, Value: &first}})
	if err != nil {
		t.Fatalf("rename to %s: %v", first, err)
	}
	return u
}

// quote is a string as an SQL literal, for the suite's direct queries.
func quote(s string) string {
	q := "'"
	for _, r := range s {
		if r == '\'' {
			q += "'"
		}
		q += string(r)
	}
	return q + "'"
}

func mustExec(t *testing.T, e Engine, query string) {
	t.Helper()
	if err := e.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// failingTrigger installs a trigger that fails any UPDATE of users setting
// first_name to 'poison', in the statement itself.
func failingTrigger(t *testing.T, e Engine) {
	t.Helper()
	switch e.Dialect() {
	case "sqlite":
		mustExec(t, e, `CREATE TRIGGER fault_fail BEFORE UPDATE ON users WHEN NEW.first_name = 'poison'
			BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
	case "postgres":
		mustExec(t, e, `CREATE FUNCTION fault_fail() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'injected failure'; END $$;
			CREATE TRIGGER fault_fail BEFORE UPDATE ON users FOR EACH ROW
			WHEN (NEW.first_name = 'poison') EXECUTE FUNCTION fault_fail()`)
	default:
		t.Fatalf("dialect %q", e.Dialect())
	}
}

// deferredFailure installs a fault that lets an UPDATE of users setting
// first_name to 'poison' through, but makes its transaction's COMMIT fail:
// a deferred foreign key that the update breaks.
func deferredFailure(t *testing.T, e Engine) {
	t.Helper()
	switch e.Dialect() {
	case "sqlite":
		mustExec(t, e, `CREATE TABLE fault_parent (id TEXT PRIMARY KEY);
			CREATE TABLE fault_child (p TEXT REFERENCES fault_parent (id) DEFERRABLE INITIALLY DEFERRED);
			CREATE TRIGGER fault_defer AFTER UPDATE ON users WHEN NEW.first_name = 'poison'
			BEGIN INSERT INTO fault_child (p) VALUES ('nothing'); END`)
	case "postgres":
		mustExec(t, e, `CREATE TABLE fault_parent (id TEXT PRIMARY KEY);
			CREATE TABLE fault_child (p TEXT REFERENCES fault_parent (id) DEFERRABLE INITIALLY DEFERRED);
			CREATE FUNCTION fault_defer() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN INSERT INTO fault_child (p) VALUES ('nothing'); RETURN NULL; END $$;
			CREATE TRIGGER fault_defer AFTER UPDATE ON users FOR EACH ROW
			WHEN (NEW.first_name = 'poison') EXECUTE FUNCTION fault_defer()`)
	default:
		t.Fatalf("dialect %q", e.Dialect())
	}
}
