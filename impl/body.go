package impl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-json-experiment/json/jsontext"

	"meapi/gen"
)

// MaxBodyBytes is the largest request body accepted: far more than any
// request of this API needs, small enough that nobody can make the server
// buffer much.
const MaxBodyBytes = 16 << 10

// readBody reads and checks the body of an operation that takes one, before
// anything else looks at it: its size (413), its media type (415), and that
// it is one well-formed JSON value (400 INVALID_JSON, see checkJSON). The body is then held in memory for the validator and the
// handler. An optional body may be empty; for an operation without a
// request body, a body is ignored.
func (s *Server) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rb := stateOf(r.Context()).op.Spec().RequestBody
		if rb == nil {
			r.Body = http.NoBody
			next.ServeHTTP(w, r)
			return
		}
		if err := checkBody(r, rb.Value); err != nil {
			if err.status == http.StatusRequestEntityTooLarge {
				// The rest of the body is not read: don't let the client send
				// it on this connection.
				w.Header().Set("Connection", "close")
			}
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func checkBody(r *http.Request, rb *openapi3.RequestBody) *apiError {
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		// The client stopped sending, or sent too slowly for the read
		// timeout; if it still listens, it learns why.
		return newAPIError(http.StatusBadRequest, gen.INVALIDJSON, "", "the request body could not be read to its end")
	}
	if len(body) > MaxBodyBytes {
		return tooLarge()
	}
	if len(body) == 0 {
		if !rb.Required {
			r.Body = http.NoBody
			return nil
		}
		return newAPIError(http.StatusBadRequest, gen.VALIDATIONERROR, "", "a request body is required")
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return newAPIError(http.StatusUnsupportedMediaType, gen.UNSUPPORTEDMEDIATYPE, "", "Content-Encoding "+enc+" is not accepted; send the body uncompressed")
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || rb.Content[mediaType] == nil {
		accepted := slices.Sorted(maps.Keys(rb.Content))
		return newAPIError(http.StatusUnsupportedMediaType, gen.UNSUPPORTEDMEDIATYPE, "", "Content-Type must be one of: "+strings.Join(accepted, ", "))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return newAPIError(http.StatusUnsupportedMediaType, gen.UNSUPPORTEDMEDIATYPE, "", "the only charset accepted is utf-8")
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	// Later readers (the validator, the generated handler) see the media
	// type in its canonical form: the generated handler picks the body's
	// Go type by a case-sensitive prefix match on it.
	r.Header.Set("Content-Type", mediaType)
	stateOf(r.Context()).body = body
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return nil
}

func tooLarge() *apiError {
	return newAPIError(http.StatusRequestEntityTooLarge, gen.PAYLOADTOOLARGE, "", fmt.Sprintf("the request body must be at most %d bytes", MaxBodyBytes))
}

var utf8BOM = []byte("\xef\xbb\xbf")

// checkJSON refuses a body that is not exactly one I-JSON value (RFC 7493):
// malformed JSON, invalid UTF-8 or escapes that are no Unicode character
// (Go's decoder would silently turn both into U+FFFD), a member name twice in
// one object (decoders disagree on which one wins, so the validator and the
// handler could see different values), or anything after the value (both
// decoders downstream would ignore it).
func checkJSON(body []byte) *apiError {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	_, err := dec.ReadValue()
	if err == nil {
		_, err = dec.ReadToken()
		if err == io.EOF {
			return nil
		}
		if err == nil {
			return newAPIError(http.StatusBadRequest, gen.INVALIDJSON, "", fmt.Sprintf("the body goes on after its JSON value (at byte %d)", dec.InputOffset()))
		}
	}
	field, msg := "", ""
	var serr *jsontext.SyntacticError
	switch {
	case bytes.HasPrefix(body, utf8BOM):
		msg = "the body starts with a byte order mark; send UTF-8 without one"
	case errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF:
		msg = "the body ends before its JSON value does"
	case errors.As(err, &serr) && errors.Is(serr.Err, jsontext.ErrDuplicateName):
		field = string(serr.JSONPointer)
		msg = fmt.Sprintf("the member %q appears twice in one object", serr.JSONPointer.LastToken())
	case errors.As(err, &serr):
		msg = fmt.Sprintf("%s (at byte %d)", serr.Err, serr.ByteOffset)
	default:
		msg = "the body is not a JSON value"
	}
	return newAPIError(http.StatusBadRequest, gen.INVALIDJSON, field, msg)
}
