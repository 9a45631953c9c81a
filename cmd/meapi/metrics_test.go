package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// documentedMetrics are the metrics docs/OPERATIONS.md lists.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `(meapi_[a-z_]+)` \\|")
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			names = append(names, m[1])
		}
	}
	if len(names) < 8 {
		t.Fatalf("only %d metrics found in docs/OPERATIONS.md's table: %q", len(names), names)
	}
	return names
}

// TestMetricsAddress: with --metrics-addr, the metrics are there at
// /metrics only, every documented one from the start (before any event
// counted it), and the API's own /metrics answers 404.
func TestMetricsAddress(t *testing.T) {
	c := startChild(t, dbPath(t), "--metrics-addr", "127.0.0.1:0")
	c.waitForLog("serving metrics", 10*time.Second)
	addr := ""
	for _, line := range strings.Split(c.logs.String(), "\n") {
		if m := regexp.MustCompile(`"msg":"serving metrics".*"addr":"([^"]+)"`).FindStringSubmatch(line); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no metrics address logged:\n%s", c.logs.String())
	}
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	status, body := get("http://" + addr + "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics on the metrics address: %d", status)
	}
	for _, name := range documentedMetrics(t) {
		if !regexp.MustCompile(`(?m)^` + name + `(\{|_bucket|_count| )`).MatchString(body) {
			t.Errorf("the documented metric %s does not exist from the start", name)
		}
	}
	for _, path := range []string{"/me", "/healthz", "/", "/metrics/x"} {
		if status, _ := get("http://" + addr + path); status != http.StatusNotFound {
			t.Errorf("GET %s on the metrics address: %d, want 404", path, status)
		}
	}
	if status, _ := get(c.url + "/metrics"); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API's address: %d, want 404 there", status)
	}
}
