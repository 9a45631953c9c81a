package sessioncache

import (
	"crypto/sha256"
	"testing"
	"time"

	"meapi/store"
)

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func session(id string, gen int64, first string) *store.Session {
	return &store.Session{ID: id, Generation: gen, IdleExpiresAt: time.Unix(100, 0),
		Signins: []store.Signin{{ID: "si", ExpiresAt: time.Unix(100, 0), User: store.User{ID: "u", FirstName: &first}}}}
}

// TestBounded: the cache holds at most its size, dropping the least
// recently used.
func TestBounded(t *testing.T) {
	c := New(2)
	c.Put(hash("a"), session("a", 1, "A"))
	c.Put(hash("b"), session("b", 1, "B"))
	c.Get(hash("a")) // b is now the least recently used
	c.Put(hash("c"), session("c", 1, "C"))
	if c.Len() != 2 || c.Get(hash("b")) != nil || c.Get(hash("a")) == nil || c.Get(hash("c")) == nil {
		t.Errorf("after three puts into two places: len %d, b kept %v", c.Len(), c.Get(hash("b")) != nil)
	}
}

// TestUserChanged: a kept copy follows a change only from the generation
// just before it; otherwise it stays, to be found stale.
func TestUserChanged(t *testing.T) {
	c := New(8)
	c.Put(hash("a"), session("a", 5, "Ada"))
	aug := "Augusta"
	c.UserChanged(hash("a"), "a", 7, store.User{ID: "u", FirstName: &aug}) // two changes on
	if got := c.Get(hash("a")); got.Generation != 5 || *got.Signins[0].User.FirstName != "Ada" {
		t.Errorf("a copy two changes behind moved to %d, %s", got.Generation, *got.Signins[0].User.FirstName)
	}
	c.UserChanged(hash("a"), "a", 6, store.User{ID: "u", FirstName: &aug})
	if got := c.Get(hash("a")); got.Generation != 6 || *got.Signins[0].User.FirstName != "Augusta" {
		t.Errorf("the next generation: %d, %s", got.Generation, *got.Signins[0].User.FirstName)
	}
	c.UserChanged(hash("a"), "another", 7, store.User{ID: "u"})
	if got := c.Get(hash("a")); got.Generation != 6 {
		t.Errorf("a change of another session's id moved this one to %d", got.Generation)
	}
}

// TestCopies: what Put keeps is not what the caller goes on changing.
func TestCopies(t *testing.T) {
	c := New(8)
	s := session("a", 1, "Ada")
	c.Put(hash("a"), s)
	s.Signins[0].ID = "changed"
	if c.Get(hash("a")).Signins[0].ID != "si" {
		t.Errorf("the kept session changed with the caller's")
	}
	if LiveCopy(s, time.Unix(100, 0)) != nil {
		t.Errorf("a session at its idle expiry is live")
	}
	if l := LiveCopy(s, time.Unix(99, 0)); l == nil || len(l.Signins) != 1 {
		t.Errorf("a live session: %+v", l)
	}
}

// TestLookup: a kept copy is used only when the database names the same
// session at the same generation; otherwise the session is read whole and
// kept, and a session the database no longer has is forgotten.
func TestLookup(t *testing.T) {
	c := New(8)
	now := time.Unix(50, 0)
	loads := 0
	db := session("a", 1, "Ada") // what the database holds
	gen := func() (string, int64, error) {
		if db == nil {
			return "", 0, store.ErrNotFound
		}
		return db.ID, db.Generation, nil
	}
	load := func() (*store.Session, error) {
		loads++
		if db == nil {
			return nil, store.ErrNotFound
		}
		return Copy(db), nil
	}
	first := func(s *store.Session) string {
		if s == nil {
			return ""
		}
		return *s.Signins[0].User.FirstName
	}
	for i, want := range []struct {
		change func()
		first  string
		loads  int
	}{
		{func() {}, "Ada", 1}, // nothing kept: read whole
		{func() {}, "Ada", 1}, // kept, same generation: no read
		{func() { db = session("a", 2, "Augusta") }, "Augusta", 2}, // the generation moved: read whole
		{func() {}, "Augusta", 2},
	} {
		want.change()
		s, err := c.Lookup(hash("a"), now, gen, load)
		if err != nil || first(s) != want.first || loads != want.loads {
			t.Fatalf("lookup %d: %v, first name %q, %d reads; want %q, %d reads", i, err, first(s), loads, want.first, want.loads)
		}
	}
	db = nil // signed out elsewhere
	if _, err := c.Lookup(hash("a"), now, gen, load); err != store.ErrNotFound || c.Get(hash("a")) != nil {
		t.Fatalf("after the session ended: %v, kept %v", err, c.Get(hash("a")) != nil)
	}
}
