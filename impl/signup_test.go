package impl_test

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"meapi/impl"
	"meapi/impl/password"
)

func TestSignUp(t *testing.T) {
	ts := newTestServer(t)
	ct, body := jsonBody(map[string]any{
		"email": "Ada@Example.com", "password": "correct horse battery staple",
		"first_name": "  Ada ", "last_name": "Lovelace", "username": "Ada_L",
	})
	before := time.Now().Add(-time.Second)
	r := ts.call(t, "POST", "/auth/signup", ct, body)
	if r.status != http.StatusCreated {
		t.Fatalf("got %d, want 201\n%s", r.status, r.body)
	}
	u := r.user(t)
	if u.Email != "Ada@Example.com" || str(u.FirstName) != "Ada" || str(u.LastName) != "Lovelace" || str(u.Username) != "Ada_L" {
		t.Errorf("user: %+v; want the email and username as typed and the name trimmed", u)
	}
	if !strings.HasPrefix(u.ID, "user_") || u.EmailVerified || u.PhoneVerified || u.TwoFactorEnabled || u.PhoneNumber != nil || u.ImageURL != nil {
		t.Errorf("new user: %+v", u)
	}
	if u.CreatedAt.Before(before) || !u.CreatedAt.Equal(u.UpdatedAt) {
		t.Errorf("created_at %v, updated_at %v", u.CreatedAt, u.UpdatedAt)
	}

	s := r.env.Session
	if len(s.Signins) != 1 || s.ActiveSignin == nil || s.ActiveSignin.ID != s.Signins[0].ID || s.ActiveSignin.UserID != u.ID {
		t.Fatalf("session after sign-up: want one active sign-in of the new user\n%s", r.body)
	}
	if !strings.HasPrefix(s.ActiveSignin.ID, "signin_") || len(s.SigninAttempts) != 0 || len(s.SignupAttempts) != 0 {
		t.Errorf("session: %+v", s)
	}

	c := r.cookie()
	if c == nil {
		t.Fatal("no __session cookie")
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie attributes: %s; want HttpOnly; Secure; SameSite=Lax; Path=/ and no Domain", r.header.Get("Set-Cookie"))
	}
	if want := int(impl.DefaultSessionIdleTimeout / time.Second); c.MaxAge < want-5 || c.MaxAge > want {
		t.Errorf("Max-Age %d, want about %d (the idle timeout)", c.MaxAge, want)
	}
	if len(c.Value) != 43 {
		t.Errorf("token %q: want 43 characters of base64url (256 bits)", c.Value)
	}
	if me, _ := ts.me(t, c.Value); me.ID != u.ID {
		t.Errorf("the cookie signs in as %s, want %s", me.ID, u.ID)
	}
}

// TestSignUpStoresOnlyTheTokenHash looks at the database file itself: the
// token is nowhere in it, its SHA-256 is, and so is an argon2id hash of the
// password rather than the password.
func TestSignUpStoresOnlyTheTokenHash(t *testing.T) {
	ts := newTestServerOn(t, "sqlite")
	const password = "a very particular password"
	a := ts.signUp(t, map[string]any{"password": password})

	var hash []byte
	var pwHash string
	db := ts.sqliteDB(t)
	if err := db.QueryRow(`SELECT token_hash FROM browser_sessions`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT password_hash FROM users WHERE id = ?`, a.user.ID).Scan(&pwHash); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(a.token)); !bytes.Equal(hash, sum[:]) {
		t.Errorf("token_hash is not the SHA-256 of the token")
	}
	if !strings.HasPrefix(pwHash, "$argon2id$v=19$") {
		t.Errorf("password_hash %q: want an argon2id PHC string", pwHash)
	}
	// Checkpoint the WAL so that everything is in the main file, then read
	// every file of the database.
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		raw, err := os.ReadFile(ts.dbPath + suffix)
		if err != nil && suffix == "" {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(a.token)) || bytes.Contains(raw, []byte(password)) {
			t.Errorf("the database file%s holds the token or the password in clear", suffix)
		}
	}
}

func TestSignUpHashesWithDefaultCost(t *testing.T) {
	ts := newTestServer(t, func(c *testSetup) { c.Password = password.Params{} })
	a := ts.signUp(t, nil)
	pwHash := ts.db.text(t, `SELECT password_hash FROM users WHERE id = '`+a.user.ID+`'`)
	if !strings.HasPrefix(pwHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("password_hash %q: want OWASP's argon2id parameters m=19456,t=2,p=1", pwHash)
	}
}

func TestSignUpRefusals(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp(t, map[string]any{"email": "taken@example.com", "username": "taken"})
	users := ts.count(t, "users")
	sessions := ts.count(t, "browser_sessions")

	long := strings.Repeat("x", 101)
	tests := []struct {
		name   string
		body   string
		status int
		want   []string
	}{
		{"email missing", `{"password":"correct horse"}`, 400, []string{"VALIDATION_ERROR", "/email"}},
		{"password missing", `{"email":"a@example.com"}`, 400, []string{"VALIDATION_ERROR", "/password"}},
		{"both missing", `{}`, 400, []string{"VALIDATION_ERROR", "/email", "VALIDATION_ERROR", "/password"}},
		{"email not an address", `{"email":"ada","password":"correct horse"}`, 400, []string{"VALIDATION_ERROR", "/email"}},
		{"email with a display name", `{"email":"Ada <ada@example.com>","password":"correct horse"}`, 400, []string{"VALIDATION_ERROR", "/email"}},
		{"email too long", `{"email":"` + strings.Repeat("a", 250) + `@example.com","password":"correct horse"}`, 400, []string{"VALIDATION_ERROR", "/email"}},
		{"password of 7 characters", `{"email":"a@example.com","password":"1234567"}`, 400, []string{"VALIDATION_ERROR", "/password"}},
		{"password of 129 characters", `{"email":"a@example.com","password":"` + strings.Repeat("p", 129) + `"}`, 400, []string{"VALIDATION_ERROR", "/password"}},
		{"password a number", `{"email":"a@example.com","password":12345678}`, 400, []string{"VALIDATION_ERROR", "/password"}},
		{"first_name too long", `{"email":"a@example.com","password":"correct horse","first_name":"` + long + `"}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"last_name blank", `{"email":"a@example.com","password":"correct horse","last_name":" "}`, 400, []string{"VALIDATION_ERROR", "/last_name"}},
		{"username reserved", `{"email":"a@example.com","password":"correct horse","username":"Root"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"username bad", `{"email":"a@example.com","password":"correct horse","username":"-ada"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"unknown member", `{"email":"a@example.com","password":"correct horse","role":"admin"}`, 400, []string{"UNKNOWN_FIELD", "/role"}},
		{"read-only member of the user", `{"email":"a@example.com","password":"correct horse","email_verified":true}`, 400, []string{"UNKNOWN_FIELD", "/email_verified"}},
		{"malformed JSON", `{"email":`, 400, []string{"INVALID_JSON", ""}},
		{"email taken", `{"email":"taken@example.com","password":"correct horse"}`, 409, []string{"EMAIL_TAKEN", "/email"}},
		{"email taken in another case", `{"email":"TAKEN@example.COM","password":"correct horse"}`, 409, []string{"EMAIL_TAKEN", "/email"}},
		{"username taken in another case", `{"email":"new@example.com","password":"correct horse","username":"Taken"}`, 409, []string{"USERNAME_TAKEN", "/username"}},
		{"both taken", `{"email":"taken@example.com","password":"correct horse","username":"TAKEN"}`, 409, []string{"EMAIL_TAKEN", "/email", "USERNAME_TAKEN", "/username"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.call(t, "POST", "/auth/signup", "application/json", []byte(tt.body))
			r.wantError(t, tt.status, tt.want...)
			if r.cookie() != nil {
				t.Errorf("a refused sign-up set a cookie")
			}
			if u, s := ts.count(t, "users"), ts.count(t, "browser_sessions"); u != users || s != sessions {
				t.Errorf("a refused sign-up wrote: users %d → %d, sessions %d → %d", users, u, sessions, s)
			}
		})
	}
}

// TestSignUpAddsToBrowserSession signs up a second account on a browser
// that is signed in already: both are signed in, the new one is active, and
// the token is replaced.
func TestSignUpAddsToBrowserSession(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	ct, body := jsonBody(map[string]any{"email": "second@example.com", "password": "correct horse battery"})
	r := ts.call(t, "POST", "/auth/signup", ct, body, withCookie(a.token))
	if r.status != http.StatusCreated {
		t.Fatalf("got %d, want 201\n%s", r.status, r.body)
	}
	b := r.user(t)
	s := r.env.Session
	if len(s.Signins) != 2 || s.Signins[0].UserID != a.user.ID || s.Signins[1].UserID != b.ID {
		t.Fatalf("want both accounts signed in, oldest first:\n%s", r.body)
	}
	if s.ActiveSignin == nil || s.ActiveSignin.UserID != b.ID {
		t.Errorf("the new account must be active:\n%s", r.body)
	}
	newToken := r.cookie().Value
	if newToken == a.token {
		t.Fatal("the token was not replaced")
	}
	if ts.call(t, "GET", "/me", "", nil, withCookie(a.token)).status != http.StatusUnauthorized {
		t.Errorf("the old token still works")
	}
	if me, _ := ts.me(t, newToken); me.ID != b.ID {
		t.Errorf("GET /me: %s, want the new account %s", me.ID, b.ID)
	}
	if n := ts.count(t, "browser_sessions"); n != 1 {
		t.Errorf("%d browser sessions, want 1", n)
	}
}

// TestSignUpNullMeansAbsent: an optional member sent as null is no value.
func TestSignUpNullMeansAbsent(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"first_name": nil, "last_name": nil, "username": nil})
	if a.user.FirstName != nil || a.user.LastName != nil || a.user.Username != nil {
		t.Errorf("user: %+v; want the null members unset", a.user)
	}
}

func TestSignUpWithUnknownTokenStartsNewSession(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil, withCookie(strings.Repeat("x", 43)))
	if me, _ := ts.me(t, a.token); me.ID != a.user.ID {
		t.Errorf("GET /me: %s, want %s", me.ID, a.user.ID)
	}
}
