package impl_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meapi/impl"
	"meapi/impl/password"
	"meapi/store"
)

// TestTrustedOriginsRefuseWildcards: an origin with a wildcard is refused
// when the handler is built, saying why, instead of trusting every
// subdomain in one check and none in the other.
func TestTrustedOriginsRefuseWildcards(t *testing.T) {
	for _, o := range []string{"https://*.example.com", "*", "https://app.example.com/*"} {
		_, err := impl.NewHandler(impl.Config{Store: &failingStore{}, TrustedOrigins: []string{o}})
		if err == nil || !strings.Contains(err.Error(), "wildcard") {
			t.Errorf("trusted origin %q: %v, want a refusal that names the wildcard", o, err)
		}
	}
	for _, o := range []string{"app.example.com", "https://app.example.com/path", "ftp://app.example.com", "https://user@app.example.com"} {
		if _, err := impl.NewHandler(impl.Config{Store: &failingStore{}, TrustedOrigins: []string{o}}); err == nil {
			t.Errorf("trusted origin %q was accepted", o)
		}
	}
}

// TestTrustedOriginsAreTheBrowsersForm: a trusted origin is compared with
// the Origin header as a browser serializes it, so an origin written another
// way (capitals, the scheme's default port, a Unicode host) is trusted in
// that form, by CORS and by the cross-origin check alike; one that no
// browser could ever send is refused when the handler is built, saying why.
func TestTrustedOriginsAreTheBrowsersForm(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) {
		c.TrustedOrigins = []string{"https://APP.example.com:443", "HTTP://localhost:80", "https://bücher.example", "http://[0:0::1]:05173", "http://[::FFFF:127.0.0.1]:8080"}
	})
	a := ts.signUp(t, nil)
	for _, origin := range []string{"https://app.example.com", "http://localhost", "https://xn--bcher-kva.example", "http://[::1]:5173", "http://[::ffff:7f00:1]:8080"} {
		t.Run(origin, func(t *testing.T) {
			read := ts.call(t, "GET", "/me", "", nil, withCookie(a.token), withHeader("Origin", origin), withHeader("Sec-Fetch-Site", "cross-site"))
			if got := read.header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("CORS read: Access-Control-Allow-Origin %q, want %q", got, origin)
			}
			ct, body := jsonBody(map[string]any{"first_name": "Ada"})
			write := ts.call(t, "PATCH", "/me", ct, body, withCookie(a.token), withHeader("Origin", origin), withHeader("Sec-Fetch-Site", "cross-site"))
			if write.status != http.StatusOK {
				t.Errorf("cross-origin PATCH: %d, want 200\n%s", write.status, write.body)
			}
		})
	}

	for _, tt := range []struct{ origin, want string }{
		{"https://app.example.com:99999", "port"},
		{"https://app.example.com:", "port"},
		{"https://app.example.com:65536", "port"},
		{"https://0177.0.0.1", "IPv4"},
		{"http://127.1", "IPv4"},
		{"https://xn--zz.example", "host"},
		{"https://a b.example", ""},
	} {
		_, err := impl.NewHandler(impl.Config{Store: &failingStore{}, TrustedOrigins: []string{tt.origin}})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "https://app.example.com") || strings.Contains(err.Error(), "\n") {
			t.Errorf("trusted origin %q: %v; want one line naming the %s and the form wanted", tt.origin, err, tt.want)
		}
	}
}

// TestCORSAndCrossOriginCheckAgree: for every origin a browser could send,
// CORS lets the page read the answer exactly when the cross-origin check
// lets its state-changing request through.
func TestCORSAndCrossOriginCheckAgree(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) {
		c.TrustedOrigins = []string{"https://App.Example.com", "http://localhost:5173"}
	})
	a := ts.signUp(t, nil)
	for _, tt := range []struct {
		origin  string
		trusted bool
	}{
		{"https://app.example.com", true},
		{"http://localhost:5173", true},
		{"https://evil.example.com", false},
		{"https://app.example.com.evil.com", false},
		{"https://sub.app.example.com", false},
		{"http://app.example.com", false},
		{"https://app.example.com:8443", false},
		{"http://localhost:5174", false},
		{"null", false},
	} {
		t.Run(tt.origin, func(t *testing.T) {
			read := ts.call(t, "GET", "/me", "", nil, withCookie(a.token), withHeader("Origin", tt.origin), withHeader("Sec-Fetch-Site", "cross-site"))
			cors := read.header.Get("Access-Control-Allow-Origin") == tt.origin
			ct, body := jsonBody(map[string]any{"first_name": "Ada"})
			write := ts.call(t, "PATCH", "/me", ct, body, withCookie(a.token), withHeader("Origin", tt.origin), withHeader("Sec-Fetch-Site", "cross-site"))
			passed := write.status == http.StatusOK
			if cors != tt.trusted || passed != tt.trusted {
				t.Errorf("CORS allows it: %v; the cross-origin check lets it write: %v (%d); want both %v", cors, passed, write.status, tt.trusted)
			}
		})
	}
}

// blockingStore is the real store, except that reading a session waits
// until the request's client has gone.
type blockingStore struct {
	impl.Store
	entered chan struct{}
}

func (b *blockingStore) SessionByTokenHash(ctx context.Context, hash []byte, now time.Time) (*store.Session, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return b.Store.SessionByTokenHash(ctx, hash, now)
}

// TestClientThatHangsUpIsNoServerError: requests whose clients go away
// while the store works for them are logged at info as client-closed (499
// in the request log and the metrics), and counted neither as store
// errors nor as 5xx; no ERROR line is written.
func TestClientThatHangsUpIsNoServerError(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		bs := &blockingStore{entered: make(chan struct{})}
		ts := newTestServerOn(t, engine, func(c *testSetup) { bs.Store = c.Store; c.Store = bs })
		const n = 5
		var wg sync.WaitGroup
		for range n {
			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, "GET", ts.url+"/me", nil)
			if err != nil {
				t.Fatal(err)
			}
			// A token of the right form that names no session: it takes a
			// lookup, which is all an attacker without an account can ask for.
			req.AddCookie(&http.Cookie{Name: impl.CookieName, Value: strings.Repeat("R", 43)})
			wg.Go(func() {
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
					t.Errorf("the request was answered %d after its client went away", res.StatusCode)
				}
			})
			<-bs.entered
			cancel()
		}
		wg.Wait()
		metrics := waitForMetric(t, ts, `meapi_http_requests_total{method="GET",route="/me",status="499"} 5`)
		for _, bad := range []string{`meapi_store_errors_total{op="session_by_token"} `, `status="500"`} {
			for _, line := range strings.Split(metrics, "\n") {
				if strings.HasPrefix(line, bad) && !strings.HasSuffix(line, " 0") {
					t.Errorf("/metrics: %s", line)
				}
			}
		}
		logs := ts.logs.String()
		if strings.Contains(logs, `"level":"ERROR"`) {
			t.Errorf("clients hanging up wrote ERROR lines:\n%s", logs)
		}
		if c := strings.Count(logs, `"msg":"client closed the request"`); c != n {
			t.Errorf("%d client-closed lines, want %d:\n%s", c, n, logs)
		}
	})
}

// waitForMetric reads GET /metrics until it holds line: a request's line
// in the log and the metrics is written once its answer is out, after the
// client may have stopped waiting for it. It fails after 10 seconds.
func waitForMetric(t *testing.T, ts *testServer, line string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := string(ts.call(t, "GET", "/metrics", "", nil).body)
		if strings.Contains(body, line) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never held %s:\n%s", line, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLookAlikesReachNoAccount: an email that differs from an existing one
// only by a Unicode normalization form, fullwidth letters, an invisible
// character or a bidirectional control is refused, not made a second
// account; a sign-in identifier spelled with a look-alike (the Kelvin sign
// for k, a fullwidth letter) is refused, not matched to the account it
// resembles. Names made of nothing visible are refused, and names are
// stored in their normal form.
func TestLookAlikesReachNoAccount(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ts := newTestServerOn(t, engine)
		karen := ts.signUp(t, map[string]any{"email": "karen@example.com", "username": "karen"})
		users := ts.count(t, "users")
		for _, email := range []string{
			"kare\u0301n@example.com", // NFD
			"karén@example.com",       // NFC
			"ｋａｒｅｎ@example.com",       // fullwidth
			"kar\u200ben@example.com", // a zero-width space
			"\u202ekaren@example.com", // a right-to-left override
			"\u212aaren@example.com",  // the Kelvin sign
			"karen@exаmple.com",       // a Cyrillic а
		} {
			ct, body := jsonBody(map[string]any{"email": email, "password": pw})
			ts.call(t, "POST", "/auth/signup", ct, body).wantError(t, http.StatusBadRequest, "VALIDATION_ERROR", "/email")
		}
		if n := ts.count(t, "users"); n != users {
			t.Errorf("look-alike emails made %d more accounts", n-users)
		}
		for _, tt := range []struct{ strategy, identifier, field string }{
			{"plain_email", "\u212aaren@example.com", "/email"},
			{"plain_email", "ｋaren@example.com", "/email"},
			{"plain_username", "\u212aaren", "/username"},
			{"plain_username", "ｋaren", "/username"},
		} {
			ts.signIn(t, tt.strategy, tt.identifier, pw).wantError(t, http.StatusBadRequest, "VALIDATION_ERROR", tt.field)
		}
		if r := ts.signIn(t, "plain_email", "KAREN@example.com", pw); r.status != http.StatusOK || r.user(t).ID != karen.user.ID {
			t.Errorf("the address in other letter case still signs in: %d", r.status)
		}

		for _, name := range []string{"\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u3164", "\u2800", "\u0301", "\u202eAda", "Ada\u2028x", "Ada\u2029", "Ada\uffff", "Ada\U000E0041"} {
			r := ts.patchMe(t, karen.token, map[string]any{"first_name": name})
			r.wantError(t, http.StatusBadRequest, "VALIDATION_ERROR", "/first_name")
		}
		r := ts.patchMe(t, karen.token, map[string]any{"first_name": "  Ｋａｒｅｎ   Zoe\u0308 "})
		if r.status != http.StatusOK || str(r.user(t).FirstName) != "Karen Zoë" {
			t.Errorf("a name in another form: %d %s, want it stored as \"Karen Zoë\"", r.status, r.body)
		}
	})
}

// TestPasswordQueueIsBounded: with one password hashed at a time and two
// more allowed to wait, a burst of sign-ups is answered 201 or 503
// SERVICE_UNAVAILABLE with Retry-After, never queued without bound, and a
// refused one writes nothing.
func TestPasswordQueueIsBounded(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) {
		c.PasswordWorkers, c.PasswordQueue = 1, 2
		c.Password = password.Params{MemoryKiB: 8 << 10, Time: 4, Threads: 1} // tens of milliseconds a hash
	})
	const n = 24
	statuses := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		ct, body := jsonBody(map[string]any{"email": "burst" + strconv.Itoa(i) + "@example.com", "password": pw})
		wg.Go(func() {
			<-start
			r, err := ts.try("POST", "/auth/signup", ct, body)
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.status
			if r.status == http.StatusServiceUnavailable {
				if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
					t.Errorf("503 without Retry-After: %v", r.header)
				}
				if !strings.Contains(string(r.body), `"SERVICE_UNAVAILABLE"`) {
					t.Errorf("503 body: %s", r.body)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	created, busy := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusServiceUnavailable:
			busy++
		default:
			t.Errorf("a sign-up of the burst answered %d", s)
		}
	}
	if busy == 0 {
		t.Errorf("%d sign-ups at once with room for 3: none was refused", n)
	}
	if users := ts.count(t, "users"); users != created {
		t.Errorf("%d users stored, %d sign-ups answered 201", users, created)
	}
}

// burst sends n sign-ins at once, all released by one signal, and counts
// the answers by status. Every answer is checked against the contract.
func burst(t *testing.T, ts *testServer, n int, body func(i int) []byte, opts ...reqOption) map[int]int {
	t.Helper()
	statuses := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		b := body(i)
		wg.Go(func() {
			<-start
			r, err := ts.try("POST", "/auth/signin", "application/json", b, opts...)
			if err != nil {
				t.Error(err)
				return
			}
			if r.status == http.StatusTooManyRequests {
				if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 {
					t.Errorf("429 with Retry-After %q", r.header.Get("Retry-After"))
				}
			}
			statuses[i] = r.status
		})
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	return counts
}

// passwordChecks is how many sign-ins had their password checked: those
// answered 401 for it and those that got in.
func passwordChecks(t *testing.T, ts *testServer) int {
	t.Helper()
	body := string(ts.call(t, "GET", "/metrics", "", nil).body)
	n := 0
	for _, line := range strings.Split(body, "\n") {
		for _, prefix := range []string{`meapi_http_requests_total{method="POST",route="/auth/signin",status="401"} `, `meapi_http_requests_total{method="POST",route="/auth/signin",status="200"} `} {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				c, _ := strconv.Atoi(v)
				n += c
			}
		}
	}
	return n
}

// TestBurstsStayWithinTheSigninLimits: 300 wrong guesses at once for one
// account, with the default limits, get at most 10 password checks and
// 429 with Retry-After for the rest; the right password right after is
// refused too. 300 guesses at once at unknown accounts from one address get
// at most 100 password checks. On each engine.
func TestBurstsStayWithinTheSigninLimits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ts := newTestServerOn(t, engine, func(c *testSetup) {
			c.SigninLimits = impl.DefaultSigninLimits
			c.ClientAddressHeader = "X-Forwarded-For"
			// Room in the hashing queue for every guess of a burst: what is
			// measured is the limits, not the queue's 503 (its own test).
			c.PasswordQueue = 300
		})
		ts.signUp(t, map[string]any{"email": "ada@example.com"})
		guess := func(email string) []byte {
			_, b := jsonBody(map[string]any{"strategy": "plain_email", "email": email, "password": "wrong guess"})
			return b
		}
		counts := burst(t, ts, 300, func(int) []byte { return guess("ada@example.com") })
		checks := passwordChecks(t, ts)
		t.Logf("%s, one account: %v; %d password checks", engine, counts, checks)
		if checks > impl.DefaultSigninLimits.PerAccount || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 300 {
			t.Errorf("300 guesses at once: %v and %d password checks, want at most %d checks and 429 for the rest", counts, checks, impl.DefaultSigninLimits.PerAccount)
		}
		ts.signIn(t, "plain_email", "ada@example.com", pw).wantError(t, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "")

		// The address limit, from another address: every guess names an
		// account of its own, none of which exists.
		before := passwordChecks(t, ts)
		counts = burst(t, ts, 300, func(i int) []byte { return guess("nobody" + strconv.Itoa(i) + "@example.com") },
			withHeader("X-Forwarded-For", "198.51.100.7"))
		checks = passwordChecks(t, ts) - before
		t.Logf("%s, one address: %v; %d password checks", engine, counts, checks)
		if checks > impl.DefaultSigninLimits.PerAddress || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 300 {
			t.Errorf("300 guesses at once from one address: %v and %d password checks, want at most %d checks", counts, checks, impl.DefaultSigninLimits.PerAddress)
		}
	})
}

// TestSignupLimitPerAddress: with the default limit, a burst of sign-ups
// from one address makes 30 accounts; the rest are 429 with Retry-After
// and write nothing; another address is unaffected. On each engine.
func TestSignupLimitPerAddress(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ts := newTestServerOn(t, engine, func(c *testSetup) {
			c.SignupLimits = impl.DefaultSignupLimits
			c.ClientAddressHeader = "X-Forwarded-For"
		})
		const n = 60
		statuses := make([]int, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			ct, b := jsonBody(map[string]any{"email": "office" + strconv.Itoa(i) + "@example.com", "password": pw})
			wg.Go(func() {
				<-start
				r, err := ts.try("POST", "/auth/signup", ct, b, withHeader("X-Forwarded-For", "203.0.113.5"))
				if err != nil {
					t.Error(err)
					return
				}
				if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				statuses[i] = r.status
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusTooManyRequests:
			default:
				t.Errorf("a sign-up of the burst answered %d", s)
			}
		}
		if want := impl.DefaultSignupLimits.PerAddress; created != want || ts.count(t, "users") != want {
			t.Errorf("%d sign-ups at once from one address: %d created, %d stored; want %d", n, created, ts.count(t, "users"), want)
		}
		ct, b := jsonBody(map[string]any{"email": "elsewhere@example.com", "password": pw})
		if r := ts.call(t, "POST", "/auth/signup", ct, b, withHeader("X-Forwarded-For", "203.0.113.6")); r.status != http.StatusCreated {
			t.Errorf("a sign-up from another address: %d", r.status)
		}
	})
}

// TestReadinessFailsWhenTheStoreCannotServe: /readyz answers 503 with the
// reason, counted in meapi_not_ready_total, when the database file is
// deleted under the server (and writes, which would be lost, are refused),
// when it cannot be written (reads go on being served meanwhile), or when
// the store does not answer.
func TestReadinessFailsWhenTheStoreCannotServe(t *testing.T) {
	ready := func(t *testing.T, ts *testServer, reason, words string) {
		t.Helper()
		r := ts.call(t, "GET", "/readyz", "", nil)
		r.wantError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "")
		if !strings.Contains(r.env.Errors[0].Message, words) {
			t.Errorf("the reason: %q, want it to say %q", r.env.Errors[0].Message, words)
		}
		waitForMetric(t, ts, `meapi_not_ready_total{reason="`+reason+`"} 1`)
	}
	t.Run("sqlite: the file deleted", func(t *testing.T) {
		ts := newTestServerOn(t, "sqlite")
		a := ts.signUp(t, nil)
		if err := os.Remove(ts.dbPath); err != nil {
			t.Fatal(err)
		}
		ready(t, ts, "replaced", "deleted or replaced")
		// A write would go to a file that is gone, and be lost at the next
		// start: it is refused, not acknowledged.
		ts.patchMe(t, a.token, map[string]any{"first_name": "Lost"}).wantError(t, http.StatusInternalServerError, "INTERNAL", "")
		ct, b := jsonBody(map[string]any{"email": "lost@example.com", "password": pw})
		ts.call(t, "POST", "/auth/signup", ct, b).wantError(t, http.StatusInternalServerError, "INTERNAL", "")
	})
	forEachEngine(t, func(t *testing.T, engine string) {
		t.Run("cannot be written", func(t *testing.T) {
			ts := newTestServerOn(t, engine)
			a := ts.signUp(t, nil)
			if r := ts.call(t, "GET", "/readyz", "", nil); r.status != http.StatusOK {
				t.Fatalf("/readyz before: %d", r.status)
			}
			switch engine {
			case "sqlite":
				ts.db.exec(t, `CREATE TRIGGER no_writes BEFORE UPDATE ON readiness_probe BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
			case "postgres":
				ts.db.exec(t, `CREATE FUNCTION no_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`)
				ts.db.exec(t, `CREATE TRIGGER no_writes BEFORE UPDATE ON readiness_probe FOR EACH ROW EXECUTE FUNCTION no_writes()`)
			}
			ready(t, ts, "not_writable", "cannot be written")
			if _, tag := ts.me(t, a.token); tag == "" {
				t.Errorf("GET /me is not served")
			}
		})
	})
	t.Run("the store does not answer", func(t *testing.T) {
		fs := &failingStore{}
		ts := newTestServer(t, func(c *testSetup) { fs.Store = c.Store; c.Store = fs })
		fs.ready = func() error { return errors.New("connection refused") }
		ready(t, ts, "unreachable", "does not answer")
	})
}

// TestEncodedPathsAreTheirOperations: a path with percent-encoded
// unreserved characters is the same path (RFC 3986, section 6.2.2.2), so
// it is that operation's, answered as the plain one is. Anyone can send
// one, and it must never be answered by something openapi.yaml does not
// declare (which enforce would turn into a 500 and a violation).
func TestEncodedPathsAreTheirOperations(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	for _, tt := range []struct {
		path, plain string
		opts        []reqOption
	}{
		{"/heal%74hz", "/healthz", nil},
		{"/openapi%2Eyaml", "/openapi.yaml", nil},
		{"/%6De", "/me", []reqOption{withCookie(a.token)}},
		{"/%6d%65", "/me", []reqOption{withCookie(a.token)}},
	} {
		got, want := ts.call(t, "GET", tt.path, "", nil, tt.opts...), ts.call(t, "GET", tt.plain, "", nil, tt.opts...)
		if got.status != want.status || !bytes.Equal(got.body, want.body) {
			t.Errorf("GET %s: %d %.200s; GET %s: %d %.200s", tt.path, got.status, got.body, tt.plain, want.status, want.body)
		}
	}
	// An encoded slash is no separator of this API's paths: no operation,
	// even where the decoded path would be one, and nothing is written.
	ct, signup := jsonBody(map[string]any{"email": "slash@example.com", "password": pw})
	for _, tt := range []struct{ method, path string }{
		{"GET", "/me%2F"},
		{"POST", "/auth%2Fsignup"},
		{"POST", "/auth%2fsignup"},
		{"GET", "/docs%2Fredoc.standalone.js"},
	} {
		var body []byte
		if tt.method == "POST" {
			body = signup
		}
		if _, r := ts.send(t, tt.method, tt.path, ct, body, withCookie(a.token)); r.status != http.StatusNotFound || !strings.Contains(string(r.body), `"NOT_FOUND"`) {
			t.Errorf("%s %s: %d %s, want 404 NOT_FOUND", tt.method, tt.path, r.status, r.body)
		}
	}
	if n := ts.count(t, "users"); n != 1 {
		t.Errorf("%d users after sign-ups at an encoded slash, want 1", n)
	}
	metrics := string(ts.call(t, "GET", "/metrics", "", nil).body)
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "meapi_response_validation_violations_total{") && !strings.HasSuffix(line, " 0") {
			t.Errorf("/metrics: %s", line)
		}
	}
	if logs := ts.logs.String(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("encoded paths wrote ERROR lines:\n%s", logs)
	}
}

// TestHalfClosedClientGetsNoAnswer: a client that sends its request and
// shuts its side of the connection (net/http then ends the request's
// context) while the store works gets no answer at all: not a status that
// openapi.yaml does not have.
func TestHalfClosedClientGetsNoAnswer(t *testing.T) {
	bs := &blockingStore{entered: make(chan struct{})}
	ts := newTestServer(t, func(c *testSetup) { bs.Store = c.Store; c.Store = bs })
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /me HTTP/1.1\r\nHost: meapi.test\r\nCookie: " + impl.CookieName + "=" + strings.Repeat("R", 43) + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	<-bs.entered
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if len(got) > 0 {
		t.Errorf("a client that had gone was sent %q (read: %v)", got, err)
	}
	waitForMetric(t, ts, `meapi_http_requests_total{method="GET",route="/me",status="499"} 1`)
}

// reserveBlockingStore is the real store, except that, while block is
// set, a sign-in attempt once counted waits until the request's client has
// gone: its password is then checked for nobody.
type reserveBlockingStore struct {
	impl.Store
	block   atomic.Bool
	entered chan struct{}
}

func (b *reserveBlockingStore) ReserveAttempt(ctx context.Context, limits []store.Limit, now time.Time) (store.Reservation, error) {
	r, err := b.Store.ReserveAttempt(ctx, limits, now)
	if b.block.Load() {
		b.entered <- struct{}{}
		<-ctx.Done()
	}
	return r, err
}

// TestHungUpSigninsDoNotCountAsFailures: sign-ins whose clients hang up
// after their attempt was counted, and before it was answered, are no
// wrong guesses: more of them than the per-account limit, with the right
// password, and the right password once more gets in.
func TestHungUpSigninsDoNotCountAsFailures(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		bs := &reserveBlockingStore{entered: make(chan struct{})}
		ts := newTestServerOn(t, engine, func(c *testSetup) {
			c.SigninLimits = impl.DefaultSigninLimits
			bs.Store = c.Store
			c.Store = bs
		})
		ts.signUp(t, map[string]any{"email": "ada@example.com"})
		_, body := jsonBody(map[string]any{"strategy": "plain_email", "email": "ada@example.com", "password": pw})
		bs.block.Store(true)
		n := impl.DefaultSigninLimits.PerAccount + 2
		var wg sync.WaitGroup
		for range n {
			ctx, cancel := context.WithCancel(context.Background())
			wg.Go(func() {
				_, r, err := ts.do("POST", "/auth/signin", "application/json", body, func(r *http.Request) { *r = *r.WithContext(ctx) })
				if err == nil {
					t.Errorf("a sign-in was answered %d after its client went away", r.status)
				}
			})
			<-bs.entered
			cancel()
		}
		wg.Wait()
		waitForMetric(t, ts, `meapi_http_requests_total{method="POST",route="/auth/signin",status="499"} `+strconv.Itoa(n))
		bs.block.Store(false)
		if r := ts.signIn(t, "plain_email", "ada@example.com", pw); r.status != http.StatusOK {
			t.Errorf("after %d sign-ins whose clients hung up, the right password: %d %s", n, r.status, r.body)
		}
	})
}
