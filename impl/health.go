package impl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/common/expfmt"

	"meapi"
	"meapi/gen"
	"meapi/store"
)

// GetHealth answers GET /healthz: the process serves. It asks nothing of
// the store, so a slow database never gets a live process restarted.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	return gen.GetHealth200JSONResponse(healthEnvelope(stateOf(ctx), gen.Ok)), nil
}

// notReadyReasons are why the server may not be ready, with what /readyz
// says of each: the label of meapi_not_ready_total and the message.
var notReadyReasons = []struct {
	err            error // nil for the one without a store error
	label, message string
}{
	{nil, "draining", "the server is shutting down"},
	{store.ErrMigrationsPending, "migrations_pending", "the database schema is not current: run meapi migrate"},
	{store.ErrReplaced, "replaced", "the database was deleted or replaced under the server: restart it"},
	{store.ErrNotWritable, "not_writable", "the database cannot be written (read-only, or its disk is full)"},
	{errUnreachable, "unreachable", "the database does not answer"},
}

var errUnreachable = errors.New("the store does not answer")

// GetReadiness answers GET /readyz: 200 when the store answers, can be
// written and has the current schema; 503 with the reason when not, or
// when the server is shutting down. Every 503 is counted by reason in
// meapi_not_ready_total. Everything else goes on being served: reads may
// still work when writes do not.
func (s *Server) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	st := stateOf(ctx)
	var err error
	if !s.draining.Load() {
		if err = s.store.Ready(ctx); err == nil {
			return gen.GetReadiness200JSONResponse(healthEnvelope(st, gen.Ready)), nil
		}
		if clientGone(ctx, err) {
			return nil, err
		}
		s.log.WarnContext(ctx, "not ready", "err", err)
	}
	reason := notReadyReasons[len(notReadyReasons)-1]
	for _, r := range notReadyReasons {
		if (r.err == nil && err == nil) || (r.err != nil && errors.Is(err, r.err)) {
			reason = r
			break
		}
	}
	s.metrics.notReady.WithLabelValues(reason.label).Inc()
	ae := newAPIError(http.StatusServiceUnavailable, gen.SERVICEUNAVAILABLE, "", reason.message)
	return gen.GetReadiness503JSONResponse{NotReadyJSONResponse: gen.NotReadyJSONResponse(errorEnvelope(st, ae))}, nil
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

// sessionEnvelope answers with the browser session's users: the active
// one, or null, and the user of every sign-in, in the order of the
// session's sign-ins.
func sessionEnvelope(st *requestState) gen.SessionEnvelope {
	data := gen.SessionData{Users: []gen.User{}}
	if u := st.activeUser(); u != nil {
		data.User.Set(gen.NullableUser(apiUser(u)))
	} else {
		data.User.SetNull()
	}
	if st.session.Active() != nil {
		for i := range st.session.Signins {
			data.Users = append(data.Users, apiUser(&st.session.Signins[i].User))
		}
	}
	return gen.SessionEnvelope{
		Status:  200,
		Message: "",
		Data:    data,
		Session: st.clientSession(),
		Errors:  noErrors,
	}
}

// GetMetrics answers GET /metrics with the registry's metrics in
// Prometheus' text format, or 404 when they are served on an address of
// their own (--metrics-addr).
func (s *Server) GetMetrics(ctx context.Context, _ gen.GetMetricsRequestObject) (gen.GetMetricsResponseObject, error) {
	if s.metricsElsewhere {
		ae := newAPIError(http.StatusNotFound, gen.NOTFOUND, "", "the metrics are served on another address")
		return gen.GetMetrics404JSONResponse{NotFoundJSONResponse: gen.NotFoundJSONResponse(errorEnvelope(stateOf(ctx), ae))}, nil
	}
	families, err := s.gatherer.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, fmt.Errorf("encode metrics: %w", err)
		}
	}
	return gen.GetMetrics200TextResponse(buf.String()), nil
}
