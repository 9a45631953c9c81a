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
	m     map[string]*Session
	limit int
}

func newSessionCache(limit int) *sessionCache {
	return &sessionCache{m: make(map[string]*Session), limit: limit}
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
	}
	c.m[key] = s
}

func (c *sessionCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
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
