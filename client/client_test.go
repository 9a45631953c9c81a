package client_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oapi-codegen/nullable"

	"meapi/client"
	"meapi/impl"
	"meapi/impl/password"
	"meapi/store/sqlite"
)

// newServer runs the real stack on a real socket, as a deployment would.
func newServer(t *testing.T) string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := impl.NewHandler(impl.Config{Store: st, Password: password.Params{MemoryKiB: 64, Time: 1, Threads: 1}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newClient is a client with a browser's memory: a cookie jar.
func newClient(t *testing.T, url string) *client.ClientWithResponses {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewClientWithResponses(url, client.WithHTTPClient(&http.Client{Jar: jar}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// baseURL is where the example's server listens; TestMain starts it.
var baseURL string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meapi-client-")
	if err != nil {
		panic(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "meapi.db"))
	if err != nil {
		panic(err)
	}
	h, err := impl.NewHandler(impl.Config{Store: st, Password: password.Params{MemoryKiB: 64, Time: 1, Threads: 1}, Logger: quiet})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	baseURL = srv.URL
	code := m.Run()
	srv.Close()
	st.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestClientSignUpReadAndUpdate(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newServer(t))

	password := "correct horse battery staple"
	signup, err := c.SignUpWithResponse(ctx, client.SignUpRequest{
		Email:     "ada@example.com",
		Password:  &password,
		FirstName: nullable.NewNullableWithValue("Ada"),
		Username:  nullable.NewNullableWithValue("ada"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if signup.JSON201 == nil {
		t.Fatalf("sign-up: %d %s", signup.StatusCode(), signup.Body)
	}
	id := signup.JSON201.Data.Id

	me, err := c.GetMeWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.JSON200 == nil || me.JSON200.Data.Id != id || me.JSON200.Data.FirstName.MustGet() != "Ada" {
		t.Fatalf("GET /me through the cookie jar: %d %s", me.StatusCode(), me.Body)
	}
	etag := me.HTTPResponse.Header.Get("ETag")

	// A merge patch: set one member, clear another, leave the rest.
	patch := client.UpdateMeRequest{
		LastName:  nullable.NewNullableWithValue("Lovelace"),
		FirstName: nullable.NewNullNullable[string](),
	}
	upd, err := c.UpdateMeWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, &client.UpdateMeParams{IfMatch: &etag}, patch)
	if err != nil {
		t.Fatal(err)
	}
	if upd.JSON200 == nil {
		t.Fatalf("PATCH /me: %d %s", upd.StatusCode(), upd.Body)
	}
	u := upd.JSON200.Data
	if !u.FirstName.IsNull() || u.LastName.MustGet() != "Lovelace" || u.Username.MustGet() != "ada" {
		t.Errorf("after the patch: first %v, last %v, username %v", u.FirstName, u.LastName, u.Username)
	}

	// The same ETag again is stale now: a typed 412.
	stale, err := c.UpdateMeWithResponse(ctx, &client.UpdateMeParams{IfMatch: &etag}, client.UpdateMeRequest{FirstName: nullable.NewNullableWithValue("Augusta")})
	if err != nil {
		t.Fatal(err)
	}
	if stale.JSON412 == nil || stale.JSON412.Errors[0].Code != string(client.PRECONDITIONFAILED) {
		t.Errorf("stale If-Match: %d %s", stale.StatusCode(), stale.Body)
	}
}

func TestClientReadsRefusals(t *testing.T) {
	ctx := context.Background()
	url := newServer(t)
	c := newClient(t, url)
	password := "correct horse battery staple"
	if _, err := c.SignUpWithResponse(ctx, client.SignUpRequest{Email: "grace@example.com", Password: &password}); err != nil {
		t.Fatal(err)
	}

	// A body the generated types could never produce: send it raw.
	bad, err := c.UpdateMeWithBodyWithResponse(ctx, nil, "application/json",
		strings.NewReader(`{"email":"eve@example.com","first_name":5,"nickname":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if bad.JSON400 == nil {
		t.Fatalf("refused PATCH: %d %s", bad.StatusCode(), bad.Body)
	}
	var got []string
	for _, e := range bad.JSON400.Errors {
		got = append(got, string(e.Code)+" "+deref(e.Field))
	}
	want := []string{"READ_ONLY_FIELD /email", "VALIDATION_ERROR /first_name", "UNKNOWN_FIELD /nickname"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("errors: got %q, want %q", got, want)
	}

	// Without the jar there is no session: a typed 401.
	anon := newClient(t, url)
	me, err := anon.GetMeWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.JSON401 == nil || me.JSON401.Errors[0].Code != string(client.NOTAUTHENTICATED) {
		t.Errorf("GET /me without a session: %d %s", me.StatusCode(), me.Body)
	}

	// A wrong password: a typed 401 with its own code.
	var body client.SignInRequest
	if err := body.FromSignInWithEmail(client.SignInWithEmail{Strategy: client.PlainEmail, Email: "grace@example.com", Password: ptr("wrong password")}); err != nil {
		t.Fatal(err)
	}
	in, err := anon.SignInWithResponse(ctx, body)
	if err != nil {
		t.Fatal(err)
	}
	if in.JSON401 == nil || in.JSON401.Errors[0].Code != string(client.INVALIDCREDENTIALS) {
		t.Errorf("wrong password: %d %s", in.StatusCode(), in.Body)
	}
}

func ptr[T any](v T) *T { return &v }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// quiet drops the server's logs: the tests read answers, not log lines.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
