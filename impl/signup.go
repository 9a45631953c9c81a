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
	// Counted before the password is hashed, so that a refusal costs
	// nothing; never taken back (but for a busy server, which hashed
	// nothing), so that a burst from one address, someone making accounts
	// by the hundred, is bounded whatever their outcome.
	now := s.now()
	reservation, err := s.store.ReserveAttempt(ctx, storeLimits(s.signupLimits.For(s.limitAddress(st))), now)
	var limited *store.LimitedError
	if errors.As(err, &limited) {
		s.metrics.signupLimited.Inc()
		refusal := limitRefusal(limited, now, "too many sign-ups from this address")
		return gen.SignUp429JSONResponse{SignUpRateLimitedJSONResponse: gen.SignUpRateLimitedJSONResponse{
			Body:    errorEnvelope(st, refusal.apiError),
			Headers: gen.SignUpRateLimitedResponseHeaders{RetryAfter: refusal.retryAfter},
		}}, nil
	}
	if err != nil {
		return nil, err
	}
	hash, err := s.passwords.Hash(ctx, *body.Password)
	if errors.Is(err, password.ErrBusy) {
		s.release(ctx, reservation)
		return gen.SignUp503JSONResponse{BusyJSONResponse: s.busy(st)}, nil
	}
	if err != nil {
		return nil, err
	}
	nu.PasswordHash = hash

	token, tokenHash := newToken()
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
