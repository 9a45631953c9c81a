// Package sessioncache keeps browser sessions an engine has read, so that it
// can use one again after a single indexed lookup of its generation instead
// of reading it whole. Both engines use it.
//
// What it keeps is always true of some committed state of the database: a
// session as a committed read returned it, at the generation that read saw,
// or such a session brought forward by a change the engine itself committed
// (UserChanged). Nothing read inside a transaction that has not committed
// may be put here: generations of a rolled-back transaction are used again
// by the next one that commits, with other contents.
package sessioncache

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"meapi/store"
)

// DefaultSize bounds how many sessions a process keeps: with a session
// about 1 KiB, 64 MiB at most.
const DefaultSize = 65536

type key [sha256.Size]byte

// Cache is a bounded, least-recently-used set of kept sessions by token
// hash. Kept sessions are never handed out themselves, only copies, and
// never changed in place.
type Cache struct {
	lru *lru.Cache[key, *store.Session]
}

// New returns a cache of at most size sessions (DefaultSize when size <= 0).
func New(size int) *Cache {
	if size <= 0 {
		size = DefaultSize
	}
	c, err := lru.New[key, *store.Session](size)
	if err != nil {
		panic(err) // only for a size <= 0, excluded above
	}
	return &Cache{lru: c}
}

func keyOf(tokenHash []byte) (key, bool) {
	var k key
	if len(tokenHash) != len(k) {
		return k, false
	}
	copy(k[:], tokenHash)
	return k, true
}

// Get returns the kept session of this token hash, or nil. The caller must
// not change it.
func (c *Cache) Get(tokenHash []byte) *store.Session {
	k, ok := keyOf(tokenHash)
	if !ok {
		return nil
	}
	s, _ := c.lru.Get(k)
	return s
}

// Put keeps a copy of s, a session a committed read returned.
func (c *Cache) Put(tokenHash []byte, s *store.Session) {
	if k, ok := keyOf(tokenHash); ok {
		c.lru.Add(k, Copy(s))
	}
}

// Drop forgets the session of this token hash.
func (c *Cache) Drop(tokenHash []byte) {
	if k, ok := keyOf(tokenHash); ok {
		c.lru.Remove(k)
	}
}

// Len is how many sessions are kept.
func (c *Cache) Len() int { return c.lru.Len() }

// UserChanged brings a kept session up to date with a committed change of
// user u that moved the session's generation to generation. It does so only
// when the kept copy is the one of the generation just before: then the
// change of u is all that happened in between, and the copy with u replaced
// is what the session was at generation. Otherwise the kept copy stays as it
// is, and the next read finds it stale. This spares reading a session again
// after every change of its own user, the most common write there is.
func (c *Cache) UserChanged(tokenHash []byte, sessionID string, generation int64, u store.User) {
	k, ok := keyOf(tokenHash)
	if !ok {
		return
	}
	s, ok := c.lru.Peek(k)
	if !ok || s.ID != sessionID || s.Generation != generation-1 {
		return
	}
	n := Copy(s)
	n.Generation = generation
	for i := range n.Signins {
		if n.Signins[i].User.ID == u.ID {
			n.Signins[i].User = u
		}
	}
	// Another goroutine may have kept a newer read meanwhile; replacing it
	// with this one is safe, since every kept copy is checked against the
	// generation stored before it is used.
	c.lru.Add(k, n)
}

// Lookup is an engine's read of the session of a token hash, the same on
// every engine: a kept copy is returned only when generation, asked of the
// database each time, names the same session at the same generation (so
// that a session ended or changed by any server is seen at once); else
// the session is read whole by load, from what has committed, and kept.
// generation and load return store.ErrNotFound when there is no live
// session, which also forgets the kept copy.
func (c *Cache) Lookup(tokenHash []byte, now time.Time, generation func() (id string, gen int64, err error), load func() (*store.Session, error)) (*store.Session, error) {
	if kept := c.Get(tokenHash); kept != nil {
		id, gen, err := generation()
		switch {
		case errors.Is(err, store.ErrNotFound):
			c.Drop(tokenHash)
			return nil, store.ErrNotFound
		case err != nil:
			return nil, fmt.Errorf("load session: %w", err)
		case id == kept.ID && gen == kept.Generation:
			if live := LiveCopy(kept, now); live != nil {
				return live, nil
			}
		}
	}
	sess, err := load()
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			c.Drop(tokenHash)
		}
		return nil, err
	}
	c.Put(tokenHash, sess)
	return sess, nil
}

// Copy returns a session whose sign-ins the caller may change.
func Copy(s *store.Session) *store.Session {
	c := *s
	c.Signins = append([]store.Signin(nil), s.Signins...)
	return &c
}

// LiveCopy returns a copy of the session with the sign-ins still live at
// now, or nil when none is or the session itself has expired: then it must
// be read again.
func LiveCopy(s *store.Session, now time.Time) *store.Session {
	if !s.IdleExpiresAt.After(now) {
		return nil
	}
	c := *s
	c.Signins = make([]store.Signin, 0, len(s.Signins))
	for _, si := range s.Signins {
		if si.ExpiresAt.After(now) {
			c.Signins = append(c.Signins, si)
		}
	}
	if len(c.Signins) == 0 {
		return nil
	}
	return &c
}
