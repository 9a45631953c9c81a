package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meapi/store/postgres/pgtest"
)

// These tests run `meapi serve` as a real child process, and do to it what
// an operator's world does: kill it, stop it, back it up. The child is this
// test binary itself, which runs main() when MEAPI_TEST_MAIN is set, so no
// separate build is needed.

func TestMain(m *testing.M) {
	if os.Getenv("MEAPI_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	pgtest.Main(m) // the replicas' PostgreSQL, stopped at the end
}

// child is a running `meapi serve`.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *lockedBuffer
	done chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startChild starts `meapi serve` on a free loopback port with the database
// db, and waits until it serves.
func startChild(t *testing.T, db string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), "MEAPI_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, logs: &lockedBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(c.logs, line)
			var e struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "serving" {
				addr <- e.Addr
			}
		}
		c.done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		c.url = "http://" + a
	case err := <-c.done:
		t.Fatalf("meapi serve exited before serving: %v\n%s", err, c.logs.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("meapi serve did not start within 20 s\n%s", c.logs.String())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits for the child to exit, at most d.
func (c *child) wait(d time.Duration) error {
	select {
	case err := <-c.done:
		return err
	case <-time.After(d):
		c.cmd.Process.Kill()
		c.t.Fatalf("meapi serve did not exit within %s", d)
		return nil
	}
}

// waitForLog waits until the child has logged a line with this message,
// at most d.
func (c *child) waitForLog(msg string, d time.Duration) {
	deadline := time.Now().Add(d)
	for !strings.Contains(c.logs.String(), `"msg":"`+msg+`"`) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// untilStopped runs step(0), step(1), ... on a goroutine of wg until stop
// is closed or step returns false.
func untilStopped(wg *sync.WaitGroup, stop <-chan struct{}, step func(n int) bool) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if !step(n) {
				return
			}
		}
	}()
}

// client is an HTTP client that never reuses a connection across the
// server's death, and never waits long.
func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

type result struct {
	status int
	body   []byte
	header http.Header
	err    error
}

// send makes one request; token is the session cookie, or "".
func send(c *http.Client, method, url, token, body string, header map[string]string) result {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return result{err: err}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "__session", Value: token})
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return result{status: res.StatusCode, body: b, header: res.Header, err: err}
}

// signUp creates an account and returns its token.
func signUp(t *testing.T, c *http.Client, url, email string) string {
	t.Helper()
	r := send(c, "POST", url+"/auth/signup", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, secretPassword), nil)
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("sign-up %s: %d %v %s", email, r.status, r.err, r.body)
	}
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "__session" {
			return ck.Value
		}
	}
	t.Fatalf("sign-up %s set no cookie", email)
	return ""
}

// secretPassword is every account's password in these tests; no log line
// may contain it.
const secretPassword = "s3cret-never-logged-9f8e7d"

// checkLogsHoldNoSecrets fails when a log line holds a password, a token
// or a cookie value used in the test.
func checkLogsHoldNoSecrets(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, secretPassword) {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the log holds a secret (%.8s…)", s)
		}
	}
}

func kill(t *testing.T, c *child, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

var ctxBg = context.Background()

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "meapi.db") }
