package impl

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"meapi/impl/validate"
	"meapi/store"
)

// metrics are what meapi counts for Prometheus. Labels are bounded: route
// patterns of openapi.yaml (or "unmatched"), methods, statuses. The store's
// failures are counted where they happen (StoreMetrics).
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	violations     *prometheus.CounterVec
	signinFailures prometheus.Counter
	rateLimited    prometheus.Counter
	signupLimited  prometheus.Counter
	notReady       *prometheus.CounterVec
	// addressFallbacks are sign-ins and sign-ups counted by the connection's
	// address because --client-address-header gave none: behind a proxy,
	// the proxy's, which all its clients then share.
	addressFallbacks prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meapi_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meapi_http_request_duration_seconds",
			Help:    "Time from a request's headers to the end of its answer, by route pattern and method.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meapi_http_requests_in_flight",
			Help: "Requests being answered now.",
		}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meapi_response_validation_violations_total",
			Help: "Responses that openapi.yaml does not allow, by route pattern and method (replaced by 500 in enforce mode).",
		}, []string{"route", "method"}),
		signinFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meapi_signin_failures_total",
			Help: "Sign-ins refused for a wrong password or an unknown account.",
		}),
		signupLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meapi_signup_rate_limited_total",
			Help: "Sign-ups refused with 429 because of too many from one address.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meapi_signin_rate_limited_total",
			Help: "Sign-ins refused with 429 because of too many failures.",
		}),
		addressFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meapi_client_address_fallbacks_total",
			Help: "Sign-ins and sign-ups limited by the connection's address because the configured client address header was missing or unreadable.",
		}),
		notReady: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meapi_not_ready_total",
			Help: "Readiness checks answered 503, by reason: draining, migrations_pending, replaced, not_writable, unreachable.",
		}, []string{"reason"}),
	}
	for _, r := range notReadyReasons {
		m.notReady.WithLabelValues(r.label)
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.violations, m.signinFailures, m.rateLimited, m.signupLimited, m.notReady, m.addressFallbacks} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// prime makes every series of every operation exist from the start, at 0:
// a rate can be taken, and an alert can see a series, before its first
// event.
func (m *metrics) prime(ops []*validate.Operation) {
	for _, op := range ops {
		route, method := op.Path(), op.Method()
		m.violations.WithLabelValues(route, method)
		m.duration.WithLabelValues(route, method)
		for _, status := range op.Statuses() {
			m.requests.WithLabelValues(route, method, strconv.Itoa(status))
		}
	}
}

// requestIDPattern is what a client-sent X-Request-Id must look like to be
// kept; anything else is replaced, so that a log line never carries what a
// client chose to put there.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// statusWriter remembers what was sent, for the log and the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	if status == StatusClientClosedRequest {
		// Not a status to send (openapi.yaml has none such): observe ends
		// the connection instead, once the request is logged.
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe is the outermost layer: it gives the request its id (the
// client's X-Request-Id when it is a sane one, else a new one), echoes it,
// and when the answer is out writes one log line and the metrics. Nothing
// from the request's body, cookies or credentials is ever logged.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = rand.Text()
		}
		w.Header().Set("X-Request-Id", id)
		st := &requestState{requestID: id}
		ctx := context.WithValue(r.Context(), stateKey{}, st)
		sw := &statusWriter{ResponseWriter: w}

		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		next.ServeHTTP(sw, r.WithContext(ctx))

		route := st.routeLabel()
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
		s.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
			slog.String("request_id", id),
		)
		if status == StatusClientClosedRequest {
			// The client has gone, or half-closed the connection and may
			// still read: it gets nothing rather than an undeclared status.
			// net/http drops the connection quietly for this panic.
			panic(http.ErrAbortHandler)
		}
	})
}

// StoreMetrics is the store.Observer that counts the store's failures in
// meapi_store_errors_total{op}. Answers that are part of the store's
// contract (not found, taken, stale version, too many sign-ins, limited)
// are not failures, and neither is a caller that gave up (a client gone):
// what is counted is worth an alert. Every operation is registered at 0,
// so that a rate can be taken before the first failure.
//
// The engines call it where their work happens (sqlite.WithObserver,
// postgres.WithObserver); give it the registry the handler serves.
func StoreMetrics(reg prometheus.Registerer) (store.Observer, error) {
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meapi_store_errors_total",
		Help: "Store operations that failed (not counting answers such as not found or taken, nor callers that gave up), by operation.",
	}, []string{"op"})
	for _, op := range store.Ops {
		errs.WithLabelValues(op)
	}
	if err := reg.Register(errs); err != nil {
		return nil, err
	}
	return storeMetrics{errs: errs}, nil
}

type storeMetrics struct{ errs *prometheus.CounterVec }

func (m storeMetrics) StoreOp(op string, err error, _ time.Duration) {
	if err == nil || store.IsAnswer(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	m.errs.WithLabelValues(op).Inc()
}
