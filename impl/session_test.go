package impl_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"meapi/impl"
)

const pw = "correct horse battery staple"

func TestSignInStrategies(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"email": "Ada@Example.com", "username": "Ada.L"})
	tests := []struct{ strategy, identifier string }{
		{"plain_email", "Ada@Example.com"},
		{"plain_email", "ada@example.COM"},
		{"plain_username", "Ada.L"},
		{"plain_username", "ada.l"},
	}
	for _, tt := range tests {
		t.Run(tt.strategy+" "+tt.identifier, func(t *testing.T) {
			r := ts.signIn(t, tt.strategy, tt.identifier, pw)
			if r.status != http.StatusOK {
				t.Fatalf("got %d, want 200\n%s", r.status, r.body)
			}
			if u := r.user(t); u.ID != a.user.ID {
				t.Errorf("signed in as %s, want %s", u.ID, a.user.ID)
			}
			c := r.cookie()
			if c == nil || c.Value == a.token || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 {
				t.Errorf("cookie: %q; want a new token, HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age", r.header.Get("Set-Cookie"))
			}
			s := r.env.Session
			if len(s.Signins) != 1 || s.ActiveSignin == nil || s.ActiveSignin.UserID != a.user.ID {
				t.Errorf("session: %s", r.body)
			}
			if len(s.SigninAttempts) != 0 || len(s.SignupAttempts) != 0 {
				t.Errorf("one-step strategies leave no attempts: %s", r.body)
			}
			if me, _ := ts.me(t, c.Value); me.ID != a.user.ID {
				t.Errorf("the new cookie signs in as %s", me.ID)
			}
		})
	}
}

func TestSignInRefusesBodiesThatDoNotFit(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp(t, map[string]any{"email": "ada@example.com", "username": "ada"})
	sessions := ts.count(t, "browser_sessions")
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"unknown strategy", `{"strategy":"magic_link","email":"ada@example.com","password":"x"}`, []string{"VALIDATION_ERROR", "/strategy"}},
		{"no strategy", `{"email":"ada@example.com","password":"x"}`, []string{"VALIDATION_ERROR", "/strategy"}},
		{"strategy not a string", `{"strategy":1,"email":"ada@example.com","password":"x"}`, []string{"VALIDATION_ERROR", "/strategy"}},
		{"email strategy with a username", `{"strategy":"plain_email","username":"ada","password":"x"}`, []string{"VALIDATION_ERROR", "/email", "UNKNOWN_FIELD", "/username"}},
		{"username strategy with an email", `{"strategy":"plain_username","email":"ada@example.com","password":"x"}`, []string{"UNKNOWN_FIELD", "/email", "VALIDATION_ERROR", "/username"}},
		{"no password", `{"strategy":"plain_email","email":"ada@example.com"}`, []string{"VALIDATION_ERROR", "/password"}},
		{"empty password", `{"strategy":"plain_username","username":"ada","password":""}`, []string{"VALIDATION_ERROR", "/password"}},
		{"email not an address", `{"strategy":"plain_email","email":"ada","password":"x"}`, []string{"VALIDATION_ERROR", "/email"}},
		{"extra member", `{"strategy":"plain_email","email":"ada@example.com","password":"x","remember":true}`, []string{"UNKNOWN_FIELD", "/remember"}},
		{"not an object", `["plain_email"]`, []string{"VALIDATION_ERROR", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.call(t, "POST", "/auth/signin", "application/json", []byte(tt.body))
			r.wantError(t, http.StatusBadRequest, tt.want...)
			if ts.count(t, "attempts WHERE subject NOT LIKE 'signup-%'") != 0 || ts.count(t, "browser_sessions") != sessions {
				t.Errorf("a refused body wrote something")
			}
		})
	}
}

// TestSignInFailuresAreIndistinguishable: a wrong password, an unknown
// email and an unknown username get the very same response.
func TestSignInFailuresAreIndistinguishable(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp(t, map[string]any{"email": "ada@example.com", "username": "ada"})
	var first *response
	for _, tt := range []struct{ strategy, identifier, password string }{
		{"plain_email", "ada@example.com", "wrong password"},
		{"plain_email", "nobody@example.com", pw},
		{"plain_username", "ada", "wrong password"},
		{"plain_username", "nobody", pw},
	} {
		r := ts.signIn(t, tt.strategy, tt.identifier, tt.password)
		r.wantError(t, http.StatusUnauthorized, "INVALID_CREDENTIALS", "")
		if r.cookie() != nil {
			t.Errorf("%s %s: a failed sign-in set a cookie", tt.strategy, tt.identifier)
		}
		if first == nil {
			first = r
		} else if !bytes.Equal(r.body, first.body) {
			t.Errorf("%s %s answers differently:\n%s\nvs\n%s", tt.strategy, tt.identifier, r.body, first.body)
		}
	}
}

// TestSeveralAccountsInOneBrowser keeps one cookie jar: three accounts end
// up signed in, each new sign-in active and each with a new token.
func TestSeveralAccountsInOneBrowser(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"email": "a@example.com"})
	c := ts.signUp(t, map[string]any{"email": "c@example.com"})

	// The jar holds a's cookie; b signs up in the same browser.
	ct, body := jsonBody(map[string]any{"email": "b@example.com", "password": pw})
	r := ts.call(t, "POST", "/auth/signup", ct, body, withCookie(a.token))
	jar := r.token(t)
	b := r.user(t)

	// c signs in in the same browser.
	r = ts.signIn(t, "plain_email", "c@example.com", pw, withCookie(jar))
	if r.status != http.StatusOK {
		t.Fatalf("sign in c: %d\n%s", r.status, r.body)
	}
	old, jar := jar, r.token(t)
	if old == jar {
		t.Errorf("the token was not replaced at sign-in")
	}
	if ts.call(t, "GET", "/me", "", nil, withCookie(old)).status != http.StatusUnauthorized {
		t.Errorf("the token from before the sign-in still works")
	}
	s := r.env.Session
	if got := signinUsers(s); got != a.user.ID+" "+b.ID+" "+c.user.ID || s.ActiveSignin.UserID != c.user.ID {
		t.Fatalf("sign-ins %s, active %s; want a b c, c active", got, s.ActiveSignin.UserID)
	}

	// Signing in as a again re-activates a's sign-in instead of adding one.
	r = ts.signIn(t, "plain_email", "a@example.com", pw, withCookie(jar))
	jar = r.token(t)
	s = r.env.Session
	if got := signinUsers(s); got != a.user.ID+" "+b.ID+" "+c.user.ID || s.ActiveSignin.UserID != a.user.ID {
		t.Errorf("after signing in as a again: %s, active %s; want the same three, a active", got, s.ActiveSignin.UserID)
	}
	if me, _ := ts.me(t, jar); me.ID != a.user.ID {
		t.Errorf("GET /me: %s, want a", me.ID)
	}
}

func signinUsers(s clientSession) string {
	var ids []string
	for _, si := range s.Signins {
		ids = append(ids, si.UserID)
	}
	return strings.Join(ids, " ")
}

func TestMaxAccountsPerBrowser(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) { c.MaxSigninsPerSession = 2 })
	ts.signUp(t, map[string]any{"email": "c@example.com"})
	a := ts.signUp(t, map[string]any{"email": "a@example.com"})
	r := ts.call(t, "POST", "/auth/signup", "application/json", []byte(`{"email":"b@example.com","password":"`+pw+`"}`), withCookie(a.token))
	jar := r.token(t)
	users := ts.count(t, "users")

	r = ts.signIn(t, "plain_email", "c@example.com", pw, withCookie(jar))
	r.wantError(t, http.StatusBadRequest, "TOO_MANY_SIGNINS", "")
	ct, b := jsonBody(map[string]any{"email": "d@example.com", "password": pw})
	ts.call(t, "POST", "/auth/signup", ct, b, withCookie(jar)).wantError(t, http.StatusBadRequest, "TOO_MANY_SIGNINS", "")
	if ts.count(t, "users") != users {
		t.Errorf("the refused sign-up created its user")
	}
	// Nothing changed: the same token, the same two accounts.
	r = ts.call(t, "GET", "/session", "", nil, withCookie(jar))
	if r.status != http.StatusOK || len(r.env.Session.Signins) != 2 {
		t.Errorf("after the refusals: %d\n%s", r.status, r.body)
	}
	// An account already signed in is not one more.
	if r := ts.signIn(t, "plain_email", "a@example.com", pw, withCookie(jar)); r.status != http.StatusOK {
		t.Errorf("re-signing in at the limit: %d\n%s", r.status, r.body)
	}
}

func TestSwitchSignin(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	r := ts.call(t, "POST", "/auth/signup", "application/json", []byte(`{"email":"second@example.com","password":"`+pw+`"}`), withCookie(a.token))
	jar, b := r.token(t), r.user(t)
	signinOf := map[string]string{}
	for _, si := range r.env.Session.Signins {
		signinOf[si.UserID] = si.ID
	}
	other := ts.signUp(t, nil) // another browser

	ct, body := jsonBody(map[string]any{"signin_id": signinOf[a.user.ID]})
	r = ts.call(t, "POST", "/session/switch-sign-in", ct, body, withCookie(jar))
	if r.status != http.StatusOK || r.user(t).ID != a.user.ID || r.env.Session.ActiveSignin.UserID != a.user.ID {
		t.Fatalf("switch to a: %d\n%s", r.status, r.body)
	}
	if me, _ := ts.me(t, jar); me.ID != a.user.ID {
		t.Errorf("GET /me after the switch: %s, want a", me.ID)
	}

	otherSignin := ts.call(t, "GET", "/session", "", nil, withCookie(other.token)).env.Session.Signins[0].ID
	for name, id := range map[string]string{"another browser's sign-in": otherSignin, "no such sign-in": "signin_aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		ct, body := jsonBody(map[string]any{"signin_id": id})
		r := ts.call(t, "POST", "/session/switch-sign-in", ct, body, withCookie(jar))
		r.wantError(t, http.StatusBadRequest, "INVALID_SIGNIN", "/signin_id")
		if me, _ := ts.me(t, jar); me.ID != a.user.ID {
			t.Errorf("%s: the active account changed to %s", name, me.ID)
		}
	}
	ct, body = jsonBody(map[string]any{"signin_id": signinOf[b.ID]})
	ts.call(t, "POST", "/session/switch-sign-in", ct, body).wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
}

func TestSignOut(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"email": "a@example.com"})
	jar := a.token
	for _, email := range []string{"b@example.com", "c@example.com"} {
		ct, body := jsonBody(map[string]any{"email": email, "password": pw})
		jar = ts.call(t, "POST", "/auth/signup", ct, body, withCookie(jar)).token(t)
	}
	// Make a active, then c: c is active, a the most recently active before it.
	r := ts.call(t, "GET", "/session", "", nil, withCookie(jar))
	ids, emails := map[string]string{}, map[string]string{}
	users := r.sessionData(t).Users
	for i, si := range r.env.Session.Signins {
		ids[users[i].Email] = si.ID
		emails[si.UserID] = users[i].Email
	}
	for _, email := range []string{"a@example.com", "c@example.com"} {
		ct, body := jsonBody(map[string]any{"signin_id": ids[email]})
		ts.call(t, "POST", "/session/switch-sign-in", ct, body, withCookie(jar))
	}

	// Signing out (no body) ends c; a takes over.
	r = ts.call(t, "POST", "/session/sign-out", "", nil, withCookie(jar))
	if r.status != http.StatusOK || r.cookie() != nil {
		t.Fatalf("sign out c: %d, Set-Cookie %q\n%s", r.status, r.header.Get("Set-Cookie"), r.body)
	}
	if s := r.env.Session; len(s.Signins) != 2 || emails[s.ActiveSignin.UserID] != "a@example.com" || !strings.Contains(string(r.env.Data), `"a@example.com"`) {
		t.Fatalf("after signing out c: want a and b, a active\n%s", r.body)
	}
	// An empty object means the same.
	r = ts.call(t, "POST", "/session/sign-out", "application/json", []byte(`{}`), withCookie(jar))
	if s := r.env.Session; r.status != http.StatusOK || len(s.Signins) != 1 || emails[s.ActiveSignin.UserID] != "b@example.com" {
		t.Fatalf("after signing out a: %d\n%s", r.status, r.body)
	}
	// The last one: the session ends and the cookie is cleared.
	r = ts.call(t, "POST", "/session/sign-out", "application/json", []byte(`{"all":false}`), withCookie(jar))
	c := r.cookie()
	if r.status != http.StatusOK || c == nil || c.Value != "" || c.MaxAge >= 0 || string(r.env.Data) != `{"user":null,"users":[]}` {
		t.Fatalf("sign out the last: %d, Set-Cookie %q\n%s", r.status, r.header.Get("Set-Cookie"), r.body)
	}
	r = ts.call(t, "GET", "/me", "", nil, withCookie(jar))
	r.wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
	if c := r.cookie(); c == nil || c.MaxAge >= 0 {
		t.Errorf("a request with an ended token should clear the cookie: %q", r.header.Get("Set-Cookie"))
	}
	if n := ts.count(t, "browser_sessions"); n != 0 {
		t.Errorf("%d browser sessions left, want 0: the last sign-out deletes it", n)
	}
}

func TestSignOutAll(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	ct, body := jsonBody(map[string]any{"email": "all@example.com", "password": pw})
	jar := ts.call(t, "POST", "/auth/signup", ct, body, withCookie(a.token)).token(t)

	r := ts.call(t, "POST", "/session/sign-out", "application/json", []byte(`{"all":true}`), withCookie(jar))
	if c := r.cookie(); r.status != http.StatusOK || c == nil || c.MaxAge >= 0 || len(r.env.Session.Signins) != 0 || r.env.Session.ActiveSignin != nil {
		t.Fatalf("sign out all: %d, Set-Cookie %q\n%s", r.status, r.header.Get("Set-Cookie"), r.body)
	}
	for _, path := range []string{"/me", "/session"} {
		r := ts.call(t, "GET", path, "", nil, withCookie(jar))
		if len(r.env.Session.Signins) != 0 {
			t.Errorf("GET %s with the old token still sees a session", path)
		}
	}
	ts.call(t, "POST", "/session/sign-out", "", nil, withCookie(jar)).wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
	if n := ts.count(t, "signins"); n != 0 {
		t.Errorf("%d sign-ins left", n)
	}
}

// TestSessionLifetimes moves a clock: the idle timeout ends an unused
// session, use extends it (renewing the cookie at most once an hour), and
// a sign-in ends at its absolute lifetime however active.
func TestSessionLifetimes(t *testing.T) {
	day := 24 * time.Hour
	clk := newClock()
	ts := newTestServer(t, withClock(clk))

	idle := ts.signUp(t, map[string]any{"email": "idle@example.com"})
	active := ts.signUp(t, map[string]any{"email": "active@example.com"})

	clk.advance(3 * day)
	r := ts.call(t, "GET", "/me", "", nil, withCookie(active.token))
	c := r.cookie()
	if r.status != http.StatusOK || c == nil || c.Value != active.token || c.MaxAge != int((7*day)/time.Second) {
		t.Fatalf("first use after 3 days: %d, Set-Cookie %q; want the same token with a renewed Max-Age of 7 days", r.status, r.header.Get("Set-Cookie"))
	}
	clk.advance(59 * time.Minute)
	if r := ts.call(t, "GET", "/me", "", nil, withCookie(active.token)); r.cookie() != nil {
		t.Errorf("the cookie was renewed again within the hour: %q", r.header.Get("Set-Cookie"))
	}

	clk.advance(4*day + time.Minute) // idle: 7 days and a minute unused
	ts.call(t, "GET", "/me", "", nil, withCookie(idle.token)).wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
	if _, tag := ts.me(t, active.token); tag == "" {
		t.Fatal("the active session ended")
	}

	// Keep using it every 6 days: it lives until 30 days after sign-up.
	for clk.Now().Sub(active.user.CreatedAt) < 29*day {
		clk.advance(min(6*day, 30*day-clk.Now().Sub(active.user.CreatedAt)-time.Hour))
		if r := ts.call(t, "GET", "/me", "", nil, withCookie(active.token)); r.status != http.StatusOK {
			t.Fatalf("at %v: got %d, want 200", clk.Now().Sub(active.user.CreatedAt), r.status)
		}
	}
	clk.advance(time.Hour)
	ts.call(t, "GET", "/me", "", nil, withCookie(active.token)).wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")

	// Signing in again starts a new lifetime.
	r = ts.signIn(t, "plain_email", "active@example.com", pw, withCookie(active.token))
	if r.status != http.StatusOK {
		t.Fatalf("sign in after the lifetime: %d", r.status)
	}
	if c := r.cookie(); c.MaxAge != int((7*day)/time.Second) {
		t.Errorf("Max-Age %d, want 7 days", c.MaxAge)
	}
}

func TestSigninRateLimits(t *testing.T) { forEachEngine(t, testSigninRateLimits) }

func testSigninRateLimits(t *testing.T, engine string) {
	clk := newClock()
	ts := newTestServerOn(t, engine, withClock(clk), func(c *testSetup) {
		c.SigninLimits = impl.SigninLimits{Window: 15 * time.Minute, PerAccount: 3, PerAddress: 5}
		c.ClientAddressHeader = "X-Forwarded-For"
	})
	ts.signUp(t, map[string]any{"email": "ada@example.com", "username": "ada"})
	ts.signUp(t, map[string]any{"email": "bob@example.com"})
	from := func(addr string) reqOption { return withHeader("X-Forwarded-For", "198.51.100.1, "+addr) }

	for range 3 {
		ts.signIn(t, "plain_email", "ada@example.com", "wrong", from("203.0.113.1")).wantError(t, http.StatusUnauthorized, "INVALID_CREDENTIALS", "")
		clk.advance(time.Minute)
	}
	// Limited: even the right password, by email or by username, from anywhere.
	for _, r := range []*response{
		ts.signIn(t, "plain_email", "ada@example.com", pw, from("203.0.113.1")),
		ts.signIn(t, "plain_username", "ADA", pw, from("203.0.113.99")),
	} {
		r.wantError(t, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "")
		// The oldest of the three failures (3 minutes ago) ages out in 12 minutes.
		if got := r.header.Get("Retry-After"); got != strconv.Itoa(12*60) {
			t.Errorf("Retry-After %q, want %d", got, 12*60)
		}
	}
	// Other accounts are unaffected, from the same address too.
	if r := ts.signIn(t, "plain_email", "bob@example.com", pw, from("203.0.113.1")); r.status != http.StatusOK {
		t.Errorf("bob from the same address: %d, want 200", r.status)
	}
	// Refused sign-ins are not failures: once the window has passed, ada is free.
	clk.advance(12 * time.Minute)
	if r := ts.signIn(t, "plain_email", "ada@example.com", pw, from("203.0.113.1")); r.status != http.StatusOK {
		t.Errorf("ada after the window: %d, want 200\n%s", r.status, r.body)
	}

	// The address limit: 5 failures from one address, on any names.
	for i := range 5 {
		ts.signIn(t, "plain_username", "nobody"+strconv.Itoa(i), "wrong", from("192.0.2.7")).wantError(t, http.StatusUnauthorized, "INVALID_CREDENTIALS", "")
	}
	ts.signIn(t, "plain_email", "bob@example.com", pw, from("192.0.2.7")).wantError(t, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "")
	if r := ts.signIn(t, "plain_email", "bob@example.com", pw, from("192.0.2.8")); r.status != http.StatusOK {
		t.Errorf("bob from another address: %d, want 200", r.status)
	}
}

// TestSigninLimitHoldsUnderConcurrency sends many wrong passwords for one
// account at once: the limit lets exactly its count through, however they
// race.
func TestSigninLimitHoldsUnderConcurrency(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ts := newTestServerOn(t, engine, func(c *testSetup) {
			c.SigninLimits = impl.SigninLimits{Window: time.Hour, PerAccount: 5, PerAddress: 1000}
		})
		ts.signUp(t, map[string]any{"email": "ada@example.com"})
		const n = 40
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ct, b := jsonBody(map[string]any{"strategy": "plain_email", "email": "ada@example.com", "password": "wrong"})
				r, err := ts.try("POST", "/auth/signin", ct, b)
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = r.status
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[http.StatusUnauthorized] != 5 || count[http.StatusTooManyRequests] != n-5 {
			t.Errorf("statuses %v: want exactly 5 × 401 and %d × 429", count, n-5)
		}
	})
}

// TestSignupRateLimit: sign-ups from one address are limited in a sliding
// window, whatever their outcome; other addresses are not.
func TestSignupRateLimit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		clk := newClock()
		ts := newTestServerOn(t, engine, withClock(clk), func(c *testSetup) {
			c.SignupLimits = impl.SignupLimits{Window: 10 * time.Minute, PerAddress: 3}
			c.ClientAddressHeader = "X-Forwarded-For"
		})
		from := func(addr string) reqOption { return withHeader("X-Forwarded-For", addr) }
		ts.signUp(t, map[string]any{"email": "a@example.com"}, from("203.0.113.1"))
		clk.advance(time.Minute)
		ts.signUp(t, map[string]any{"email": "b@example.com"}, from("203.0.113.1"))
		// A refused one counts too (a taken email).
		ct, b := jsonBody(map[string]any{"email": "a@example.com", "password": pw})
		ts.call(t, "POST", "/auth/signup", ct, b, from("203.0.113.1")).wantError(t, http.StatusConflict, "EMAIL_TAKEN", "/email")
		ct, b = jsonBody(map[string]any{"email": "c@example.com", "password": pw})
		r := ts.call(t, "POST", "/auth/signup", ct, b, from("203.0.113.1"))
		r.wantError(t, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "")
		// The first was a minute before the second: free in 9 minutes.
		if got := r.header.Get("Retry-After"); got != strconv.Itoa(9*60) {
			t.Errorf("Retry-After %q, want %d", got, 9*60)
		}
		if n := ts.count(t, "users WHERE email = 'c@example.com'"); n != 0 {
			t.Errorf("a limited sign-up wrote its user")
		}
		ts.signUp(t, map[string]any{"email": "d@example.com"}, from("203.0.113.2"))
		clk.advance(9 * time.Minute)
		ts.signUp(t, map[string]any{"email": "c@example.com"}, from("203.0.113.1"))
	})
}

// TestClientAddressComesFromTheConnection: without a configured header, a
// client cannot dodge the address limit by claiming another address.
func TestClientAddressComesFromTheConnection(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) {
		c.SigninLimits = impl.SigninLimits{PerAccount: 100, PerAddress: 2}
	})
	for i := range 2 {
		ts.signIn(t, "plain_username", "nobody", "wrong", withHeader("X-Forwarded-For", "10.0.0."+strconv.Itoa(i))).
			wantError(t, http.StatusUnauthorized, "INVALID_CREDENTIALS", "")
	}
	ts.signIn(t, "plain_username", "nobody", "wrong", withHeader("X-Forwarded-For", "10.0.0.9")).
		wantError(t, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "")
}

// TestClientAddressHeaderEntries: the proxy's entry in the configured
// header counts with a port (Azure Application Gateway sends
// 203.0.113.7:4431) and as a bracketed IPv6 address, with a port or
// without, so that five clients behind the proxy are five addresses, not
// the proxy's one. A request whose header is missing or unreadable still
// counts by the connection's address, and is counted in
// meapi_client_address_fallbacks_total (there at 0 from the start).
func TestClientAddressHeaderEntries(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) {
		c.SignupLimits = impl.SignupLimits{Window: 10 * time.Minute, PerAddress: 3}
		c.ClientAddressHeader = "X-Forwarded-For"
	})
	const fallbacks = "meapi_client_address_fallbacks_total"
	if m := ts.call(t, "GET", "/metrics", "", nil); !strings.Contains(string(m.body), "\n"+fallbacks+" 0\n") {
		t.Errorf("/metrics lacks %s at 0 before any fallback", fallbacks)
	}
	for _, format := range []string{"203.0.113.%d:4431", "[2001:db8:%d::1]:443", "[2001:db8:1%d::1]", "2001:db8:2%d::1", "198.51.100.%d"} {
		for n := 1; n <= 5; n++ {
			entry := fmt.Sprintf(format, n)
			ts.signUp(t, nil, withHeader("X-Forwarded-For", "192.0.2.200, "+entry))
		}
	}
	if m := ts.call(t, "GET", "/metrics", "", nil); !strings.Contains(string(m.body), "\n"+fallbacks+" 0\n") {
		t.Errorf("%s moved for addresses that were read", fallbacks)
	}
	// Unreadable or missing: the connection's address (127.0.0.1), counted.
	ts.signUp(t, nil, withHeader("X-Forwarded-For", "unknown"))
	ts.signUp(t, nil, withHeader("X-Forwarded-For", "203.0.113.1:99999"))
	ts.signUp(t, nil)
	ct, b := jsonBody(map[string]any{"email": "fourth@example.com", "password": pw})
	ts.call(t, "POST", "/auth/signup", ct, b, withHeader("X-Forwarded-For", "[2001:db8::1")).
		wantError(t, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "")
	if m := ts.call(t, "GET", "/metrics", "", nil); !strings.Contains(string(m.body), "\n"+fallbacks+" 4\n") {
		t.Errorf("/metrics: want %s 4 after four requests without a readable address", fallbacks)
	}
}

// TestClientAddressHeaderMustBeAHeaderName: a name no header can have is
// refused when the handler is built, not never matched.
func TestClientAddressHeaderMustBeAHeaderName(t *testing.T) {
	for _, h := range []string{"X Forwarded", "X-Forwarded-For:", "X-Forwarded-For\n", "Forwardé"} {
		_, err := impl.NewHandler(impl.Config{Store: &failingStore{}, ClientAddressHeader: h})
		if err == nil || !strings.Contains(err.Error(), "X-Forwarded-For") || strings.Contains(err.Error(), "\n") {
			t.Errorf("client address header %q: %v; want one line refusing it, with the form wanted", h, err)
		}
	}
}

func TestDeadCookieIsCleared(t *testing.T) {
	ts := newTestServer(t)
	for _, token := range []string{strings.Repeat("Z", 43), "garbage"} {
		r := ts.call(t, "GET", "/session", "", nil, withCookie(token))
		if c := r.cookie(); c == nil || c.MaxAge >= 0 || !c.HttpOnly || !c.Secure {
			t.Errorf("token %q: Set-Cookie %q, want the cookie cleared", token, r.header.Get("Set-Cookie"))
		}
	}
	if r := ts.call(t, "GET", "/session", "", nil); r.cookie() != nil {
		t.Errorf("a request without a cookie got Set-Cookie %q", r.header.Get("Set-Cookie"))
	}
}

// TestDefaultLimits pins the defaults docs/DECISIONS.md argues for: 5
// accounts per browser, 10 failed sign-ins per account in 15 minutes.
func TestDefaultLimits(t *testing.T) {
	clk := newClock()
	ts := newTestServer(t, withClock(clk))
	jar := ""
	for i := range 5 {
		ct, b := jsonBody(map[string]any{"email": "acct" + strconv.Itoa(i) + "@example.com", "password": pw})
		var opts []reqOption
		if jar != "" {
			opts = append(opts, withCookie(jar))
		}
		jar = ts.call(t, "POST", "/auth/signup", ct, b, opts...).token(t)
	}
	ct, b := jsonBody(map[string]any{"email": "sixth@example.com", "password": pw})
	ts.call(t, "POST", "/auth/signup", ct, b, withCookie(jar)).wantError(t, http.StatusBadRequest, "TOO_MANY_SIGNINS", "")

	for i := range 10 {
		r := ts.signIn(t, "plain_email", "acct0@example.com", "wrong")
		r.wantError(t, http.StatusUnauthorized, "INVALID_CREDENTIALS", "")
		if i < 9 {
			clk.advance(time.Minute)
		}
	}
	r := ts.signIn(t, "plain_email", "acct0@example.com", pw)
	r.wantError(t, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "")
	// The first of the ten failed 9 minutes ago: free in 6 minutes.
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(6*60) {
		t.Errorf("Retry-After %q, want %d", got, 6*60)
	}
	clk.advance(6 * time.Minute)
	if r := ts.signIn(t, "plain_email", "acct0@example.com", pw); r.status != http.StatusOK {
		t.Errorf("after the window: %d, want 200", r.status)
	}
}
