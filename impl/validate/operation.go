package validate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// Operation is one operation of the document, compiled: its parameters,
// bodies, statuses and headers are checked without decoding into Go values.
type Operation struct {
	route *routers.Route
	// security lists the schemes of which the caller must satisfy one;
	// empty when anyone may call.
	security []string
	headers  []headerCheck
	// bodies holds the request body's checker by JSON media type, nil when
	// the operation takes no body; bodyRequired says whether it may be empty.
	bodies       map[string]*checker
	bodyRequired bool
	responses    map[int]*responseCheck
	// slowRequest is set when the operation has something the fast path
	// does not check (a query parameter, say): kin-openapi checks it.
	slowRequest bool
}

// Spec is the operation as the document states it.
func (o *Operation) Spec() *openapi3.Operation { return o.route.Operation }

// Path is the operation's path template, e.g. /me.
func (o *Operation) Path() string { return o.route.Path }

// Method is the operation's HTTP method.
func (o *Operation) Method() string { return o.route.Method }

// Statuses lists the statuses the operation declares, in order.
func (o *Operation) Statuses() []int {
	return slices.Sorted(maps.Keys(o.responses))
}

type headerCheck struct {
	name     string
	required bool
	check    *checker
}

type responseCheck struct {
	headers []headerCheck
	// media lists the declared media types; json is the checker of the
	// JSON one, text those of the others (each must be a string schema).
	media []string
	json  *checker
	text  map[string]*checker
}

func compileOp(doc *openapi3.T, route *routers.Route, req, res *compiler, common []headerCheck) (*Operation, error) {
	op := route.Operation
	c := &Operation{route: route, responses: map[int]*responseCheck{}}
	security := op.Security
	if security == nil {
		security = &doc.Security
	}
	optional := len(*security) == 0
	for _, r := range *security {
		switch len(r) {
		case 0:
			optional = true
		case 1:
			for name := range r {
				c.security = append(c.security, name)
			}
		default:
			return nil, errors.New("a security requirement of more than one scheme is not supported")
		}
	}
	if optional {
		c.security = nil
	}
	for _, p := range op.Parameters {
		if p.Value.In != openapi3.ParameterInHeader || p.Value.Content != nil {
			c.slowRequest = true
			continue
		}
		s, err := req.compile(p.Value.Schema)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Value.Name, err)
		}
		c.headers = append(c.headers, headerCheck{name: http.CanonicalHeaderKey(p.Value.Name), required: p.Value.Required, check: s})
	}
	if rb := op.RequestBody; rb != nil {
		c.bodyRequired = rb.Value.Required
		c.bodies = map[string]*checker{}
		for mt, media := range rb.Value.Content {
			if !isJSON(mt) {
				c.slowRequest = true // a body of this type goes to kin-openapi
				continue
			}
			s, err := req.compile(media.Schema)
			if err != nil {
				return nil, fmt.Errorf("request body %s: %w", mt, err)
			}
			c.bodies[mt] = s
		}
	}
	for code, ref := range op.Responses.Map() {
		status, err := strconv.Atoi(code)
		if err != nil {
			return nil, fmt.Errorf("response %q: only numeric statuses are supported", code)
		}
		rc, err := compileResponse(ref.Value, res, common)
		if err != nil {
			return nil, fmt.Errorf("response %d: %w", status, err)
		}
		c.responses[status] = rc
	}
	return c, nil
}

// compileResponse compiles a response: its own headers, then the common
// ones it does not declare itself, its bodies.
func compileResponse(r *openapi3.Response, res *compiler, common []headerCheck) (*responseCheck, error) {
	rc := &responseCheck{text: map[string]*checker{}}
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		h := r.Headers[name]
		s, err := res.compile(h.Value.Schema)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", name, err)
		}
		rc.headers = append(rc.headers, headerCheck{name: http.CanonicalHeaderKey(name), required: h.Value.Required, check: s})
	}
	for _, hc := range common {
		if !slices.ContainsFunc(rc.headers, func(d headerCheck) bool { return d.name == hc.name }) {
			rc.headers = append(rc.headers, hc)
		}
	}
	for mt, media := range r.Content {
		rc.media = append(rc.media, mt)
		s, err := res.compile(media.Schema)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mt, err)
		}
		if isJSON(mt) {
			rc.json = s
			continue
		}
		if s.types != tString {
			return nil, fmt.Errorf("%s: a body that is not JSON must have a string schema", mt)
		}
		rc.text[mt] = s
	}
	slices.Sort(rc.media)
	return rc, nil
}

// responseHeadersExtension names the document's list of headers that any
// response may carry besides those its operation declares, each a $ref to
// a header of components.headers.
const responseHeadersExtension = "x-response-headers"

// commonHeaders compiles the document's x-response-headers. They are
// optional wherever they appear, whatever their components say: they may
// come with any response, and need not.
func commonHeaders(doc *openapi3.T, res *compiler) ([]headerCheck, error) {
	raw, ok := doc.Components.Extensions[responseHeadersExtension]
	if !ok {
		return nil, nil
	}
	list, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must map header names to $refs of components.headers", responseHeadersExtension)
	}
	var out []headerCheck
	for _, name := range slices.Sorted(maps.Keys(list)) {
		ref, _ := list[name].(map[string]any)["$ref"].(string)
		h := doc.Components.Headers[strings.TrimPrefix(ref, "#/components/headers/")]
		if !strings.HasPrefix(ref, "#/components/headers/") || h == nil || h.Value == nil {
			return nil, fmt.Errorf("%s: %s must be a $ref of a header in components.headers", responseHeadersExtension, name)
		}
		s, err := res.compile(h.Value.Schema)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", responseHeadersExtension, name, err)
		}
		out = append(out, headerCheck{name: http.CanonicalHeaderKey(name), check: s})
	}
	return out, nil
}

// parseMediaType is mime.ParseMediaType's media type, without its cost for
// the one every JSON answer has.
func parseMediaType(ct string) (string, error) {
	if ct == "application/json" {
		return ct, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	return mt, err
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// checkHeaders checks every value of every declared header: a response may
// carry a header more than once (Set-Cookie), and each value goes out.
func checkHeaders(checks []headerCheck, h http.Header) error {
	for _, hc := range checks {
		v := h.Values(hc.name)
		if len(v) == 0 {
			if hc.required {
				return fmt.Errorf("header %s is required", hc.name)
			}
			continue
		}
		for _, value := range v {
			if err := hc.check.validateText(value); err != nil {
				return fmt.Errorf("header %s: %q %w", hc.name, value, err)
			}
		}
	}
	return nil
}

// requestOK is the fast path of request validation: true when the request
// is certainly valid. False means "ask kin-openapi", which says why.
func (o *Operation) requestOK(ctx context.Context, auth func(context.Context, string) error, r *http.Request, body []byte) bool {
	if o.slowRequest {
		return false
	}
	if len(o.security) > 0 {
		ok := false
		for _, scheme := range o.security {
			if auth(ctx, scheme) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, hc := range o.headers {
		v := r.Header.Values(hc.name)
		if len(v) == 0 {
			if hc.required {
				return false
			}
			continue
		}
		// A header parameter is read from its first line, as the generated
		// router and kin-openapi read it.
		if len(v) > 1 || hc.check.validateText(v[0]) != nil {
			return false
		}
	}
	if o.bodies == nil {
		return true
	}
	if len(body) == 0 {
		return !o.bodyRequired
	}
	mt, err := parseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	s := o.bodies[mt]
	return s != nil && s.validate(body) == nil
}

// errSlowPath says that the fast path cannot judge a response body.
var errSlowPath = errors.New("not checked by the fast path")

// checkBody is the fast path of response body validation: nil when the
// body is valid, errSlowPath when kin-openapi must judge it. Only the
// answers to reads (remember) are kept in the memo.
func (rc *responseCheck) checkBody(h http.Header, body []byte, remember bool) error {
	if len(rc.media) == 0 {
		if len(body) > 0 {
			return errors.New("a body where none is declared")
		}
		return nil
	}
	ct := h.Get("Content-Type")
	mt, err := parseMediaType(ct)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %w", ct, err)
	}
	if !slices.Contains(rc.media, mt) {
		return fmt.Errorf("Content-Type %s is not declared; declared: %s", mt, strings.Join(rc.media, ", "))
	}
	if s := rc.text[mt]; s != nil {
		if s.binary {
			return nil // any bytes
		}
		if !utf8.Valid(body) {
			return errors.New("the body is not UTF-8 text")
		}
		return s.validateText(string(body))
	}
	if mt != "application/json" || rc.json == nil {
		return errSlowPath
	}
	return rc.json.validateAndRemember(body, remember)
}
