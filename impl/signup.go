package impl

import (
	"context"
	"errors"

	"meapi/gen"
	"meapi/impl/password"
	"meapi/store"
)

// SignUp answers POST /auth/signup: a new user, signed in as the active
// sign-in of the caller's browser session (or of a new one), with a new
// token in the cookie either way.
func (s *Server) SignUp(ctx context.Context, req gen.SignUpRequestObject) (gen.SignUpResponseObject, error) {
	st := stateOf(ctx)
	if st.sessionErr != nil {
		return nil, st.sessionErr
	}
	body := req.Body
	var refused refusals
	nu := store.NewUser{Email: refused.email(string(body.Email))}
	// Absent and null are the same here: no value.
	nu.FirstName = change(body.FirstName, refused.name("first_name")).Value
	nu.LastName = change(body.LastName, refused.name("last_name")).Value
	nu.Username = change(body.Username, refused.username).Value
	if body.Password == nil {
		return nil, internalError(errors.New("sign-up: validated request without a password"))
	}
	if ae := refused.refusal(); ae != nil {
		return gen.SignUp400JSONResponse{SignInBadRequestJSONResponse: gen.SignInBadRequestJSONResponse(errorEnvelope(st, ae))}, nil
	}
	hash, err := s.passwords.Hash(ctx, *body.Password)
	if errors.Is(err, password.ErrBusy) {
		return gen.SignUp503JSONResponse{BusyJSONResponse: s.busy(st)}, nil
	}
	if err != nil {
		return nil, err
	}
	nu.PasswordHash = hash

	token, tokenHash := newToken()
	now := s.now()
	sess, err := s.store.SignUp(ctx, store.SignUp{User: nu, Grant: s.grant(st, tokenHash, now)})
	if ce := conflictError(err); ce != nil {
		return gen.SignUp409JSONResponse{SignUpConflictJSONResponse: gen.SignUpConflictJSONResponse(errorEnvelope(st, ce))}, nil
	}
	if errors.Is(err, store.ErrTooManySignins) {
		return gen.SignUp400JSONResponse{SignInBadRequestJSONResponse: gen.SignInBadRequestJSONResponse(
			errorEnvelope(st, s.tooManySignins()))}, nil
	}
	if err != nil {
		return nil, err
	}
	st.session = sess
	return userResponse{env: userEnvelope(st, 201, st.activeUser()), setCookie: sessionCookie(token, sess, now)}, nil
}
