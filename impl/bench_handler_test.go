package impl_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"meapi/impl"
	"meapi/store/sqlite"
)

// benchStack is the whole handler on a real SQLite file, with one signed-up
// user, for benchmarks of one request at a time, in memory.
type benchStack struct {
	h      http.Handler
	cookie string
}

func newBenchStack(b *testing.B, mode impl.ResponseValidation) *benchStack {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h, err := impl.NewHandler(impl.Config{
		Store:              st,
		ResponseValidation: mode,
		SigninLimits:       impl.SigninLimits{PerAccount: 1 << 30, PerAddress: 1 << 30},
		// Logs are written as in production, to a sink that costs nothing.
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	bs := &benchStack{h: h}
	rec := bs.do("POST", "/auth/signup", `{"email":"bench@example.com","password":"correct horse battery staple","first_name":"Ada","username":"ada"}`)
	if rec.Code != http.StatusCreated {
		b.Fatalf("sign-up: %d %s", rec.Code, rec.Body)
	}
	bs.cookie = rec.Header().Get("Set-Cookie")
	bs.cookie = bs.cookie[:strings.IndexByte(bs.cookie, ';')]
	return bs
}

func (bs *benchStack) do(method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bs.cookie != "" {
		req.Header.Set("Cookie", bs.cookie)
	}
	rec := httptest.NewRecorder()
	bs.h.ServeHTTP(rec, req)
	return rec
}

var modes = []impl.ResponseValidation{impl.ValidateOff, impl.ValidateLog, impl.ValidateEnforce}

// BenchmarkGetMe is GET /me through the whole stack, in each response
// validation mode.
//
//	go test ./impl -run '^$' -bench 'GetMe|PatchMe' -benchmem -count 6 | benchstat -col /mode -
func BenchmarkGetMe(b *testing.B) {
	for _, mode := range modes {
		b.Run("mode="+string(mode), func(b *testing.B) {
			bs := newBenchStack(b, mode)
			b.ReportAllocs()
			for b.Loop() {
				if rec := bs.do("GET", "/me", ""); rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkPatchMe is PATCH /me, each request a change, so each one a
// write.
func BenchmarkPatchMe(b *testing.B) {
	for _, mode := range modes {
		b.Run("mode="+string(mode), func(b *testing.B) {
			bs := newBenchStack(b, mode)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if rec := bs.do("PATCH", "/me", `{"first_name":"Ada `+strconv.Itoa(i)+`"}`); rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
