package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

type testCase struct {
	name string
	run  func(r *runner) error
}

// allCases runs in order; later cases use the accounts earlier ones made.
func allCases() []testCase {
	return slices.Concat(basicCases, refusalCases(), sessionCases)
}

var basicCases = []testCase{
	{"health: GET /healthz", func(r *runner) error {
		_, err := r.call(request{method: "GET", path: "/healthz"}, 200)
		return err
	}},
	{"health: GET /readyz", func(r *runner) error {
		_, err := r.call(request{method: "GET", path: "/readyz"}, 200)
		return err
	}},
	{"document: GET /openapi.yaml", func(r *runner) error {
		_, err := r.call(request{method: "GET", path: "/openapi.yaml"}, 200)
		return err
	}},
	{"document: GET /docs and its script", func(r *runner) error {
		for _, path := range []string{"/docs", "/docs/redoc.standalone.js"} {
			res, err := r.send(request{method: "GET", path: path})
			if err != nil {
				return err
			}
			if err := res.expect(200); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		return nil
	}},
	{"routing: unknown path is 404 NOT_FOUND", func(r *runner) error {
		_, err := r.call(request{method: "GET", path: "/no-such-operation-" + r.suffix}, 404, "NOT_FOUND", "")
		return err
	}},
	{"session: GET /session signed out", func(r *runner) error {
		res, err := r.call(request{method: "GET", path: "/session"}, 200)
		if err != nil {
			return err
		}
		if string(res.env.Data) != `{"user":null,"users":[]}` {
			return fmt.Errorf("data %s, want {\"user\":null,\"users\":[]}", res.env.Data)
		}
		return nil
	}},
	{"sign-up: POST /auth/signup", func(r *runner) error {
		r.ada = account{email: "ada-" + r.suffix + "@example.com", username: "ada-" + r.suffix, password: "conformance password " + r.suffix}
		res, err := r.call(request{method: "POST", path: "/auth/signup", contentType: "application/json",
			body: jsonOf(map[string]string{"email": r.ada.email, "password": r.ada.password, "username": r.ada.username, "first_name": "Ada"})}, 201)
		if err != nil {
			return err
		}
		if r.ada.token = res.token(); r.ada.token == "" {
			return errors.New("no __session cookie set")
		}
		u, err := res.user()
		r.ada.id = u.ID
		return err
	}},
	{"sign-up: taken email is 409 EMAIL_TAKEN", func(r *runner) error {
		_, err := r.call(request{method: "POST", path: "/auth/signup", contentType: "application/json",
			body: jsonOf(map[string]string{"email": strings.ToUpper(r.ada.email), "password": "another password"})}, 409, "EMAIL_TAKEN", "/email")
		return err
	}},
	{"sign-up: unknown member is 400 UNKNOWN_FIELD", func(r *runner) error {
		_, err := r.call(request{method: "POST", path: "/auth/signup", contentType: "application/json",
			body: jsonOf(map[string]any{"email": "x-" + r.suffix + "@example.com", "password": "a password", "role": "admin"})}, 400, "UNKNOWN_FIELD", "/role")
		return err
	}},
	{"me: GET /me", func(r *runner) error {
		res, err := r.call(request{method: "GET", path: "/me", token: r.ada.token}, 200)
		if err != nil {
			return err
		}
		u, err := res.user()
		if err != nil {
			return err
		}
		if u.ID != r.ada.id || u.Email != r.ada.email {
			return fmt.Errorf("GET /me is %s %s, want the account just made", u.ID, u.Email)
		}
		r.etag, r.lastKnownAdaMe = res.header.Get("ETag"), res.env.Data
		return nil
	}},
	{"me: missing cookie is 401 NOT_AUTHENTICATED", func(r *runner) error {
		_, err := r.call(request{method: "GET", path: "/me"}, 401, "NOT_AUTHENTICATED", "")
		return err
	}},
	{"me: forged cookie is 401 NOT_AUTHENTICATED", func(r *runner) error {
		_, err := r.call(request{method: "GET", path: "/me", token: strings.Repeat("A", 43)}, 401, "NOT_AUTHENTICATED", "")
		return err
	}},
	{"me: PATCH /me with a merge patch", func(r *runner) error {
		res, err := r.call(request{method: "PATCH", path: "/me", contentType: "application/merge-patch+json", token: r.ada.token,
			body: `{"last_name":"Lovelace","first_name":null}`, header: map[string]string{"If-Match": r.etag}}, 200)
		if err != nil {
			return err
		}
		u, err := res.user()
		if err != nil {
			return err
		}
		if u.FirstName != nil || u.LastName == nil || *u.LastName != "Lovelace" {
			return fmt.Errorf("after the patch first_name %v, last_name %v; want null and Lovelace", u.FirstName, u.LastName)
		}
		if res.header.Get("ETag") == r.etag {
			return errors.New("the ETag did not change")
		}
		r.lastKnownAdaMe = res.env.Data
		return nil
	}},
}

// refusalCases try PATCH /me bodies and headers that must each be refused
// with their code and field, and leave the user as it was.
func refusalCases() []testCase {
	refusals := []struct {
		name        string
		contentType string
		body        string
		header      func(r *runner) map[string]string
		status      int
		want        []string
	}{
		{"unknown member", "application/json", `{"nickname":"Ada"}`, nil, 400, []string{"UNKNOWN_FIELD", "/nickname"}},
		{"read-only member", "application/json", `{"email":"eve@example.com"}`, nil, 400, []string{"READ_ONLY_FIELD", "/email"}},
		{"wrong type", "application/json", `{"first_name":42}`, nil, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"too long", "application/json", `{"last_name":"` + strings.Repeat("x", 101) + `"}`, nil, 400, []string{"VALIDATION_ERROR", "/last_name"}},
		{"bad pattern", "application/json", `{"username":"no spaces allowed"}`, nil, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"empty object", "application/json", `{}`, nil, 400, []string{"VALIDATION_ERROR", ""}},
		{"malformed JSON", "application/json", `{"first_name":`, nil, 400, []string{"INVALID_JSON", ""}},
		{"unsupported media type", "text/plain", `first_name=Ada`, nil, 415, []string{"UNSUPPORTED_MEDIA_TYPE", ""}},
		{"stale If-Match", "application/json", `{"first_name":"Augusta"}`,
			// The ETag from before the merge patch above.
			func(r *runner) map[string]string { return map[string]string{"If-Match": r.etag} },
			412, []string{"PRECONDITION_FAILED", ""}},
		{"cross-site request", "application/json", `{"first_name":"Mallory"}`,
			func(*runner) map[string]string {
				return map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
			},
			403, []string{"CROSS_ORIGIN_REQUEST", ""}},
	}
	var cs []testCase
	for _, f := range refusals {
		cs = append(cs, testCase{"me: PATCH refused: " + f.name, func(r *runner) error {
			var header map[string]string
			if f.header != nil {
				header = f.header(r)
			}
			_, err := r.call(request{method: "PATCH", path: "/me", contentType: f.contentType, body: f.body, token: r.ada.token, header: header}, f.status, f.want...)
			if err != nil {
				return err
			}
			return r.unchanged()
		}})
	}
	return cs
}

var sessionCases = []testCase{
	{"sign-in: wrong password is 401 INVALID_CREDENTIALS", func(r *runner) error {
		_, err := r.call(request{method: "POST", path: "/auth/signin", contentType: "application/json",
			body: jsonOf(map[string]string{"strategy": "plain_email", "email": r.ada.email, "password": "not the password"})}, 401, "INVALID_CREDENTIALS", "")
		return err
	}},
	{"sign-in: unknown strategy is 400 at /strategy", func(r *runner) error {
		_, err := r.call(request{method: "POST", path: "/auth/signin", contentType: "application/json",
			body: jsonOf(map[string]string{"strategy": "carrier_pigeon", "password": "x"})}, 400, "VALIDATION_ERROR", "/strategy")
		return err
	}},
	{"sign-in: a second account in the same browser", func(r *runner) error {
		r.grace = account{email: "grace-" + r.suffix + "@example.com", password: "another conformance password"}
		res, err := r.call(request{method: "POST", path: "/auth/signup", contentType: "application/json", token: r.ada.token,
			body: jsonOf(map[string]string{"email": r.grace.email, "password": r.grace.password})}, 201)
		if err != nil {
			return err
		}
		grace, err := res.user()
		if err != nil {
			return err
		}
		r.grace.id = grace.ID
		r.jar = res.token()
		if r.jar == "" || r.jar == r.ada.token {
			return errors.New("joining a browser session must issue a new token")
		}
		// Ada signs in again by username in the same browser: her sign-in
		// becomes active again, not a third one.
		res, err = r.call(request{method: "POST", path: "/auth/signin", contentType: "application/json", token: r.jar,
			body: jsonOf(map[string]string{"strategy": "plain_username", "username": strings.ToUpper(r.ada.username), "password": r.ada.password})}, 200)
		if err != nil {
			return err
		}
		r.jar = res.token()
		var sess struct {
			Session struct {
				Signins []struct {
					ID     string `json:"id"`
					UserID string `json:"user_id"`
				} `json:"signins"`
				ActiveSignin *struct {
					ID string `json:"id"`
				} `json:"active_signin"`
			} `json:"session"`
		}
		if err := json.Unmarshal(res.body, &sess); err != nil {
			return err
		}
		for _, si := range sess.Session.Signins {
			switch si.UserID {
			case r.ada.id:
				r.adaSignin = si.ID
			case r.grace.id:
				r.graceSignin = si.ID
			}
		}
		if len(sess.Session.Signins) != 2 || sess.Session.ActiveSignin == nil || sess.Session.ActiveSignin.ID != r.adaSignin {
			return fmt.Errorf("want two sign-ins, Ada's active: %s", clip(res.body))
		}
		return nil
	}},
	{"session: GET /session lists the users of every sign-in", func(r *runner) error {
		res, err := r.call(request{method: "GET", path: "/session", token: r.jar}, 200)
		if err != nil {
			return err
		}
		var data struct {
			User  *dataUser  `json:"user"`
			Users []dataUser `json:"users"`
		}
		if err := json.Unmarshal(res.env.Data, &data); err != nil {
			return err
		}
		if data.User == nil || data.User.ID != r.ada.id || len(data.Users) != 2 || data.Users[0].ID != r.ada.id || data.Users[1].ID != r.grace.id {
			return fmt.Errorf("want Ada active, and Ada then Grace listed: %s", clip(res.env.Data))
		}
		return nil
	}},
	{"session: POST /session/switch-sign-in", func(r *runner) error {
		res, err := r.call(request{method: "POST", path: "/session/switch-sign-in", contentType: "application/json", token: r.jar,
			body: jsonOf(map[string]string{"signin_id": r.graceSignin})}, 200)
		if err != nil {
			return err
		}
		if u, err := res.user(); err != nil || u.Email != r.grace.email {
			return fmt.Errorf("switched to %s (%v), want Grace", u.Email, err)
		}
		return nil
	}},
	{"session: switch to a foreign sign-in is 400 INVALID_SIGNIN", func(r *runner) error {
		_, err := r.call(request{method: "POST", path: "/session/switch-sign-in", contentType: "application/json", token: r.jar,
			body: jsonOf(map[string]string{"signin_id": "signin_" + strings.Repeat("a", 26)})}, 400, "INVALID_SIGNIN", "/signin_id")
		return err
	}},
	{"session: POST /session/sign-out ends the active sign-in", func(r *runner) error {
		res, err := r.call(request{method: "POST", path: "/session/sign-out", token: r.jar}, 200)
		if err != nil {
			return err
		}
		var data struct {
			User *dataUser `json:"user"`
		}
		if err := json.Unmarshal(res.env.Data, &data); err != nil || data.User == nil || data.User.ID != r.ada.id {
			return fmt.Errorf("after signing Grace out, want Ada active: %s", clip(res.env.Data))
		}
		return nil
	}},
	{"session: sign-out of all ends the token", func(r *runner) error {
		res, err := r.call(request{method: "POST", path: "/session/sign-out", token: r.jar, contentType: "application/json", body: `{"all":true}`}, 200)
		if err != nil {
			return err
		}
		if c := res.header.Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
			return fmt.Errorf("the cookie was not cleared: Set-Cookie %q", c)
		}
		_, err = r.call(request{method: "GET", path: "/me", token: r.jar}, 401, "NOT_AUTHENTICATED", "")
		return err
	}},
}
