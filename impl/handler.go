package impl

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"
	"github.com/prometheus/client_golang/prometheus"

	"meapi/gen"
	"meapi/store"
)

// Store is what the handlers need from persistence; every engine of store
// (store/sqlite, store/postgres) satisfies it. Its methods name what a
// request needs, not how an engine does it.
type Store interface {
	SessionByTokenHash(ctx context.Context, tokenHash []byte, now time.Time) (*store.Session, error)
	TouchSession(ctx context.Context, sessionID string, now, idleExpiresAt time.Time) error
	SignUp(ctx context.Context, in store.SignUp) (*store.Session, error)
	SignIn(ctx context.Context, userID string, g store.Grant) (*store.Session, error)
	SwitchSignin(ctx context.Context, sessionID, signinID string, now time.Time) (*store.Session, error)
	SignOut(ctx context.Context, sessionID, signinID string, now time.Time) (*store.Session, error)
	UserByEmail(ctx context.Context, email string) (*store.User, error)
	UserByUsername(ctx context.Context, username string) (*store.User, error)
	// ReserveAttempt counts an attempt against limits, atomically: either
	// one is recorded per subject, or none when a subject is at its limit
	// (*store.LimitedError). ReleaseAttempt takes a reservation back.
	ReserveAttempt(ctx context.Context, limits []store.Limit, now time.Time) (store.Reservation, error)
	ReleaseAttempt(ctx context.Context, r store.Reservation) error
	UpdateProfile(ctx context.Context, in store.ProfileUpdate) (*store.User, error)
	// Ready reports whether the store answers and its schema is current.
	Ready(ctx context.Context) error
}

// Config is everything NewHandler needs. Zero values mean the defaults.
type Config struct {
	Store Store
	// ResponseValidation is enforce (the default), log or off.
	ResponseValidation ResponseValidation
	// TrustedOrigins may make state-changing cross-origin requests, e.g.
	// "https://app.example.com".
	TrustedOrigins []string
	// SessionIdleTimeout ends a session unused for this long (default 7 days).
	SessionIdleTimeout time.Duration
	// SigninLifetime ends a sign-in this long after its password was
	// checked, however active (default 30 days).
	SigninLifetime time.Duration
	// MaxSigninsPerSession is how many accounts one browser may have
	// signed in at once (default 5).
	MaxSigninsPerSession int
	// SigninLimits bound failed sign-ins (defaults: DefaultSigninLimits).
	SigninLimits SigninLimits
	// SignupLimits bound sign-ups per client address (defaults:
	// DefaultSignupLimits).
	SignupLimits SignupLimits
	// ClientAddressHeader, when set, is the header a trusted proxy puts the
	// client's address in (X-Forwarded-For: its last entry; X-Real-IP).
	// Unset, the address is the connection's.
	ClientAddressHeader string
	Password            PasswordParams
	Logger              *slog.Logger
	// Registry gets meapi's metrics and is what GET /metrics serves
	// (default: a registry of its own).
	Registry *prometheus.Registry
	// MetricsElsewhere makes GET /metrics answer 404: the caller serves
	// Registry on an address of its own.
	MetricsElsewhere bool
	// CrossCheckValidation has kin-openapi judge every request and response
	// beside the fast path, and logs any disagreement as an error. The tests
	// set it; it doubles the cost of validation.
	CrossCheckValidation bool
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

const (
	DefaultSessionIdleTimeout   = 7 * 24 * time.Hour
	DefaultSigninLifetime       = 30 * 24 * time.Hour
	DefaultMaxSigninsPerSession = 5
)

// Server implements the operations of openapi.yaml and the middlewares
// around them.
type Server struct {
	store              Store
	log                *slog.Logger
	now                func() time.Time
	idleTimeout        time.Duration
	signinLifetime     time.Duration
	maxSignins         int
	limits             SigninLimits
	signupLimits       SignupLimits
	addressHeader      string
	passwords          *hasher
	dummyHash          func() (string, error)
	crossOrigin        *http.CrossOriginProtection
	responseValidation ResponseValidation
	routes             map[string]*routers.Route
	requestOptions     openapi3filter.Options
	responseOptions    openapi3filter.Options
	metrics            *metrics
	gatherer           prometheus.Gatherer
	metricsElsewhere   bool
	checks             map[*routers.Route]*opCheck
	crossCheck         bool
	// draining is set when the server is shutting down: readiness fails
	// so that load balancers stop sending, while requests still get answers.
	draining atomic.Bool
}

// Handler is the whole HTTP stack. Drain marks it as shutting down.
type Handler struct {
	http.Handler
	s *Server
}

// Drain makes GET /readyz answer 503 from now on, so that a load balancer
// takes the server out before it stops; everything else is still served.
func (h *Handler) Drain() { h.s.draining.Store(true) }

var _ gen.StrictServerInterface = (*Server)(nil)

// NewHandler builds the whole stack, the same for main and for the tests:
//
//	request id, log line and metrics → CORS → panic recovery →
//	router → session loading → operation → response validation →
//	body checks → cross-origin check → request validation →
//	generated strict handler → Server.
func NewHandler(cfg Config) (*Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(s.observe)
	if len(cfg.TrustedOrigins) > 0 {
		// A front end on a trusted origin may call the API with the
		// cookie; CORS tells its browser so, on every response (errors
		// included, so that the page can read them) and on preflights.
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins:   cfg.TrustedOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch},
			AllowedHeaders:   []string{"Content-Type", "If-Match"},
			ExposedHeaders:   []string{"ETag", "Retry-After"},
			AllowCredentials: true,
			MaxAge:           600,
		}))
	}
	r.Use(s.recoverPanic, s.commonHeaders, combineIfMatch, s.loadSession)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, newAPIError(http.StatusNotFound, gen.NOTFOUND, "", "no operation at "+r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		allowed := s.allowedMethods(r.URL.Path)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, r, newAPIError(http.StatusMethodNotAllowed, gen.METHODNOTALLOWED, "",
			fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))))
	})
	strict := gen.NewStrictHandlerWithOptions(s, nil, gen.StrictHTTPServerOptions{
		// The validator has accepted the body, so the generated decoder
		// failing on it means the two disagree: a bug, not bad input.
		RequestErrorHandlerFunc:  func(w http.ResponseWriter, r *http.Request, err error) { s.writeError(w, r, internalError(err)) },
		ResponseErrorHandlerFunc: s.writeError,
	})
	h := gen.HandlerWithOptions(strict, gen.ChiServerOptions{
		BaseRouter:       r,
		Middlewares:      []gen.MiddlewareFunc{s.bindRoute, s.validateResponse, s.readBody, s.checkOrigin, s.validateRequest},
		ErrorHandlerFunc: s.writeParameterError,
	})
	return &Handler{Handler: h, s: s}, nil
}

func newServer(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("impl: Config.Store is required")
	}
	doc, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load the embedded openapi.yaml: %w", err)
	}
	s := &Server{
		store:              cfg.Store,
		log:                cfg.Logger,
		now:                cfg.Now,
		idleTimeout:        cmpOr(cfg.SessionIdleTimeout, DefaultSessionIdleTimeout),
		signinLifetime:     cmpOr(cfg.SigninLifetime, DefaultSigninLifetime),
		maxSignins:         cmpOr(cfg.MaxSigninsPerSession, DefaultMaxSigninsPerSession),
		limits:             cfg.SigninLimits.withDefaults(),
		signupLimits:       cfg.SignupLimits.withDefaults(),
		addressHeader:      http.CanonicalHeaderKey(cfg.ClientAddressHeader),
		passwords:          newHasher(cmpOr(cfg.Password, DefaultPasswordParams), runtime.GOMAXPROCS(0)),
		crossOrigin:        http.NewCrossOriginProtection(),
		responseValidation: cmpOr(cfg.ResponseValidation, ValidateEnforce),
		routes:             map[string]*routers.Route{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.gatherer, s.metricsElsewhere = reg, cfg.MetricsElsewhere
	if s.metrics, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if _, err := ParseResponseValidation(string(s.responseValidation)); err != nil {
		return nil, err
	}
	// Unknown accounts are checked against this hash, made with the
	// current parameters, so that they take as long as wrong passwords.
	// It is made on first use, not at start.
	s.dummyHash = sync.OnceValues(func() (string, error) {
		return s.passwords.hash(context.Background(), rand.Text())
	})
	for _, o := range cfg.TrustedOrigins {
		if err := s.crossOrigin.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("trusted origin %q: %w", o, err)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			s.routes[method+" "+path] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	if s.checks, err = compileChecks(doc, s.routes); err != nil {
		return nil, fmt.Errorf("compile openapi.yaml's schemas: %w", err)
	}
	s.crossCheck = cfg.CrossCheckValidation
	schemaOptions := []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(formatValidators)}
	s.requestOptions = openapi3filter.Options{
		MultiError:          true,
		SkipSettingDefaults: true,
		AuthenticationFunc: func(ctx context.Context, _ *openapi3filter.AuthenticationInput) error {
			return authenticate(ctx)
		},
		SchemaValidationOptions: schemaOptions,
	}
	s.responseOptions = openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		// The log names the member and the rule; a dump of the schema and
		// the value in every line would bury that.
		SchemaValidationOptions: append(schemaOptions, openapi3.DisableSchemaErrorDetails()),
	}
	return s, nil
}

// cmpOr is cmp.Or for types that are comparable but not ordered.
func cmpOr[T comparable](v, dflt T) T {
	var zero T
	if v == zero {
		return dflt
	}
	return v
}

// bindRoute records which operation of openapi.yaml the router chose, for
// the validators. Every route the generated router registers is one.
func (s *Server) bindRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		st.route = s.routes[r.Method+" "+chi.RouteContext(r.Context()).RoutePattern()]
		if st.route == nil {
			s.writeError(w, r, internalError(fmt.Errorf("no operation in openapi.yaml for %s %s", r.Method, r.URL.Path)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowedMethods lists the methods openapi.yaml has for path.
func (s *Server) allowedMethods(path string) []string {
	var methods []string
	for key := range s.routes {
		if m, p, _ := strings.Cut(key, " "); p == path {
			methods = append(methods, m)
		}
	}
	slices.Sort(methods)
	return methods
}

// checkOrigin refuses state-changing requests that a browser says come
// from another site (Sec-Fetch-Site, or Origin against Host), unless the
// origin is trusted. Requests from non-browser clients carry neither
// header and pass: they cannot ride on a victim's cookie.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.crossOrigin.Check(r); err != nil {
			s.writeError(w, r, newAPIError(http.StatusForbidden, gen.CROSSORIGINREQUEST, "", "state-changing requests from another origin are not allowed"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeParameterError answers a header parameter that the generated router
// could not bind (If-Match sent twice, say).
func (s *Server) writeParameterError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, newAPIError(http.StatusBadRequest, gen.VALIDATIONERROR, "", err.Error()))
}

// commonHeaders sets the headers every response has: nothing here is to be
// cached by a browser or a proxy (it is one person's data), and no response
// is to be sniffed into another type.
func (s *Server) commonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// combineIfMatch joins If-Match header lines into one. HTTP lets a client
// split a list header over several lines (RFC 9110, section 5.3), and the
// generated router takes a header parameter from a single line.
func combineIfMatch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Values("If-Match"); len(v) > 1 {
			r.Header.Set("If-Match", strings.Join(v, ", "))
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanic turns a panic in a handler into 500 INTERNAL, logged with
// its stack, and keeps the server serving. When part of the answer has gone
// out already it cannot be replaced: the connection is dropped instead, so
// that the client sees a failure rather than half a body.
// http.ErrAbortHandler is let through: it is how a handler asks for that.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err := fmt.Errorf("panic: %v\n%s", v, buf)
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				s.log.ErrorContext(r.Context(), "panic after the answer began", "request_id", stateOf(r.Context()).requestID, "err", err)
				panic(http.ErrAbortHandler)
			}
			s.writeError(w, r, internalError(err))
		}()
		next.ServeHTTP(w, r)
	})
}
