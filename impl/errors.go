package impl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/oapi-codegen/nullable"

	"meapi/gen"
	"meapi/store"
)

// apiError is a refusal or a failure on its way to the client: an HTTP
// status and one entry per problem. cause, when set, is logged and never
// sent.
type apiError struct {
	status int
	errors []gen.Error
	cause  error
}

func (e *apiError) Error() string {
	msgs := make([]string, 0, len(e.errors))
	for _, d := range e.errors {
		msgs = append(msgs, string(d.Code)+": "+d.Message)
	}
	return strings.Join(msgs, "; ")
}

func (e *apiError) Unwrap() error { return e.cause }

// problem is one entry of an error envelope; field is a JSON Pointer into
// the request body, or "" when no single member is at fault.
func problem(code gen.ErrorCode, field, message string) gen.Error {
	e := gen.Error{Code: string(code), Message: message}
	if field != "" {
		e.Field = &field
	}
	return e
}

func newAPIError(status int, code gen.ErrorCode, field, message string) *apiError {
	return &apiError{status: status, errors: []gen.Error{problem(code, field, message)}}
}

func internalError(cause error) *apiError {
	e := newAPIError(http.StatusInternalServerError, gen.INTERNAL, "", "the server failed to answer this request")
	e.cause = cause
	return e
}

var errNotAuthenticated = newAPIError(http.StatusUnauthorized, gen.NOTAUTHENTICATED, "", "no valid session cookie came with the request")

// summaries are the envelope's message, chosen by the first error's code.
var summaries = map[gen.ErrorCode]string{
	gen.VALIDATIONERROR:      "The request was refused; nothing was written.",
	gen.UNKNOWNFIELD:         "The request was refused; nothing was written.",
	gen.READONLYFIELD:        "The request was refused; nothing was written.",
	gen.INVALIDSIGNIN:        "The request was refused; nothing was written.",
	gen.TOOMANYSIGNINS:       "Too many accounts are signed in on this browser.",
	gen.INVALIDJSON:          "The request body is not valid JSON.",
	gen.NOTAUTHENTICATED:     "Sign in to use this operation.",
	gen.INVALIDCREDENTIALS:   "Wrong email, username or password.",
	gen.RATELIMITEXCEEDED:    "Too many attempts; try again later.",
	gen.CROSSORIGINREQUEST:   "Cross-origin request refused.",
	gen.NOTFOUND:             "Not found.",
	gen.METHODNOTALLOWED:     "Method not allowed.",
	gen.USERNAMETAKEN:        "Already taken.",
	gen.EMAILTAKEN:           "Already taken.",
	gen.PRECONDITIONFAILED:   "The user changed since it was read.",
	gen.PAYLOADTOOLARGE:      "The request body is too large.",
	gen.UNSUPPORTEDMEDIATYPE: "Unsupported media type.",
	gen.INTERNAL:             "Internal error.",
	gen.SERVICEUNAVAILABLE:   "The server cannot serve this now; try again later.",
}

// toAPIError turns any error that reaches the edge into what the client
// sees. Store errors that a handler did not answer itself, and anything
// unexpected, become 500 INTERNAL.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if ce := conflictError(err); ce != nil {
		return ce
	}
	if errors.Is(err, store.ErrPreconditionFailed) {
		return newAPIError(http.StatusPreconditionFailed, gen.PRECONDITIONFAILED, "", "If-Match does not match the current version of the user")
	}
	return internalError(err)
}

// conflictError describes the unique members a store error says are
// taken, or returns nil when it says none is.
func conflictError(err error) *apiError {
	var errs []gen.Error
	if errors.Is(err, store.ErrEmailTaken) {
		errs = append(errs, problem(gen.EMAILTAKEN, "/email", "an account with this email address already exists"))
	}
	if errors.Is(err, store.ErrUsernameTaken) {
		errs = append(errs, problem(gen.USERNAMETAKEN, "/username", "this username is taken"))
	}
	if errs == nil {
		return nil
	}
	return &apiError{status: http.StatusConflict, errors: errs}
}

// MaxErrorsListed is the most problems one error envelope lists. A body
// of 16 KiB can hold some two thousand unknown members, each a problem of
// its own: listed whole, their refusal would be twelve times the request,
// to anybody (sign-up needs no account). A client fixes the first ones and
// learns of the next; the message says how many more there were.
const MaxErrorsListed = 20

// errorEnvelope is the body of every error response. A failure names the
// request, so that its log lines can be found.
func errorEnvelope(st *requestState, ae *apiError) gen.ErrorEnvelope {
	errs := ae.errors
	message := summaries[gen.ErrorCode(errs[0].Code)]
	if more := len(errs) - MaxErrorsListed; more > 0 {
		errs = errs[:MaxErrorsListed]
		were := "problems were"
		if more == 1 {
			were = "problem was"
		}
		message += fmt.Sprintf(" %d more %s found; the first %d are listed.", more, were, MaxErrorsListed)
	}
	if ae.status >= 500 && st.requestID != "" {
		errs = slices.Clone(errs)
		for i := range errs {
			if errs[i].Code == string(gen.INTERNAL) {
				errs[i].Message += " (request id " + st.requestID + ")"
			}
		}
	}
	return gen.ErrorEnvelope{
		Status:  ae.status,
		Message: message,
		Data:    nullable.NewNullNullable[gen.NoData](),
		Session: st.clientSession(),
		Errors:  errs,
	}
}

// StatusClientClosedRequest is what the log and the metrics record for a
// request whose client went away before its answer was ready (nginx's
// 499). Nothing is sent: observe drops the connection instead.
const StatusClientClosedRequest = 499

// clientGone reports whether err is the request's own context ending: its
// client hung up. That is no failure of the server's.
func clientGone(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// writeError is the one place that writes an error response outside the
// strict handlers' typed responses: the router, the middlewares, the
// validator and the strict handler's error hooks all end here.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r.Context(), err) {
		s.log.InfoContext(r.Context(), "client closed the request", "method", r.Method, "path", r.URL.Path,
			"request_id", stateOf(r.Context()).requestID)
		w.WriteHeader(StatusClientClosedRequest)
		return
	}
	ae := toAPIError(err)
	if ae.status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", ae.status,
			"request_id", stateOf(r.Context()).requestID, "err", ae.cause)
	}
	writeJSON(w, ae.status, errorEnvelope(stateOf(r.Context()), ae))
}

// writeJSON writes v as the JSON body of a response with this status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		// Only a bug can make an envelope unencodable; say so in the log and
		// send a fixed, valid one rather than half a body.
		slog.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"status":500,"message":"Internal error.","data":null,"session":{"signin_attempts":[],"signins":[],"signup_attempts":[],"active_signin":null},"errors":[{"code":"INTERNAL","message":"the server failed to answer this request"}]}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
