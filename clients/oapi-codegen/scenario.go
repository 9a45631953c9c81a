// The scenario every Go client goes through against its own live meapi,
// step for step and name for name the TypeScript clients'
// (clients/ts/src/lib/scenario.ts). The ogen client, a module of its own
// that can import no package of this one, builds a copy the matrix runner
// makes of this file before each build (clients/ogen/scenario.go, not
// committed).

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Signin is a sign-in as a driver decoded it.
type Signin struct{ ID, UserID string }

// Session is an envelope's session.
type Session struct {
	Signins []Signin
	Active  *Signin
}

// User is a user as a driver decoded it; nil is null.
type User struct {
	ID, Email                               string
	FirstName, LastName, Username, ImageURL *string
}

// Answer is what came of one call: the decoded body of a success or of an
// error envelope, and what the client did on its own.
type Answer struct {
	Status int
	// User is a UserEnvelope's data.
	User *User
	// ActiveUser and Users are a SessionEnvelope's data.
	ActiveUser *User
	Users      []User
	Session    *Session
	// ErrorStatus and Errors ("CODE /field") are an ErrorEnvelope's.
	ErrorStatus int
	Errors      []string
	ETag        string
	// RefusedBeforeSending is why the client's own validation refused the
	// body (the driver then sent it anyway, to hear the server).
	RefusedBeforeSending string
	Notes                []string
}

// Member is a member of a patch: absent (the zero value), null or a value.
type Member struct {
	Present bool
	Value   *string
}

// Value is a member set to s.
func Value(s string) Member { return Member{Present: true, Value: &s} }

// Null is a member cleared.
var Null = Member{Present: true}

// Patch is a body of PATCH /me that the generated types can say.
type Patch struct{ FirstName, LastName, Username, ImageURL Member }

// Driver makes each call with a generated client.
type Driver interface {
	SignUp(email, password, firstName, username string) (Answer, error)
	GetMe() (Answer, error)
	UpdateMe(p Patch, ifMatch string) (Answer, error)
	// UpdateMeRaw sends a body the generated types cannot say.
	UpdateMeRaw(body string) (Answer, error)
	SignInByUsername(username, password string) (Answer, error)
	GetSession() (Answer, error)
	SwitchSignin(id string) (Answer, error)
	SignOut(all bool) (Answer, error)
	// HasSession reports whether the client holds a session cookie.
	HasSession() bool
}

type steps struct{ passed, failed int }

// step runs fn and prints "ok   NAME", "ok   NAME: NOTE" or "FAIL NAME: WHY".
func (s *steps) step(name string, fn func() (string, error)) {
	note, err := func() (note string, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return fn()
	}()
	if err != nil {
		s.failed++
		fmt.Printf("FAIL %s: %s\n", name, oneLine(err.Error()))
		return
	}
	s.passed++
	if note != "" {
		name += ": " + oneLine(note)
	}
	fmt.Printf("ok   %s\n", name)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func equal(got, want any, what string) error {
	if g, w := jsonOf(got), jsonOf(want); g != w {
		return fmt.Errorf("%s: got %s, want %s", what, g, w)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ok is the check of an answer that must succeed with status.
func ok(a Answer, err error, status int) error {
	switch {
	case err != nil:
		return err
	case a.RefusedBeforeSending != "":
		return fmt.Errorf("the client refused a body that the server accepts: %s", a.RefusedBeforeSending)
	case a.Status != status || (a.User == nil && a.Session == nil):
		return fmt.Errorf("status %d (%s), want %d", a.Status, strings.Join(a.Errors, ", "), status)
	}
	return nil
}

// refused is the check of an answer that must be an error envelope.
func refused(a Answer, err error, status int, problems ...string) (string, error) {
	if err != nil {
		return "", err
	}
	if a.Status != status || a.ErrorStatus != status {
		return "", fmt.Errorf("status %d, envelope's status %d, want %d", a.Status, a.ErrorStatus, status)
	}
	if err := equal(a.Errors, problems, "errors"); err != nil {
		return "", err
	}
	notes := []string{strings.Join(problems, ", ")}
	if a.RefusedBeforeSending != "" {
		notes = append(notes, "the client refused it too ("+a.RefusedBeforeSending+")")
	}
	return strings.Join(append(notes, a.Notes...), "; "), nil
}

func noted(a Answer, text string) string {
	return strings.Join(append([]string{text}, a.Notes...), "; ")
}

func str(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func userIDs(signins []Signin) []string {
	ids := []string{}
	for _, s := range signins {
		ids = append(ids, s.UserID)
	}
	return ids
}

var etagPattern = regexp.MustCompile(`^"[!#-~]+"$`)

// run drives d through the scenario, prints one line per step and then
// "N passed, N failed", and exits 0 only when every step passed.
func run(d Driver) {
	const (
		adaEmail, adaPassword     = "ada@example.com", "correct horse battery staple"
		graceEmail, gracePassword = "grace@example.com", "another long password"
	)
	profile := Patch{
		FirstName: Value("Augusta Ada"),
		LastName:  Value("Lovelace"),
		Username:  Value("ada"),
		ImageURL:  Value("https://images.example.com/ada.png"),
	}
	var s steps
	var adaID, graceID, adaSignin, firstETag string

	s.step("sign up ada", func() (string, error) {
		a, err := d.SignUp(adaEmail, adaPassword, "Ada", "")
		if err := ok(a, err, 201); err != nil {
			return "", err
		}
		adaID = a.User.ID
		if err := firstErr(
			equal(a.User.Email, adaEmail, "email"),
			equal(str(a.User.FirstName), "Ada", "first_name"),
			equal(a.Session.Active, &Signin{ID: a.Session.Signins[0].ID, UserID: a.User.ID}, "the active sign-in"),
		); err != nil {
			return "", err
		}
		if !d.HasSession() {
			return "", fmt.Errorf("no session cookie kept")
		}
		return noted(a, adaID), nil
	})

	s.step("GET /me reads the ETag", func() (string, error) {
		a, err := d.GetMe()
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		firstETag = a.ETag
		if err := equal(a.User.ID, adaID, "id"); err != nil {
			return "", err
		}
		if !etagPattern.MatchString(a.ETag) {
			return "", fmt.Errorf("ETag %q", a.ETag)
		}
		return noted(a, "ETag "+a.ETag), nil
	})

	s.step("PATCH /me sets first_name, last_name, username, image_url", func() (string, error) {
		a, err := d.UpdateMe(profile, firstETag)
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		if err := firstErr(
			equal(str(a.User.FirstName), "Augusta Ada", "first_name"),
			equal(str(a.User.LastName), "Lovelace", "last_name"),
			equal(str(a.User.Username), "ada", "username"),
			equal(str(a.User.ImageURL), "https://images.example.com/ada.png", "image_url"),
		); err != nil {
			return "", err
		}
		if a.ETag == "" || a.ETag == firstETag {
			return "", fmt.Errorf("the ETag did not move: %q", a.ETag)
		}
		return noted(a, "ETag "+a.ETag), nil
	})

	s.step("PATCH /me clears image_url with null", func() (string, error) {
		a, err := d.UpdateMe(Patch{ImageURL: Null}, "")
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		if err := firstErr(
			equal(str(a.User.ImageURL), nil, "image_url"),
			equal(str(a.User.FirstName), "Augusta Ada", "first_name"),
		); err != nil {
			return "", err
		}
		return noted(a, "image_url null, the rest kept"), nil
	})

	s.step("PATCH refused, unknown member nickname", func() (string, error) {
		a, err := d.UpdateMeRaw(`{"nickname":"Countess"}`)
		return refused(a, err, 400, "UNKNOWN_FIELD /nickname")
	})

	s.step("PATCH refused, read-only member email", func() (string, error) {
		a, err := d.UpdateMeRaw(`{"email":"eve@example.com"}`)
		return refused(a, err, 400, "READ_ONLY_FIELD /email")
	})

	s.step("PATCH refused, first_name of 101 characters", func() (string, error) {
		a, err := d.UpdateMe(Patch{FirstName: Value(strings.Repeat("x", 101))}, "")
		return refused(a, err, 400, "VALIDATION_ERROR /first_name")
	})

	s.step("PATCH with a stale If-Match", func() (string, error) {
		a, err := d.UpdateMe(Patch{FirstName: Value("Augusta")}, firstETag)
		return refused(a, err, 412, "PRECONDITION_FAILED")
	})

	s.step("sign up grace in the same cookie jar", func() (string, error) {
		a, err := d.SignUp(graceEmail, gracePassword, "", "grace")
		if err := ok(a, err, 201); err != nil {
			return "", err
		}
		graceID = a.User.ID
		if err := firstErr(
			equal(userIDs(a.Session.Signins), []string{adaID, graceID}, "the sign-ins' users"),
			equal(a.Session.Active.UserID, graceID, "the active sign-in's user"),
		); err != nil {
			return "", err
		}
		return noted(a, "2 sign-ins, grace active"), nil
	})

	s.step("sign out grace", func() (string, error) {
		a, err := d.SignOut(false)
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		if a.ActiveUser == nil {
			return "", fmt.Errorf("data.user is null")
		}
		if err := firstErr(
			equal(a.ActiveUser.ID, adaID, "the user now active"),
			equal(userIDs(a.Session.Signins), []string{adaID}, "the sign-ins' users"),
		); err != nil {
			return "", err
		}
		return noted(a, "ada active again"), nil
	})

	s.step("sign grace back in by username", func() (string, error) {
		a, err := d.SignInByUsername("Grace", gracePassword)
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		if err := firstErr(
			equal(a.User.ID, graceID, "id"),
			equal(str(a.User.Username), "grace", "username"),
			equal(len(a.Session.Signins), 2, "sign-ins"),
		); err != nil {
			return "", err
		}
		return noted(a, "as Grace, any letter case"), nil
	})

	s.step("GET /session lists both sign-ins and users", func() (string, error) {
		a, err := d.GetSession()
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		for _, si := range a.Session.Signins {
			if si.UserID == adaID {
				adaSignin = si.ID
			}
		}
		var ids, names []string
		for _, u := range a.Users {
			ids = append(ids, u.ID)
			names = append(names, fmt.Sprint(str(u.Username)))
		}
		sorted := slices.Sorted(slices.Values(ids))
		want := slices.Sorted(slices.Values([]string{adaID, graceID}))
		if a.ActiveUser == nil {
			return "", fmt.Errorf("data.user is null")
		}
		if err := firstErr(
			equal(len(a.Session.Signins), 2, "sign-ins"),
			equal(ids, userIDs(a.Session.Signins), "data.users, in the order of the sign-ins"),
			equal(sorted, want, "data.users"),
			equal(a.ActiveUser.ID, graceID, "data.user"),
		); err != nil {
			return "", err
		}
		return noted(a, strings.Join(names, ", ")), nil
	})

	s.step("switch to ada's sign-in", func() (string, error) {
		a, err := d.SwitchSignin(adaSignin)
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		if a.Session.Active == nil {
			return "", fmt.Errorf("no active sign-in")
		}
		if err := firstErr(
			equal(a.User.ID, adaID, "id"),
			equal(a.Session.Active.ID, adaSignin, "the active sign-in"),
		); err != nil {
			return "", err
		}
		return noted(a, adaSignin), nil
	})

	s.step("sign out the active sign-in", func() (string, error) {
		a, err := d.SignOut(false)
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		if a.ActiveUser == nil {
			return "", fmt.Errorf("data.user is null")
		}
		if err := firstErr(
			equal(a.ActiveUser.ID, graceID, "the user now active"),
			equal(userIDs(a.Session.Signins), []string{graceID}, "the sign-ins' users"),
		); err != nil {
			return "", err
		}
		if !d.HasSession() {
			return "", fmt.Errorf("the cookie went with a sign-in still left")
		}
		return noted(a, "grace left"), nil
	})

	s.step("sign out all", func() (string, error) {
		a, err := d.SignOut(true)
		if err := ok(a, err, 200); err != nil {
			return "", err
		}
		if err := firstErr(
			equal(a.ActiveUser, (*User)(nil), "data.user"),
			equal(len(a.Users), 0, "data.users"),
			equal(len(a.Session.Signins), 0, "sign-ins"),
		); err != nil {
			return "", err
		}
		if d.HasSession() {
			return "", fmt.Errorf("the session cookie was not cleared")
		}
		return noted(a, "cookie cleared"), nil
	})

	s.step("GET /me after signing out", func() (string, error) {
		a, err := d.GetMe()
		return refused(a, err, 401, "NOT_AUTHENTICATED")
	})

	fmt.Printf("%d passed, %d failed\n", s.passed, s.failed)
	if s.failed > 0 || s.passed == 0 {
		os.Exit(1)
	}
}
