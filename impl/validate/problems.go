package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// Kind says what sort of problem a request has.
type Kind int

const (
	// Invalid: a value breaks a rule of its schema.
	Invalid Kind = iota
	// Unknown: a member that its object's schema does not have.
	Unknown
	// ReadOnly: a member that its schema marks readOnly, sent in a request.
	ReadOnly
	// Malformed: the body is not JSON.
	Malformed
)

// Problem is one thing wrong with a request, told for people: Field is a
// JSON Pointer to the member of the body at fault ("" when no single member
// is), Message says what is wrong in words, never as a dump of a schema.
type Problem struct {
	Kind    Kind
	Field   string
	Message string
}

// RequestError lists what is wrong with a request. A value that breaks
// several rules (an empty name is both too short and blank) is one
// problem, told by the first rule it breaks; unknown members are listed in
// sorted order.
type RequestError struct {
	Problems []Problem
}

func (e *RequestError) Error() string {
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		msgs = append(msgs, p.Field+": "+p.Message)
	}
	return "invalid request: " + strings.Join(msgs, "; ")
}

// translateRequest turns what kin-openapi found into ErrUnauthenticated, a
// failure of the authentication check, or a *RequestError.
func translateRequest(err error, opts []openapi3.SchemaValidationOption) error {
	var secErr *openapi3filter.SecurityRequirementsError
	if errors.As(err, &secErr) {
		// Not signed in outranks everything else: a caller without a session
		// learns nothing about what the body should have been.
		for _, e := range secErr.Errors {
			if !errors.Is(e, ErrUnauthenticated) && !errors.Is(e, openapi3filter.ErrAuthenticationServiceMissing) {
				return e
			}
		}
		return ErrUnauthenticated
	}
	t := translator{opts: opts}
	t.request(err)
	if len(t.out) == 0 {
		return fmt.Errorf("validator error without a problem: %w", err)
	}
	for _, p := range t.out {
		if p.Kind == Malformed {
			return &RequestError{Problems: []Problem{p}}
		}
	}
	return &RequestError{Problems: t.out}
}

// translator collects the problems of one validation error tree.
type translator struct {
	out []Problem
	// objects holds the pointers of the objects whose unknown members
	// were already listed: the validator reports each unknown member of an
	// object with the whole object, so the first report lists them all.
	objects []string
	// opts are kin-openapi's options, for judging a value again against
	// one branch of a oneOf.
	opts []openapi3.SchemaValidationOption
}

// add records a problem unless the same member already has one of the same
// kind.
func (t *translator) add(p Problem) {
	for _, o := range t.out {
		if o.Kind == p.Kind && o.Field == p.Field {
			return
		}
	}
	t.out = append(t.out, p)
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
			t.add(Problem{Kind: Invalid, Message: fmt.Sprintf("%s %s %s", e.Parameter.In, e.Parameter.Name, parameterReason(e))})
		case errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
			t.add(Problem{Kind: Invalid, Message: "a request body is required"})
		default:
			var pe *openapi3filter.ParseError
			if errors.As(e.Err, &pe) {
				t.add(Problem{Kind: Malformed, Message: jsonProblem(pe)})
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
		case "oneOf":
			if t.oneOf(e) {
				return
			}
		case "allOf", "anyOf":
			// The reasons are inside: the type says what is wrong.
			if e.Origin != nil {
				t.schema(e.Origin)
				return
			}
		case "properties", "additionalProperties":
			t.unknownMembers(e)
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
		t.add(Problem{Kind: Invalid, Message: "the request does not match the API description"})
	}
}

// oneOf explains a value that matches none of a oneOf's schemas when they
// are told apart by a tag: a member that each of them requires with one
// value of its own (the sign-in `strategy`). A missing or unknown tag is
// the problem; otherwise the problems are those of the schema the tag
// names, as if it alone had been asked for. It returns false when the
// oneOf has no tag.
func (t *translator) oneOf(e *openapi3.SchemaError) bool {
	tag, byValue := oneOfTag(e.Schema)
	if tag == "" {
		return false
	}
	obj, isObject := e.Value.(map[string]any)
	if !isObject {
		// Every schema of the oneOf is an object with the tag.
		if path := e.JSONPointer(); len(path) > 0 {
			t.add(Problem{Kind: Invalid, Field: pointer(path), Message: memberName(path) + " must be an object"})
		} else {
			t.add(Problem{Kind: Invalid, Message: "the body must be an object"})
		}
		return true
	}
	values := slices.Sorted(func(yield func(string) bool) {
		for v := range byValue {
			if !yield(v) {
				return
			}
		}
	})
	path := append(e.JSONPointer(), tag)
	v, present := obj[tag]
	s, _ := v.(string)
	target := byValue[s]
	switch {
	case !present:
		t.add(Problem{Kind: Invalid, Field: pointer(path), Message: tag + " is required: one of " + strings.Join(values, ", ")})
		return true
	case target == nil:
		t.add(Problem{Kind: Invalid, Field: pointer(path), Message: tag + " must be one of " + strings.Join(values, ", ")})
		return true
	}
	err := target.VisitJSON(e.Value, append(slices.Clip(t.opts), openapi3.MultiErrors(), openapi3.VisitAsRequest())...)
	if err == nil {
		return false
	}
	// The branch's errors point from the oneOf's own place.
	prefix := e.JSONPointer()
	before := len(t.out)
	t.schema(err)
	if len(prefix) > 0 {
		for i := before; i < len(t.out); i++ {
			t.out[i].Field = pointer(prefix) + t.out[i].Field
		}
	}
	return true
}

// oneOfTag finds the member that tells the schemas of s's oneOf apart:
// required by each, with an enum of one string of its own. It returns ""
// when there is none.
func oneOfTag(s *openapi3.Schema) (string, map[string]*openapi3.Schema) {
	if s == nil || len(s.OneOf) == 0 || s.OneOf[0].Value == nil {
		return "", nil
	}
	for name := range s.OneOf[0].Value.Properties {
		byValue := map[string]*openapi3.Schema{}
		for _, ref := range s.OneOf {
			b := ref.Value
			if b == nil || !slices.Contains(b.Required, name) || b.Properties[name] == nil || b.Properties[name].Value == nil {
				break
			}
			enum := b.Properties[name].Value.Enum
			if len(enum) != 1 {
				break
			}
			v, ok := enum[0].(string)
			if !ok || byValue[v] != nil {
				break
			}
			byValue[v] = b
		}
		if len(byValue) == len(s.OneOf) {
			return name, byValue
		}
	}
	return "", nil
}

// unknownMembers lists the members of an object that its schema does not
// have, each as Unknown.
func (t *translator) unknownMembers(e *openapi3.SchemaError) {
	path := e.JSONPointer()
	base := pointer(path)
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
		t.add(Problem{Kind: Unknown, Field: pointer(append(path[:len(path):len(path)], k)), Message: fmt.Sprintf("%q is not a member this operation accepts", k)})
	}
}

func (t *translator) one(e *openapi3.SchemaError) {
	path := e.JSONPointer()
	field := pointer(path)
	if e.Schema != nil && e.Schema.ReadOnly || e.SchemaField == "readOnly" {
		t.add(Problem{Kind: ReadOnly, Field: field, Message: memberName(path) + " is read-only and cannot be changed"})
		return
	}
	msg := schemaMessage(e)
	if len(path) == 0 {
		t.add(Problem{Kind: Invalid, Message: "the body " + msg})
		return
	}
	t.add(Problem{Kind: Invalid, Field: field, Message: memberName(path) + " " + msg})
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
