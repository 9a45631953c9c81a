package impl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"meapi/gen"
	"meapi/impl/schemacheck"
)

// formatValidators check the string formats openapi.yaml uses that
// kin-openapi leaves unchecked unless told how.
var formatValidators = map[string]openapi3.StringFormatValidator{
	"email": openapi3.NewCallbackValidator(func(s string) error {
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s {
			return errors.New("not an email address")
		}
		return nil
	}),
	"uri": openapi3.NewCallbackValidator(func(s string) error {
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() {
			return errors.New("not an absolute URI")
		}
		return nil
	}),
}

// validateRequest checks the request against its operation in openapi.yaml:
// security, parameters and body. Nothing after it sees a request the
// contract does not allow.
func (s *Server) validateRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		fastOK := s.checks[st.route].requestOK(r.Context(), r, st.body)
		if fastOK && !s.crossCheck {
			next.ServeHTTP(w, r)
			return
		}
		err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
			Request: r,
			Route:   st.route,
			Options: &s.requestOptions,
		})
		if s.crossCheck && fastOK != (err == nil) {
			s.log.ErrorContext(r.Context(), "validators disagree about a request", "method", r.Method, "path", r.URL.Path,
				"fast_path_valid", fastOK, "kin_openapi", fmt.Sprint(err))
		}
		if err != nil {
			s.writeError(w, r, requestError(err))
			return
		}
		if st.body != nil {
			// kin-openapi has read the body: the handler reads it again.
			r.Body = io.NopCloser(bytes.NewReader(st.body))
		}
		next.ServeHTTP(w, r)
	})
}

// requestError translates what the validator found into the envelope's
// errors: one entry per problem, each naming its member of the body by a
// JSON Pointer and saying what is wrong in words, never as a Go error dump.
func requestError(err error) error {
	var secErr *openapi3filter.SecurityRequirementsError
	if errors.As(err, &secErr) {
		// Not signed in outranks everything else: a caller without a session
		// learns nothing about what the body should have been.
		for _, e := range secErr.Errors {
			if !errors.Is(e, errNoSession) && !errors.Is(e, openapi3filter.ErrAuthenticationServiceMissing) {
				var ae *apiError
				if !errors.As(e, &ae) {
					return internalError(e)
				}
			}
		}
		return errNotAuthenticated
	}
	var t translator
	t.request(err)
	if len(t.out) == 0 {
		return internalError(fmt.Errorf("validator error without a problem: %w", err))
	}
	for _, e := range t.out {
		if e.Code == gen.INVALIDJSON {
			return &apiError{status: http.StatusBadRequest, errors: []gen.Error{e}}
		}
	}
	return &apiError{status: http.StatusBadRequest, errors: t.out}
}

// translator collects the problems of one validation error tree.
type translator struct {
	out []gen.Error
	// objects holds the pointers of the objects whose unknown members
	// were already listed: the validator reports each unknown member of an
	// object with the whole object, so the first report lists them all.
	objects []string
}

// add records a problem unless the same member already has one of the same
// code: a value that breaks several rules (an empty name is both too short
// and blank) is one problem, told by the first rule it breaks.
func (t *translator) add(e gen.Error) {
	for _, o := range t.out {
		if o.Code == e.Code && equalField(o.Field, e.Field) {
			return
		}
	}
	t.out = append(t.out, e)
}

func equalField(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (t *translator) request(err error) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, err := range e {
			t.request(err)
		}
	case *openapi3filter.RequestError:
		switch {
		case e.Parameter != nil:
			t.add(problem(gen.VALIDATIONERROR, "", fmt.Sprintf("%s %s %s", e.Parameter.In, e.Parameter.Name, parameterReason(e))))
		case errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
			t.add(problem(gen.VALIDATIONERROR, "", "a request body is required"))
		default:
			var pe *openapi3filter.ParseError
			if errors.As(e.Err, &pe) {
				t.add(problem(gen.INVALIDJSON, "", jsonProblem(pe)))
				return
			}
			t.schema(e.Err)
		}
	default:
		t.schema(err)
	}
}

func parameterReason(e *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(e.Err, &se) {
		return schemaMessage(se)
	}
	if errors.Is(e.Err, openapi3filter.ErrInvalidRequired) {
		return "is required"
	}
	return "is not valid"
}

// jsonProblem describes malformed JSON the way a person fixing it needs:
// what is wrong and, when known, at which byte.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the body ends before its JSON value does"
	}
	return "the body is not a JSON value"
}

func (t *translator) schema(err error) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, err := range e {
			t.schema(err)
		}
	case *openapi3.SchemaError:
		switch e.SchemaField {
		case "allOf", "anyOf", "oneOf":
			// The reasons are inside: a member such as first_name is a
			// nullable allOf of its type, and the type says what is wrong.
			if e.Origin != nil {
				t.schema(e.Origin)
				return
			}
		case "properties":
			t.unknownMembers(e)
			return
		case "discriminator":
			t.discriminator(e)
			return
		}
		t.one(e)
	case interface{ Unwrap() error }:
		t.schema(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, err := range e.Unwrap() {
			t.schema(err)
		}
	default:
		t.add(problem(gen.VALIDATIONERROR, "", "the request does not match the API description"))
	}
}

// unknownMembers lists the members of an object that its schema does not
// have, each as UNKNOWN_FIELD.
func (t *translator) unknownMembers(e *openapi3.SchemaError) {
	path := e.JSONPointer()
	base := schemacheck.Pointer(path)
	if slices.Contains(t.objects, base) {
		return
	}
	t.objects = append(t.objects, base)
	obj, _ := e.Value.(map[string]any)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if _, known := e.Schema.Properties[k]; !known {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.add(problem(gen.UNKNOWNFIELD, schemacheck.Pointer(append(path[:len(path):len(path)], k)), fmt.Sprintf("%q is not a member this operation accepts", k)))
	}
}

// discriminator describes a missing or unknown value of the member that
// picks one of several body shapes (the sign-in strategy).
func (t *translator) discriminator(e *openapi3.SchemaError) {
	d := e.Schema.Discriminator
	values := make([]string, 0, len(d.Mapping))
	for v := range d.Mapping {
		values = append(values, v)
	}
	slices.Sort(values)
	name := d.PropertyName
	path := append(e.JSONPointer(), name)
	msg := name + " must be one of " + strings.Join(values, ", ")
	if e.Value == nil {
		msg = name + " is required: one of " + strings.Join(values, ", ")
	}
	t.add(problem(gen.VALIDATIONERROR, schemacheck.Pointer(path), msg))
}

func (t *translator) one(e *openapi3.SchemaError) {
	path := e.JSONPointer()
	field := schemacheck.Pointer(path)
	if e.Schema != nil && e.Schema.ReadOnly || e.SchemaField == "readOnly" {
		t.add(problem(gen.READONLYFIELD, field, memberName(path)+" is read-only and cannot be changed"))
		return
	}
	msg := schemaMessage(e)
	if len(path) == 0 {
		t.add(problem(gen.VALIDATIONERROR, "", "the body "+msg))
		return
	}
	t.add(problem(gen.VALIDATIONERROR, field, memberName(path)+" "+msg))
}

// schemaMessage says in words which rule of the schema the value breaks.
func schemaMessage(e *openapi3.SchemaError) string {
	s := e.Schema
	if s == nil {
		return "is not valid"
	}
	switch e.SchemaField {
	case "type":
		var types []string
		for _, t := range s.Type.Slice() {
			types = append(types, article(t)+" "+t)
		}
		if s.Nullable {
			types = append(types, "null")
		}
		return "must be " + strings.Join(types, " or ")
	case "nullable":
		return "must not be null"
	case "required":
		return "is required"
	case "minLength":
		if s.MinLength == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters", s.MinLength)
	case "maxLength":
		if s.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters", *s.MaxLength)
		}
	case "pattern":
		if m, ok := s.Extensions["x-pattern-message"].(string); ok {
			return m
		}
		return "does not have the required form"
	case "format":
		switch s.Format {
		case "email":
			return "must be an email address"
		case "uri":
			return "must be an absolute URL"
		}
		return "must be a valid " + s.Format
	case "enum":
		vals := make([]string, 0, len(s.Enum))
		for _, v := range s.Enum {
			vals = append(vals, fmt.Sprint(v))
		}
		return "must be one of " + strings.Join(vals, ", ")
	case "minProperties":
		if s.MinProps == 1 {
			return "must have at least one member"
		}
		return fmt.Sprintf("must have at least %d members", s.MinProps)
	case "maxProperties":
		if s.MaxProps != nil {
			return fmt.Sprintf("must have at most %d members", *s.MaxProps)
		}
	}
	if e.Reason != "" {
		return "is not valid: " + e.Reason
	}
	return "is not valid"
}

func article(typ string) string {
	if strings.IndexByte("aeiou", typ[0]) >= 0 {
		return "an"
	}
	return "a"
}

// memberName names a member in a message: its path with dots.
func memberName(path []string) string {
	return strings.Join(path, ".")
}
