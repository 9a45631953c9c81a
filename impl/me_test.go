package impl_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGetMe(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"first_name": "Ada", "username": "ada"})

	got, tag := ts.me(t, a.token)
	if diff := cmp.Diff(a.user, got); diff != "" {
		t.Errorf("GET /me differs from the sign-up's user (-signup +me):\n%s", diff)
	}
	if want := `"` + a.user.ID + `.1"`; tag != want {
		t.Errorf("ETag: got %s, want %s", tag, want)
	}
	if got.PhoneNumber != nil || got.LastName != nil || got.ImageURL != nil {
		t.Errorf("unset members must be null: %+v", got)
	}
	if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(got.UpdatedAt) {
		t.Errorf("timestamps: created_at %v, updated_at %v; want equal, in UTC", got.CreatedAt, got.UpdatedAt)
	}
}

func TestGetMeRefusesWithoutLiveSession(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	forged := strings.Repeat("A", 43)
	tests := []struct {
		name string
		opts []reqOption
	}{
		{"no cookie", nil},
		{"forged token", []reqOption{withCookie(forged)}},
		{"malformed token", []reqOption{withCookie("not-a-token")}},
		{"token with one character changed", []reqOption{withCookie(flip(a.token))}},
		{"token in another cookie", []reqOption{withHeader("Cookie", "session="+a.token)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.call(t, "GET", "/me", "", nil, tt.opts...)
			r.wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
			if r.env.Session.ActiveSignin != nil || len(r.env.Session.Signins) != 0 {
				t.Errorf("a refused caller must see an empty session: %s", r.body)
			}
		})
	}
}

// flip changes the last character of a token.
func flip(token string) string {
	last := token[len(token)-1]
	if last == 'A' {
		return token[:len(token)-1] + "B"
	}
	return token[:len(token)-1] + "A"
}

// TestUpdateMeRefusals is the table of every rule of PATCH /me: each
// refused body answers with its status, codes and fields, and leaves the
// user exactly as it was.
func TestUpdateMeRefusals(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"first_name": "Ada", "last_name": "Lovelace", "username": "ada"})
	ts.signUp(t, map[string]any{"username": "Taken.Name"})

	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		want        []string // code, field, code, field, ...
	}{
		// Members that are not writable.
		{"id", "", `{"id":"user_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`, 400, []string{"READ_ONLY_FIELD", "/id"}},
		{"email", "", `{"email":"other@example.com"}`, 400, []string{"READ_ONLY_FIELD", "/email"}},
		{"email_verified", "", `{"email_verified":true}`, 400, []string{"READ_ONLY_FIELD", "/email_verified"}},
		{"phone_verified", "", `{"phone_verified":true}`, 400, []string{"READ_ONLY_FIELD", "/phone_verified"}},
		{"two_factor_enabled", "", `{"two_factor_enabled":true}`, 400, []string{"READ_ONLY_FIELD", "/two_factor_enabled"}},
		{"created_at", "", `{"created_at":"2020-01-01T00:00:00Z"}`, 400, []string{"READ_ONLY_FIELD", "/created_at"}},
		{"updated_at", "", `{"updated_at":"2020-01-01T00:00:00Z"}`, 400, []string{"READ_ONLY_FIELD", "/updated_at"}},
		{"phone_number", "", `{"phone_number":"+15555550100"}`, 400, []string{"READ_ONLY_FIELD", "/phone_number"}},
		{"read-only member set to null", "", `{"email":null}`, 400, []string{"READ_ONLY_FIELD", "/email"}},
		{"unknown member", "", `{"nickname":"ada"}`, 400, []string{"UNKNOWN_FIELD", "/nickname"}},
		{"unknown member with a valid one", "", `{"first_name":"Augusta","password":"hunter22hunter22"}`, 400, []string{"UNKNOWN_FIELD", "/password"}},
		{"two unknown members, sorted", "", `{"zz":1,"aa":2}`, 400, []string{"UNKNOWN_FIELD", "/aa", "UNKNOWN_FIELD", "/zz"}},
		{"unknown member name needing escapes", "", `{"a/b~c":1}`, 400, []string{"UNKNOWN_FIELD", "/a~1b~0c"}},
		{"every kind at once", "", `{"email":"x@example.com","nick":1,"first_name":5}`, 400,
			[]string{"READ_ONLY_FIELD", "/email", "VALIDATION_ERROR", "/first_name", "UNKNOWN_FIELD", "/nick"}},
		{"empty object", "", `{}`, 400, []string{"VALIDATION_ERROR", ""}},
		{"array", "", `[]`, 400, []string{"VALIDATION_ERROR", ""}},
		{"string", "", `"ada"`, 400, []string{"VALIDATION_ERROR", ""}},
		{"null body", "", `null`, 400, []string{"VALIDATION_ERROR", ""}},

		// Names.
		{"first_name too long", "", `{"first_name":"` + long(101) + `"}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"last_name too long", "", `{"last_name":"` + long(101) + `"}`, 400, []string{"VALIDATION_ERROR", "/last_name"}},
		{"first_name of 100 characters and a space", "", `{"first_name":"` + long(100) + ` "}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"first_name empty", "", `{"first_name":""}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"first_name blank", "", `{"first_name":"   "}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"first_name of tabs and newlines", "", `{"first_name":"\t\n"}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"first_name of no-break spaces", "", `{"first_name":"\u00a0\u3000"}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"first_name with a control character", "", `{"first_name":"Ada\u0007"}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"last_name with a C1 control character", "", `{"last_name":"Love\u0085lace"}`, 400, []string{"VALIDATION_ERROR", "/last_name"}},
		{"last_name with a newline inside", "", `{"last_name":"Love\nlace"}`, 400, []string{"VALIDATION_ERROR", "/last_name"}},
		{"first_name a number", "", `{"first_name":5}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"first_name an object", "", `{"first_name":{"a":1}}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},

		// Usernames.
		{"username too short", "", `{"username":"ab"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"username too long", "", `{"username":"` + long(65) + `"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"username with a space", "", `{"username":"ada l"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"username with a non-ASCII letter", "", `{"username":"adé"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"username starting with _", "", `{"username":"_ada"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"username starting with .", "", `{"username":".ada"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"reserved username", "", `{"username":"admin"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"reserved username in capitals", "", `{"username":"Support"}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"username taken", "", `{"username":"Taken.Name"}`, 409, []string{"USERNAME_TAKEN", "/username"}},
		{"username taken in another case", "", `{"username":"taken.name"}`, 409, []string{"USERNAME_TAKEN", "/username"}},
		{"username taken, with a valid first_name", "", `{"username":"TAKEN.NAME","first_name":"Augusta"}`, 409, []string{"USERNAME_TAKEN", "/username"}},

		// Image URLs.
		{"image_url over http", "", `{"image_url":"http://images.example.com/a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url relative", "", `{"image_url":"/a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url javascript", "", `{"image_url":"javascript:alert(1)"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url without a host", "", `{"image_url":"https:///a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url with credentials", "", `{"image_url":"https://user:pw@images.example.com/a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url with a space", "", `{"image_url":"https://images.example.com/a b.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url not ASCII", "", `{"image_url":"https://images.example.com/é.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		// A browser reads these hosts as 127.0.0.1, or refuses them.
		{"image_url with an octal IPv4 host", "", `{"image_url":"https://0177.0.0.1/a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url with a one-number IPv4 host", "", `{"image_url":"https://2130706433/a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url with an IPv4 host out of range", "", `{"image_url":"https://256.1.1.1/a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url with a host ending in a number", "", `{"image_url":"https://a.1/a.png"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
		{"image_url too long", "", `{"image_url":"https://images.example.com/` + long(2049-len("https://images.example.com/")) + `"}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},

		// The body itself.
		{"malformed JSON", "", `{"first_name":"Ada",}`, 400, []string{"INVALID_JSON", ""}},
		{"truncated JSON", "", `{"first_name":"Ada"`, 400, []string{"INVALID_JSON", ""}},
		{"two JSON values", "", `{"first_name":"Ada"} {"username":"admin"}`, 400, []string{"INVALID_JSON", ""}},
		{"invalid UTF-8", "", "{\"first_name\":\"Ad\xffa\"}", 400, []string{"INVALID_JSON", ""}},
		{"empty body", "", ``, 400, []string{"VALIDATION_ERROR", ""}},
		{"text/plain", "text/plain", `{"first_name":"Ada"}`, 415, []string{"UNSUPPORTED_MEDIA_TYPE", ""}},
		{"no content type", "-", `{"first_name":"Ada"}`, 415, []string{"UNSUPPORTED_MEDIA_TYPE", ""}},
		{"form", "application/x-www-form-urlencoded", `first_name=Ada`, 415, []string{"UNSUPPORTED_MEDIA_TYPE", ""}},
		{"latin-1 charset", "application/json; charset=iso-8859-1", `{"first_name":"Ada"}`, 415, []string{"UNSUPPORTED_MEDIA_TYPE", ""}},
		{"over 16 KiB", "", `{"first_name":"` + long(16<<10) + `"}`, 413, []string{"PAYLOAD_TOO_LARGE", ""}},
	}
	before, beforeTag := ts.me(t, a.token)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := "application/json"
			switch tt.contentType {
			case "-":
				ct = ""
			case "":
			default:
				ct = tt.contentType
			}
			r := ts.call(t, "PATCH", "/me", ct, []byte(tt.body), withCookie(a.token))
			r.wantError(t, tt.status, tt.want...)
			after, afterTag := ts.me(t, a.token)
			if diff := cmp.Diff(before, after); diff != "" || afterTag != beforeTag {
				t.Errorf("a refused PATCH changed the user (-before +after), ETag %s → %s:\n%s", beforeTag, afterTag, diff)
			}
			if r.env.Session.ActiveSignin == nil || r.env.Session.ActiveSignin.UserID != a.user.ID {
				t.Errorf("the error envelope must carry the caller's session: %s", r.body)
			}
		})
	}
}

func TestUpdateMeGzipBodyIsRefused(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	r := ts.call(t, "PATCH", "/me", "application/json", []byte(`{"first_name":"Ada"}`),
		withCookie(a.token), withHeader("Content-Encoding", "gzip"))
	r.wantError(t, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "")
}

func TestUpdateMeRefusesBeforeReadingWithoutSession(t *testing.T) {
	ts := newTestServer(t)
	// Not signed in outranks what is wrong with the body.
	r := ts.call(t, "PATCH", "/me", "application/json", []byte(`{"email":"x@example.com","nick":1}`))
	r.wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
}

func TestUpdateMeAppliesMergePatch(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"first_name": "Ada", "last_name": "Lovelace", "username": "ada"})

	steps := []struct {
		name        string
		contentType string
		body        string
		want        func(u *user)
	}{
		{"set image_url", "application/json", `{"image_url":"https://images.example.com/ada.png?size=64#x"}`,
			func(u *user) { u.ImageURL = ptr("https://images.example.com/ada.png?size=64#x") }},
		{"set first_name, trimmed", "application/json", `{"first_name":"  Augusta Ada\u00a0"}`,
			func(u *user) { u.FirstName = ptr("Augusta Ada") }},
		{"clear last_name with merge-patch+json", "application/merge-patch+json", `{"last_name":null}`,
			func(u *user) { u.LastName = nil }},
		{"names of exactly 100 characters, and unicode", "application/json", `{"first_name":"` + strings.Repeat("é", 100) + `","last_name":"Ловлейс 李"}`,
			func(u *user) { u.FirstName = ptr(strings.Repeat("é", 100)); u.LastName = ptr("Ловлейс 李") }},
		{"change only the case of my username", "application/json", `{"username":"Ada"}`,
			func(u *user) { u.Username = ptr("Ada") }},
		{"clear username and image_url", "application/merge-patch+json; charset=utf-8", `{"username":null,"image_url":null}`,
			func(u *user) { u.Username = nil; u.ImageURL = nil }},
		{"username of 3 characters", "application/json", `{"username":"a.b"}`,
			func(u *user) { u.Username = ptr("a.b") }},
		{"username of 64 characters", "APPLICATION/JSON", `{"username":"` + "9" + strings.Repeat("_", 63) + `"}`,
			func(u *user) { u.Username = ptr("9" + strings.Repeat("_", 63)) }},
	}
	want, tag := ts.me(t, a.token)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := ts.call(t, "PATCH", "/me", s.contentType, []byte(s.body), withCookie(a.token))
			if r.status != http.StatusOK {
				t.Fatalf("got %d, want 200\n%s", r.status, r.body)
			}
			got := r.user(t)
			if !got.UpdatedAt.After(want.UpdatedAt) && !got.UpdatedAt.Equal(want.UpdatedAt) {
				t.Errorf("updated_at went back: %v → %v", want.UpdatedAt, got.UpdatedAt)
			}
			s.want(&want)
			want.UpdatedAt = got.UpdatedAt
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("user after PATCH (-want +got):\n%s", diff)
			}
			newTag := r.header.Get("ETag")
			if newTag == tag {
				t.Errorf("ETag did not move on a change: %s", newTag)
			}
			tag = newTag
			if me, meTag := ts.me(t, a.token); !cmp.Equal(me, got) || meTag != newTag {
				t.Errorf("GET /me after PATCH disagrees with its response")
			}
			if act := r.env.Session.ActiveSignin; act == nil || act.UserID != got.ID {
				t.Errorf("the session in the envelope must name the user:\n%s", r.body)
			}
			if d := ts.call(t, "GET", "/session", "", nil, withCookie(a.token)).sessionData(t); d.User == nil || !cmp.Equal(*d.User, got) || len(d.Users) != 1 || !cmp.Equal(d.Users[0], got) {
				t.Errorf("GET /session after PATCH must show the user after the update: %+v", d)
			}
		})
	}
}

func TestUpdateMeWithoutChangeKeepsVersion(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"first_name": "Ada", "username": "ada"})
	before, tag := ts.me(t, a.token)
	for _, body := range []string{`{"first_name":"Ada"}`, `{"first_name":" Ada "}`, `{"username":"ada"}`, `{"last_name":null}`} {
		r := ts.call(t, "PATCH", "/me", "application/json", []byte(body), withCookie(a.token))
		if r.status != http.StatusOK {
			t.Fatalf("%s: got %d, want 200\n%s", body, r.status, r.body)
		}
		if got := r.user(t); !cmp.Equal(got, before) || r.header.Get("ETag") != tag {
			t.Errorf("%s changes nothing, yet updated_at %v → %v, ETag %s → %s", body, before.UpdatedAt, got.UpdatedAt, tag, r.header.Get("ETag"))
		}
	}
}

func TestUpdateMeIfMatch(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ts := newTestServerOn(t, engine)
		a := ts.signUp(t, nil)
		b := ts.signUp(t, nil)
		_, bTag := ts.me(t, b.token)

		_, tag1 := ts.me(t, a.token)
		r := ts.patchMe(t, a.token, map[string]any{"first_name": "One"}, withHeader("If-Match", tag1))
		if r.status != http.StatusOK {
			t.Fatalf("If-Match with the current ETag: got %d, want 200\n%s", r.status, r.body)
		}
		tag2 := r.header.Get("ETag")

		// The strong comparison: only the very tag the server sent matches.
		id, version, _ := strings.Cut(strings.Trim(tag2, `"`), ".")
		refused := []struct{ name, ifMatch string }{
			{"stale", tag1},
			{"weak", "W/" + tag2},
			{"another user's", bTag},
			{"unquoted", strings.Trim(tag2, `"`)},
			{"garbage", "nonsense"},
			{"the version with a plus sign", `"` + id + ".+" + version + `"`},
			{"the version with a leading zero", `"` + id + ".0" + version + `"`},
			{"the version with two leading zeros", `"` + id + ".00" + version + `"`},
			{"the version with a space", `"` + id + ". " + version + `"`},
			{"the tag in upper case", strings.ToUpper(tag2)},
			{"the tag without its closing quote", tag2[:len(tag2)-1]},
			{"the current tag after garbage", "nonsense, " + tag2},
			{"a star in a list", "*, " + tag1},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				r := ts.patchMe(t, a.token, map[string]any{"first_name": "Two"}, withHeader("If-Match", tt.ifMatch))
				r.wantError(t, http.StatusPreconditionFailed, "PRECONDITION_FAILED", "")
				if u, tag := ts.me(t, a.token); str(u.FirstName) != "One" || tag != tag2 {
					t.Errorf("a failed precondition wrote: first_name %s, ETag %s", str(u.FirstName), tag)
				}
			})
		}

		accepted := []struct {
			name    string
			ifMatch func(current string) []string // one value per header line
		}{
			{"list with the current tag", func(cur string) []string { return []string{tag1 + ", W/" + cur + ", " + cur} }},
			{"current tag on a second header line", func(cur string) []string { return []string{tag1, cur} }},
			{"star", func(string) []string { return []string{"*"} }},
		}
		for i, tt := range accepted {
			t.Run(tt.name, func(t *testing.T) {
				_, cur := ts.me(t, a.token)
				var opts []reqOption
				for _, v := range tt.ifMatch(cur) {
					opts = append(opts, withHeader("If-Match", v))
				}
				name := fmt.Sprintf("N%d", i)
				r := ts.patchMe(t, a.token, map[string]any{"first_name": name}, opts...)
				if r.status != http.StatusOK {
					t.Fatalf("got %d, want 200\n%s", r.status, r.body)
				}
				if u := r.user(t); str(u.FirstName) != name {
					t.Errorf("first_name: got %s, want %s", str(u.FirstName), name)
				}
			})
		}
	})
}

func TestUpdateMeOwnUsernameIsNoConflict(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"username": "Grace.Hopper"})
	for _, name := range []string{"Grace.Hopper", "grace.hopper", "GRACE.HOPPER"} {
		r := ts.patchMe(t, a.token, map[string]any{"username": name})
		if r.status != http.StatusOK {
			t.Fatalf("setting my own username as %s: got %d, want 200\n%s", name, r.status, r.body)
		}
		if got := r.user(t).Username; str(got) != name {
			t.Errorf("username stored as %s, want %s as typed", str(got), name)
		}
	}
	// The old spelling is free once I move away from it.
	ts.patchMe(t, a.token, map[string]any{"username": "amazing.grace"})
	b := ts.signUp(t, nil)
	if r := ts.patchMe(t, b.token, map[string]any{"username": "grace.hopper"}); r.status != http.StatusOK {
		t.Errorf("a freed username: got %d, want 200\n%s", r.status, r.body)
	}
}

// TestUpdateMeConcurrentMembers runs two clients that each update a
// different member of the same user many times at once: neither may lose
// the other's change.
func TestUpdateMeConcurrentMembers(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	const rounds = 40
	var wg sync.WaitGroup
	for _, member := range []string{"first_name", "last_name"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				ct, b := jsonBody(map[string]any{member: fmt.Sprintf("%s-%d", member, i)})
				r, err := ts.try("PATCH", "/me", ct, b, withCookie(a.token))
				if err != nil || r.status != http.StatusOK {
					t.Errorf("PATCH %s: %v %+v", member, err, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	u, tag := ts.me(t, a.token)
	if str(u.FirstName) != "first_name-39" || str(u.LastName) != "last_name-39" {
		t.Errorf("after concurrent updates: first_name %s, last_name %s; want the last value of each", str(u.FirstName), str(u.LastName))
	}
	if want := fmt.Sprintf(`"%s.%d"`, a.user.ID, 1+2*rounds); tag != want {
		t.Errorf("ETag %s, want %s: every update is one version", tag, want)
	}
}

// TestUpdateMeContestedUsername has many users claim one username at once:
// exactly one gets it.
func TestUpdateMeContestedUsername(t *testing.T) {
	ts := newTestServer(t)
	const n = 12
	accounts := make([]account, n)
	for i := range accounts {
		accounts[i] = ts.signUp(t, nil)
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Different spellings of one name: uniqueness ignores case.
			name := "Contested"
			if i%2 == 1 {
				name = "contested"
			}
			ct, b := jsonBody(map[string]any{"username": name})
			r, err := ts.try("PATCH", "/me", ct, b, withCookie(a.token))
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.status
		}()
	}
	close(start)
	wg.Wait()
	won, lost := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			won++
		case http.StatusConflict:
			lost++
		}
	}
	if won != 1 || lost != n-1 {
		t.Errorf("statuses %v: want one 200 and %d 409", statuses, n-1)
	}
	if holders := ts.db.count(t, `SELECT count(*) FROM users WHERE lower(username) = 'contested'`); holders != 1 {
		t.Errorf("users holding the name: %d, want 1", holders)
	}
}
