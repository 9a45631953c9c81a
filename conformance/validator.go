package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// The API reference's page and script are text; the validator reads
	// them as strings rather than refusing a media type it has no decoder for.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
}

// Validator checks responses against an OpenAPI document, and against the
// rules of meapi's envelope that a schema cannot state. It is written apart
// from the server's own response validation, so that the two check each
// other.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
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
	return &Validator{doc: doc, router: router}, nil
}

// Doc is the document the validator checks against.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Check says how a response to req breaks the contract, or returns nil:
// its status, headers and body must be what the operation declares; a
// response to a path the contract does not have must be an ErrorEnvelope;
// and every JSON envelope must say the HTTP status, carry errors and a
// message exactly when it is an error, and word its errors for people.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, _, err := v.router.FindRoute(req)
	if err == nil {
		in := &openapi3filter.ResponseValidationInput{
			// The validator reads the request only for its method.
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
			Status:                 status,
			Header:                 header,
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options: &openapi3filter.Options{
				IncludeResponseStatus: true,
				MultiError:            true,
				SchemaValidationOptions: []openapi3.SchemaValidationOption{
					openapi3.WithStringFormatValidators(formats), openapi3.DisableSchemaErrorDetails(),
				},
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
		if err := schema.VisitJSON(value, openapi3.MultiErrors(), openapi3.WithStringFormatValidators(formats), openapi3.DisableSchemaErrorDetails()); err != nil {
			return fmt.Errorf("%d to a path without an operation is not an ErrorEnvelope: %w", status, err)
		}
	}
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return nil
	}
	return checkEnvelope(status, body)
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
	for _, er := range e.Errors {
		for _, dump := range []string{"Schema:", "Value:", "Error at", "doesn't match", "\n"} {
			if strings.Contains(er.Message, dump) {
				return fmt.Errorf("error message reads like a Go error dump: %q", er.Message)
			}
		}
	}
	return nil
}
