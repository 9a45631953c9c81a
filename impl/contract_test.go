package impl_test

import (
	"bytes"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// members lists the names of the object at ptr in a JSON text, in the
// order they come.
func members(t *testing.T, body []byte, ptr string) []string {
	t.Helper()
	v := jsontext.Value(body)
	for tok := range jsontext.Pointer(ptr).Tokens() {
		v = member(t, v, tok)
	}
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		t.Fatalf("%s is not an object: %s", ptr, v)
	}
	var names []string
	for dec.PeekKind() == '"' {
		name, _ := dec.ReadToken()
		names = append(names, name.String())
		if err := dec.SkipValue(); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// member returns the member named tok of an object, or the item at index
// tok of an array.
func member(t *testing.T, v jsontext.Value, tok string) jsontext.Value {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	open, err := dec.ReadToken()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; dec.PeekKind() != '}' && dec.PeekKind() != ']'; i++ {
		key := strconv.Itoa(i)
		if open.Kind() == '{' {
			name, _ := dec.ReadToken()
			key = name.String()
		}
		val, err := dec.ReadValue()
		if err != nil {
			t.Fatal(err)
		}
		if key == tok {
			return val
		}
	}
	t.Fatalf("no member %q in %s", tok, v)
	return nil
}

// The seed's members, in the seed's order: what a client written against
// the original documentation of PATCH /me reads.
var (
	seedEnvelope = []string{"status", "message", "data", "session", "errors"}
	seedUser     = []string{"id", "first_name", "last_name", "username", "email", "phone_number", "image_url",
		"two_factor_enabled", "email_verified", "phone_verified", "created_at", "updated_at"}
	seedSession = []string{"signin_attempts", "signins", "signup_attempts", "active_signin"}
	seedSignin  = []string{"id", "user_id", "created_at"}
)

// TestAnswersHaveTheSeedsShape: a PATCH /me answer (and every other answer
// about a user) has exactly the seed's members, in the seed's order, with
// each sign-in exactly {id, user_id, created_at}; and GET /me with one
// account stays small.
func TestAnswersHaveTheSeedsShape(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"first_name": "Ada", "username": "ada"})
	second := ts.call(t, "POST", "/auth/signup", "application/json",
		[]byte(`{"email":"grace@example.com","password":"correct horse battery staple"}`), withCookie(a.token))
	jar := second.token(t)

	patch := ts.patchMe(t, jar, map[string]any{"last_name": "Hopper", "image_url": "https://images.example.com/g.png"})
	if patch.status != http.StatusOK {
		t.Fatalf("PATCH /me: %d %s", patch.status, patch.body)
	}
	for _, r := range []struct {
		name string
		body []byte
	}{{"PATCH /me", patch.body}, {"sign-up", second.body}, {"GET /me", ts.call(t, "GET", "/me", "", nil, withCookie(jar)).body}} {
		for _, want := range []struct {
			ptr     string
			members []string
		}{
			{"", seedEnvelope}, {"/data", seedUser}, {"/session", seedSession},
			{"/session/signins/0", seedSignin}, {"/session/signins/1", seedSignin}, {"/session/active_signin", seedSignin},
		} {
			if got := members(t, r.body, want.ptr); !slices.Equal(got, want.members) {
				t.Errorf("%s: %q has %q, want %q", r.name, want.ptr, got, want.members)
			}
		}
	}
	if s := patch.env.Session; s.ActiveSignin == nil || s.ActiveSignin.UserID != patch.user(t).ID || s.Signins[0].UserID != a.user.ID {
		t.Errorf("the sign-ins name the wrong users: %s", patch.body)
	}

	// The users of every sign-in are in GET /session, for a switcher.
	r := ts.call(t, "GET", "/session", "", nil, withCookie(jar))
	for _, ptr := range []string{"/data/user", "/data/users/0", "/data/users/1"} {
		if got := members(t, r.body, ptr); !slices.Equal(got, seedUser) {
			t.Errorf("GET /session: %q has %q, want %q", ptr, got, seedUser)
		}
	}
	if got := members(t, r.body, "/data"); !slices.Equal(got, []string{"user", "users"}) {
		t.Errorf("GET /session: data has %q", got)
	}

	// One account with a typical profile: the seed's shape needs no more
	// than this (long names, a long image URL and email make it up to about
	// 3.7 KB; the bound is on the shape, not on what a user may write).
	me := ts.call(t, "GET", "/me", "", nil, withCookie(ts.signUp(t, map[string]any{"first_name": "Augusta Ada", "last_name": "King", "username": "countess"}).token))
	if n := len(me.body); n > 800 {
		t.Errorf("GET /me with one account and this profile is %d bytes, want at most 800:\n%s", n, me.body)
	}
}

// TestSignOutRenewalIsValid: signing out one of two sign-ins of a session
// last used longer ago than the renewal interval renews the cookie of the
// sign-in left, on the sign-out's own answer; that answer, Set-Cookie
// included, is what openapi.yaml allows (the test's validator checks every
// value of every header).
func TestSignOutRenewalIsValid(t *testing.T) {
	clk := newClock()
	ts := newTestServer(t, withClock(clk))
	a := ts.signUp(t, nil)
	jar := ts.call(t, "POST", "/auth/signup", "application/json",
		[]byte(`{"email":"second@example.com","password":"correct horse battery staple"}`), withCookie(a.token)).token(t)
	clk.advance(2 * time.Hour)
	r := ts.call(t, "POST", "/session/sign-out", "", nil, withCookie(jar))
	c := r.cookie()
	if r.status != http.StatusOK || c == nil || c.Value != jar || c.MaxAge <= 0 {
		t.Fatalf("sign out one of two, used 2 hours ago: %d, Set-Cookie %q; want 200 renewing the cookie", r.status, r.header.Values("Set-Cookie"))
	}
	if r.env.Session.ActiveSignin == nil || r.env.Session.ActiveSignin.UserID != a.user.ID {
		t.Errorf("the first account should be active now: %s", r.body)
	}
}

// TestSeveralSessionCookies: a request may carry several __session cookies
// (a sibling subdomain can set one); each is tried, and the first live one
// is the session. A junk or dead one before it signs nobody out, and the
// cookie is not cleared while one of them is live or left untried.
func TestSeveralSessionCookies(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ts := newTestServerOn(t, engine)
		a := ts.signUp(t, nil)
		b := ts.signUp(t, nil)
		dead := ts.signUp(t, nil)
		ts.call(t, "POST", "/session/sign-out", "", nil, withCookie(dead.token))
		junk := strings.Repeat("J", 43)
		for _, tt := range []struct {
			name    string
			cookies []string
			want    string // the user signed in, "" for none
			kept    bool   // when none: the cookie is not cleared either
		}{
			{"junk first", []string{junk, a.token}, a.user.ID, false},
			{"malformed first", []string{"not a token", a.token}, a.user.ID, false},
			{"ended first", []string{dead.token, a.token}, a.user.ID, false},
			{"two live ones: the first", []string{b.token, a.token}, b.user.ID, false},
			{"all dead", []string{junk, dead.token}, "", false},
			// More cookies than are looked up: the ones left untried may hold
			// the live session, which a cleared cookie would end.
			{"more junk than is looked up", []string{junk[1:] + "1", junk[1:] + "2", junk[1:] + "3", junk[1:] + "4", a.token}, "", true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				var opts []reqOption
				for _, c := range tt.cookies {
					opts = append(opts, withCookie(c))
				}
				r := ts.call(t, "GET", "/me", "", nil, opts...)
				if tt.want == "" {
					r.wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
					if tt.kept {
						if c := r.cookie(); c != nil {
							t.Errorf("cookies left untried, yet Set-Cookie %q", r.header.Values("Set-Cookie"))
						}
						return
					}
					if c := r.cookie(); c == nil || c.MaxAge >= 0 {
						t.Errorf("no live cookie: want the cookie cleared, got %q", r.header.Values("Set-Cookie"))
					}
					return
				}
				if r.status != http.StatusOK || r.user(t).ID != tt.want {
					t.Fatalf("got %d %s, want user %s", r.status, r.body, tt.want)
				}
				if c := r.cookie(); c != nil {
					t.Errorf("a live cookie came with the request, yet Set-Cookie %q", r.header.Values("Set-Cookie"))
				}
				// A write finds the same session.
				ct, body := jsonBody(map[string]any{"first_name": "Same"})
				if p := ts.call(t, "PATCH", "/me", ct, body, opts...); p.status != http.StatusOK || p.user(t).ID != tt.want {
					t.Errorf("PATCH with the same cookies: %d %s", p.status, p.body)
				}
			})
		}
	})
}

// TestIdleTimeoutSlides: with an idle timeout shorter than an hour, a
// session used more often than the timeout never ends; one left unused for
// longer does.
func TestIdleTimeoutSlides(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		clk := newClock()
		ts := newTestServerOn(t, engine, withClock(clk), func(c *testSetup) { c.SessionIdleTimeout = 3 * time.Second })
		used := ts.signUp(t, nil)
		left := ts.signUp(t, nil)
		for i := range 40 { // 20 seconds of use every half second
			clk.advance(500 * time.Millisecond)
			if r := ts.call(t, "GET", "/me", "", nil, withCookie(used.token)); r.status != http.StatusOK {
				t.Fatalf("after %v of use every 0.5 s with a 3 s idle timeout: %d, want 200", time.Duration(i+1)*500*time.Millisecond, r.status)
			}
		}
		ts.call(t, "GET", "/me", "", nil, withCookie(left.token)).wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
		clk.advance(3 * time.Second)
		ts.call(t, "GET", "/me", "", nil, withCookie(used.token)).wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
	})
}

// TestTimestampsAreToTheMillisecond: every timestamp, in the user
// envelope and in an error envelope alike, has exactly three digits of
// fraction, on a whole second and on a time whose last digit is 0.
func TestTimestampsAreToTheMillisecond(t *testing.T) {
	form := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	for _, at := range []time.Duration{0, 610 * time.Millisecond} {
		clk := newClock()
		clk.t = clk.t.Truncate(time.Second).Add(at)
		ts := newTestServer(t, withClock(clk))
		a := ts.signUp(t, nil)
		ct, bad := jsonBody(map[string]any{"first_name": 7})
		for _, r := range []*response{
			ts.call(t, "GET", "/me", "", nil, withCookie(a.token)),
			ts.call(t, "PATCH", "/me", ct, bad, withCookie(a.token)),
			ts.call(t, "GET", "/session", "", nil, withCookie(a.token)),
		} {
			stamps := regexp.MustCompile(`"(created_at|updated_at)":"([^"]*)"`).FindAllStringSubmatch(string(r.body), -1)
			if len(stamps) == 0 {
				t.Fatalf("no timestamps in %s", r.body)
			}
			for _, m := range stamps {
				if !form.MatchString(m[2]) {
					t.Errorf("%s %q, want three digits of fraction: %s", m[1], m[2], r.body)
				}
			}
		}
	}
}
