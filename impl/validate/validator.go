package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Options configure a Validator. Zero values mean: no format checks beyond
// date-time, no memo, no cross-check, nobody authenticated.
type Options struct {
	// Formats check the string formats the document uses (date-time,
	// password, byte and binary need none); a format without a check is an
	// error at New.
	Formats Formats
	// MemoSize bounds how many values found valid each direction remembers,
	// so that the same bytes are not checked twice (see memo).
	MemoSize int
	// Authenticate checks one security scheme of the document for a
	// request: nil when the caller satisfies it. An error that is not
	// ErrUnauthenticated is a failure (the store did not answer, say),
	// which Request returns as it is.
	Authenticate func(ctx context.Context, scheme string) error
	// Unrouted names, by status, the component responses that a request
	// matching no operation may be answered with (404, 405, 500).
	Unrouted map[int]string
	// CrossCheck has kin-openapi judge every request and response beside
	// the fast path and logs any disagreement on Logger as an error
	// ("validators disagree"). The tests set it; it doubles the cost.
	CrossCheck bool
	Logger     *slog.Logger
}

// ErrUnauthenticated is what Authenticate returns for a caller that does
// not satisfy a scheme, and what Request returns when an operation needs
// one.
var ErrUnauthenticated = errors.New("the caller does not satisfy the operation's security")

// Validator checks requests and responses against one OpenAPI 3.0
// document.
type Validator struct {
	doc         *openapi3.T
	ops         map[string]*Operation // "METHOD /path/template"
	unrouted    map[int]*responseCheck
	opts        Options
	kinRequest  openapi3filter.Options
	kinResponse openapi3filter.Options
}

// New compiles every operation of doc.
func New(doc *openapi3.T, opts Options) (*Validator, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Authenticate == nil {
		opts.Authenticate = func(context.Context, string) error { return ErrUnauthenticated }
	}
	v := &Validator{doc: doc, ops: map[string]*Operation{}, unrouted: map[int]*responseCheck{}, opts: opts}
	req := newCompiler(doc, dirRequest, opts.Formats, opts.MemoSize)
	res := newCompiler(doc, dirResponse, opts.Formats, opts.MemoSize)
	common, err := commonHeaders(doc, res)
	if err != nil {
		return nil, err
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			o, err := compileOp(doc, route, req, res, common)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			v.ops[method+" "+path] = o
		}
	}
	for status, name := range opts.Unrouted {
		ref := doc.Components.Responses[name]
		if ref == nil || ref.Value == nil {
			return nil, fmt.Errorf("unrouted %d: no component response %q", status, name)
		}
		rc, err := compileResponse(ref.Value, res, common)
		if err != nil {
			return nil, fmt.Errorf("unrouted %d: %w", status, err)
		}
		v.unrouted[status] = rc
	}
	kinFormats := map[string]openapi3.StringFormatValidator{}
	for name, f := range opts.Formats {
		kinFormats[name] = openapi3.NewCallbackValidator(f)
	}
	schemaOptions := []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(kinFormats)}
	v.kinRequest = openapi3filter.Options{
		MultiError:          true,
		SkipSettingDefaults: true,
		AuthenticationFunc: func(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
			return opts.Authenticate(ctx, in.SecuritySchemeName)
		},
		SchemaValidationOptions: schemaOptions,
	}
	v.kinResponse = openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		// The log names the member and the rule; a dump of the schema and
		// the value in every line would bury that.
		SchemaValidationOptions: append(slices.Clip(schemaOptions), openapi3.DisableSchemaErrorDetails()),
	}
	return v, nil
}

// Operation returns the operation of the document at this method and path
// template (as the router matched it, e.g. /me), or nil.
func (v *Validator) Operation(method, pathTemplate string) *Operation {
	return v.ops[method+" "+pathTemplate]
}

// Operations lists every operation of the document.
func (v *Validator) Operations() []*Operation {
	ops := make([]*Operation, 0, len(v.ops))
	for _, o := range v.ops {
		ops = append(ops, o)
	}
	slices.SortFunc(ops, func(a, b *Operation) int { return strings.Compare(a.Method()+a.Path(), b.Method()+b.Path()) })
	return ops
}

// Request checks a request against its operation: security, parameters and
// body (given apart, as read from the request; r.Body is not read). It
// returns nil when the request is valid, ErrUnauthenticated (possibly
// wrapped) when its caller does not satisfy the operation's security, a
// *RequestError listing every problem found, or the error Authenticate
// failed with.
func (v *Validator) Request(ctx context.Context, op *Operation, r *http.Request, body []byte) error {
	fastOK := op.requestOK(ctx, v.opts.Authenticate, r, body)
	if fastOK && !v.opts.CrossCheck {
		return nil
	}
	kinErr := v.kinCheckRequest(ctx, op, r, body)
	if v.opts.CrossCheck && fastOK != (kinErr == nil) {
		v.opts.Logger.ErrorContext(ctx, "validators disagree about a request", "method", r.Method, "path", r.URL.Path,
			"fast_path_valid", fastOK, "kin_openapi", fmt.Sprint(kinErr))
	}
	if kinErr == nil {
		return nil
	}
	return translateRequest(kinErr, v.kinRequest.SchemaValidationOptions)
}

func (v *Validator) kinCheckRequest(ctx context.Context, op *Operation, r *http.Request, body []byte) error {
	saved := r.Body
	defer func() { r.Body = saved }()
	if len(body) == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request: r,
		Route:   op.route,
		Options: &v.kinRequest,
	})
}

// Response checks a response: its status must be one the operation
// declares, every value of every declared header must match its schema,
// and the body must be of a declared media type and match its schema. op
// is nil for a request that matched no operation: its response must be one
// of Options.Unrouted. r is the request it answers.
func (v *Validator) Response(ctx context.Context, op *Operation, r *http.Request, status int, h http.Header, body []byte) error {
	var rc *responseCheck
	if op == nil {
		rc = v.unrouted[status]
	} else {
		rc = op.responses[status]
	}
	if rc == nil {
		return fmt.Errorf("status %d is not declared", status)
	}
	// Headers are judged here alone: kin-openapi reads only the first
	// value of each, where every value is sent.
	if err := checkHeaders(rc.headers, h); err != nil {
		return err
	}
	err := rc.checkBody(h, body, r != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead))
	slow := errors.Is(err, errSlowPath)
	switch {
	case op == nil && slow:
		return fmt.Errorf("a %s body is not checked for requests that match no operation", mediaType(h))
	case op == nil, !slow && !v.opts.CrossCheck, rc.text[mediaType(h)] != nil:
		// A body that is not JSON is the fast path's alone to judge:
		// kin-openapi would need a decoder registered for its media type,
		// for the whole process.
		return err
	}
	kinErr := v.kinCheckResponse(ctx, op, r, status, h, body)
	if v.opts.CrossCheck && !slow && (err == nil) != (kinErr == nil) {
		v.opts.Logger.ErrorContext(ctx, "validators disagree about a response", "method", r.Method, "path", r.URL.Path,
			"status", status, "fast_path", fmt.Sprint(err), "kin_openapi", fmt.Sprint(kinErr))
	}
	return kinErr
}

// kinCheckResponse is the reference check of a response: kin-openapi's.
func (v *Validator) kinCheckResponse(ctx context.Context, op *Operation, r *http.Request, status int, h http.Header, body []byte) error {
	return openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, Route: op.route},
		Status:                 status,
		Header:                 h,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &v.kinResponse,
	})
}

func mediaType(h http.Header) string {
	mt, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
