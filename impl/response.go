package impl

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
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

// recorder holds a response until it has been checked: its status, every
// header (those the layers outside it had set included) and its body.
type recorder struct {
	header http.Header
	// outer is what the layers outside had set before the response began
	// (the real writer's header, which nothing touches until the answer is
	// copied into it): a replacement of the response keeps it.
	outer  http.Header
	status int
	body   bytes.Buffer
}

var recorders = sync.Pool{New: func() any { return &recorder{} }}

func newRecorder(outer http.Header) *recorder {
	rec := recorders.Get().(*recorder)
	rec.header, rec.outer, rec.status = outer.Clone(), outer, 0
	rec.body.Reset()
	return rec
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

// reset forgets the response so far, for one that replaces it.
func (rec *recorder) reset() {
	rec.header = rec.outer.Clone()
	rec.status = 0
	rec.body.Reset()
}

// validateResponse checks every response of the layers inside it against
// openapi.yaml: the status must be one its operation declares (or, for a
// request that matched none, an answer such requests get), every value of
// every declared header must match, and so must the body. Nothing goes
// out before the check.
func (s *Server) validateResponse(next http.Handler) http.Handler {
	if s.responseValidation == ValidateOff {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := newRecorder(w.Header())
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		st := stateOf(r.Context())
		// A client that has gone reads nothing: there is no answer to check
		// (writeError marks it so).
		if rec.status != StatusClientClosedRequest {
			if err := s.validator.Response(r.Context(), st.op, r, rec.status, rec.header, rec.body.Bytes()); err != nil {
				s.metrics.violations.WithLabelValues(st.routeLabel(), r.Method).Inc()
				s.log.ErrorContext(r.Context(), "response does not match openapi.yaml",
					"method", r.Method, "path", r.URL.Path, "status", rec.status, "mode", string(s.responseValidation),
					"request_id", st.requestID, "err", err)
				if s.responseValidation == ValidateEnforce {
					s.replaceWithInternalError(r, rec)
				}
			}
		}
		h := w.Header()
		for k := range h {
			if _, kept := rec.header[k]; !kept {
				delete(h, k)
			}
		}
		for k, v := range rec.header {
			h[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = rec.body.WriteTo(w)
		// A recorder that held a large body (the API reference's script)
		// is not kept: the pool would keep its memory for good.
		if rec.body.Cap() <= 64<<10 {
			rec.header, rec.outer = nil, nil
			recorders.Put(rec)
		}
	})
}

// replaceWithInternalError is what enforce sends instead of an invalid
// response: 500 INTERNAL with the caller's session and the headers the
// outer layers had set; else, when the session itself is what the contract
// does not allow (a user stored before a rule was tightened, say), with an
// empty one; else, when an outer layer's header is at fault, with the
// request id alone of them.
func (s *Server) replaceWithInternalError(r *http.Request, rec *recorder) {
	st := stateOf(r.Context())
	noSession := &requestState{op: st.op, requestID: st.requestID}
	for i, state := range []*requestState{st, noSession, noSession} {
		rec.reset()
		if i == 2 {
			rec.header = http.Header{}
			if id := rec.outer.Values("X-Request-Id"); id != nil {
				rec.header["X-Request-Id"] = id
			}
		}
		writeJSON(rec, http.StatusInternalServerError, errorEnvelope(state, internalError(nil)))
		if s.validator.Response(r.Context(), st.op, r, rec.status, rec.header, rec.body.Bytes()) == nil {
			return
		}
	}
}
