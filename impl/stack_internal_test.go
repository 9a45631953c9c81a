package impl

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"meapi/impl/password"
	"meapi/store/sqlite"
)

// forbidden is a layer that adds a header openapi.yaml forbids on every
// response (a Set-Cookie that is not the session cookie's), before or
// after the layers inside it have answered, and notes in *ran that it did.
func forbidden(after bool, ran *bool) layer {
	return layer{"forbidden", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*ran = true
			if !after {
				w.Header().Add("Set-Cookie", "leak=1")
			}
			next.ServeHTTP(w, r)
			if after {
				w.Header().Add("Set-Cookie", "leak=1")
			}
		})
	}}
}

func newInternalServer(t *testing.T) *Server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := newServer(Config{Store: st, Password: password.Params{MemoryKiB: 64, Time: 1, Threads: 1},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEveryLayerIsValidated puts a layer that adds a forbidden header after
// each layer of the stack in turn, and sends requests that each answer in
// a different place (an operation, the router's 404, the security check's
// 401): enforce must replace every such answer with 500 INTERNAL, and no
// byte of the forbidden header may go out. Whichever layer writes a
// header, the response validator sees it.
func TestEveryLayerIsValidated(t *testing.T) {
	s := newInternalServer(t)
	api := s.api()
	layers := s.layers()
	validating := slices.IndexFunc(layers, func(l layer) bool { return l.name == "validate-response" })
	requests := []struct{ method, path string }{
		{"GET", "/healthz"}, // an operation
		{"GET", "/nope"},    // no operation: the route layer answers 404
		{"GET", "/me"},      // no session: the security check answers 401
		{"PATCH", "/me"},    // no session, a body: 401 again, after the body checks
	}
	for i := range layers {
		for _, after := range []bool{false, true} {
			if after && i < validating {
				// Headers added outside the validator after the answer
				// has gone out never reach the wire (checked below).
				continue
			}
			var ran bool
			stack := wrap(api, slices.Insert(slices.Clone(layers), i+1, forbidden(after, &ran)))
			for _, req := range requests {
				name := "after " + layers[i].name
				if after {
					name += ", once answered"
				}
				t.Run(name+": "+req.method+" "+req.path, func(t *testing.T) {
					ran = false
					rec := httptest.NewRecorder()
					r := httptest.NewRequest(req.method, req.path, strings.NewReader(`{"first_name":"Ada"}`))
					r.Header.Set("Content-Type", "application/json")
					stack.ServeHTTP(rec, r)
					for _, c := range rec.Result().Header.Values("Set-Cookie") {
						if strings.Contains(c, "leak") {
							t.Fatalf("the forbidden header went out: %d %q", rec.Code, c)
						}
					}
					if !ran {
						return // a layer before it answered: it added nothing
					}
					var env struct {
						Errors []struct{ Code string } `json:"errors"`
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || rec.Code != http.StatusInternalServerError ||
						len(env.Errors) != 1 || env.Errors[0].Code != "INTERNAL" {
						t.Fatalf("got %d %s, want the answer replaced with 500 INTERNAL", rec.Code, rec.Body)
					}
				})
			}
		}
	}
}

// TestGeneratedRouterAnswersAreValidated: the generated router's own
// answer to a header it cannot bind (two If-Match lines, which the
// if-match layer would otherwise have joined) passes the response
// validator like every other.
func TestGeneratedRouterAnswersAreValidated(t *testing.T) {
	s := newInternalServer(t)
	api := s.api()
	layers := slices.DeleteFunc(s.layers(), func(l layer) bool { return l.name == "if-match" })
	plain := wrap(api, layers)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/auth/signup", strings.NewReader(`{"email":"ada@example.com","password":"correct horse battery staple"}`))
	r.Header.Set("Content-Type", "application/json")
	plain.ServeHTTP(rec, r)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusCreated || len(cookies) != 1 {
		t.Fatalf("sign-up: %d %s", rec.Code, rec.Body)
	}
	send := func(stack http.Handler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("PATCH", "/me", strings.NewReader(`{"first_name":"Ada"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Add("If-Match", `"a"`)
		r.Header.Add("If-Match", `"b"`)
		r.AddCookie(cookies[0])
		stack.ServeHTTP(rec, r)
		return rec
	}
	if rec := send(plain); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "VALIDATION_ERROR") {
		t.Fatalf("two If-Match lines to the generated router: %d %s, want its 400", rec.Code, rec.Body)
	}
	var ran bool
	if rec := send(wrap(api, append(slices.Clone(layers), forbidden(true, &ran)))); !ran || rec.Code != http.StatusInternalServerError {
		t.Fatalf("the generated router's 400 with a forbidden header: %d %s, want it replaced with 500", rec.Code, rec.Body)
	}
}
