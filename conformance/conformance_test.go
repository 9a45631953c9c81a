package conformance_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"meapi"
	"meapi/conformance"
	"meapi/impl"
	"meapi/impl/password"
	"meapi/store/sqlite"
)

// startServer runs meapi's real stack on a real socket; wrap, when not
// nil, sits between it and the network.
func startServer(t *testing.T, mode impl.ResponseValidation, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	stack, err := impl.NewHandler(impl.Config{Store: st, ResponseValidation: mode, Password: password.Params{MemoryKiB: 64, Time: 1, Threads: 1}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = stack
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMeapiConforms(t *testing.T) {
	url := startServer(t, impl.ValidateEnforce, nil)
	var out bytes.Buffer
	res, err := conformance.Run(context.Background(), conformance.Config{BaseURL: url, Spec: meapi.OpenAPIYAML, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || res.Passed < 30 {
		t.Errorf("%d passed, %d failed; want every case of at least 30 to pass:\n%s", res.Passed, res.Failed, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != strconv.Itoa(res.Passed)+" passed, 0 failed" {
		t.Errorf("last line %q", last)
	}
	if len(lines) != res.Passed+1 {
		t.Errorf("%d lines for %d cases: want one per case and a summary", len(lines), res.Passed)
	}
}

// TestConformanceCatchesABrokenServer breaks one kind of response on its
// way out (response validation off, so the server does not mend it): the
// run must fail and name the cases that saw it.
func TestConformanceCatchesABrokenServer(t *testing.T) {
	breakMe := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/me" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			body := bytes.Replace(rec.Body.Bytes(), []byte(`"email_verified":false`), []byte(`"email_verified":"no"`), 1)
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
	url := startServer(t, impl.ValidateOff, breakMe)
	var out bytes.Buffer
	res, err := conformance.Run(context.Background(), conformance.Config{BaseURL: url, Spec: meapi.OpenAPIYAML, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed == 0 {
		t.Fatalf("a server answering GET /me with \"email_verified\":\"no\" passed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "FAIL me: GET /me: ") || !strings.Contains(out.String(), "email_verified") {
		t.Errorf("the report does not name the case and the member:\n%s", out.String())
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), strconv.Itoa(res.Failed)+" failed") {
		t.Errorf("last line does not count the failures:\n%s", out.String())
	}
}
