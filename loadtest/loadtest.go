// Package loadtest drives a running meapi over HTTP/1.1 keep-alive
// connections and measures what it answers: requests a second, latency
// percentiles, errors, and the server's resident memory (read from its
// /metrics). It signs up its own users first, one per connection, or uses
// the session cookies it is given (Config.Cookies, as `meapi seed` writes
// them), a random one for each request, so that load spreads over as many
// users as there are cookies.
//
// The client side is kept cheap on purpose, because it shares the machine
// with the server: each connection writes prepared request bytes and
// parses answers with net/http's response reader, with no http.Client,
// cookie jar or pool in the way.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what load to make.
type Config struct {
	BaseURL     string
	Connections int
	Duration    time.Duration
	// Op is get (GET /me), patch (PATCH /me) or mixed (9 GET to 1 PATCH).
	Op string
	// MaxRequests bounds the run besides Duration (0: 10 million).
	MaxRequests int
	// Cookies, when set, are __session values of signed-in users: each
	// request uses one of them at random, and no user is signed up.
	Cookies []string
	// EachOnce, with Cookies, sends one request for each user instead, in
	// the file's order, and stops (or at Duration): a warm-up after which
	// every user has been seen, as the users of a deployment have.
	EachOnce bool
}

// Result is what a run measured.
type Result struct {
	Op          string
	Connections int
	Elapsed     time.Duration
	Requests    int
	Errors      int // transport errors and non-2xx answers
	// Latency percentiles.
	P50, P90, P99, P999 time.Duration
	// RSS is the server's largest resident memory seen during the run, in
	// bytes (0 when its /metrics does not say).
	RSS float64
}

// RPS is requests answered a second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// settle is the pause between the sign-ups and the load.
const settle = 500 * time.Millisecond

// Run signs up one user per connection, then drives the server until
// Duration is over or MaxRequests have been sent.
func Run(ctx context.Context, cfg Config) (Result, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return Result{}, fmt.Errorf("base URL %q: must be http://host:port", cfg.BaseURL)
	}
	switch cfg.Op {
	case "get", "patch", "mixed":
	default:
		return Result{}, fmt.Errorf("op %q: must be get, patch or mixed", cfg.Op)
	}
	if cfg.Connections <= 0 || cfg.Duration <= 0 {
		return Result{}, errors.New("connections and duration must be positive")
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 10_000_000
	}
	workers := make([]*worker, cfg.Connections)
	var next atomic.Int64 // with EachOnce, the next user's index
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range workers {
		var w *worker
		var err error
		if len(cfg.Cookies) > 0 {
			w, err = dialWorker(u.Host, cfg.Op)
			if err == nil {
				w.cookies = cfg.Cookies
				w.rng = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
				if cfg.EachOnce {
					w.next = &next
				}
			}
		} else {
			w, err = newWorker(u.Host, fmt.Sprintf("load-%s-%d@example.com", run, i), cfg.Op)
		}
		if err != nil {
			return Result{}, err
		}
		defer w.conn.Close()
		workers[i] = w
	}
	// Signing up hashes passwords, which takes memory that a server gives
	// back shortly after (meapi within 100 ms): a pause keeps it out of the
	// memory measured under the load itself.
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}

	var rss float64
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := serverRSS(cfg.BaseURL); v > rss {
				rss = v
			}
			select {
			case <-stopRSS:
				return
			case <-tick.C:
			}
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	perWorker := cfg.MaxRequests / cfg.Connections
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, perWorker)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopRSS)
	<-rssDone

	res := Result{Op: cfg.Op, Connections: cfg.Connections, Elapsed: elapsed, RSS: rss}
	var lat []time.Duration
	for _, w := range workers {
		res.Requests += w.ok
		res.Errors += w.errors
		lat = append(lat, w.latencies...)
	}
	res.SetPercentiles(lat)
	return res, nil
}

// SetPercentiles sorts the latencies of a run (in place) and sets the
// result's percentiles from them; none gives zeros.
func (r *Result) SetPercentiles(lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	r.P50, r.P90, r.P99, r.P999 = pct(0.50), pct(0.90), pct(0.99), pct(0.999)
}

// worker is one keep-alive connection with its own signed-in user, or with
// the cookies of many.
type worker struct {
	conn      net.Conn
	rd        *bufio.Reader
	host      string
	cookie    string
	cookies   []string
	rng       *rand.Rand
	next      *atomic.Int64 // set: each cookie once, this one the next's index
	op        string
	ok        int
	errors    int
	latencies []time.Duration
}

func dialWorker(host, op string) (*worker, error) {
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	return &worker{conn: conn, rd: bufio.NewReaderSize(conn, 16<<10), host: host, op: op}, nil
}

func newWorker(host, email, op string) (*worker, error) {
	w, err := dialWorker(host, op)
	if err != nil {
		return nil, err
	}
	conn := w.conn
	body := fmt.Sprintf(`{"email":%q,"password":"load test password"}`, email)
	res, err := w.do("POST", "/auth/signup", body)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sign up %s: %w", email, err)
	}
	if res.StatusCode != http.StatusCreated {
		conn.Close()
		return nil, fmt.Errorf("sign up %s: status %d", email, res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == "__session" {
			w.cookie = c.Value
		}
	}
	if w.cookie == "" {
		conn.Close()
		return nil, fmt.Errorf("sign up %s: no session cookie", email)
	}
	return w, nil
}

// do sends one request on the worker's connection and reads the answer.
func (w *worker) do(method, path, body string) (*http.Response, error) {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + w.host + "\r\n")
	if w.cookie != "" {
		b.WriteString("Cookie: __session=" + w.cookie + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(w.conn, b.String()); err != nil {
		return nil, err
	}
	res, err := http.ReadResponse(w.rd, nil)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return nil, err
	}
	res.Body.Close()
	return res, nil
}

func (w *worker) loop(ctx context.Context, limit int) {
	w.latencies = make([]time.Duration, 0, min(limit, 1<<20))
	get := []byte("GET /me HTTP/1.1\r\nHost: " + w.host + "\r\nCookie: __session=" + w.cookie + "\r\n\r\n")
	patchHead := "PATCH /me HTTP/1.1\r\nHost: " + w.host + "\r\nCookie: __session=" + w.cookie + "\r\nContent-Type: application/json\r\n"
	var req, buf []byte
	for i := 0; i < limit && ctx.Err() == nil; i++ {
		req = get
		patch := w.op == "patch" || (w.op == "mixed" && i%10 == 9)
		if w.cookies != nil {
			// A user picked at random, or the next one: the request is built
			// anew.
			var cookie string
			if w.next != nil {
				j := w.next.Add(1) - 1
				if j >= int64(len(w.cookies)) {
					return
				}
				cookie = w.cookies[j]
			} else {
				cookie = w.cookies[w.rng.IntN(len(w.cookies))]
			}
			head := "GET /me HTTP/1.1\r\nHost: " + w.host + "\r\nCookie: __session="
			if patch {
				head = "PATCH /me HTTP/1.1\r\nHost: " + w.host + "\r\nCookie: __session="
			}
			buf = append(append(append(buf[:0], head...), cookie...), "\r\n"...)
			if !patch {
				buf = append(buf, "\r\n"...)
			} else {
				buf = append(buf, "Content-Type: application/json\r\nContent-Length: "...)
			}
			req = buf
		} else if patch {
			req = append(append(req[:0:0], patchHead...), "Content-Length: "...)
		}
		if patch {
			body := `{"first_name":"Load ` + strconv.Itoa(i) + `"}`
			req = append(append(append(req, strconv.Itoa(len(body))...), "\r\n\r\n"...), body...)
		}
		start := time.Now()
		status, err := w.exchange(req)
		d := time.Since(start)
		if err != nil {
			w.errors++
			return // the connection is in an unknown state
		}
		if status/100 != 2 {
			w.errors++
			continue
		}
		w.ok++
		w.latencies = append(w.latencies, d)
	}
}

// exchange writes one request and reads its answer without keeping it:
// the status line, the headers up to Content-Length, and that many bytes
// of body. It allocates nothing, so that the generator costs its machine
// as little as it can.
func (w *worker) exchange(req []byte) (int, error) {
	if _, err := w.conn.Write(req); err != nil {
		return 0, err
	}
	line, err := w.rd.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err := w.rd.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 { // the blank line
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", line)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("an answer without Content-Length")
	}
	if _, err := w.rd.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

// serverRSS reads process_resident_memory_bytes from the server's
// /metrics, or returns 0.
func serverRSS(base string) float64 {
	c := &http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// String is a result as one line of a table.
func (r Result) String() string {
	return fmt.Sprintf("%-6s %4d conns %9.0f req/s  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  p99.9 %6.2f ms  errors %d  RSS %.0f MiB",
		r.Op, r.Connections, r.RPS(), ms(r.P50), ms(r.P90), ms(r.P99), ms(r.P999), r.Errors, r.RSS/(1<<20))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ReadCookies reads a file of session cookie values, one a line.
func ReadCookies(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cookies []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			cookies = append(cookies, line)
		}
	}
	if len(cookies) == 0 {
		return nil, fmt.Errorf("%s holds no cookie", path)
	}
	return cookies, nil
}
