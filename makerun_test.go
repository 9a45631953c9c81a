package meapi_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRun runs the README's first command as a reader does, `make
// run`, on a free port and a database of its own (the flags' MEAPI_
// variables), then presses Ctrl-C: SIGINT to make's whole process group,
// as a terminal sends it. It must say before building that a first build
// takes minutes, serve, and stop meapi cleanly without an error of make's.
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed to run the README's first command: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command("make", "run")
	cmd.Env = append(os.Environ(), "MEAPI_ADDR="+addr, "MEAPI_DB="+filepath.Join(t.TempDir(), "meapi.db"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	// The build may take minutes on a cold machine; here it is bounded.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("make run ended before serving: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not serve within 5 minutes:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "the first build on a new machine downloads and compiles its modules: a few minutes") {
		t.Errorf("make run did not say that a first build takes minutes:\n%s", out.String())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		// make, interrupted, waits for meapi and ends by the same signal,
		// as a shell expects of a program stopped with Ctrl-C (and says
		// nothing); what it must not do is report a failed recipe.
		var exit *exec.ExitError
		interrupted := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT
		if (err != nil && !interrupted) || strings.Contains(out.String(), "make: ***") || !strings.Contains(out.String(), `"msg":"stopped"`) {
			t.Errorf("Ctrl-C on make run: %v; want a clean stop of meapi and no error from make:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("make run did not stop within 30 s of Ctrl-C:\n%s", out.String())
	}
}
