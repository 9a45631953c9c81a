package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"meapi/impl"
	"meapi/store"
)

type serveConfig struct {
	addr               string
	db                 string
	migrate            bool
	responseValidation string
	trustedOrigins     string
	idleTimeout        time.Duration
	signinLifetime     time.Duration
	maxAccounts        int
	limits             impl.SigninLimits
	signupLimits       impl.SignupLimits
	poolSize           int
	addressHeader      string
	sweepInterval      time.Duration
	logFormat          string
	logLevel           string
	metricsAddr        string
	pprofAddr          string
	server             serverLimits
	shutdownDelay      time.Duration
	shutdownGrace      time.Duration
}

// serverLimits bound what one connection can take from the server.
type serverLimits struct {
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
}

func serveFlags(stderr io.Writer) (*flag.FlagSet, *serveConfig) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("meapi serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.db, "db", "meapi.db", dbUsage)
	fs.IntVar(&c.poolSize, "db-pool-size", defaultPoolSize, "PostgreSQL: connections in the pool (SQLite has one writer and four readers, whatever this says)")
	fs.BoolVar(&c.migrate, "migrate", true, "apply pending migrations at start; with false, run `meapi migrate` first (until then /readyz says 503)")
	fs.StringVar(&c.responseValidation, "response-validation", string(impl.ValidateEnforce),
		"what to do with a response openapi.yaml does not allow: enforce (replace it with 500), log, off")
	fs.StringVar(&c.trustedOrigins, "trusted-origins", "",
		"comma-separated origins allowed to make state-changing cross-origin requests, e.g. https://app.example.com; each is taken in the form browsers send in Origin (https://APP.example.com:443 is https://app.example.com)")
	fs.DurationVar(&c.idleTimeout, "session-idle-timeout", impl.DefaultSessionIdleTimeout, "end a browser session unused for this long")
	fs.DurationVar(&c.signinLifetime, "signin-lifetime", impl.DefaultSigninLifetime, "end a sign-in this long after its password was checked")
	fs.IntVar(&c.maxAccounts, "max-accounts", impl.DefaultMaxSigninsPerSession, "how many accounts one browser may have signed in at once")
	fs.DurationVar(&c.limits.Window, "signin-window", impl.DefaultSigninLimits.Window, "the sliding window failed sign-ins are counted in")
	fs.IntVar(&c.limits.PerAccount, "signin-limit-account", impl.DefaultSigninLimits.PerAccount, "failed sign-ins per account (or unknown email/username) in the window before 429")
	fs.IntVar(&c.limits.PerAddress, "signin-limit-address", impl.DefaultSigninLimits.PerAddress, "failed sign-ins per client address (IPv6: per /64) in the window before 429")
	fs.IntVar(&c.signupLimits.PerAddress, "signup-limit-address", impl.DefaultSignupLimits.PerAddress, "sign-ups per client address (IPv6: per /64) in --signup-window before 429")
	fs.DurationVar(&c.signupLimits.Window, "signup-window", impl.DefaultSignupLimits.Window, "the sliding window sign-ups are counted in")
	fs.StringVar(&c.addressHeader, "client-address-header", "",
		"header a trusted reverse proxy sets to the client's address (X-Forwarded-For: its last entry counts), with a port or without; unset, or when a request's header has no address, the connection's address is used (counted in meapi_client_address_fallbacks_total). Set it only behind such a proxy: clients can send any header")
	fs.DurationVar(&c.sweepInterval, "sweep-interval", 10*time.Minute, "how often ended sessions, sign-ins and old sign-in failures are deleted")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.logLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics on this address instead of the API's (which then answers 404 there)")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this address, for finding where the time goes; keep it on loopback")
	fs.DurationVar(&c.server.readHeaderTimeout, "read-header-timeout", 5*time.Second, "longest time a client may take to send a request's headers")
	fs.DurationVar(&c.server.readTimeout, "read-timeout", 15*time.Second, "longest time a client may take to send a whole request")
	fs.DurationVar(&c.server.writeTimeout, "write-timeout", 30*time.Second, "longest time from the end of a request's headers to the end of its answer")
	fs.DurationVar(&c.server.idleTimeout, "idle-timeout", 2*time.Minute, "how long a kept-alive connection may wait for its next request")
	fs.IntVar(&c.server.maxHeaderBytes, "max-header-bytes", 256<<10, "largest request line and headers accepted (net/http answers 431 above it)")
	fs.DurationVar(&c.shutdownDelay, "shutdown-delay", 0, "on SIGINT/SIGTERM, how long to go on serving while /readyz says 503, so that load balancers stop sending first")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 15*time.Second, "on SIGINT/SIGTERM, then how long in-flight requests may take to finish")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: meapi serve [flags]\n\nEvery flag can also be set from the environment: --db as MEAPI_DB, --response-validation as MEAPI_RESPONSE_VALIDATION, and so on. A flag on the command line wins.\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs, c
}

// check refuses values no server should start with, naming the flag.
func (c *serveConfig) check() error {
	if err := checkDB(c.db); err != nil {
		return err
	}
	if _, err := impl.ParseResponseValidation(c.responseValidation); err != nil {
		return fmt.Errorf("--response-validation: %w", err)
	}
	for name, d := range map[string]time.Duration{
		"--session-idle-timeout": c.idleTimeout, "--signin-lifetime": c.signinLifetime,
		"--signin-window": c.limits.Window, "--signup-window": c.signupLimits.Window, "--sweep-interval": c.sweepInterval, "--shutdown-grace": c.shutdownGrace,
		"--read-header-timeout": c.server.readHeaderTimeout, "--read-timeout": c.server.readTimeout,
		"--write-timeout": c.server.writeTimeout, "--idle-timeout": c.server.idleTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive, got %s", name, d)
		}
	}
	// A session or sign-in shorter than a second would end between a
	// person's two requests: no setting anyone means.
	for name, d := range map[string]time.Duration{"--session-idle-timeout": c.idleTimeout, "--signin-lifetime": c.signinLifetime} {
		if d < time.Second {
			return fmt.Errorf("%s must be at least 1s (a duration such as 30m), got %s", name, d)
		}
	}
	if c.shutdownDelay < 0 {
		return fmt.Errorf("--shutdown-delay must not be negative, got %s", c.shutdownDelay)
	}
	for name, n := range map[string]int{
		"--max-accounts": c.maxAccounts, "--signin-limit-account": c.limits.PerAccount,
		"--signin-limit-address": c.limits.PerAddress, "--max-header-bytes": c.server.maxHeaderBytes,
		"--signup-limit-address": c.signupLimits.PerAddress, "--db-pool-size": c.poolSize,
	} {
		if n <= 0 {
			return fmt.Errorf("%s must be positive, got %d", name, n)
		}
	}
	if _, err := newLogger(io.Discard, c.logFormat, c.logLevel); err != nil {
		return err
	}
	if _, err := impl.ParseClientAddressHeader(c.addressHeader); err != nil {
		return fmt.Errorf("--client-address-header: %w", err)
	}
	for _, o := range c.origins() {
		if _, err := impl.ParseTrustedOrigin(o); err != nil {
			return fmt.Errorf("--trusted-origins: %w", err)
		}
	}
	return nil
}

// origins is the list --trusted-origins gives.
func (c *serveConfig) origins() []string {
	var list []string
	for _, o := range strings.Split(c.trustedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			list = append(list, o)
		}
	}
	return list
}

// newLogger is the process's logger: one JSON (or text) object per line.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: must be debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: must be json or text", format)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs, c := serveFlags(stderr)
	if err := parseFlags(fs, args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	if err := c.check(); err != nil {
		return err
	}
	logOut := newBufferedLog(stderr, flushEvery)
	defer logOut.Close()
	plain, _ := newLogger(logOut, c.logFormat, c.logLevel)
	log := slog.New(flushOnError{Handler: plain.Handler(), flush: logOut.Flush})
	mode, _ := impl.ParseResponseValidation(c.responseValidation)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The addresses first: a port that is taken is found before the
	// database is created, migrated or touched at all.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", c.addr, err)
	}
	defer ln.Close()
	var mln, pln net.Listener
	if c.metricsAddr != "" {
		if mln, err = net.Listen("tcp", c.metricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr %s: %w", c.metricsAddr, err)
		}
		defer mln.Close()
	}
	if c.pprofAddr != "" {
		if pln, err = net.Listen("tcp", c.pprofAddr); err != nil {
			return fmt.Errorf("--pprof-addr %s: %w", c.pprofAddr, err)
		}
		defer pln.Close()
	}

	reg := prometheus.NewRegistry()
	obs, err := impl.StoreMetrics(reg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c.db, storeOptions{migrate: c.migrate, observer: obs, poolSize: c.poolSize})
	if err != nil {
		return err
	}
	defer st.Close()

	conns := newConnTracker(reg)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler, err := impl.NewHandler(impl.Config{
		Store:                st,
		ResponseValidation:   mode,
		TrustedOrigins:       c.origins(),
		SessionIdleTimeout:   c.idleTimeout,
		SigninLifetime:       c.signinLifetime,
		MaxSigninsPerSession: c.maxAccounts,
		SigninLimits:         c.limits,
		SignupLimits:         c.signupLimits,
		ClientAddressHeader:  c.addressHeader,
		Logger:               log,
		Registry:             reg,
		MetricsElsewhere:     c.metricsAddr != "",
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: c.server.readHeaderTimeout,
		ReadTimeout:       c.server.readTimeout,
		WriteTimeout:      c.server.writeTimeout,
		IdleTimeout:       c.server.idleTimeout,
		MaxHeaderBytes:    c.server.maxHeaderBytes,
		ConnState:         conns.track,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// "OPTIONS *" reaches the handler (a 404 envelope) instead of
		// net/http's bare 200, which openapi.yaml has no room for.
		DisableGeneralOptionsHandler: true,
	}
	served := make(chan error, 2)
	var metricsSrv *http.Server
	if mln != nil {
		// The metrics address serves the metrics and nothing else: a
		// scraper that asks for another path is told so.
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: c.server.readHeaderTimeout}
		go func() { served <- metricsSrv.Serve(mln) }()
		log.Info("serving metrics", "addr", mln.Addr().String())
	}
	if pln != nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go http.Serve(pln, mux)
		log.Info("serving pprof", "addr", pln.Addr().String())
	}
	go sweep(ctx, st, c.sweepInterval, log)
	log.Info("serving", "addr", ln.Addr().String(), "db", redactDB(c.db), "engine", engineOf(c.db), "response_validation", string(mode), "version", version)
	logOut.Flush() // whoever waits for the server to serve reads this line
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process at once, the default way

	// Readiness first, so that a load balancer stops sending; then stop
	// accepting and let what was accepted finish.
	handler.Drain()
	log.Info("shutting down", "active_connections", conns.active(), "delay", c.shutdownDelay.String(), "grace", c.shutdownGrace.String())
	logOut.Flush()
	time.Sleep(c.shutdownDelay)
	graceCtx, cancel := context.WithTimeout(context.Background(), c.shutdownGrace)
	defer cancel()
	err = srv.Shutdown(graceCtx)
	if metricsSrv != nil {
		metricsSrv.Close()
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: in-flight requests did not finish within --shutdown-grace %s: %w", c.shutdownGrace, err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("close the database: %w", err)
	}
	log.Info("stopped")
	return nil
}

// connTracker counts the open connections, for the metrics and for the
// shutdown log line.
type connTracker struct {
	mu     sync.Mutex
	states map[net.Conn]http.ConnState
	open   prometheus.Gauge
}

func newConnTracker(reg prometheus.Registerer) *connTracker {
	t := &connTracker{
		states: map[net.Conn]http.ConnState{},
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meapi_http_open_connections",
			Help: "Client connections open now.",
		}),
	}
	reg.MustRegister(t.open)
	return t
}

func (t *connTracker) track(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s {
	case http.StateNew:
		t.open.Inc()
	case http.StateHijacked, http.StateClosed: // each connection ends in one of them
		t.open.Dec()
		delete(t.states, c)
		return
	}
	t.states[c] = s
}

// active counts the connections with a request in progress.
func (t *connTracker) active() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.states {
		if s == http.StateActive {
			n++
		}
	}
	return n
}

// sweep deletes what has ended, every interval until ctx is done: the
// store would ignore it anyway, but it should not grow without bound.
// Attempts older than their limit's window count for nothing.
func sweep(ctx context.Context, st store.Engine, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		swept, err := st.Sweep(ctx, now)
		if err != nil {
			log.Warn("sweep", "err", err)
			continue
		}
		if swept != (store.Swept{}) {
			log.Info("swept", "signins", swept.Signins, "sessions", swept.Sessions, "attempts", swept.Attempts)
		}
	}
}
