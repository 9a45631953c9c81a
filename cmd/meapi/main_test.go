package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"meapi/impl"
	"meapi/impl/password"
	"meapi/store/sqlite"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "meapi dev (go") {
		t.Errorf("version: %q, %v", out.String(), err)
	}
	for _, args := range [][]string{nil, {"frobnicate"}} {
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func TestServeFlagsFromEnvironment(t *testing.T) {
	t.Setenv("MEAPI_DB", "from-env.db")
	t.Setenv("MEAPI_RESPONSE_VALIDATION", "log")
	fs, c := serveFlags(io.Discard)
	if err := parseFlags(fs, []string{"--response-validation", "off"}); err != nil {
		t.Fatal(err)
	}
	if c.db != "from-env.db" || c.responseValidation != "off" || c.addr != "127.0.0.1:8080" {
		t.Errorf("db %q, response-validation %q, addr %q: want the env's db, the command line's mode, the default addr", c.db, c.responseValidation, c.addr)
	}

	t.Setenv("MEAPI_SESSION_IDLE_TIMEOUT", "a week")
	fs, _ = serveFlags(io.Discard)
	if err := parseFlags(fs, nil); err == nil || !strings.Contains(err.Error(), "MEAPI_SESSION_IDLE_TIMEOUT") {
		t.Errorf("a bad value in the environment: %v; want an error naming the variable", err)
	}
}

func TestServeRefusesBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--response-validation", "sometimes"},
		{"serve", "--session-idle-timeout", "-1h"},
		{"serve", "--session-idle-timeout", "1ns"},
		{"serve", "--signin-lifetime", "500ms"},
		{"serve", "--trusted-origins", "not a url"},
		{"serve", "--trusted-origins", "https://*.example.com"},
		{"serve", "--max-accounts", "0"},
		{"serve", "--signin-limit-address", "-1"},
		{"serve", "--sweep-interval", "0s"},
		{"serve", "--log-format", "xml"},
		{"serve", "--log-level", "loud"},
		{"serve", "--read-timeout", "0s"},
		{"serve", "--max-header-bytes", "0"},
		{"serve", "--shutdown-delay", "-1s"},
		{"serve", "extra-argument"},
	} {
		args = append(args, "--db", filepath.Join(t.TempDir(), "x.db"), "--addr", "127.0.0.1:0")
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("run(%q) succeeded", args)
		} else if name := args[1]; strings.HasPrefix(name, "--") && !strings.Contains(err.Error(), name) {
			t.Errorf("run(%q): %v; the message must name %s", args, err, name)
		}
	}
}

// TestServeAndShutDown starts `meapi serve` on a free port, asks it for
// /healthz, and stops it the way SIGTERM does.
func TestServeAndShutDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lineBuffer{lines: make(chan string, 100)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "meapi.db")}, io.Discard, logs)
	}()

	var addr string
	deadline := time.After(10 * time.Second)
	for addr == "" {
		select {
		case line := <-logs.lines:
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "serving" {
				addr = entry.Addr
			}
		case err := <-done:
			t.Fatalf("serve returned early: %v", err)
		case <-deadline:
			t.Fatal("serve did not start within 10 s")
		}
	}
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", res.StatusCode)
	}
	// net/http answers "OPTIONS *" itself, a bare 200, unless told not to:
	// the server's own envelope, 404 with a request id, is what it gets.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "OPTIONS * HTTP/1.1\r\nHost: meapi.test\r\n\r\n")
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || res.Header.Get("X-Request-Id") == "" || !strings.Contains(string(body), `"NOT_FOUND"`) {
		t.Errorf("OPTIONS *: %d %v %s, want the 404 envelope", res.StatusCode, res.Header, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s")
	}
}

// lineBuffer hands each complete line written to it to a channel.
type lineBuffer struct {
	mu      sync.Mutex
	partial []byte
	lines   chan string
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case b.lines <- string(b.partial[:i]):
		default: // nobody is reading any more
		}
		b.partial = b.partial[i+1:]
	}
}

// TestConformanceCommand runs `meapi conformance` against a server that
// passes and against nothing at all.
func TestConformanceCommand(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := impl.NewHandler(impl.Config{Store: st, Password: password.Params{MemoryKiB: 64, Time: 1, Threads: 1}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	var out bytes.Buffer
	if err := run(context.Background(), []string{"conformance", "--base-url", srv.URL}, &out, io.Discard); err != nil {
		t.Errorf("against meapi: %v\n%s", err, out.String())
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), " passed, 0 failed") {
		t.Errorf("last line of:\n%s", out.String())
	}

	// Nothing listens there: every case fails, and the error says how many.
	srv.Close()
	out.Reset()
	err = run(context.Background(), []string{"conformance", "--base-url", srv.URL, "--timeout", "2s"}, &out, io.Discard)
	var failed casesFailed
	if !errors.As(err, &failed) || int(failed) == 0 {
		t.Errorf("against a closed port: %v", err)
	}
	if err := run(context.Background(), []string{"conformance"}, io.Discard, io.Discard); err == nil {
		t.Errorf("without --base-url: no error")
	}
}

func TestServeHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, io.Discard, &out); err != nil {
		t.Fatal(err)
	}
	fs, _ := serveFlags(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out.String(), "-"+f.Name) {
			t.Errorf("--help does not list --%s", f.Name)
		}
		if f.DefValue != "" && f.DefValue != "false" && !strings.Contains(out.String(), f.DefValue) {
			t.Errorf("--help does not give --%s's default %s", f.Name, f.DefValue)
		}
	})
	if !strings.Contains(out.String(), "MEAPI_DB") {
		t.Errorf("--help does not say how to set flags from the environment")
	}
}

// TestMessagesSayWhatIsWrong: what an operator gets wrong is told in one
// line that names the flag or the variable and what it wants, with nothing
// else printed (no usage); a misspelt MEAPI_ variable is warned about; a
// missing folder is named as one by serve, migrate and backup; a backup of
// a database that does not exist creates nothing; a port that is taken is
// found before the database is touched.
func TestMessagesSayWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "meapi.db")
	runIt := func(args ...string) (string, error) {
		var stderr bytes.Buffer
		err := run(context.Background(), args, io.Discard, &stderr)
		return stderr.String(), err
	}
	serve := []string{"serve", "--addr", "127.0.0.1:0", "--db", db}
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{append(serve, "--read-timeout", "banana"), nil, `--read-timeout "banana": want a duration such as 15s`},
		{append(serve, "--max-accounts", "many"), nil, `--max-accounts "many": want a whole number`},
		{append(serve, "--migrate=maybe"), nil, `--migrate "maybe": want true or false`},
		{append(serve, "--no-such-flag"), nil, "unknown flag --no-such-flag"},
		{serve, map[string]string{"MEAPI_READ_TIMEOUT": "banana"}, `MEAPI_READ_TIMEOUT="banana": want a duration such as 15s`},
		{[]string{"migrate", "--db", db, "--nope"}, nil, "unknown flag --nope"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			stderr, err := runIt(tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v; want one line with %q", err, tt.want)
			}
			if stderr != "" {
				t.Errorf("printed more than the error:\n%s", stderr)
			}
		})
	}

	t.Run("a misspelt variable", func(t *testing.T) {
		t.Setenv("MEAPI_READ_TIMEOT", "3s")
		stderr, _ := runIt("serve", "--db", filepath.Join(dir, "missing", "meapi.db"))
		if !strings.Contains(stderr, "MEAPI_READ_TIMEOT") || !strings.Contains(stderr, "did you mean MEAPI_READ_TIMEOUT?") {
			t.Errorf("it was not warned about: %q", stderr)
		}
	})
	missing := filepath.Join(dir, "missing")
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(missing, "meapi.db")},
		{"migrate", "--db", filepath.Join(missing, "meapi.db")},
		{"backup", "--db", filepath.Join(missing, "meapi.db"), "--to", filepath.Join(dir, "copy.db")},
	} {
		if _, err := runIt(args...); err == nil || !strings.Contains(err.Error(), "the folder "+missing+" does not exist") {
			t.Errorf("%q: %v; want it to name the missing folder", args, err)
		}
	}

	typo := filepath.Join(dir, "nope.db")
	if _, err := runIt("backup", "--db", typo, "--to", filepath.Join(dir, "copy.db")); err == nil || !strings.Contains(err.Error(), "no such database") {
		t.Errorf("a backup of a database that does not exist: %v", err)
	}
	for _, f := range []string{typo, filepath.Join(dir, "copy.db")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("the refused backup created %s", f)
		}
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fresh := filepath.Join(dir, "fresh.db")
	if _, err := runIt("serve", "--addr", busy.Addr().String(), "--db", fresh); err == nil || !strings.Contains(err.Error(), "--addr") {
		t.Errorf("serve on a port that is taken: %v; want an error naming --addr", err)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("serve on a port that is taken created the database first")
	}
}

// TestServeTrustedOriginsAsBrowsersSendThem: --trusted-origins that no
// browser could send as its Origin are refused at start in one line naming
// the flag and the form wanted; one a browser writes differently is taken
// in the browser's form. The context is done before serve starts, so that
// a server that does start stops at once instead of serving on.
func TestServeTrustedOriginsAsBrowsersSendThem(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, o := range []string{"https://app.example.com:99999", "https://app.example.com:", "https://0177.0.0.1"} {
		var stderr bytes.Buffer
		err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", dbPath(t), "--trusted-origins", "https://ok.example.com," + o}, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), "--trusted-origins") || !strings.Contains(err.Error(), o) ||
			!strings.Contains(err.Error(), "e.g. https://app.example.com") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--trusted-origins %s: %v; want one line naming the flag, the value and the form wanted", o, err)
		}
		if stderr.Len() != 0 {
			t.Errorf("--trusted-origins %s printed more than the error:\n%s", o, stderr.String())
		}
	}
	fs, c := serveFlags(io.Discard)
	if err := parseFlags(fs, []string{"--trusted-origins", "https://APP.example.com:443, https://bücher.example"}); err != nil {
		t.Fatal(err)
	}
	if err := c.check(); err != nil {
		t.Errorf("origins a browser writes otherwise: %v; want them taken in its form", err)
	}
}

// TestServeRefusesABadClientAddressHeader: a --client-address-header that
// no header can be named is one line naming the flag and the form wanted
// (and so exit status 2), not a limit that silently counts the proxy. The
// context is done before serve starts, so that a server that does start
// stops at once instead of serving on.
func TestServeRefusesABadClientAddressHeader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, h := range []string{"X Forwarded", "X-Forwarded-For:"} {
		var stderr bytes.Buffer
		err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", dbPath(t), "--client-address-header", h}, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), "--client-address-header") || !strings.Contains(err.Error(), "X-Forwarded-For") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--client-address-header %q: %v; want one line naming the flag and the form wanted", h, err)
		}
		if stderr.Len() != 0 {
			t.Errorf("--client-address-header %q printed more than the error:\n%s", h, stderr.String())
		}
	}
}
