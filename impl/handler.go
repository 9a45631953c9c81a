package impl

import (
	"cmp"
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
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"meapi/gen"
	"meapi/impl/password"
	"meapi/impl/rules"
	"meapi/impl/validate"
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
	// "https://app.example.com" (see ParseTrustedOrigin).
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
	// client's address in (X-Forwarded-For: its last entry; X-Real-IP), as
	// an address, with a port or without (see parseAddressEntry). Unset, or
	// when a request's header gives no address, the address is the
	// connection's.
	ClientAddressHeader string
	// Password sets the cost of new password hashes (default
	// password.DefaultParams); at most PasswordWorkers hashes run at once
	// (default GOMAXPROCS) and PasswordQueue more may wait (default 32 per
	// worker, about a second of work), past which sign-up and sign-in
	// answer 503 with Retry-After.
	Password        password.Params
	PasswordWorkers int
	PasswordQueue   int
	Logger          *slog.Logger
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
	store          Store
	log            *slog.Logger
	now            func() time.Time
	idleTimeout    time.Duration
	signinLifetime time.Duration
	maxSignins     int
	limits         SigninLimits
	signupLimits   SignupLimits
	addressHeader  string
	passwords      *password.Hasher
	dummyHash      func() (string, error)
	// trustedOrigins may make state-changing cross-origin requests and get
	// CORS with credentials: both checks read this one set, exactly.
	trustedOrigins     map[string]bool
	crossOrigin        *http.CrossOriginProtection
	corsHandler        func(http.Handler) http.Handler
	responseValidation ResponseValidation
	validator          *validate.Validator
	// mux is the generated router; route asks it which operation a request
	// is for, before anything else runs.
	mux *chi.Mux
	// readOnly lists, by operation id, the members of its request body
	// that are read-only members of the resource it changes (User for
	// PATCH /me): sending one is READ_ONLY_FIELD, not UNKNOWN_FIELD.
	readOnly         map[string]map[string]bool
	metrics          *metrics
	gatherer         prometheus.Gatherer
	metricsElsewhere bool
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
// the layers of Server.layers around the generated router.
func NewHandler(cfg Config) (*Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return &Handler{Handler: wrap(s.api(), s.layers()), s: s}, nil
}

// layer is one middleware of the stack, named for the tests that insert
// something between two of them.
type layer struct {
	name string
	wrap func(http.Handler) http.Handler
}

// layers is the stack, outermost first: a request passes the layers in
// this order before it reaches the generated router, and its response
// passes them back. This is the one place the order is written down.
func (s *Server) layers() []layer {
	return []layer{
		// A request id and the request's state; when the answer is out,
		// one log line and the metrics.
		{"observe", s.observe},
		// CORS for trusted origins. It answers preflights itself: they are
		// not operations of openapi.yaml.
		{"cors", s.cors},
		// Every response from here in, whoever writes it, is held and
		// checked against openapi.yaml before a byte of it goes out.
		{"validate-response", s.validateResponse},
		{"recover", s.recoverPanic},
		{"common-headers", s.commonHeaders},
		{"if-match", combineIfMatch},
		// The browser session the cookie names, into the request's state.
		// It never refuses a request.
		{"session", s.loadSession},
		// The operation of openapi.yaml the request is for, or 404 / 405.
		{"route", s.route},
		// Size, media type and JSON syntax of the body (413, 415, 400).
		{"body", s.readBody},
		// State-changing requests from another site (403).
		{"cross-origin", s.checkOrigin},
		// Security, parameters and body against openapi.yaml (401, 400).
		{"validate-request", s.validateRequest},
	}
}

// wrap puts h inside layers, the first outermost.
func wrap(h http.Handler, layers []layer) http.Handler {
	for i := len(layers) - 1; i >= 0; i-- {
		h = layers[i].wrap(h)
	}
	return h
}

// api is the generated router and strict handler: the innermost part of
// the stack, which decodes what the layers let through and calls the
// Server's operations.
func (s *Server) api() http.Handler {
	strict := gen.NewStrictHandlerWithOptions(s, nil, gen.StrictHTTPServerOptions{
		// The validator has accepted the body, so the generated decoder
		// failing on it means the two disagree: a bug, not bad input.
		RequestErrorHandlerFunc:  func(w http.ResponseWriter, r *http.Request, err error) { s.writeError(w, r, internalError(err)) },
		ResponseErrorHandlerFunc: s.writeError,
	})
	s.mux = chi.NewRouter()
	// route has answered these already: the router's own answers are
	// reached only by a bug, and are envelopes like every other.
	s.mux.NotFound(func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, notFound(r)) })
	s.mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, s.methodNotAllowed(w, r)) })
	return gen.HandlerWithOptions(strict, gen.ChiServerOptions{
		BaseRouter:       s.mux,
		ErrorHandlerFunc: s.writeParameterError,
	})
}

// unrouted are the answers to a request that matches no operation, by
// status: what the response validator holds them to.
var unrouted = map[int]string{
	http.StatusNotFound:            "NotFound",
	http.StatusMethodNotAllowed:    "MethodNotAllowed",
	http.StatusInternalServerError: "Internal",
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
		log:                cmp.Or(cfg.Logger, slog.Default()),
		now:                cfg.Now,
		idleTimeout:        cmp.Or(cfg.SessionIdleTimeout, DefaultSessionIdleTimeout),
		signinLifetime:     cmp.Or(cfg.SigninLifetime, DefaultSigninLifetime),
		maxSignins:         cmp.Or(cfg.MaxSigninsPerSession, DefaultMaxSigninsPerSession),
		limits:             cfg.SigninLimits.WithDefaults(),
		signupLimits:       cfg.SignupLimits.WithDefaults(),
		crossOrigin:        http.NewCrossOriginProtection(),
		responseValidation: cmp.Or(cfg.ResponseValidation, ValidateEnforce),
		trustedOrigins:     map[string]bool{},
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
	workers := cmp.Or(cfg.PasswordWorkers, runtime.GOMAXPROCS(0))
	s.passwords = password.New(cmp.Or(cfg.Password, password.DefaultParams), workers, cmp.Or(cfg.PasswordQueue, 32*workers))
	if _, err := ParseResponseValidation(string(s.responseValidation)); err != nil {
		return nil, err
	}
	// Unknown accounts are checked against this hash, made with the
	// current parameters, so that they take as long as wrong passwords.
	// It is made on first use, not at start.
	s.dummyHash = sync.OnceValues(func() (string, error) {
		return s.passwords.Hash(context.Background(), rand.Text())
	})
	if err := s.trustOrigins(cfg.TrustedOrigins); err != nil {
		return nil, err
	}
	if s.addressHeader, err = ParseClientAddressHeader(cfg.ClientAddressHeader); err != nil {
		return nil, err
	}
	s.validator, err = validate.New(doc, validate.Options{
		Formats:      formats,
		MemoSize:     memoSize,
		Authenticate: authenticate,
		Unrouted:     unrouted,
		CrossCheck:   cfg.CrossCheckValidation,
		Logger:       s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("compile openapi.yaml: %w", err)
	}
	s.metrics.prime(s.validator.Operations())
	s.readOnly = map[string]map[string]bool{"updateMe": readOnlyMembers(doc, "User", "UpdateMeRequest")}
	return s, nil
}

// memoSize bounds how many bodies the validator remembers as valid, in
// each direction: room for the GET /me answers of 131,072 users active at
// once, at about 160 bytes each (20 MiB when full; answers to writes are
// never remembered). A user's answer not remembered is checked in full,
// about 10 µs (BenchmarkValidateUserEnvelope).
const memoSize = 1 << 17

// formats are the checks of the string formats openapi.yaml uses: the
// domain's own rules.
var formats = validate.Formats{"email": rules.Email}

// readOnlyMembers lists the members of a resource's schema that its
// patch's schema does not have: the ones that cannot be written.
func readOnlyMembers(doc *openapi3.T, resource, patch string) map[string]bool {
	writable := doc.Components.Schemas[patch].Value.Properties
	members := map[string]bool{}
	for name := range doc.Components.Schemas[resource].Value.Properties {
		if _, ok := writable[name]; !ok {
			members[name] = true
		}
	}
	return members
}

// route finds the operation of openapi.yaml that the request is for, in
// the generated router's table, and answers 404 or 405 when there is none.
func (s *Server) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		if encodedSlash(r) {
			s.writeError(w, r, newAPIError(http.StatusNotFound, gen.NOTFOUND, "", "no operation at "+r.URL.EscapedPath()+": an encoded slash (%2F) is part of a segment, not a separator"))
			return
		}
		pattern := s.mux.Find(chi.NewRouteContext(), r.Method, r.URL.Path)
		if pattern == "" {
			if len(s.allowedMethods(r.URL.Path)) > 0 {
				s.writeError(w, r, s.methodNotAllowed(w, r))
				return
			}
			s.writeError(w, r, notFound(r))
			return
		}
		if st.op = s.validator.Operation(r.Method, pattern); st.op == nil {
			s.writeError(w, r, internalError(fmt.Errorf("no operation in openapi.yaml for %s %s", r.Method, pattern)))
			return
		}
		if r.URL.RawPath != "" {
			// The operation was found on the decoded path; chi routes on the
			// raw one when the client percent-encoded a character that needs
			// none (/heal%74hz is /healthz, RFC 3986, section 6.2.2.2), and
			// would answer an undeclared 404. Both read the same path.
			u := *r.URL
			u.RawPath = ""
			r = r.WithContext(r.Context()) // a shallow copy, to change its URL
			r.URL = &u
		}
		next.ServeHTTP(w, r)
	})
}

// encodedSlash reports whether the request's path holds a percent-encoded
// slash. Decoded, /auth%2Fsignup would be /auth/signup, but it is one
// segment, not two: no operation of this API has it, and a proxy that
// routes or blocks on the raw path must not be bypassed by one.
func encodedSlash(r *http.Request) bool {
	return strings.Contains(r.URL.RawPath, "%2F") || strings.Contains(r.URL.RawPath, "%2f")
}

func notFound(r *http.Request) *apiError {
	return newAPIError(http.StatusNotFound, gen.NOTFOUND, "", "no operation at "+r.URL.Path)
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) *apiError {
	allowed := strings.Join(s.allowedMethods(r.URL.Path), ", ")
	w.Header().Set("Allow", allowed)
	return newAPIError(http.StatusMethodNotAllowed, gen.METHODNOTALLOWED, "",
		fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allowed))
}

// allowedMethods lists the methods openapi.yaml has for path.
func (s *Server) allowedMethods(path string) []string {
	var methods []string
	for _, op := range s.validator.Operations() {
		if op.Path() == path {
			methods = append(methods, op.Method())
		}
	}
	slices.Sort(methods)
	return methods
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
// its stack, and keeps the server serving. An answer held for validation
// is replaced; one that has begun to go out (validation off) cannot be, so
// the connection is dropped instead, and the client sees a failure rather
// than half a body. http.ErrAbortHandler is let through: it is how a
// handler asks for that.
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
			switch w := w.(type) {
			case *recorder:
				w.reset()
			case *statusWriter:
				if w.status != 0 {
					s.log.ErrorContext(r.Context(), "panic after the answer began", "request_id", stateOf(r.Context()).requestID, "err", err)
					panic(http.ErrAbortHandler)
				}
			}
			s.writeError(w, r, internalError(err))
		}()
		next.ServeHTTP(w, r)
	})
}
