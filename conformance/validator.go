package conformance

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-json-experiment/json/jsontext"
)

// Validator checks responses against an OpenAPI document, and against the
// rules of meapi's envelope that a schema cannot state. It is written apart
// from the server's own response validation, so that the two check each
// other.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	// common are the headers any response may carry besides its own
	// (components.x-response-headers), by canonical name.
	common map[string]*openapi3.Header
	// orders are the member orders the envelope's objects must come in
	// (their schemas' x-order), by the schema's name.
	orders map[string][]string
}

// formats are this package's checks of the string formats the contract
// uses.
var formats = map[string]openapi3.StringFormatValidator{
	"email": openapi3.NewCallbackValidator(func(s string) error {
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
			return errors.New("not an email address")
		}
		return nil
	}),
	"uri": openapi3.NewCallbackValidator(func(s string) error {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return errors.New("not an absolute URI")
		}
		return nil
	}),
}

var schemaOptions = []openapi3.SchemaValidationOption{
	openapi3.WithStringFormatValidators(formats), openapi3.DisableSchemaErrorDetails(), openapi3.MultiErrors(),
}

// NewValidator loads an OpenAPI document (YAML or JSON).
func NewValidator(spec []byte) (*Validator, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	doc.Servers = nil // match requests to whatever host is under test
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	v := &Validator{doc: doc, router: router, common: map[string]*openapi3.Header{}, orders: map[string][]string{}}
	if list, ok := doc.Components.Extensions["x-response-headers"].(map[string]any); ok {
		for name, ref := range list {
			r, _ := ref.(map[string]any)["$ref"].(string)
			h := doc.Components.Headers[strings.TrimPrefix(r, "#/components/headers/")]
			if h == nil || h.Value == nil {
				return nil, fmt.Errorf("x-response-headers: %s is not a $ref of components.headers", name)
			}
			v.common[http.CanonicalHeaderKey(name)] = h.Value
		}
	}
	for name, ref := range doc.Components.Schemas {
		if order := xOrder(ref.Value); order != nil {
			v.orders[name] = order
		}
	}
	return v, nil
}

// xOrder lists a schema's members by their x-order, or nil when they have
// none.
func xOrder(s *openapi3.Schema) []string {
	type member struct {
		name  string
		order float64
	}
	var ms []member
	for name, p := range s.Properties {
		o, ok := p.Extensions["x-order"].(float64)
		if !ok {
			return nil
		}
		ms = append(ms, member{name, o})
	}
	slices.SortFunc(ms, func(a, b member) int { return cmp.Compare(a.order, b.order) })
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names
}

// Doc is the document the validator checks against.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Check says how a response to req breaks the contract, or returns nil:
// its status, headers and body must be what the operation declares (every
// value of a header that comes more than once, and the headers any
// response may carry, included); a response to a path the contract does not
// have must be an ErrorEnvelope; and every JSON envelope must say the HTTP
// status, carry errors and a message exactly when it is an error, word its
// errors for people, and have its members in the contract's order.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	var declared openapi3.Headers
	route, _, err := v.router.FindRoute(req)
	if err == nil {
		op := route.Operation
		if r := op.Responses.Status(status); r != nil && r.Value != nil {
			declared = r.Value.Headers
			if err := checkTextBody(r.Value, header, body); err != nil {
				return err
			}
		}
		in := &openapi3filter.ResponseValidationInput{
			// The validator reads the request only for its method.
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
			Status:                 status,
			Header:                 header,
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options: &openapi3filter.Options{
				IncludeResponseStatus: true,
				MultiError:            true,
				// kin-openapi decodes only JSON bodies here without a
				// decoder registered for the whole process; checkTextBody
				// has judged the others.
				ExcludeResponseBody:     !isJSONResponse(header),
				SchemaValidationOptions: schemaOptions,
			},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			return fmt.Errorf("response breaks openapi.yaml: %w", err)
		}
	} else {
		var value any
		if err := json.Unmarshal(body, &value); err != nil {
			return fmt.Errorf("%d to a path without an operation, and its body is not JSON: %w", status, err)
		}
		schema := v.doc.Components.Schemas["ErrorEnvelope"].Value
		if err := schema.VisitJSON(value, schemaOptions...); err != nil {
			return fmt.Errorf("%d to a path without an operation is not an ErrorEnvelope: %w", status, err)
		}
	}
	if err := v.checkHeaderValues(declared, header); err != nil {
		return err
	}
	if !isJSONResponse(header) {
		return nil
	}
	if err := checkEnvelope(status, body); err != nil {
		return err
	}
	return v.checkOrder(body)
}

func isJSONResponse(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// checkTextBody checks a body that is not JSON against its media type's
// schema, as a string.
func checkTextBody(r *openapi3.Response, header http.Header, body []byte) error {
	if isJSONResponse(header) {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	media := r.Content.Get(mt)
	if media == nil {
		return fmt.Errorf("response breaks openapi.yaml: Content-Type %q is not declared", header.Get("Content-Type"))
	}
	if !utf8.Valid(body) {
		return fmt.Errorf("response breaks openapi.yaml: the %s body is not UTF-8 text", mt)
	}
	if err := media.Schema.Value.VisitJSON(string(body), schemaOptions...); err != nil {
		return fmt.Errorf("response breaks openapi.yaml: the %s body: %w", mt, err)
	}
	return nil
}

// checkHeaderValues checks every value of the declared headers (kin-openapi
// reads only the first) and of the headers any response may carry.
func (v *Validator) checkHeaderValues(declared openapi3.Headers, header http.Header) error {
	check := func(name string, h *openapi3.Header) error {
		for _, value := range header.Values(name) {
			if err := h.Schema.Value.VisitJSON(value, schemaOptions...); err != nil {
				return fmt.Errorf("response breaks openapi.yaml: header %s %q: %w", name, value, err)
			}
		}
		return nil
	}
	own := map[string]bool{}
	for name, h := range declared {
		own[http.CanonicalHeaderKey(name)] = true
		if h.Value == nil || h.Value.Schema == nil || !h.Value.Schema.Value.Type.Is("string") {
			continue
		}
		if err := check(name, h.Value); err != nil {
			return err
		}
	}
	for name, h := range v.common {
		if !own[name] {
			if err := check(name, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkOrder holds the envelope's objects to the member order of their
// schemas: the envelope's five members, the session's four, each sign-in's
// three, each user's twelve.
func (v *Validator) checkOrder(body []byte) error {
	type object struct {
		what   string
		raw    jsontext.Value
		schema string
	}
	var env struct {
		Data    jsontext.Value `json:"data"`
		Session jsontext.Value `json:"session"`
	}
	var session struct {
		Signins      []jsontext.Value `json:"signins"`
		ActiveSignin jsontext.Value   `json:"active_signin"`
	}
	// checkEnvelope has decoded the body already; what does not decode
	// here has no order to check.
	_ = json.Unmarshal(body, &env)
	_ = json.Unmarshal(env.Session, &session)
	objects := []object{{"the envelope", body, "ErrorEnvelope"}, {"session", env.Session, "ClientSession"},
		{"session.active_signin", session.ActiveSignin, "Signin"}}
	for i, s := range session.Signins {
		objects = append(objects, object{fmt.Sprintf("session.signins[%d]", i), s, "Signin"})
	}
	var data map[string]jsontext.Value
	if json.Unmarshal(env.Data, &data) == nil {
		if _, isUser := data["email"]; isUser {
			objects = append(objects, object{"data", env.Data, "User"})
		}
		if u, ok := data["user"]; ok {
			objects = append(objects, object{"data.user", u, "User"})
		}
		var users []jsontext.Value
		_ = json.Unmarshal(data["users"], &users)
		for i, u := range users {
			objects = append(objects, object{fmt.Sprintf("data.users[%d]", i), u, "User"})
		}
	}
	for _, o := range objects {
		want := v.orders[o.schema]
		if want == nil || o.raw.Kind() != '{' {
			continue
		}
		got := memberNames(o.raw)
		// Optional members may be absent: those present must come in the
		// schema's order.
		present := slices.DeleteFunc(slices.Clone(want), func(m string) bool { return !slices.Contains(got, m) })
		if !slices.Equal(got, present) {
			return fmt.Errorf("%s has its members in the order %v, want %v", o.what, got, present)
		}
	}
	return nil
}

// memberNames lists the names of an object's members, in order.
func memberNames(raw jsontext.Value) []string {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.ReadToken(); err != nil {
		return nil
	}
	var names []string
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return names
		}
		names = append(names, name.String())
		if err := dec.SkipValue(); err != nil {
			return names
		}
	}
	return names
}

// Envelope is the part of every JSON response the envelope rules are
// about.
type Envelope struct {
	Status  int             `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Errors  []struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Field   *string `json:"field"`
	} `json:"errors"`
}

func checkEnvelope(status int, body []byte) error {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	if e.Status != status {
		return fmt.Errorf("envelope status %d, HTTP status %d", e.Status, status)
	}
	if ok := status < 400; ok != (len(e.Errors) == 0) || ok != (e.Message == "") {
		return errors.New("errors and message must be empty exactly on success")
	}
	if status >= 400 && string(e.Data) != "null" {
		return fmt.Errorf("an error's data must be null, not %s", e.Data)
	}
	for _, er := range e.Errors {
		for _, dump := range []string{"Schema:", "Value:", "Error at", "doesn't match", "\n"} {
			if strings.Contains(er.Message, dump) {
				return fmt.Errorf("error message reads like a Go error dump: %q", er.Message)
			}
		}
	}
	return nil
}
