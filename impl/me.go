package impl

import (
	"context"
	"errors"

	"github.com/oapi-codegen/nullable"

	"meapi/gen"
	"meapi/store"
)

// GetMe answers GET /me with the active user. The validator's security
// check has made sure there is one.
func (s *Server) GetMe(ctx context.Context, _ gen.GetMeRequestObject) (gen.GetMeResponseObject, error) {
	st := stateOf(ctx)
	u := st.activeUser()
	if u == nil {
		return nil, errNotAuthenticated
	}
	return userResponse{env: userEnvelope(st, 200, u), etag: etag(u)}, nil
}

// UpdateMe answers PATCH /me: a merge patch of the active user's profile.
// The validator has already refused unknown and read-only members and every
// value that breaks the schema; what is left are the rules JSON Schema
// cannot state, then the store's verdict on uniqueness and If-Match.
func (s *Server) UpdateMe(ctx context.Context, req gen.UpdateMeRequestObject) (gen.UpdateMeResponseObject, error) {
	st := stateOf(ctx)
	u := st.activeUser()
	if u == nil {
		return nil, errNotAuthenticated
	}
	body := req.JSONBody
	if body == nil {
		body = req.ApplicationMergePatchPlusJSONBody
	}
	if body == nil {
		return nil, internalError(errors.New("PATCH /me: validated request without a body"))
	}

	var refused refusals
	upd := store.ProfileUpdate{UserID: u.ID, Now: s.now()}
	upd.FirstName = change(body.FirstName, refused.name("first_name"))
	upd.LastName = change(body.LastName, refused.name("last_name"))
	upd.Username = change(body.Username, refused.username)
	upd.ImageURL = change(body.ImageUrl, refused.imageURL)
	if ae := refused.refusal(); ae != nil {
		return gen.UpdateMe400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(errorEnvelope(st, ae))}, nil
	}

	if req.Params.IfMatch != nil {
		versions, anyVersion := ifMatchVersions(*req.Params.IfMatch, u.ID)
		if !anyVersion {
			if len(versions) == 0 {
				return preconditionFailed(st), nil
			}
			upd.IfVersions = versions
		}
	}

	updated, err := s.store.UpdateProfile(ctx, upd)
	switch {
	case errors.Is(err, store.ErrUsernameTaken):
		return gen.UpdateMe409JSONResponse{UsernameTakenJSONResponse: gen.UsernameTakenJSONResponse(
			errorEnvelope(st, conflictError(err)))}, nil
	case errors.Is(err, store.ErrPreconditionFailed):
		return preconditionFailed(st), nil
	case errors.Is(err, store.ErrNotFound):
		return nil, errNotAuthenticated // the account was deleted meanwhile
	case err != nil:
		return nil, err
	}
	st.replaceUser(updated)
	return userResponse{env: userEnvelope(st, 200, updated), etag: etag(updated)}, nil
}

func preconditionFailed(st *requestState) gen.UpdateMe412JSONResponse {
	return gen.UpdateMe412JSONResponse{PreconditionFailedJSONResponse: gen.PreconditionFailedJSONResponse(
		errorEnvelope(st, toAPIError(store.ErrPreconditionFailed)))}
}

// change turns one member of a merge patch into a store change: absent is
// no change, null clears, a value is cleaned by clean and set.
func change(n nullable.Nullable[string], clean func(string) string) store.Change {
	if !n.IsSpecified() {
		return store.Change{}
	}
	if n.IsNull() {
		return store.Change{Set: true}
	}
	v := clean(n.MustGet())
	return store.Change{Set: true, Value: &v}
}
