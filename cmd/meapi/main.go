// Command meapi serves the meapi API, and tests deployments of it.
//
//	meapi serve [flags]                    serve HTTP (every flag also from MEAPI_<FLAG>)
//	meapi conformance --base-url URL       contract-test a running deployment
//	meapi version                          print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"meapi"
	"meapi/conformance"
	"meapi/impl"
	"meapi/store"
)

// version is set at build time by the Makefile (-ldflags -X).
var version = "dev"

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	var failed casesFailed
	switch {
	case errors.As(err, &failed):
		os.Exit(1) // the report says which; nothing to add
	case err != nil:
		fmt.Fprintln(os.Stderr, "meapi:", err)
		os.Exit(2)
	}
}

const usage = `usage: meapi <command> [flags]

commands:
  serve        serve the API (meapi serve --help for its flags)
  conformance  contract-test a running deployment (meapi conformance --help)
  version      print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "conformance":
		return runConformance(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "meapi %s (%s)\n", version, runtime.Version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

type serveConfig struct {
	addr               string
	db                 string
	responseValidation string
	trustedOrigins     string
	idleTimeout        time.Duration
	signinLifetime     time.Duration
	maxAccounts        int
	limits             impl.SigninLimits
	addressHeader      string
	sweepInterval      time.Duration
	shutdownGrace      time.Duration
}

func serveFlags(stderr io.Writer) (*flag.FlagSet, *serveConfig) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("meapi serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.db, "db", "meapi.db", "SQLite database file (created if missing)")
	fs.StringVar(&c.responseValidation, "response-validation", string(impl.ValidateEnforce),
		"what to do with a response openapi.yaml does not allow: enforce (replace it with 500), log, off")
	fs.StringVar(&c.trustedOrigins, "trusted-origins", "",
		"comma-separated origins allowed to make state-changing cross-origin requests, e.g. https://app.example.com")
	fs.DurationVar(&c.idleTimeout, "session-idle-timeout", impl.DefaultSessionIdleTimeout, "end a browser session unused for this long")
	fs.DurationVar(&c.signinLifetime, "signin-lifetime", impl.DefaultSigninLifetime, "end a sign-in this long after its password was checked")
	fs.IntVar(&c.maxAccounts, "max-accounts", impl.DefaultMaxSigninsPerSession, "how many accounts one browser may have signed in at once")
	fs.DurationVar(&c.limits.Window, "signin-window", impl.DefaultSigninLimits.Window, "the sliding window failed sign-ins are counted in")
	fs.IntVar(&c.limits.PerAccount, "signin-limit-account", impl.DefaultSigninLimits.PerAccount, "failed sign-ins per account (or unknown email/username) in the window before 429")
	fs.IntVar(&c.limits.PerAddress, "signin-limit-address", impl.DefaultSigninLimits.PerAddress, "failed sign-ins per client address (IPv6: per /64) in the window before 429")
	fs.StringVar(&c.addressHeader, "client-address-header", "",
		"header a trusted reverse proxy sets to the client's address (X-Forwarded-For: its last entry counts); unset, the connection's address is used. Set it only behind such a proxy: clients can send any header")
	fs.DurationVar(&c.sweepInterval, "sweep-interval", 10*time.Minute, "how often ended sessions, sign-ins and old sign-in failures are deleted")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 15*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: meapi serve [flags]\n\nEvery flag can also be set from the environment: --db as MEAPI_DB, --response-validation as MEAPI_RESPONSE_VALIDATION, and so on. A flag on the command line wins.\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs, c
}

// envName is the environment variable that sets a flag.
func envName(flagName string) string {
	return "MEAPI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags sets each flag from its environment variable, then from the
// command line, so that the command line wins.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs, c := serveFlags(stderr)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	mode, err := impl.ParseResponseValidation(c.responseValidation)
	if err != nil {
		return fmt.Errorf("--response-validation: %w", err)
	}
	for name, d := range map[string]time.Duration{
		"--session-idle-timeout": c.idleTimeout, "--signin-lifetime": c.signinLifetime,
		"--signin-window": c.limits.Window, "--sweep-interval": c.sweepInterval, "--shutdown-grace": c.shutdownGrace,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive, got %s", name, d)
		}
	}
	for name, n := range map[string]int{
		"--max-accounts": c.maxAccounts, "--signin-limit-account": c.limits.PerAccount, "--signin-limit-address": c.limits.PerAddress,
	} {
		if n <= 0 {
			return fmt.Errorf("%s must be positive, got %d", name, n)
		}
	}
	var origins []string
	for _, o := range strings.Split(c.trustedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}

	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.OpenSQLite(ctx, c.db)
	if err != nil {
		return err
	}
	defer st.Close()
	handler, err := impl.NewHandler(impl.Config{
		Store:                st,
		ResponseValidation:   mode,
		TrustedOrigins:       origins,
		SessionIdleTimeout:   c.idleTimeout,
		SigninLifetime:       c.signinLifetime,
		MaxSigninsPerSession: c.maxAccounts,
		SigninLimits:         c.limits,
		ClientAddressHeader:  c.addressHeader,
		Logger:               log,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("serving", "addr", ln.Addr().String(), "db", c.db, "response_validation", string(mode), "version", version)

	go sweep(ctx, st, c.sweepInterval, c.limits.Window, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", c.shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), c.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// sweep deletes what has ended, every interval until ctx is done: the
// store would ignore it anyway, but it should not grow without bound.
// Failed sign-ins older than the limits' window count for nothing.
func sweep(ctx context.Context, st *store.SQLite, interval, window time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		swept, err := st.Sweep(ctx, now, now.Add(-window))
		if err != nil {
			log.Warn("sweep", "err", err)
			continue
		}
		if swept != (store.Swept{}) {
			log.Info("swept", "signins", swept.Signins, "sessions", swept.Sessions, "signin_failures", swept.Failures)
		}
	}
}

// casesFailed is the error of a conformance run in which cases failed:
// exit status 1, where 2 is for a run that could not be made at all.
type casesFailed int

func (n casesFailed) Error() string { return fmt.Sprintf("%d conformance cases failed", int(n)) }

func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meapi conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("base-url", "", "where the API under test is served, e.g. https://staging.example.com (required)")
	timeout := fs.Duration("timeout", 15*time.Second, "the longest one request may take")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: meapi conformance --base-url URL\n\n"+
			"Creates throwaway accounts on the deployment at URL, exercises every operation of the\n"+
			"openapi.yaml built into this binary, refusals included, and checks every response against it.\n"+
			"Prints one line per case and a last line \"N passed, N failed\"; exits 0 only when all pass.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *baseURL == "" {
		fs.Usage()
		return errors.New("--base-url is required")
	}
	res, err := conformance.Run(ctx, conformance.Config{
		BaseURL: *baseURL,
		Spec:    meapi.OpenAPIYAML,
		Out:     stdout,
		Client:  &http.Client{Timeout: *timeout},
	})
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return casesFailed(res.Failed)
	}
	return nil
}
