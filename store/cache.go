package store

import (
	"sync"
	"time"
)

// sessionCacheSize bounds how many sessions a process keeps: enough for the
// browsers active at once on a busy server, a few MiB at most.
const sessionCacheSize = 8192

// sessionCache keeps sessions this process has read, by token hash. A kept
// session is used again only after the database confirms, with one
// indexed lookup, that its generation has not moved (see the 0002
// migration): any change to the session, its sign-ins or their users
// moves it, on whichever server made the change. Kept sessions are never
// handed out themselves, only copies, and never changed.
type sessionCache struct {
	mu    sync.RWMutex
	m     map[string]*Session // token hash → session
	keys  map[string]string   // session id → token hash
	limit int
}

func newSessionCache(limit int) *sessionCache {
	return &sessionCache{m: make(map[string]*Session), keys: make(map[string]string), limit: limit}
}

func (c *sessionCache) get(key string) *Session {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[key]
}

func (c *sessionCache) put(key string, s *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.limit {
		// Starting afresh keeps it bounded without bookkeeping per read.
		c.m = make(map[string]*Session, c.limit)
		c.keys = make(map[string]string, c.limit)
	}
	c.m[key] = s
	c.keys[s.ID] = key
}

func (c *sessionCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.m[key]; s != nil && c.keys[s.ID] == key {
		delete(c.keys, s.ID)
	}
	delete(c.m, key)
}

// userChanged brings a kept session up to date with a committed change of
// user u that moved the session's generation to generation. It does so
// only when the kept copy is the one of the generation just before: then
// the change of u is all that happened in between, and the copy with u
// replaced is what the session is at generation. Otherwise the kept copy
// stays as it is, and the next read finds it stale. This spares the
// reading again of a session after every change of its own user, the most
// common write there is.
func (c *sessionCache) userChanged(sessionID string, generation int64, u User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.keys[sessionID]
	if !ok {
		return
	}
	s := c.m[key]
	if s == nil || s.ID != sessionID || s.generation != generation-1 {
		return
	}
	n := s.copy()
	n.generation = generation
	for i := range n.Signins {
		if n.Signins[i].User.ID == u.ID {
			n.Signins[i].User = u
		}
	}
	c.m[key] = n
}

// copy returns a session whose sign-ins the caller may change.
func (s *Session) copy() *Session {
	c := *s
	c.Signins = append([]Signin(nil), s.Signins...)
	return &c
}

// liveCopy returns a copy of the session with the sign-ins still live at
// now, or nil when none is or the session itself has expired: then it
// must be read again.
func (s *Session) liveCopy(now time.Time) *Session {
	if !s.IdleExpiresAt.After(now) {
		return nil
	}
	c := *s
	c.Signins = make([]Signin, 0, len(s.Signins))
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
