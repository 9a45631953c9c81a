package impl

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"meapi/gen"
	"meapi/store"
)

// memberOrder lists the JSON Pointer of every member of a JSON text, in the
// order they come.
func memberOrder(t *testing.T, b []byte) []string {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	var out []string
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return out
		}
		if tok.Kind() == '"' && dec.StackDepth() > 0 {
			if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 {
				out = append(out, string(dec.StackPointer()))
			}
		}
	}
}

// TestAppendUserEnvelopeEqualsEncodingJSON holds the hand-written encoder
// to what encoding/json writes for the same envelopes, value for value and
// member for member in the same order (encoding/json escapes <, > and &
// where the encoder need not, so the bytes may differ).
func TestAppendUserEnvelopeEqualsEncodingJSON(t *testing.T) {
	str := func(s string) *string { return &s }
	t0 := time.Date(2026, 11, 28, 6, 18, 35, 120_000_000, time.UTC)
	users := []store.User{
		{ID: "user_a", Email: "a@example.com", CreatedAt: t0, UpdatedAt: t0},
		{ID: "user_b", Email: "b@example.com", Username: str("b.b"), FirstName: str("Zoë <script>&\u2028"), LastName: str(`"quoted" \ back`),
			ImageURL: str("https://example.com/a.png?x=1&y=<2>"), PhoneNumber: str("+15555550100"), TwoFactorEnabled: true,
			EmailVerified: true, PhoneVerified: true, CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Hour + 7*time.Millisecond)},
		{ID: "user_c", Email: "c@example.com", FirstName: str("李\t\x01"), CreatedAt: t0, UpdatedAt: t0},
	}
	field := "/first_name"
	for _, tt := range []struct {
		name string
		st   *requestState
		errs []gen.Error
	}{
		{"no session", &requestState{}, noErrors},
		{"one sign-in", &requestState{session: &store.Session{Signins: []store.Signin{{ID: "signin_a", User: users[0], CreatedAt: t0, ActivatedSeq: 1}}}}, noErrors},
		{"three sign-ins, the second active", &requestState{session: &store.Session{Signins: []store.Signin{
			{ID: "signin_a", User: users[0], CreatedAt: t0, ActivatedSeq: 1},
			{ID: "signin_b", User: users[1], CreatedAt: t0, ActivatedSeq: 3},
			{ID: "signin_c", User: users[2], CreatedAt: t0, ActivatedSeq: 2},
		}}}, []gen.Error{{Code: string(gen.VALIDATIONERROR), Message: "x <y>", Field: &field}, {Code: string(gen.INTERNAL), Message: "z"}}},
	} {
		for i := range users {
			env := userEnvelope(tt.st, 200, &users[i])
			env.Errors = tt.errs
			want, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			got := appendUserEnvelope(nil, &env)
			if !strings.HasSuffix(string(got), "\n") {
				t.Errorf("%s: no newline at the end, as json.Encoder writes", tt.name)
			}
			var a, b any
			if err := json.Unmarshal(want, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &b); err != nil {
				t.Fatalf("%s: not JSON: %v\n%s", tt.name, err, got)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s, user %d:\nencoding/json: %s\nappend:        %s", tt.name, i, want, got)
			}
			if w, g := memberOrder(t, want), memberOrder(t, got); !slices.Equal(w, g) {
				t.Errorf("%s, user %d: members in the order\n%q, want encoding/json's\n%q", tt.name, i, g, w)
			}
		}
	}
}

// TestEveryUserMemberIsMapped is the check for adding a profile member: a
// store user with every field set must come out as an API user with every
// member set, through apiUser and the hand-written encoder alike. A member
// added to openapi.yaml's User but not to store.User, apiUser or
// appendUser fails here (docs/DESIGN.md, "Adding a profile member").
func TestEveryUserMemberIsMapped(t *testing.T) {
	var u store.User
	fill(t, reflect.ValueOf(&u).Elem())
	api := apiUser(&u)
	v := reflect.ValueOf(api)
	for i := range v.NumField() {
		f := v.Field(i)
		if n, ok := f.Interface().(interface{ IsSpecified() bool }); ok {
			if !n.IsSpecified() || f.MethodByName("IsNull").Call(nil)[0].Bool() {
				t.Errorf("apiUser leaves %s null although the store user has it", v.Type().Field(i).Name)
			}
			continue
		}
		if f.IsZero() {
			t.Errorf("apiUser leaves %s unset although the store user has it", v.Type().Field(i).Name)
		}
	}
	var fromEncoder, fromJSON map[string]any
	if err := json.Unmarshal(appendUser(nil, &api), &fromEncoder); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(api)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromEncoder, fromJSON) {
		t.Errorf("appendUser writes\n%v\nencoding/json\n%v", fromEncoder, fromJSON)
	}
}

// fill sets every field of v to a value that is not its zero.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("ada@example.com") // a valid value of every string member, the email included
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i))
		}
	default:
		t.Fatalf("fill: a field of kind %s", v.Kind())
	}
}
