package impl

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"meapi/gen"
	"meapi/impl/validate"
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
	// requestID names the request in logs and in 500 answers.
	requestID string
	// op is the operation of openapi.yaml the request is for, once route
	// has found it; nil for a request that matches none.
	op *validate.Operation
	// session is the caller's live browser session, or nil.
	session *store.Session
	// sessionErr is why the session could not be loaded (the store
	// failed); such a request is answered 500, not as signed out.
	sessionErr error
	// clientAddr is who the per-address sign-in limit counts.
	clientAddr string
	// clientAddrFellBack: the configured address header gave no address,
	// and clientAddr is the connection's.
	clientAddrFellBack bool
	// body is the request body, as readBody read it.
	body []byte
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

// touchInterval is how often at most a session's use is written down:
// its idle expiry moves, and the cookie is sent again with the new Max-Age.
// Writing at every request would make every read a write; writing a tenth
// of the idle timeout apart (an hour at most) keeps a session in use alive
// whatever the timeout, with at most a tenth of it as slack.
func (s *Server) touchInterval() time.Duration {
	return min(time.Hour, s.idleTimeout/10)
}

// maxSessionCookies bounds how many __session cookies of one request are
// looked up: a browser sends one per matching cookie (a sibling subdomain
// can set one too), and each costs a lookup.
const maxSessionCookies = 4

// loadSession fills the request's state with the browser session its
// cookie names. It never refuses a request: a missing, malformed, unknown
// or expired cookie is simply no session, and operations that need one are
// refused later by the validator's security check. When the request
// carries several __session cookies, each is tried in order and the first
// live one is the session, so that a junk cookie set by a sibling site
// cannot sign anyone out; only when none is live is the cookie cleared. A
// session in use is renewed at most once per touchInterval.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context()) // made by observe
		st.clientAddr, st.clientAddrFellBack = s.clientAddress(r)
		ctx, now := r.Context(), s.now()
		dead, tried, untried := false, 0, false
		for _, c := range r.Cookies() {
			if c.Name != CookieName {
				continue
			}
			hash, ok := tokenHash(c.Value)
			if !ok {
				dead = true
				continue
			}
			if tried++; tried > maxSessionCookies {
				untried = true
				break
			}
			sess, err := s.store.SessionByTokenHash(ctx, hash, now)
			if errors.Is(err, store.ErrNotFound) {
				dead = true
				continue
			}
			if err != nil {
				st.sessionErr = err
				break
			}
			st.session = sess
			s.touch(ctx, w, sess, c.Value, now)
			break
		}
		// A cookie is cleared only when every one the request carried was
		// found dead: clearing deletes the browser's own (host-only, Path=/)
		// cookie, which may be one of those left untried.
		if dead && !untried && st.session == nil && st.sessionErr == nil {
			w.Header().Add("Set-Cookie", clearCookie())
		}
		next.ServeHTTP(w, r)
	})
}

// touch writes down that the session is in use, when it was last written
// down a touchInterval ago or more, and sends the cookie again with its new
// Max-Age.
func (s *Server) touch(ctx context.Context, w http.ResponseWriter, sess *store.Session, token string, now time.Time) {
	if now.Sub(sess.LastActiveAt) < s.touchInterval() {
		return
	}
	idle := now.Add(s.idleTimeout)
	if err := s.store.TouchSession(ctx, sess.ID, now, idle); err != nil {
		// The session stays valid until its old expiry; the next request
		// tries again.
		s.log.WarnContext(ctx, "renew session", "err", err)
		return
	}
	sess.LastActiveAt, sess.IdleExpiresAt = now, idle
	w.Header().Add("Set-Cookie", sessionCookie(token, sess, now))
}

// routeLabel names the request's operation in logs and metrics: its path
// template, or "unmatched".
func (st *requestState) routeLabel() string {
	if st.op == nil {
		return "unmatched"
	}
	return st.op.Path()
}

// authenticate is the validator's check of the `session` security scheme
// (the only one): the cookie was already looked up by loadSession, so it
// only asks whether that found a signed-in user.
func authenticate(ctx context.Context, _ string) error {
	st := stateOf(ctx)
	if st.sessionErr != nil {
		return st.sessionErr
	}
	if st.session.Active() == nil {
		return validate.ErrUnauthenticated
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

// clearCookie is the Set-Cookie value that makes the browser drop the
// session cookie.
func clearCookie() string {
	c := &http.Cookie{Name: CookieName, Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
	return c.String()
}

// SwitchSignin answers POST /session/switch-sign-in.
func (s *Server) SwitchSignin(ctx context.Context, req gen.SwitchSigninRequestObject) (gen.SwitchSigninResponseObject, error) {
	st := stateOf(ctx)
	if st.session == nil {
		return nil, errNotAuthenticated
	}
	sess, err := s.store.SwitchSignin(ctx, st.session.ID, req.Body.SigninId, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return gen.SwitchSignin400JSONResponse{SwitchBadRequestJSONResponse: gen.SwitchBadRequestJSONResponse(errorEnvelope(st,
			newAPIError(http.StatusBadRequest, gen.INVALIDSIGNIN, "/signin_id", "no sign-in of this browser session has this id")))}, nil
	}
	if err != nil {
		return nil, err
	}
	st.session = sess
	return userResponse{env: userEnvelope(st, 200, st.activeUser())}, nil
}

// SignOut answers POST /session/sign-out: the active sign-in ends, or all
// of them. When none is left the session is gone and the cookie cleared.
func (s *Server) SignOut(ctx context.Context, req gen.SignOutRequestObject) (gen.SignOutResponseObject, error) {
	st := stateOf(ctx)
	active := st.session.Active()
	if active == nil {
		return nil, errNotAuthenticated
	}
	signinID := active.ID
	if req.Body != nil && req.Body.All != nil && *req.Body.All {
		signinID = ""
	}
	sess, err := s.store.SignOut(ctx, st.session.ID, signinID, s.now())
	if err != nil {
		return nil, err
	}
	st.session = sess
	res := gen.SignOut200JSONResponse{Body: sessionEnvelope(st)}
	if sess == nil {
		c := clearCookie()
		res.Headers.SetCookie = &c
	}
	return res, nil
}
