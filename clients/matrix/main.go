// Command matrix is `make test-clients`: for each of six generators it
// generates a client from openapi.yaml (or, for the two committed clients,
// checks that the committed code is what openapi.yaml generates), compiles
// it, and drives it through one scenario against a meapi of its own; then
// it runs the agreement test of zod and the server (clients/README.md). It
// prints one line per step and the matrix, and exits non-zero when any
// generation, compilation or scenario fails.
//
// Run it from the repository's root, after `make build` and the npm installs
// of sdk/typescript and clients/ts: go run ./clients/matrix --meapi bin/meapi
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// steps are the scenario's steps, which every client must print in this
// order: clients/ts/src/lib/scenario.ts and clients/*/scenario.go.
var steps = []string{
	"sign up ada",
	"GET /me reads the ETag",
	"PATCH /me sets first_name, last_name, username, image_url",
	"PATCH /me clears image_url with null",
	"PATCH refused, unknown member nickname",
	"PATCH refused, read-only member email",
	"PATCH refused, first_name of 101 characters",
	"PATCH with a stale If-Match",
	"sign up grace in the same cookie jar",
	"sign out grace",
	"sign grace back in by username",
	"GET /session lists both sign-ins and users",
	"switch to ada's sign-in",
	"sign out the active sign-in",
	"sign out all",
	"GET /me after signing out",
}

const (
	ts       = "clients/ts"
	sdk      = "sdk/typescript"
	ogenDir  = "clients/ogen"
	stepTime = 5 * time.Minute // the most any one command may take
)

// client is one row of the matrix.
type client struct {
	name, version string
	// generate makes the client's code, or checks the committed code; it
	// returns a note for the log.
	generate func(ctx context.Context) (string, error)
	// compile type-checks and builds it into what run starts.
	compile func(ctx context.Context) error
	// command is the scenario's command line for a meapi at base.
	command func(base string) []string
	// scenario: the output must list the scenario's steps
	scenario bool
	// needs are the clients whose generated code this one uses (instead of
	// generating its own).
	needs []string

	generated, compiled, result string
	failed                      bool
}

type runner struct {
	meapi, tmp string
	// serverMu makes choosing a free port and starting meapi on it one step,
	// so that two servers started at once never pick the same port.
	serverMu sync.Mutex
}

func main() {
	meapi := flag.String("meapi", "bin/meapi", "the meapi binary to serve each scenario")
	only := flag.String("only", "", "comma-separated names of the rows to run (default: all)")
	jobs := flag.Int("jobs", runtime.NumCPU(), "how many rows to work on at once")
	flag.Parse()

	start := time.Now()
	if err := checkNode(); err != nil {
		fmt.Fprintln(os.Stderr, "test-clients:", err)
		os.Exit(1)
	}
	tmp, err := os.MkdirTemp("", "meapi-clients-")
	if err != nil {
		fatal(err)
	}
	abs, err := filepath.Abs(*meapi)
	if err != nil {
		os.RemoveAll(tmp)
		fatal(err)
	}
	r := &runner{meapi: abs, tmp: tmp}
	all := r.clients()
	rows := all
	if *only != "" {
		// The rows named, and those whose code they use.
		want := strings.Split(*only, ",")
		for _, c := range all {
			if slices.Contains(want, c.name) {
				want = append(want, c.needs...)
			}
		}
		rows = nil
		for _, c := range all {
			if slices.Contains(want, c.name) {
				rows = append(rows, c)
			}
		}
	}
	byName := map[string]*client{}
	for _, c := range rows {
		byName[c.name] = c
	}

	fmt.Println("== generate")
	each(rows, *jobs, func(c *client) string {
		t := time.Now()
		note, err := c.generate(context.Background())
		if err != nil {
			c.generated, c.failed = "FAIL", true
			return fmt.Sprintf("FAIL %s %s: %s", c.name, c.version, err)
		}
		switch {
		case len(c.needs) > 0:
			c.generated = "uses " + strings.Join(c.needs, "'s and ") + "'s"
		case strings.HasPrefix(note, "cached"):
			c.generated = "yes (cached)"
		default:
			c.generated = "yes"
		}
		return fmt.Sprintf("ok   %s %s: %s (%s)", c.name, c.version, note, since(t))
	})

	fmt.Println("\n== compile")
	each(rows, *jobs, func(c *client) string {
		for _, n := range c.needs {
			if d := byName[n]; d == nil || d.generated == "FAIL" {
				c.generated, c.failed = "FAIL", true
				return fmt.Sprintf("FAIL %s: needs the code %s generates", c.name, n)
			}
		}
		if c.failed {
			return fmt.Sprintf("--   %s: not compiled, its generation failed", c.name)
		}
		t := time.Now()
		if err := c.compile(context.Background()); err != nil {
			c.compiled, c.failed = "FAIL", true
			return fmt.Sprintf("FAIL %s: %s", c.name, err)
		}
		c.compiled = "yes"
		return fmt.Sprintf("ok   %s (%s)", c.name, since(t))
	})

	fmt.Println("\n== scenarios, each against a meapi of its own")
	each(rows, *jobs, func(c *client) string {
		if c.failed {
			c.result = "—"
			return fmt.Sprintf("--   %s: not run, it did not compile", c.name)
		}
		out, summary, err := r.scenario(c)
		c.result = summary
		if err != nil {
			c.failed = true
			if c.result == "" {
				c.result = "FAIL"
			}
			return fmt.Sprintf("-- %s %s\n%sFAIL %s: %s", c.name, c.version, out, c.name, err)
		}
		return fmt.Sprintf("-- %s %s\n%s", c.name, c.version, strings.TrimSuffix(out, "\n"))
	})

	fmt.Println("\n== matrix")
	failed := 0
	fmt.Println("| generator | version | generated | compiled | scenario |")
	fmt.Println("|---|---|---|---|---|")
	for _, c := range rows {
		if c.failed {
			failed++
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", c.name, c.version, dash(c.generated), dash(c.compiled), dash(c.result))
	}
	fmt.Printf("\ntest-clients took %s\n", since(start))
	fmt.Printf("test-clients: %d passed, %d failed\n", len(rows)-failed, failed)
	os.RemoveAll(tmp)
	if failed > 0 {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "test-clients:", err)
	os.Exit(1)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func since(t time.Time) string {
	return strconv.FormatFloat(time.Since(t).Seconds(), 'f', 1, 64) + " s"
}

// each calls fn for every row, at most jobs at once, and prints what each
// returns in the rows' order as soon as it and the rows before it are done.
func each(rows []*client, jobs int, fn func(*client) string) {
	outs := make([]chan string, len(rows))
	sem := make(chan struct{}, max(1, jobs))
	for i, c := range rows {
		outs[i] = make(chan string, 1)
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			outs[i] <- fn(c)
		}()
	}
	for _, o := range outs {
		fmt.Println(<-o)
	}
}

var nodeVersion = regexp.MustCompile(`^v(\d+)\.`)

const needNode = "Node.js 20 or newer is needed (Debian 12's nodejs package is 18, Debian 13's is 20; " +
	"elsewhere install Node.js 20 from its own releases or with nvm)"

// checkNode fails unless Node.js 20 or newer is on PATH.
func checkNode() error {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return fmt.Errorf("no node on PATH: %s", needNode)
	}
	m := nodeVersion.FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		return fmt.Errorf("node --version said %q", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 20 {
		return fmt.Errorf("node %s is too old: %s", strings.TrimSpace(string(out)), needNode)
	}
	return nil
}

// run runs a command in dir with a deadline; on failure the error holds
// the end of what it printed.
func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(out, 30))
	}
	return out, nil
}

// tail is the last n lines of out, indented.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"    …"}, lines[len(lines)-n:]...)
	}
	return "    " + strings.Join(lines, "\n    ")
}

// cached runs gen into dir unless dir holds the output of the same inputs
// (this file's key, the generator's name and the files' bytes).
func cached(dir, what string, inputs []string, gen func() error) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", what)
	for _, f := range inputs {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))
	stamp := filepath.Join(dir, ".inputs-sha256")
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == key {
		return "cached in " + dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := gen(); err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("the generator wrote nothing into %s", dir)
	}
	if err := os.WriteFile(stamp, []byte(key+"\n"), 0o644); err != nil {
		return "", err
	}
	return "generated into " + dir, nil
}

// sameFile checks that the committed file is what the generator writes.
func sameFile(committed, generated string) (string, error) {
	a, err := os.ReadFile(committed)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(generated)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(a, b) {
		return "", fmt.Errorf("%s is not what openapi.yaml generates now: run make generate and commit", committed)
	}
	return committed + " is what openapi.yaml generates", nil
}

// goModVersion is the version go.mod requires of module.
func goModVersion(gomod, module string) string {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "?"
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		return "?"
	}
	return string(m[1])
}

// npmVersion is the version a package-lock.json installs of pkg.
func npmVersion(lock, pkg string) string {
	b, err := os.ReadFile(lock)
	if err != nil {
		return "?"
	}
	var l struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return "?"
	}
	if p, ok := l.Packages["node_modules/"+pkg]; ok {
		return p.Version
	}
	return "?"
}

func (r *runner) clients() []*client {
	bin := func(name string) string { return filepath.Join(r.tmp, name) }
	tsBin := func(name string) string { return filepath.Join("node_modules", ".bin", name) }
	spec, _ := filepath.Abs("openapi.yaml")
	lock := ts + "/package-lock.json"
	// tsc type-checks (tsc --strict, per clients/ts/tsconfig.NAME.json);
	// esbuild then bundles the scenario into one file for node.
	tsCompile := func(name string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if _, err := run(ctx, ts, nil, tsBin("tsc"), "-p", "tsconfig."+name+".json"); err != nil {
				return err
			}
			_, err := run(ctx, ts, nil, tsBin("esbuild"), "src/"+name+".ts", "--bundle", "--platform=node", "--target=node20",
				"--format=esm", "--outfile=build/"+name+".mjs", "--log-level=warning")
			return err
		}
	}
	tsCommand := func(name string, args ...string) func(string) []string {
		return func(base string) []string {
			return append([]string{"node", filepath.Join(ts, "build", name+".mjs"), base}, args...)
		}
	}
	heyGenerate := func(ctx context.Context) (string, error) {
		return cached(ts+"/gen/hey", "hey-api", []string{"openapi.yaml", ts + "/openapi-ts.config.mjs", lock}, func() error {
			_, err := run(ctx, ts, []string{"SPEC=" + spec, "OUT=gen/hey"}, tsBin("openapi-ts"), "-f", "openapi-ts.config.mjs")
			return err
		})
	}
	orvalGenerate := func(ctx context.Context) (string, error) {
		return cached(ts+"/gen/orval", "orval", []string{"openapi.yaml", ts + "/orval.config.mjs", ts + "/node20-polyfill.mjs", lock}, func() error {
			out, err := run(ctx, ts, []string{"SPEC=" + spec, "OUT=gen/orval", "NODE_OPTIONS=--import ./node20-polyfill.mjs"},
				tsBin("orval"), "--config", "orval.config.mjs")
			if err != nil {
				return err
			}
			// orval says so, but exits 0, when a project fails.
			for _, p := range []string{"zod", "fetch"} {
				if !regexp.MustCompile(`(?m)^` + p + ` - 🎉`).Match(out) {
					return fmt.Errorf("orval did not generate the project %s:\n%s", p, tail(out, 30))
				}
			}
			return nil
		})
	}
	return []*client{
		{
			name:    "oapi-codegen",
			version: goModVersion("go.mod", "github.com/oapi-codegen/oapi-codegen/v2") + " (client/, committed)",
			generate: func(ctx context.Context) (string, error) {
				// client/config.yaml, writing elsewhere (its output wins over -o).
				out := bin("client.gen.go")
				config, err := os.ReadFile("client/config.yaml")
				if err != nil {
					return "", err
				}
				config = regexp.MustCompile(`(?m)^output: .*$`).ReplaceAll(config, []byte("output: "+out))
				if err := os.WriteFile(bin("config.yaml"), config, 0o644); err != nil {
					return "", err
				}
				if _, err := run(ctx, ".", nil, "go", "run", "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen",
					"-config", bin("config.yaml"), "openapi.yaml"); err != nil {
					return "", err
				}
				return sameFile("client/client.gen.go", out)
			},
			compile: func(ctx context.Context) error {
				_, err := run(ctx, ".", nil, "go", "build", "-o", bin("oapi-codegen"), "./clients/oapi-codegen")
				return err
			},
			command:  func(base string) []string { return []string{bin("oapi-codegen"), base} },
			scenario: true,
		},
		{
			name:    "ogen",
			version: goModVersion(ogenDir+"/go.mod", "github.com/ogen-go/ogen"),
			generate: func(ctx context.Context) (string, error) {
				return cached(ogenDir+"/api", "ogen", []string{"openapi.yaml", ogenDir + "/ogen.yml", ogenDir + "/go.sum"}, func() error {
					_, err := run(ctx, ogenDir, nil, "go", "run", "github.com/ogen-go/ogen/cmd/ogen",
						"--config", "ogen.yml", "--target", "api", "--package", "api", "--clean", spec)
					return err
				})
			},
			compile: func(ctx context.Context) error {
				if err := copyScenario(); err != nil {
					return err
				}
				_, err := run(ctx, ogenDir, nil, "go", "build", "-o", bin("ogen"), ".")
				return err
			},
			command:  func(base string) []string { return []string{bin("ogen"), base} },
			scenario: true,
		},
		{
			name: "openapi-typescript",
			version: npmVersion(sdk+"/package-lock.json", "openapi-typescript") + " + openapi-fetch " +
				npmVersion(sdk+"/package-lock.json", "openapi-fetch") + " (sdk/typescript, committed)",
			generate: func(ctx context.Context) (string, error) {
				out := bin("schema.d.ts")
				if _, err := run(ctx, sdk, nil, tsBin("openapi-typescript"), spec, "--output", out); err != nil {
					return "", err
				}
				return sameFile(sdk+"/src/schema.d.ts", out)
			},
			compile:  tsCompile("oats"),
			command:  tsCommand("oats"),
			scenario: true,
		},
		{
			name:     "@hey-api/openapi-ts",
			version:  npmVersion(lock, "@hey-api/openapi-ts") + " + zod " + npmVersion(lock, "zod"),
			generate: heyGenerate,
			compile:  tsCompile("hey"),
			command:  tsCommand("hey"),
			scenario: true,
		},
		{
			name:     "orval",
			version:  npmVersion(lock, "orval") + " (zod, fetch) + zod " + npmVersion(lock, "zod"),
			generate: orvalGenerate,
			compile:  tsCompile("orval"),
			command:  tsCommand("orval"),
			scenario: true,
		},
		{
			name:    "swagger-typescript-api",
			version: npmVersion(lock, "swagger-typescript-api"),
			generate: func(ctx context.Context) (string, error) {
				return cached(ts+"/gen/sta", "swagger-typescript-api", []string{"openapi.yaml", lock}, func() error {
					if _, err := run(ctx, ts, nil, tsBin("swagger-typescript-api"), "generate", "-p", spec, "-o", "gen/sta", "-n", "Api.ts"); err != nil {
						return err
					}
					if _, err := os.Stat(ts + "/gen/sta/Api.ts"); err != nil {
						return errors.New("swagger-typescript-api wrote no gen/sta/Api.ts")
					}
					return nil
				})
			},
			compile:  tsCompile("sta"),
			command:  tsCommand("sta"),
			scenario: true,
		},
		{
			name:     "agreement",
			version:  "(their zod schemas and the server)",
			generate: func(context.Context) (string, error) { return "nothing of its own", nil },
			needs:    []string{"@hey-api/openapi-ts", "orval"},
			compile:  tsCompile("agreement"),
			command:  tsCommand("agreement", "clients/emails.json", "clients/image-urls.json"),
		},
	}
}

// copyScenario puts the Go clients' one scenario into ogen's module, which
// can import no package of meapi's (two modules): a copy made before each
// build, git-ignored like the client ogen generates beside it.
func copyScenario() error {
	src, err := os.ReadFile("clients/oapi-codegen/scenario.go")
	if err != nil {
		return err
	}
	header := []byte("// Code generated by clients/matrix from clients/oapi-codegen/scenario.go. DO NOT EDIT.\n\n")
	return os.WriteFile(ogenDir+"/scenario.go", append(header, src...), 0o644)
}

var summaryLine = regexp.MustCompile(`^(\d+) passed, (\d+) failed$`)

// scenario starts a meapi of the client's own, runs its scenario against
// it and stops it. It returns what the client printed, its last line (the
// summary) and why it failed, if it did.
func (r *runner) scenario(c *client) (string, string, error) {
	dir, err := os.MkdirTemp(r.tmp, "server-")
	if err != nil {
		return "", "", err
	}
	srv, err := r.start(dir)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepTime)
	defer cancel()
	argv := c.command("http://" + srv.addr)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	out, runErr := cmd.CombinedOutput()
	stopErr := srv.stop()

	text := string(out)
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	last := lines[len(lines)-1]
	summary := ""
	if m := summaryLine.FindStringSubmatch(last); m != nil {
		summary = last
	}
	var problems []string
	switch {
	case runErr != nil:
		problems = append(problems, fmt.Sprintf("exit: %v", runErr))
	case summary == "":
		problems = append(problems, "its last line is not \"N passed, N failed\"")
	}
	if c.scenario {
		if got := stepNames(lines); !slices.Equal(got, steps) {
			problems = append(problems, fmt.Sprintf("its steps are not the scenario's: got %q", got))
		}
	}
	if stopErr != nil {
		problems = append(problems, stopErr.Error())
	}
	if len(problems) > 0 {
		return text + "  meapi's log, last lines:\n" + tail(srv.log(), 10) + "\n", summary, errors.New(strings.Join(problems, "; "))
	}
	return text, summary, nil
}

// stepNames reads the step names back from "ok   NAME: NOTE" and "FAIL NAME: WHY".
func stepNames(lines []string) []string {
	var names []string
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, "ok   ")
		if !ok {
			rest, ok = strings.CutPrefix(l, "FAIL ")
		}
		if ok {
			name, _, _ := strings.Cut(rest, ": ")
			names = append(names, name)
		}
	}
	return names
}

type server struct {
	addr    string
	cmd     *exec.Cmd
	logFile string
	exited  chan error
}

func (s *server) log() []byte {
	b, _ := os.ReadFile(s.logFile)
	return b
}

// start serves meapi on a free loopback port with a fresh database in dir
// and returns once /healthz answers 200 (within 30 s).
func (r *runner) start(dir string) (*server, error) {
	r.serverMu.Lock()
	defer r.serverMu.Unlock()
	var lastErr error
	for attempt := range 3 {
		s, err := r.startOnce(dir, attempt)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (r *runner) startOnce(dir string, attempt int) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logFile := filepath.Join(dir, fmt.Sprintf("meapi-%d.log", attempt))
	logOut, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logOut.Close()
	cmd := exec.Command(r.meapi, "serve", "--addr", addr, "--db", filepath.Join(dir, fmt.Sprintf("meapi-%d.db", attempt)))
	cmd.Stdout, cmd.Stderr = logOut, logOut
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{addr: addr, cmd: cmd, logFile: logFile, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("meapi on %s exited before it answered /healthz (%v):\n%s", addr, err, tail(s.log(), 15))
		case <-tick.C:
		}
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	_ = s.stop()
	return nil, fmt.Errorf("meapi on %s did not answer /healthz within 30 s:\n%s", addr, tail(s.log(), 15))
}

// stop asks meapi to shut down (SIGTERM) and waits for it, at most 20 s
// before killing it.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-s.exited:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return err
		}
		if err != nil {
			return fmt.Errorf("meapi exited with %v on SIGTERM", err)
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("meapi did not stop within 20 s of SIGTERM; killed")
	}
}
