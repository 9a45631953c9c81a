package impl_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meapi/conformance"
	"meapi/impl"
	"meapi/store/sqlite"
)

// The fuzz targets drive the real handler in memory (no socket, for speed)
// with a real SQLite file. `make test` runs their seeds, in code and in
// testdata/fuzz/; `make fuzz` explores for a while.

type fuzzStack struct {
	h     http.Handler
	v     *conformance.Validator
	db    *sql.DB
	token string
}

func newFuzzStack(f *testing.F) *fuzzStack {
	f.Helper()
	dir := f.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "meapi.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	h, err := impl.NewHandler(impl.Config{Store: st, Password: cheapPasswords, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	v, err := conformance.NewValidator(spec)
	if err != nil {
		f.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "meapi.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	fs := &fuzzStack{h: h, v: v, db: db}
	rec := fs.do(nil, "POST", "/auth/signup", "application/json", `{"email":"fuzz@example.com","password":"correct horse battery staple","first_name":"Ada"}`, "")
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == impl.CookieName {
			fs.token = c.Value
		}
	}
	if fs.token == "" {
		f.Fatalf("sign-up: %d %s", rec.Code, rec.Body)
	}
	return fs
}

// do sends one request and, when t is not nil, fails it on a 5xx or an
// answer the contract does not allow.
func (fs *fuzzStack) do(t *testing.T, method, path, contentType, body, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	fs.h.ServeHTTP(rec, req)
	if t != nil {
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if err := fs.v.Check(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, rec.Body)
		}
	}
	return rec
}

// FuzzPatchMe: any bytes, as either media type, get a well-formed answer
// and never a 5xx; a refused body writes nothing.
func FuzzPatchMe(f *testing.F) {
	for _, seed := range []string{
		`{"first_name":"Augusta"}`, `{"last_name":null}`, `{"username":"ada.l","image_url":"https://a.example/x.png"}`,
		`{}`, `[]`, `null`, `"x"`, `{"email":"x@example.com"}`, `{"nick":1}`, `{"first_name":1}`,
		`{"first_name":"a","first_name":"b"}`, "\xef\xbb\xbf{}", `{"first_name":"\ud800"}`, `{`, ``,
	} {
		f.Add([]byte(seed), true)
	}
	fs := newFuzzStack(f)
	f.Fuzz(func(t *testing.T, body []byte, mergePatch bool) {
		ct := "application/json"
		if mergePatch {
			ct = "application/merge-patch+json"
		}
		before := fs.do(t, "GET", "/me", "", "", impl.CookieName+"="+fs.token).Body.String()
		rec := fs.do(t, "PATCH", "/me", ct, string(body), impl.CookieName+"="+fs.token)
		if rec.Code == http.StatusOK {
			return
		}
		if after := fs.do(t, "GET", "/me", "", "", impl.CookieName+"="+fs.token).Body.String(); after != before {
			t.Fatalf("a refused PATCH (%d) changed the user:\n%s\n%s", rec.Code, before, after)
		}
	})
}

// FuzzSignUp: any sign-up body gets a well-formed answer, never a 5xx,
// and only a 201 creates a user.
func FuzzSignUp(f *testing.F) {
	for _, seed := range []string{
		`{"email":"new@example.com","password":"correct horse"}`,
		`{"email":"fuzz@example.com","password":"correct horse"}`,
		`{"email":"a@b.c","password":"12345678","username":"admin"}`,
		`{"email":"a@b.c","password":"12345678","first_name":null,"username":null}`,
		`{"email":"Ada <a@b.c>","password":"12345678"}`, `{"email":1}`, `{}`, `{"role":"admin"}`,
	} {
		f.Add([]byte(seed))
	}
	fs := newFuzzStack(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var before, after int
		fs.db.QueryRow(`SELECT count(*) FROM users`).Scan(&before)
		rec := fs.do(t, "POST", "/auth/signup", "application/json", string(body), "")
		fs.db.QueryRow(`SELECT count(*) FROM users`).Scan(&after)
		if created := after - before; (rec.Code == http.StatusCreated) != (created == 1) || created > 1 {
			t.Fatalf("answer %d, users %d → %d", rec.Code, before, after)
		}
	})
}

// FuzzSessionCookie: whatever the Cookie header holds, GET /session answers
// 200 and a well-formed envelope; only the real token signs in.
func FuzzSessionCookie(f *testing.F) {
	for _, seed := range []string{
		"", "__session=", "__session=" + strings.Repeat("A", 43), "__session=garbage; __session=more",
		"a=b; __session=\"quoted\"", "__session=" + strings.Repeat("-_", 22)[:43], "\x00\xff",
	} {
		f.Add(seed)
	}
	fs := newFuzzStack(f)
	f.Fuzz(func(t *testing.T, cookie string) {
		rec := fs.do(t, "GET", "/session", "", "", cookie)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /session with Cookie %q: %d", cookie, rec.Code)
		}
		if signedIn := !bytes.Contains(rec.Body.Bytes(), []byte(`"data":{"user":null,"users":[]}`)); signedIn && !strings.Contains(cookie, fs.token) {
			t.Fatalf("Cookie %q signed in", cookie)
		}
	})
}
