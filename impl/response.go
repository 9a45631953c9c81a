package impl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// ResponseValidation says what happens to a response that openapi.yaml
// does not allow.
type ResponseValidation string

const (
	// ValidateEnforce replaces an invalid response with 500 INTERNAL and
	// logs it: the client never sees a byte the contract does not allow.
	ValidateEnforce ResponseValidation = "enforce"
	// ValidateLog sends the response as it is and logs the violation.
	ValidateLog ResponseValidation = "log"
	// ValidateOff does not check responses.
	ValidateOff ResponseValidation = "off"
)

// ParseResponseValidation reads a mode as the flag gives it.
func ParseResponseValidation(s string) (ResponseValidation, error) {
	switch m := ResponseValidation(s); m {
	case ValidateEnforce, ValidateLog, ValidateOff:
		return m, nil
	}
	return "", fmt.Errorf("response validation %q: must be enforce, log or off", s)
}

// recorder holds a response until it has been checked.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.body.Write(p)
}

// validateResponse checks every response of an operation against what
// openapi.yaml declares for it: the status must be declared, and the
// headers and body must match.
func (s *Server) validateResponse(next http.Handler) http.Handler {
	if s.responseValidation == ValidateOff {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		if err := s.checkResponse(r, rec); err != nil {
			st := stateOf(r.Context())
			s.metrics.violations.WithLabelValues(st.route.Path, r.Method).Inc()
			s.log.ErrorContext(r.Context(), "response does not match openapi.yaml",
				"method", r.Method, "path", r.URL.Path, "status", rec.status, "mode", string(s.responseValidation),
				"request_id", st.requestID, "err", err)
			if s.responseValidation == ValidateEnforce {
				rec = s.internalErrorResponse(r)
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = rec.body.WriteTo(w)
	})
}

func (s *Server) checkResponse(r *http.Request, rec *recorder) error {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	st := stateOf(r.Context())
	err := s.checks[st.route].responseError(rec.status, rec.header, rec.body.Bytes())
	if errors.Is(err, errSlowPath) || s.crossCheck {
		kinErr := s.kinCheckResponse(r, rec)
		if s.crossCheck && !errors.Is(err, errSlowPath) && (err == nil) != (kinErr == nil) {
			s.log.ErrorContext(r.Context(), "validators disagree about a response", "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "fast_path", fmt.Sprint(err), "kin_openapi", fmt.Sprint(kinErr))
		}
		return kinErr
	}
	return err
}

// kinCheckResponse is the reference check of a response: kin-openapi's.
func (s *Server) kinCheckResponse(r *http.Request, rec *recorder) error {
	return openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, Route: stateOf(r.Context()).route},
		Status:                 rec.status,
		Header:                 rec.header,
		Body:                   io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Options:                &s.responseOptions,
	})
}

// internalErrorResponse is what enforce sends instead of an invalid
// response: 500 INTERNAL with the caller's session, or with an empty one
// when the session itself is what the contract does not allow (a user
// stored before a rule was tightened, say).
func (s *Server) internalErrorResponse(r *http.Request) *recorder {
	st := stateOf(r.Context())
	rec := &recorder{header: http.Header{}}
	writeJSON(rec, http.StatusInternalServerError, errorEnvelope(st, internalError(nil)))
	if s.checkResponse(r, rec) == nil {
		return rec
	}
	rec = &recorder{header: http.Header{}}
	writeJSON(rec, http.StatusInternalServerError, errorEnvelope(&requestState{route: st.route, requestID: st.requestID}, internalError(nil)))
	return rec
}
