package impl_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meapi/impl"
	"meapi/store"
)

func TestGetSession(t *testing.T) {
	ts := newTestServer(t)

	r := ts.call(t, "GET", "/session", "", nil)
	if r.status != http.StatusOK || string(r.env.Data) != `{"user":null,"users":[]}` {
		t.Errorf("signed out: got %d %s, want 200 with user null", r.status, r.env.Data)
	}
	r = ts.call(t, "GET", "/session", "", nil, withCookie(strings.Repeat("Q", 43)))
	if r.status != http.StatusOK || string(r.env.Data) != `{"user":null,"users":[]}` {
		t.Errorf("unknown token: got %d %s, want 200 with user null", r.status, r.env.Data)
	}

	a := ts.signUp(t, map[string]any{"first_name": "Ada"})
	r = ts.call(t, "GET", "/session", "", nil, withCookie(a.token))
	if r.status != http.StatusOK || !strings.Contains(string(r.env.Data), a.user.ID) {
		t.Errorf("signed in: got %d %s, want the user", r.status, r.env.Data)
	}
	if r.env.Session.ActiveSignin == nil || r.env.Session.ActiveSignin.UserID != a.user.ID {
		t.Errorf("session: %s", r.body)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)

	r := ts.call(t, "GET", "/nope", "", nil, withCookie(a.token))
	r.wantError(t, http.StatusNotFound, "NOT_FOUND", "")
	if r.env.Session.ActiveSignin == nil {
		t.Errorf("a 404 must carry the caller's session too: %s", r.body)
	}

	tests := []struct{ method, path, allow string }{
		{"DELETE", "/me", "GET, PATCH"},
		{"PUT", "/me", "GET, PATCH"},
		{"POST", "/healthz", "GET"},
		{"GET", "/auth/signup", "POST"},
	}
	for _, tt := range tests {
		r := ts.call(t, tt.method, tt.path, "", nil)
		r.wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "")
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestCrossOriginRequests(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) { c.TrustedOrigins = []string{"https://app.example.com"} })
	a := ts.signUp(t, map[string]any{"first_name": "Ada"})
	users := ts.count(t, "users")

	refused := []struct {
		name string
		opts []reqOption
	}{
		{"Sec-Fetch-Site cross-site", []reqOption{withHeader("Sec-Fetch-Site", "cross-site")}},
		{"Sec-Fetch-Site same-site", []reqOption{withHeader("Sec-Fetch-Site", "same-site")}},
		{"foreign Origin", []reqOption{withHeader("Origin", "https://evil.example")}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.patchMe(t, a.token, map[string]any{"first_name": "Mallory"}, tt.opts...)
			r.wantError(t, http.StatusForbidden, "CROSS_ORIGIN_REQUEST", "")
			ct, b := jsonBody(map[string]any{"email": "mallory@example.com", "password": "correct horse"})
			r = ts.call(t, "POST", "/auth/signup", ct, b, tt.opts...)
			r.wantError(t, http.StatusForbidden, "CROSS_ORIGIN_REQUEST", "")
			if u, _ := ts.me(t, a.token); str(u.FirstName) != "Ada" || ts.count(t, "users") != users {
				t.Errorf("a refused cross-origin request wrote")
			}
		})
	}

	allowed := []struct {
		name string
		opts []reqOption
	}{
		{"same-origin", []reqOption{withHeader("Sec-Fetch-Site", "same-origin")}},
		{"typed by the user", []reqOption{withHeader("Sec-Fetch-Site", "none")}},
		{"no browser headers (curl)", nil},
		{"trusted origin", []reqOption{withHeader("Sec-Fetch-Site", "cross-site"), withHeader("Origin", "https://app.example.com")}},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			if r := ts.patchMe(t, a.token, map[string]any{"last_name": tt.name}, tt.opts...); r.status != http.StatusOK {
				t.Errorf("got %d, want 200\n%s", r.status, r.body)
			}
		})
	}
	// Reading is never refused: a cross-site page cannot read the answer.
	if r := ts.call(t, "GET", "/me", "", nil, withCookie(a.token), withHeader("Sec-Fetch-Site", "cross-site")); r.status != http.StatusOK {
		t.Errorf("cross-site GET /me: got %d, want 200", r.status)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ts := newTestServer(t)
	for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
		r := ts.call(t, "GET", path, "", nil)
		if r.status != http.StatusOK || string(r.env.Data) != want {
			t.Errorf("%s: got %d %s, want 200 %s", path, r.status, r.env.Data, want)
		}
	}
	ts.store.Close()
	r := ts.call(t, "GET", "/readyz", "", nil)
	r.wantError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "")
	if r := ts.call(t, "GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("/healthz with the database gone: got %d, want 200 (liveness does not depend on it)", r.status)
	}
}

func TestOpenAPIDocumentIsServedByteForByte(t *testing.T) {
	ts := newTestServer(t)
	want, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := ts.call(t, "GET", "/openapi.yaml", "", nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, want) {
		t.Errorf("GET /openapi.yaml: %d, %d bytes; want 200 and the %d bytes of openapi.yaml", r.status, len(r.body), len(want))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
}

func TestCommonHeaders(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	for _, path := range []string{"/me", "/session", "/nope"} {
		r := ts.call(t, "GET", path, "", nil, withCookie(a.token))
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: Cache-Control %q, X-Content-Type-Options %q", path, r.header.Get("Cache-Control"), r.header.Get("X-Content-Type-Options"))
		}
	}
}

// TestResponseValidationModes stores a username the contract forbids, as a
// bug or an old version might, and reads it back in each mode.
func TestResponseValidationModes(t *testing.T) {
	for _, mode := range []impl.ResponseValidation{impl.ValidateEnforce, impl.ValidateLog, impl.ValidateOff} {
		t.Run(string(mode), func(t *testing.T) {
			ts := newTestServer(t, func(c *testSetup) { c.ResponseValidation = mode })
			ts.allowInvalid = true
			a := ts.signUp(t, nil)
			ts.storeInvalidUsername(t)
			req, r := ts.send(t, "GET", "/me", "", nil, withCookie(a.token))
			logged := strings.Contains(ts.logs.String(), "response does not match openapi.yaml")
			switch mode {
			case impl.ValidateEnforce:
				ts.checkContract(t, req, r)
				r.wantError(t, http.StatusInternalServerError, "INTERNAL", "")
				if !logged {
					t.Errorf("the violation was not logged")
				}
			case impl.ValidateLog, impl.ValidateOff:
				if r.status != http.StatusOK || !strings.Contains(string(r.body), "not valid!") {
					t.Fatalf("got %d %s, want the response as it was", r.status, r.body)
				}
				if err := contractError(req, r); err == nil {
					t.Errorf("the test's own check missed the invalid username")
				}
				if logged != (mode == impl.ValidateLog) {
					t.Errorf("violation logged: %v, want %v", logged, mode == impl.ValidateLog)
				}
			}
			_ = a
		})
	}
}

// failingStore is the real store with one failure injected.
type failingStore struct {
	impl.Store
	update  func() error
	session func() error
	lookup  func() error
	ready   func() error
}

func (f *failingStore) Ready(ctx context.Context) error {
	if f.ready != nil {
		if err := f.ready(); err != nil {
			return err
		}
	}
	return f.Store.Ready(ctx)
}

func (f *failingStore) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	if f.lookup != nil {
		if err := f.lookup(); err != nil {
			return nil, err
		}
	}
	return f.Store.UserByEmail(ctx, email)
}

func (f *failingStore) UpdateProfile(ctx context.Context, in store.ProfileUpdate) (*store.User, error) {
	if f.update != nil {
		if err := f.update(); err != nil {
			return nil, err
		}
	}
	return f.Store.UpdateProfile(ctx, in)
}

func (f *failingStore) SessionByTokenHash(ctx context.Context, hash []byte, now time.Time) (*store.Session, error) {
	if f.session != nil {
		if err := f.session(); err != nil {
			return nil, err
		}
	}
	return f.Store.SessionByTokenHash(ctx, hash, now)
}

func TestStoreFailureIsInternal(t *testing.T) {
	fs := &failingStore{}
	ts := newTestServer(t, func(c *testSetup) { fs.Store = c.Store; c.Store = fs })
	a := ts.signUp(t, nil)

	fs.update = func() error { return errors.New("disk on fire at /var/lib/secret") }
	r := ts.patchMe(t, a.token, map[string]any{"first_name": "Ada"})
	r.wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	if strings.Contains(string(r.body), "disk") || strings.Contains(string(r.body), "secret") {
		t.Errorf("the 500 leaks the cause: %s", r.body)
	}
	if !strings.Contains(ts.logs.String(), "disk on fire") {
		t.Errorf("the cause was not logged")
	}

	fs.update = func() error { panic("handler bug") }
	r = ts.patchMe(t, a.token, map[string]any{"first_name": "Ada"})
	r.wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	if !strings.Contains(ts.logs.String(), "handler bug") {
		t.Errorf("the panic was not logged")
	}
	fs.update = nil
	if r := ts.patchMe(t, a.token, map[string]any{"first_name": "Ada"}); r.status != http.StatusOK {
		t.Errorf("after a panic the server must keep serving: got %d", r.status)
	}

	// A session that cannot be read is a failure, not a signed-out caller.
	fs.session = func() error { return errors.New("database is locked") }
	ts.call(t, "GET", "/me", "", nil, withCookie(a.token)).wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	ts.call(t, "GET", "/session", "", nil, withCookie(a.token)).wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	ct, b := jsonBody(map[string]any{"email": "x@example.com", "password": "correct horse"})
	ts.call(t, "POST", "/auth/signup", ct, b, withCookie(a.token)).wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	// Without a cookie nothing is looked up, so nothing fails.
	if r := ts.call(t, "GET", "/session", "", nil); r.status != http.StatusOK {
		t.Errorf("GET /session without a cookie: got %d, want 200", r.status)
	}

	// An account that cannot be looked up is a failure, not a wrong password.
	fs.lookup = func() error { return errors.New("database is locked") }
	ct, b = jsonBody(map[string]any{"strategy": "plain_email", "email": a.user.Email, "password": "correct horse battery staple"})
	ts.call(t, "POST", "/auth/signin", ct, b).wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	if n := ts.count(t, "attempts WHERE subject NOT LIKE 'signup-%'"); n != 0 {
		t.Errorf("a store failure was counted as %d failed sign-ins", n)
	}
}

// TestCrossSiteRefusedForEveryUnsafeOperation walks openapi.yaml, so that
// an operation added later is covered without touching this test.
func TestCrossSiteRefusedForEveryUnsafeOperation(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	doc, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if method == http.MethodGet {
				continue
			}
			n++
			for _, h := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
				r := ts.call(t, method, path, "application/json", []byte(`{}`), withCookie(a.token), withHeader(h[0], h[1]))
				if r.status != http.StatusForbidden || len(r.env.Errors) != 1 || r.env.Errors[0].Code != "CROSS_ORIGIN_REQUEST" {
					t.Errorf("%s %s with %s: %s: got %d, want 403 CROSS_ORIGIN_REQUEST\n%s", method, path, h[0], h[1], r.status, r.body)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d unsafe operations found in openapi.yaml", n)
	}
	if me, _ := ts.me(t, a.token); me.ID != a.user.ID {
		t.Errorf("the refused requests changed the session")
	}
}

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	ts := newTestServer(t, func(c *testSetup) { c.TrustedOrigins = []string{app} })
	a := ts.signUp(t, nil)

	preflight := func(origin string) *response {
		_, r := ts.send(t, "OPTIONS", "/me", "", nil, withHeader("Origin", origin),
			withHeader("Access-Control-Request-Method", "PATCH"),
			withHeader("Access-Control-Request-Headers", "content-type, if-match"))
		return r
	}
	r := preflight(app)
	h := r.header
	if r.status/100 != 2 || h.Get("Access-Control-Allow-Origin") != app || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "if-match") {
		t.Errorf("preflight from %s: %d %v", app, r.status, h)
	}
	if r := preflight("https://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an untrusted origin was allowed: %v", r.header)
	}
	// Only a trusted origin's preflight for an operation that exists is
	// CORS's to answer; any other is an ordinary request, answered as
	// openapi.yaml says (ts.call checks each against it).
	for _, tt := range []struct{ origin, path, method, code string }{
		{"https://evil.example", "/me", "PATCH", "METHOD_NOT_ALLOWED"},
		{app, "/no/such/path", "GET", "NOT_FOUND"},
		{app, "/me", "DELETE", "METHOD_NOT_ALLOWED"},
		{app, "/auth%2Fsignup", "POST", "NOT_FOUND"},
	} {
		r := ts.call(t, "OPTIONS", tt.path, "", nil, withHeader("Origin", tt.origin), withHeader("Access-Control-Request-Method", tt.method))
		if r.status < 400 || !strings.Contains(string(r.body), `"`+tt.code+`"`) || r.header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight of %s %s from %s: %d %v %s, want %s", tt.method, tt.path, tt.origin, r.status, r.header, r.body, tt.code)
		}
	}

	// Real requests, errors included, carry the headers a page needs to
	// read them, and the ETag is exposed to it.
	r = ts.call(t, "GET", "/me", "", nil, withCookie(a.token), withHeader("Origin", app), withHeader("Sec-Fetch-Site", "cross-site"))
	exposed := strings.ToLower(r.header.Get("Access-Control-Expose-Headers"))
	if r.header.Get("Access-Control-Allow-Origin") != app || r.header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(exposed, "etag") {
		t.Errorf("GET /me from %s: %v", app, r.header)
	}
	r = ts.call(t, "PATCH", "/me", "application/json", []byte(`{"first_name":"Ada"}`), withHeader("Origin", app), withHeader("Sec-Fetch-Site", "cross-site"))
	r.wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
	if r.header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("a 401 to %s lacks CORS headers: %v", app, r.header)
	}
	if r := ts.call(t, "GET", "/me", "", nil, withCookie(a.token), withHeader("Origin", "https://evil.example")); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an untrusted origin got CORS headers")
	}
}

func TestNoCORSWithoutTrustedOrigins(t *testing.T) {
	ts := newTestServer(t)
	r := ts.call(t, "OPTIONS", "/me", "", nil, withHeader("Origin", "https://app.example.com"), withHeader("Access-Control-Request-Method", "PATCH"))
	r.wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS headers without any trusted origin: %v", r.header)
	}
}

func TestAPIReference(t *testing.T) {
	ts := newTestServer(t)
	r := ts.call(t, "GET", "/docs", "", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(r.body), `<redoc spec-url="openapi.yaml">`) || !strings.Contains(string(r.body), `src="docs/redoc.standalone.js"`) {
		t.Errorf("GET /docs: %d %q\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q: want the page limited to this server", csp)
	}
	want, err := os.ReadFile(filepath.Join("apidocs", "redoc.standalone.js"))
	if err != nil {
		t.Fatal(err)
	}
	r = ts.call(t, "GET", "/docs/redoc.standalone.js", "", nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, want) || r.header.Get("Cache-Control") != "public, max-age=86400" {
		t.Errorf("GET /docs/redoc.standalone.js: %d, %d bytes, Cache-Control %q", r.status, len(r.body), r.header.Get("Cache-Control"))
	}
}
