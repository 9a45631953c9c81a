package impl_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"meapi/impl"
	"meapi/store/sqlite"
)

// BenchmarkSignInFailure measures the two ways a sign-in fails, with the
// default argon2id cost: an unknown account must take about as long as a
// wrong password, or the time would tell which accounts exist.
//
//	go test ./impl -run '^$' -bench SignInFailure -count 6 | benchstat -
func BenchmarkSignInFailure(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h, err := impl.NewHandler(impl.Config{
		Store:        st,
		SigninLimits: impl.SigninLimits{PerAccount: 1 << 30, PerAddress: 1 << 30},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	do := func(path, body string) int {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := do("/auth/signup", `{"email":"ada@example.com","password":"correct horse battery staple"}`); code != http.StatusCreated {
		b.Fatalf("sign-up: %d", code)
	}
	for _, bc := range []struct{ name, body string }{
		{"wrong_password", `{"strategy":"plain_email","email":"ada@example.com","password":"wrong password"}`},
		{"unknown_account", `{"strategy":"plain_email","email":"nobody@example.com","password":"wrong password"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if code := do("/auth/signin", bc.body); code != http.StatusUnauthorized {
					b.Fatalf("got %d, want 401", code)
				}
			}
		})
	}
}
