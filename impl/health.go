package impl

import (
	"bytes"
	"context"
	"net/http"

	"meapi"
	"meapi/gen"
)

// GetHealth answers GET /healthz: the process serves. It asks nothing of
// the store, so a slow database never gets a live process restarted.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	return gen.GetHealth200JSONResponse(healthEnvelope(stateOf(ctx), gen.Ok)), nil
}

// GetReadiness answers GET /readyz: 200 when the store answers a query.
func (s *Server) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	st := stateOf(ctx)
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		ae := newAPIError(http.StatusServiceUnavailable, gen.SERVICEUNAVAILABLE, "", "the database does not answer")
		return gen.GetReadiness503JSONResponse{ServiceUnavailableJSONResponse: gen.ServiceUnavailableJSONResponse(errorEnvelope(st, ae))}, nil
	}
	return gen.GetReadiness200JSONResponse(healthEnvelope(st, gen.Ready)), nil
}

func healthEnvelope(st *requestState, status gen.HealthDataStatus) gen.HealthEnvelope {
	return gen.HealthEnvelope{
		Status:  200,
		Message: "",
		Data:    gen.HealthData{Status: status},
		Session: st.clientSession(),
		Errors:  noErrors,
	}
}

// GetOpenAPIDocument answers GET /openapi.yaml with the contract, byte for
// byte as committed.
func (s *Server) GetOpenAPIDocument(_ context.Context, _ gen.GetOpenAPIDocumentRequestObject) (gen.GetOpenAPIDocumentResponseObject, error) {
	return gen.GetOpenAPIDocument200ApplicationyamlResponse{
		Body:          bytes.NewReader(meapi.OpenAPIYAML),
		ContentLength: int64(len(meapi.OpenAPIYAML)),
	}, nil
}

// GetSession answers GET /session: the browser session's active user, or
// null. Signed out is not an error here.
func (s *Server) GetSession(ctx context.Context, _ gen.GetSessionRequestObject) (gen.GetSessionResponseObject, error) {
	st := stateOf(ctx)
	if st.sessionErr != nil {
		return nil, st.sessionErr
	}
	return gen.GetSession200JSONResponse(sessionEnvelope(st)), nil
}

// sessionEnvelope answers with the browser session's active user, or null.
func sessionEnvelope(st *requestState) gen.SessionEnvelope {
	data := gen.SessionData{}
	if u := st.activeUser(); u != nil {
		data.User.Set(apiUser(u))
	} else {
		data.User.SetNull()
	}
	return gen.SessionEnvelope{
		Status:  200,
		Message: "",
		Data:    data,
		Session: st.clientSession(),
		Errors:  noErrors,
	}
}
