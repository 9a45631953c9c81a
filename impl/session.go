package impl

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/routers"

	"meapi/store"
)

// CookieName is the name of the session cookie.
const CookieName = "__session"

// tokenLen is the length of a session token: 32 random bytes (256 bits) in
// unpadded base64url.
const tokenLen = 43

// requestState is what the middlewares learn about a request and the
// handlers read: the operation it was routed to and the caller's browser
// session. It is created before routing, so every response, even a 404,
// can carry the session; handlers that change the session update it so
// that the envelope shows the session as it stands after the request.
type requestState struct {
	route *routers.Route
	// session is the caller's live browser session, or nil.
	session *store.Session
	// sessionErr is why the session could not be loaded (the store
	// failed); such a request is answered 500, not as signed out.
	sessionErr error
}

type stateKey struct{}

// stateOf returns the state of the request ctx belongs to. Outside a
// request (in tests of a single function) it returns an empty state.
func stateOf(ctx context.Context) *requestState {
	if st, ok := ctx.Value(stateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{}
}

// newToken returns a new session token and the SHA-256 that the store
// keeps instead of it.
func newToken() (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// tokenHash returns the SHA-256 of a cookie value that has the form of a
// token. Anything else cannot be a token the server issued, so it is
// treated as absent without asking the store.
func tokenHash(value string) ([]byte, bool) {
	if len(value) != tokenLen {
		return nil, false
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	sum := sha256.Sum256([]byte(value))
	return sum[:], true
}

// loadSession puts the request's state in its context, with the browser
// session its cookie names. It never refuses a request: a missing, malformed,
// unknown or expired cookie is simply no session, and operations that need
// one are refused later by the validator's security check.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{}
		if c, err := r.Cookie(CookieName); err == nil {
			if hash, ok := tokenHash(c.Value); ok {
				sess, err := s.store.SessionByTokenHash(r.Context(), hash, s.now())
				switch {
				case err == nil:
					st.session = sess
				case !errors.Is(err, store.ErrNotFound):
					st.sessionErr = err
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

// errNoSession is what the validator's security check reports for a
// request without a live session.
var errNoSession = errors.New("no live session")

// authenticate is the validator's check of the `session` security scheme:
// the cookie was already looked up by loadSession, so it only asks whether
// that found a signed-in user.
func authenticate(ctx context.Context) error {
	st := stateOf(ctx)
	if st.sessionErr != nil {
		return st.sessionErr
	}
	if st.session.Active() == nil {
		return errNoSession
	}
	return nil
}

// sessionCookie is the Set-Cookie value that hands token to the browser
// until the session would expire unused.
func sessionCookie(token string, sess *store.Session, now time.Time) string {
	maxAge := int(sess.ExpiresAt().Sub(now) / time.Second)
	c := &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   max(maxAge, 1),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
	return c.String()
}
