package impl

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"meapi/impl/schemacheck"
)

// The validators run on every request and every response, so they have a
// fast path: each operation's parameters, bodies, statuses and headers are
// compiled once (schemacheck) and checked without decoding into Go values.
// kin-openapi stays the reference: it is asked whenever the fast path
// refuses something (to say in detail what is wrong), for media types the
// fast path does not read, and, with Config.CrossCheckValidation (the
// tests), about everything, any disagreement being logged as an error.

// memoSize bounds how many valid values each component schema remembers:
// enough for the users active at once on a busy server, at 16 bytes and a
// map entry each.
const memoSize = 4096

// opCheck is an operation, compiled.
type opCheck struct {
	// security: anyone, or only a caller with a session.
	needsSession bool
	headers      []headerCheck
	// bodies holds the request body's schema by JSON media type, nil when
	// the operation takes no body; bodyRequired says whether it may be empty.
	bodies       map[string]*schemacheck.Schema
	bodyRequired bool
	responses    map[int]*responseCheck
	// slowRequest is set when the operation has something the fast path
	// does not check (a query parameter, say): kin-openapi checks it.
	slowRequest bool
}

type headerCheck struct {
	name     string
	required bool
	schema   *schemacheck.Schema
}

type responseCheck struct {
	headers []headerCheck
	// media lists the declared media types; json is the schema of the JSON
	// one. A response of another declared media type goes to kin-openapi.
	media []string
	json  *schemacheck.Schema
}

func compileChecks(doc *openapi3.T, routes map[string]*routers.Route) (map[*routers.Route]*opCheck, error) {
	formats := schemacheck.Formats{}
	for name, f := range formatValidators {
		formats[name] = f.Validate
	}
	req := schemacheck.NewCompiler(doc, schemacheck.Request, formats, memoSize)
	res := schemacheck.NewCompiler(doc, schemacheck.Response, formats, memoSize)
	checks := map[*routers.Route]*opCheck{}
	for key, route := range routes {
		op, err := compileOp(doc, route.Operation, req, res)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		checks[route] = op
	}
	return checks, nil
}

func compileOp(doc *openapi3.T, op *openapi3.Operation, req, res *schemacheck.Compiler) (*opCheck, error) {
	c := &opCheck{responses: map[int]*responseCheck{}}
	security := op.Security
	if security == nil {
		security = &doc.Security
	}
	optional := len(*security) == 0
	for _, r := range *security {
		switch {
		case len(r) == 0:
			optional = true
		case len(r) == 1 && r["session"] != nil:
		default:
			return nil, errors.New("a security requirement other than session")
		}
	}
	c.needsSession = !optional
	for _, p := range op.Parameters {
		if p.Value.In != openapi3.ParameterInHeader || p.Value.Content != nil {
			c.slowRequest = true
			continue
		}
		s, err := req.Compile(p.Value.Schema)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Value.Name, err)
		}
		c.headers = append(c.headers, headerCheck{name: http.CanonicalHeaderKey(p.Value.Name), required: p.Value.Required, schema: s})
	}
	if rb := op.RequestBody; rb != nil {
		c.bodyRequired = rb.Value.Required
		c.bodies = map[string]*schemacheck.Schema{}
		for mt, media := range rb.Value.Content {
			if !isJSON(mt) {
				continue // a body of this type goes to kin-openapi
			}
			s, err := req.Compile(media.Schema)
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
		rc := &responseCheck{}
		for name, h := range ref.Value.Headers {
			s, err := res.Compile(h.Value.Schema)
			if err != nil {
				return nil, fmt.Errorf("response %d header %s: %w", status, name, err)
			}
			rc.headers = append(rc.headers, headerCheck{name: http.CanonicalHeaderKey(name), required: h.Value.Required, schema: s})
		}
		for mt, media := range ref.Value.Content {
			rc.media = append(rc.media, mt)
			if isJSON(mt) {
				if rc.json, err = res.Compile(media.Schema); err != nil {
					return nil, fmt.Errorf("response %d %s: %w", status, mt, err)
				}
			}
		}
		c.responses[status] = rc
	}
	return c, nil
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

func checkHeaders(checks []headerCheck, h http.Header) error {
	for _, hc := range checks {
		v := h.Values(hc.name)
		if len(v) == 0 {
			if hc.required {
				return fmt.Errorf("header %s is required", hc.name)
			}
			continue
		}
		if err := hc.schema.ValidateText(v[0]); err != nil {
			return fmt.Errorf("header %s: %w", hc.name, err)
		}
	}
	return nil
}

// requestOK is the fast path of request validation: true when the request
// is certainly valid. False means "ask kin-openapi", which says why.
func (c *opCheck) requestOK(ctx context.Context, r *http.Request, body []byte) bool {
	if c.slowRequest {
		return false
	}
	if c.needsSession && authenticate(ctx) != nil {
		return false
	}
	if checkHeaders(c.headers, r.Header) != nil {
		return false
	}
	if c.bodies == nil {
		return true
	}
	if len(body) == 0 {
		return !c.bodyRequired
	}
	// readBody has left the media type alone in Content-Type.
	schema := c.bodies[r.Header.Get("Content-Type")]
	return schema != nil && schema.Validate(body) == nil
}

// errSlowPath says that the fast path cannot judge a response.
var errSlowPath = errors.New("not checked by the fast path")

// responseError is the fast path of response validation: nil when the
// response is valid, errSlowPath when kin-openapi must judge it.
func (c *opCheck) responseError(status int, h http.Header, body []byte) error {
	rc := c.responses[status]
	if rc == nil {
		return fmt.Errorf("status %d is not declared", status)
	}
	if err := checkHeaders(rc.headers, h); err != nil {
		return err
	}
	if len(rc.media) == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("Content-Type %q: %w", h.Get("Content-Type"), err)
	}
	if mt != "application/json" || rc.json == nil {
		return errSlowPath
	}
	return rc.json.Validate(body)
}
