package impl_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite"

	"meapi/conformance"
	"meapi/impl"
	"meapi/impl/password"
	"meapi/store"
	"meapi/store/sqlite"
)

// The tests drive the real stack: impl.NewHandler over a real database (an
// SQLite file, or a real PostgreSQL: newTestServerOn, forEachEngine),
// through a real socket (httptest.NewServer listens on 127.0.0.1). Every
// response is checked against openapi.yaml, read from disk here
// independently of the server's embedded copy, as well as for its values.

// cheapPasswords keeps argon2id but at a cost that lets a test sign up
// hundreds of users; TestSignUpHashesWithDefaultCost covers the default.
var cheapPasswords = password.Params{MemoryKiB: 64, Time: 1, Threads: 1}

// contractValidator checks responses against openapi.yaml, read from disk
// here independently of the server's embedded copy, with the conformance
// package's validator, written apart from the server's own.
var contractValidator = sync.OnceValues(func() (*conformance.Validator, error) {
	spec, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		return nil, err
	}
	return conformance.NewValidator(spec)
})

// contract is openapi.yaml as the tests read it.
func contract() (*openapi3.T, error) {
	v, err := contractValidator()
	if err != nil {
		return nil, err
	}
	return v.Doc(), nil
}

type testServer struct {
	t       *testing.T
	handler *impl.Handler
	url     string
	// engine is "sqlite" or "postgres"; db is the test's own access to the
	// database, around the store.
	engine string
	db     testDB
	dbPath string // SQLite's file
	store  store.Engine
	logs   *syncBuffer
	// allowInvalid is set by tests that make the server send a response
	// the contract forbids on purpose.
	allowInvalid bool
}

// testSetup is what a test may change: the handler's configuration, and the
// HTTP server's read timeout.
type testSetup struct {
	impl.Config
	readTimeout time.Duration
}

type serverOption func(*testSetup)

func withReadTimeout(d time.Duration) serverOption {
	return func(s *testSetup) { s.readTimeout = d }
}

// engines are the store engines the HTTP tests can run on.
var engines = []string{"sqlite", "postgres"}

// defaultEngine is what newTestServer runs on: SQLite, or the one
// MEAPI_TEST_ENGINE names (make test-impl-postgres runs every HTTP test on
// PostgreSQL).
func defaultEngine() string {
	if e := os.Getenv("MEAPI_TEST_ENGINE"); e != "" {
		return e
	}
	return "sqlite"
}

// forEachEngine runs test once on each engine, as subtests.
func forEachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) { test(t, e) })
	}
}

func newTestServer(t *testing.T, opts ...serverOption) *testServer {
	t.Helper()
	return newTestServerOn(t, defaultEngine(), opts...)
}

// newTestServerOn is newTestServer on the engine named, with a database of
// its own.
func newTestServerOn(t *testing.T, engine string, opts ...serverOption) *testServer {
	t.Helper()
	if _, err := contractValidator(); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	reg := prometheus.NewRegistry()
	obs, err := impl.StoreMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, engine: engine, logs: &syncBuffer{}}
	ts.store, ts.db = openTestStore(t, engine, obs, &ts.dbPath)
	setup := testSetup{Config: impl.Config{
		Store:                ts.store,
		Registry:             reg,
		CrossCheckValidation: true,
		Password:             cheapPasswords,
		// Tests sign up many accounts from 127.0.0.1; the limit on that
		// has a test of its own.
		SignupLimits: impl.SignupLimits{PerAddress: 1 << 30},
		Logger:       slog.New(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}}
	for _, o := range opts {
		o(&setup)
	}
	h, err := impl.NewHandler(setup.Config)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	ts.handler = h
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = setup.readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	ts.url = srv.URL
	t.Cleanup(func() {
		if !ts.allowInvalid && strings.Contains(ts.logs.String(), "response does not match openapi.yaml") {
			t.Errorf("the server replaced a response that broke the contract:\n%s", ts.logs.String())
		}
		if strings.Contains(ts.logs.String(), "validators disagree") {
			t.Errorf("the fast path and kin-openapi disagree:\n%s", ts.logs.String())
		}
	})
	return ts
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The envelope and user as a client reads them.
type envelope struct {
	Status  int             `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Session clientSession   `json:"session"`
	Errors  []apiErr        `json:"errors"`
}

type clientSession struct {
	SigninAttempts []json.RawMessage `json:"signin_attempts"`
	Signins        []signin          `json:"signins"`
	SignupAttempts []json.RawMessage `json:"signup_attempts"`
	ActiveSignin   *signin           `json:"active_signin"`
}

type signin struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

// sessionData is the data of GET /session and of sign-out: the active
// user and the users of every sign-in.
type sessionData struct {
	User  *user  `json:"user"`
	Users []user `json:"users"`
}

type apiErr struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Field   *string `json:"field"`
}

type user struct {
	ID               string    `json:"id"`
	FirstName        *string   `json:"first_name"`
	LastName         *string   `json:"last_name"`
	Username         *string   `json:"username"`
	Email            string    `json:"email"`
	PhoneNumber      *string   `json:"phone_number"`
	ImageURL         *string   `json:"image_url"`
	TwoFactorEnabled bool      `json:"two_factor_enabled"`
	EmailVerified    bool      `json:"email_verified"`
	PhoneVerified    bool      `json:"phone_verified"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

type response struct {
	status int
	header http.Header
	body   []byte
	env    envelope
}

// user decodes the envelope's data as a user.
func (r *response) user(t *testing.T) user {
	t.Helper()
	var u user
	if err := decodeStrictly(r.env.Data, &u); err != nil {
		t.Fatalf("data is not a user: %v\n%s", err, r.body)
	}
	return u
}

// sessionData decodes the envelope's data as GET /session's.
func (r *response) sessionData(t *testing.T) sessionData {
	t.Helper()
	var d sessionData
	if err := decodeStrictly(r.env.Data, &d); err != nil {
		t.Fatalf("data is not a session's: %v\n%s", err, r.body)
	}
	return d
}

// decodeStrictly decodes JSON into v and fails on a member v's type does
// not know, so that a test never passes by not looking.
func decodeStrictly(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// cookie returns the __session cookie the response sets, or nil.
func (r *response) cookie() *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == impl.CookieName {
			return c
		}
	}
	return nil
}

// wantError checks that the response is a refusal with this status and, in
// order, these codes and fields ("" for no field).
func (r *response) wantError(t *testing.T, status int, codesAndFields ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d\n%s", r.status, status, r.body)
	}
	var got []string
	for _, e := range r.env.Errors {
		f := ""
		if e.Field != nil {
			f = *e.Field
		}
		got = append(got, e.Code, f)
	}
	if strings.Join(got, " ") != strings.Join(codesAndFields, " ") {
		t.Fatalf("errors: got %q, want %q\n%s", got, codesAndFields, r.body)
	}
}

type reqOption func(*http.Request)

func withCookie(token string) reqOption {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: impl.CookieName, Value: token}) }
}

func withHeader(k, v string) reqOption { return func(r *http.Request) { r.Header.Add(k, v) } }

// jsonBody is a request body encoded as JSON, sent as application/json.
func jsonBody(v any) (string, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return "application/json", b
}

// call sends one request and checks its response against openapi.yaml and
// against the envelope's own rules.
func (ts *testServer) call(t *testing.T, method, path string, contentType string, body []byte, opts ...reqOption) *response {
	t.Helper()
	req, r := ts.send(t, method, path, contentType, body, opts...)
	ts.checkContract(t, req, r)
	return r
}

// try is call for goroutines other than the test's: it returns what call
// would have stopped the test with, its request's failure or the
// response's breach of the contract, as an error.
func (ts *testServer) try(method, path string, contentType string, body []byte, opts ...reqOption) (*response, error) {
	req, r, err := ts.do(method, path, contentType, body, opts...)
	if err != nil {
		return nil, err
	}
	if err := contractError(req, r); err != nil {
		return r, fmt.Errorf("%s %s: %w\n%s", method, path, err, r.body)
	}
	return r, nil
}

// send sends one request and returns its response unchecked.
func (ts *testServer) send(t *testing.T, method, path string, contentType string, body []byte, opts ...reqOption) (*http.Request, *response) {
	t.Helper()
	req, r, err := ts.do(method, path, contentType, body, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return req, r
}

// do sends one request and returns its response unchecked, or why it got
// none. Unlike send and call it does not stop the test, so that it can be
// used from goroutines other than the test's.
func (ts *testServer) do(method, path string, contentType string, body []byte, opts ...reqOption) (*http.Request, *response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, o := range opts {
		o(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	resBody, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return req, &response{status: res.StatusCode, header: res.Header, body: resBody}, nil
}

// checkContract fails the test when the response breaks openapi.yaml or
// the envelope's rules.
func (ts *testServer) checkContract(t *testing.T, req *http.Request, r *response) {
	t.Helper()
	if err := contractError(req, r); err != nil {
		t.Fatalf("%s %s: %v\n%s", req.Method, req.URL.Path, err, r.body)
	}
}

// contractError says how a response breaks openapi.yaml or the envelope's
// rules, or returns nil. It decodes the envelope into r.env.
func contractError(req *http.Request, r *response) error {
	v, err := contractValidator()
	if err != nil {
		return err
	}
	if err := v.Check(req, r.status, r.header, r.body); err != nil {
		return err
	}
	if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		if err := decodeStrictly(r.body, &r.env); err != nil {
			return fmt.Errorf("envelope: %w", err)
		}
	}
	if cookie := r.cookie(); cookie != nil && cookie.Value != "" && strings.Contains(string(r.body), cookie.Value) {
		return errors.New("the session token appears in the body")
	}
	return nil
}

// account is a user signed up through the API, with its cookie.
type account struct {
	token string
	user  user
}

var signupSeq struct {
	sync.Mutex
	n int
}

// signUp creates an account with a fresh email address and the given extra
// members, and returns it with its session token.
func (ts *testServer) signUp(t *testing.T, extra map[string]any, opts ...reqOption) account {
	t.Helper()
	signupSeq.Lock()
	signupSeq.n++
	n := signupSeq.n
	signupSeq.Unlock()
	body := map[string]any{"email": "user" + strconv.Itoa(n) + "@example.com", "password": "correct horse battery staple"}
	for k, v := range extra {
		body[k] = v
	}
	ct, b := jsonBody(body)
	r := ts.call(t, "POST", "/auth/signup", ct, b, opts...)
	if r.status != http.StatusCreated {
		t.Fatalf("sign-up: got %d, want 201\n%s", r.status, r.body)
	}
	c := r.cookie()
	if c == nil {
		t.Fatalf("sign-up set no %s cookie", impl.CookieName)
	}
	return account{token: c.Value, user: r.user(t)}
}

// me returns the active user of token through GET /me, with its ETag.
func (ts *testServer) me(t *testing.T, token string) (user, string) {
	t.Helper()
	r := ts.call(t, "GET", "/me", "", nil, withCookie(token))
	if r.status != http.StatusOK {
		t.Fatalf("GET /me: got %d, want 200\n%s", r.status, r.body)
	}
	return r.user(t), r.header.Get("ETag")
}

// patchMe sends PATCH /me with a JSON body.
func (ts *testServer) patchMe(t *testing.T, token string, body any, opts ...reqOption) *response {
	t.Helper()
	ct, b := jsonBody(body)
	return ts.call(t, "PATCH", "/me", ct, b, append([]reqOption{withCookie(token)}, opts...)...)
}

// testDB is a test's own access to its database, around the store.
type testDB interface {
	exec(t *testing.T, query string)
	count(t *testing.T, query string) int64
	text(t *testing.T, query string) string
}

// openTestStore opens a store on a new database of the engine, and the
// test's own access to it.
func openTestStore(t *testing.T, engine string, obs store.Observer, path *string) (store.Engine, testDB) {
	t.Helper()
	switch engine {
	case "sqlite":
		*path = filepath.Join(t.TempDir(), "meapi.db")
		st, err := sqlite.Open(context.Background(), *path, sqlite.WithObserver(obs))
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		db, err := sql.Open("sqlite", *path+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return st, sqlDB{db}
	case "postgres":
		return openPostgres(t, obs)
	}
	t.Fatalf("engine %q: want sqlite or postgres", engine)
	return nil, nil
}

type sqlDB struct{ db *sql.DB }

func (d sqlDB) exec(t *testing.T, query string) {
	t.Helper()
	if _, err := d.db.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func (d sqlDB) count(t *testing.T, query string) int64 {
	t.Helper()
	var n int64
	if err := d.db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (d sqlDB) text(t *testing.T, query string) string {
	t.Helper()
	var s string
	if err := d.db.QueryRow(query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// sqliteDB is the test's SQLite file opened directly, for the tests that
// look at it with SQLite's own means.
func (ts *testServer) sqliteDB(t *testing.T) *sql.DB {
	t.Helper()
	d, ok := ts.db.(sqlDB)
	if !ok {
		t.Fatalf("a test of SQLite's file on %s", ts.engine)
	}
	return d.db
}

// storeInvalidUsername writes a username the contract forbids straight
// into the database, as a bug or an old version might. Like any edit by
// hand, it moves the generation of the sessions by trigger, so that servers
// read them again.
func (ts *testServer) storeInvalidUsername(t *testing.T, userID ...string) {
	t.Helper()
	where := ""
	if len(userID) > 0 {
		where = " WHERE id = '" + userID[0] + "'"
	}
	ts.db.exec(t, `UPDATE users SET username = 'not valid!', username_folded = 'not valid!'`+where)
}

// failUpdates installs a trigger that makes the database refuse any change
// of a user's first_name to 'poison': a failure inside the store.
func (ts *testServer) failUpdates(t *testing.T) {
	t.Helper()
	switch ts.engine {
	case "sqlite":
		ts.db.exec(t, `CREATE TRIGGER fault_fail BEFORE UPDATE ON users WHEN NEW.first_name = 'poison'
			BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	case "postgres":
		ts.db.exec(t, `CREATE FUNCTION fault_fail() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'disk on fire'; END $$;
			CREATE TRIGGER fault_fail BEFORE UPDATE ON users FOR EACH ROW
			WHEN (NEW.first_name = 'poison') EXECUTE FUNCTION fault_fail()`)
	}
}

func (ts *testServer) count(t *testing.T, table string) int {
	t.Helper()
	return int(ts.db.count(t, "SELECT count(*) FROM "+table))
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// clock is a time source a test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withClock(c *clock) serverOption { return func(cfg *testSetup) { cfg.Now = c.Now } }

// signIn sends POST /auth/signin with a password strategy.
func (ts *testServer) signIn(t *testing.T, strategy, identifier, password string, opts ...reqOption) *response {
	t.Helper()
	member := map[string]string{"plain_email": "email", "plain_username": "username"}[strategy]
	ct, b := jsonBody(map[string]any{"strategy": strategy, member: identifier, "password": password})
	return ts.call(t, "POST", "/auth/signin", ct, b, opts...)
}

// token returns the session token a response sets, failing when it sets
// none.
func (r *response) token(t *testing.T) string {
	t.Helper()
	c := r.cookie()
	if c == nil || c.Value == "" {
		t.Fatalf("no session cookie set:\n%s", r.body)
	}
	return c.Value
}
