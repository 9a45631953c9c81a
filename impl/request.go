package impl

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"

	"meapi/gen"
	"meapi/impl/validate"
)

// validateRequest checks the request against its operation in openapi.yaml:
// security, parameters and body. Nothing after it sees a request the
// contract does not allow.
func (s *Server) validateRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		err := s.validator.Request(r.Context(), st.op, r, st.body)
		var refused *validate.RequestError
		switch {
		case err == nil:
			next.ServeHTTP(w, r)
		case errors.Is(err, validate.ErrUnauthenticated):
			s.writeError(w, r, errNotAuthenticated)
		case errors.As(err, &refused):
			s.writeError(w, r, s.requestRefusal(st.op, refused))
		default:
			s.writeError(w, r, internalError(err))
		}
	})
}

// problemCodes are the error codes of the validator's kinds of problem.
var problemCodes = map[validate.Kind]gen.ErrorCode{
	validate.Invalid:   gen.VALIDATIONERROR,
	validate.Unknown:   gen.UNKNOWNFIELD,
	validate.ReadOnly:  gen.READONLYFIELD,
	validate.Malformed: gen.INVALIDJSON,
}

// requestRefusal is the 400 for what the validator found: one entry per
// problem, each naming its member, in the order of their JSON Pointers (so
// that the same body is always refused in the same words). A member of the body that the schema
// does not have, but that is a read-only member of the resource the
// operation changes (email in PATCH /me), is READ_ONLY_FIELD: the client
// knows the member and needs to learn it cannot be written.
func (s *Server) requestRefusal(op *validate.Operation, e *validate.RequestError) *apiError {
	readOnly := s.readOnly[op.Spec().OperationID]
	errs := make([]gen.Error, 0, len(e.Problems))
	for _, p := range e.Problems {
		code := problemCodes[p.Kind]
		msg := p.Message
		if member, top := strings.CutPrefix(p.Field, "/"); p.Kind == validate.Unknown && top && readOnly[member] {
			code, msg = gen.READONLYFIELD, member+" is read-only and cannot be changed"
		}
		errs = append(errs, problem(code, p.Field, msg))
	}
	slices.SortStableFunc(errs, func(a, b gen.Error) int { return cmp.Compare(deref(a.Field), deref(b.Field)) })
	return &apiError{status: http.StatusBadRequest, errors: errs}
}
