package impl_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestLogsHoldNoSecrets runs every kind of request that carries a secret,
// successes, refusals and failures, with the log at debug level, then reads
// the whole log: no password, token or cookie value may be in it.
func TestLogsHoldNoSecrets(t *testing.T) {
	fs := &failingStore{}
	ts := newTestServer(t, func(c *testSetup) { fs.Store = c.Store; c.Store = fs })
	const password, wrong = "first-secret-password-4a1b", "second-secret-password-9c8d"
	ct, b := jsonBody(map[string]any{"email": "secret@example.com", "password": password, "username": "keeper"})
	r := ts.call(t, "POST", "/auth/signup", ct, b)
	token := r.token(t)
	secrets := []string{password, wrong, token}

	ts.signIn(t, "plain_email", "secret@example.com", wrong)
	r = ts.signIn(t, "plain_username", "keeper", password, withCookie(token))
	secrets = append(secrets, r.token(t))
	forged := strings.Repeat("F", 43)
	secrets = append(secrets, forged)
	ts.call(t, "GET", "/me", "", nil, withCookie(forged))
	ts.call(t, "GET", "/me", "", nil, withCookie("not-a-token-"+password))
	ts.call(t, "PATCH", "/me", "application/json", []byte(`{"first_name":"`+password+`","nick":"`+wrong+`"}`), withCookie(r.token(t)))
	ts.call(t, "POST", "/auth/signup", "application/json", []byte(`{"email":"x@example.com","password":"`+password+`",`), withCookie(r.token(t)))
	// Failures log at error level, with causes and stacks.
	fs.update = func() error { return errors.New("disk on fire") }
	ts.patchMe(t, r.token(t), map[string]any{"first_name": password})
	fs.update = func() error { panic("bug") }
	ts.patchMe(t, r.token(t), map[string]any{"first_name": wrong})

	logs := ts.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, "disk on fire") {
		t.Fatalf("the log is missing what it should hold:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret (%.6s…)", s)
		}
	}
}

// TestRequestLineAndID checks the one log line per request and the request
// id: a sane client id is echoed, anything else replaced.
func TestRequestLineAndID(t *testing.T) {
	ts := newTestServer(t)
	r := ts.call(t, "GET", "/healthz", "", nil, withHeader("X-Request-Id", "trace-abc.123"))
	if got := r.header.Get("X-Request-Id"); got != "trace-abc.123" {
		t.Errorf("X-Request-Id %q, want the client's", got)
	}
	r = ts.call(t, "GET", "/nope", "", nil, withHeader("X-Request-Id", "evil\"id with spaces"))
	if got := r.header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, "\" ") {
		t.Errorf("X-Request-Id %q: an unsafe client id must be replaced", got)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(ts.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d request lines for 2 requests:\n%s", len(lines), ts.logs.String())
	}
	first, second := lines[0], lines[1]
	if first["route"] != "/healthz" || first["method"] != "GET" || first["status"] != float64(200) || first["request_id"] != "trace-abc.123" ||
		first["bytes"].(float64) <= 0 || first["duration_ms"] == nil {
		t.Errorf("request line: %v", first)
	}
	if second["route"] != "unmatched" || second["status"] != float64(404) {
		t.Errorf("404 line: %v", second)
	}
}

// TestInternalErrorNamesTheRequest: a 500 says which request it was, and
// the log line of the cause says it too.
func TestInternalErrorNamesTheRequest(t *testing.T) {
	fs := &failingStore{}
	ts := newTestServer(t, func(c *testSetup) { fs.Store = c.Store; c.Store = fs })
	a := ts.signUp(t, nil)
	fs.update = func() error { panic("handler bug") }
	r := ts.patchMe(t, a.token, map[string]any{"first_name": "Ada"})
	r.wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	id := r.header.Get("X-Request-Id")
	if id == "" || !strings.Contains(r.env.Errors[0].Message, "(request id "+id+")") {
		t.Errorf("the 500 does not name its request %q: %q", id, r.env.Errors[0].Message)
	}
	if logs := ts.logs.String(); !strings.Contains(logs, `"request_id":"`+id+`"`) || !strings.Contains(logs, "goroutine") {
		t.Errorf("the panic's log line lacks the request id or the stack")
	}
}

// TestDrainingFailsReadinessOnly: once the server drains, /readyz is 503,
// and every other operation is still served.
func TestDrainingFailsReadinessOnly(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	ts.handler.Drain()
	ts.call(t, "GET", "/readyz", "", nil).wantError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "")
	if r := ts.call(t, "GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("/healthz while draining: %d", r.status)
	}
	if r := ts.patchMe(t, a.token, map[string]any{"first_name": "Ada"}); r.status != http.StatusOK {
		t.Errorf("PATCH /me while draining: %d", r.status)
	}
}

// TestMetricsCountFailures provokes a response that breaks the contract
// and a failure in the store itself (a trigger that refuses the update),
// and finds each in GET /metrics; answers of the store's contract (a taken
// username, an unknown cookie) are not failures.
func TestMetricsCountFailures(t *testing.T) {
	forEachEngine(t, testMetricsCountFailures)
}

func testMetricsCountFailures(t *testing.T, engine string) {
	ts := newTestServerOn(t, engine)
	ts.allowInvalid = true
	a := ts.signUp(t, map[string]any{"username": "ada"})
	b := ts.signUp(t, nil)
	if r := ts.patchMe(t, b.token, map[string]any{"username": "ada"}); r.status != http.StatusConflict {
		t.Fatalf("a taken username: %d", r.status)
	}
	ts.send(t, "GET", "/me", "", nil, withCookie("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	ts.failUpdates(t)
	ts.patchMe(t, a.token, map[string]any{"first_name": "poison"})
	ts.storeInvalidUsername(t, a.user.ID)
	ts.send(t, "GET", "/me", "", nil, withCookie(a.token))

	r := ts.call(t, "GET", "/metrics", "", nil)
	for _, want := range []string{
		`meapi_store_errors_total{op="update_profile"} 1`,
		`meapi_store_errors_total{op="session_by_token_hash"} 0`,
		`meapi_store_errors_total{op="reserve_attempt"} 0`,
		`meapi_response_validation_violations_total{method="GET",route="/me"} 1`,
		`meapi_http_requests_total{method="GET",route="/me",status="500"} 1`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
