package impl

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/oapi-codegen/nullable"

	"meapi/gen"
	"meapi/impl/timestamp"
)

// The user envelope is the answer of the hottest operations (GET and PATCH
// /me, sign-up, sign-in, switching), and encoding/json spends most of its
// time there on reflection and on the generated types' own MarshalJSON
// methods (nullable values are maps; an email is parsed again on every
// encoding). appendUserEnvelope writes the same JSON directly. A test holds
// it equal to encoding/json's output, value for value, and the response
// validator checks every answer it writes.

// appendString appends s as a JSON string. Strings come from the store as
// valid UTF-8; invalid bytes would be written as U+FFFD (AppendQuote's
// error says so and is of no further use), as encoding/json does.
func appendString(b []byte, s string) []byte {
	out, _ := jsontext.AppendQuote(b, s)
	return out
}

func appendNullableString(b []byte, n nullable.Nullable[string]) []byte {
	if v, err := n.Get(); err == nil {
		return appendString(b, v)
	}
	return append(b, "null"...)
}

func appendTime(b []byte, t timestamp.Millis) []byte {
	b = append(b, '"')
	b = timestamp.Append(b, t.Time)
	return append(b, '"')
}

// appendUser writes a user with its members in the seed's order, the
// generated struct's (x-order in openapi.yaml).
func appendUser(b []byte, u *gen.User) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, u.Id)
	b = append(b, `,"first_name":`...)
	b = appendNullableString(b, u.FirstName)
	b = append(b, `,"last_name":`...)
	b = appendNullableString(b, u.LastName)
	b = append(b, `,"username":`...)
	b = appendNullableString(b, u.Username)
	b = append(b, `,"email":`...)
	b = appendString(b, string(u.Email))
	b = append(b, `,"phone_number":`...)
	b = appendNullableString(b, u.PhoneNumber)
	b = append(b, `,"image_url":`...)
	b = appendNullableString(b, u.ImageUrl)
	b = append(b, `,"two_factor_enabled":`...)
	b = strconv.AppendBool(b, u.TwoFactorEnabled)
	b = append(b, `,"email_verified":`...)
	b = strconv.AppendBool(b, u.EmailVerified)
	b = append(b, `,"phone_verified":`...)
	b = strconv.AppendBool(b, u.PhoneVerified)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, u.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, u.UpdatedAt)
	return append(b, '}')
}

func appendSignin(b []byte, s *gen.Signin) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, s.Id)
	b = append(b, `,"user_id":`...)
	b = appendString(b, s.UserId)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, s.CreatedAt)
	return append(b, '}')
}

func appendClientSession(b []byte, cs *gen.ClientSession) []byte {
	// The attempts are always empty: every strategy completes at once.
	b = append(b, `{"signin_attempts":[],"signins":[`...)
	for i := range cs.Signins {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSignin(b, &cs.Signins[i])
	}
	b = append(b, `],"signup_attempts":[],"active_signin":`...)
	if a, err := cs.ActiveSignin.Get(); err == nil {
		b = appendSignin(b, (*gen.Signin)(&a))
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

func appendErrors(b []byte, errs []gen.Error) []byte {
	b = append(b, '[')
	for i, e := range errs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = appendString(b, e.Code)
		b = append(b, `,"message":`...)
		b = appendString(b, e.Message)
		if e.Field != nil {
			b = append(b, `,"field":`...)
			b = appendString(b, *e.Field)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendUserEnvelope(b []byte, env *gen.UserEnvelope) []byte {
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(env.Status), 10)
	b = append(b, `,"message":`...)
	b = appendString(b, env.Message)
	b = append(b, `,"data":`...)
	b = appendUser(b, &env.Data)
	b = append(b, `,"session":`...)
	b = appendClientSession(b, &env.Session)
	b = append(b, `,"errors":`...)
	b = appendErrors(b, env.Errors)
	return append(b, "}\n"...)
}

var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// userResponse answers with a user envelope: the generated response types
// of GET /me, PATCH /me, sign-up, sign-in and switching (each status, body
// and header the same as theirs), with the envelope written by
// appendUserEnvelope instead of encoding/json.
type userResponse struct {
	env gen.UserEnvelope
	// etag and setCookie are the headers some of those operations declare.
	etag, setCookie string
}

func (r userResponse) write(w http.ResponseWriter) error {
	bp := encodeBuffers.Get().(*[]byte)
	b := appendUserEnvelope((*bp)[:0], &r.env)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if r.etag != "" {
		h.Set("ETag", r.etag)
	}
	if r.setCookie != "" {
		h.Set("Set-Cookie", r.setCookie)
	}
	w.WriteHeader(int(r.env.Status))
	_, err := w.Write(b)
	*bp = b
	encodeBuffers.Put(bp)
	return err
}

func (r userResponse) VisitGetMeResponse(w http.ResponseWriter) error        { return r.write(w) }
func (r userResponse) VisitUpdateMeResponse(w http.ResponseWriter) error     { return r.write(w) }
func (r userResponse) VisitSignUpResponse(w http.ResponseWriter) error       { return r.write(w) }
func (r userResponse) VisitSignInResponse(w http.ResponseWriter) error       { return r.write(w) }
func (r userResponse) VisitSwitchSigninResponse(w http.ResponseWriter) error { return r.write(w) }
