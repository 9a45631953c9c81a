package impl_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"meapi/impl"
)

// TestHostileBodies sends PATCH /me bodies that the schema alone does not
// think about. Each must get an error envelope with a 4xx, quickly, and
// leave the user as it was.
func TestHostileBodies(t *testing.T) {
	ts := newTestServer(t)
	a := ts.signUp(t, map[string]any{"first_name": "Ada"})
	before, tag := ts.me(t, a.token)

	tests := []struct {
		name   string
		body   string
		status int
		want   []string
	}{
		{"deeply nested arrays", strings.Repeat("[", 8000) + strings.Repeat("]", 8000), 400, []string{"VALIDATION_ERROR", ""}},
		{"deeply nested objects", strings.Repeat(`{"a":`, 2500) + "1" + strings.Repeat("}", 2500), 400, []string{"UNKNOWN_FIELD", "/a"}},
		{"nesting past the decoder's limit", strings.Repeat("[", 16000), 400, []string{"INVALID_JSON", ""}},
		{"byte order mark", "\xef\xbb\xbf" + `{"first_name":"Eve"}`, 400, []string{"INVALID_JSON", ""}},
		{"duplicated member", `{"first_name":"Eve","first_name":"Ada"}`, 400, []string{"INVALID_JSON", "/first_name"}},
		{"duplicated member, different spelling of one name", `{"first_name":"Eve","first\u005fname":"Ada"}`, 400, []string{"INVALID_JSON", "/first_name"}},
		{"invalid UTF-8", "{\"first_name\":\"\xc3\x28\"}", 400, []string{"INVALID_JSON", ""}},
		{"lone surrogate escape", `{"first_name":"\ud800"}`, 400, []string{"INVALID_JSON", ""}},
		{"NUL in a name", `{"first_name":"Ada\u0000"}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"number for a string", `{"first_name":12345}`, 400, []string{"VALIDATION_ERROR", "/first_name"}},
		{"huge number for a string", `{"last_name":1e999999}`, 400, []string{"VALIDATION_ERROR", "/last_name"}},
		{"boolean for a string", `{"username":true}`, 400, []string{"VALIDATION_ERROR", "/username"}},
		{"array for a string", `{"image_url":["https://a.example/x.png"]}`, 400, []string{"VALIDATION_ERROR", "/image_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := ts.call(t, "PATCH", "/me", "application/json", []byte(tt.body), withCookie(a.token))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			r.wantError(t, tt.status, tt.want...)
			if after, afterTag := ts.me(t, a.token); !cmp.Equal(before, after) || afterTag != tag {
				t.Errorf("a refused body changed the user")
			}
		})
	}
}

// TestManyProblemsAreCapped sends the most unknown members that fit in a
// body ({"0":0,"1":0,…}, some 1,900): the refusal lists the first
// impl.MaxErrorsListed and says in its message how many more there were,
// so that its answer stays far smaller than the request, to anybody
// (sign-up needs no account).
func TestManyProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	members := 0
	for {
		next := strconv.Itoa(members)
		if members > 0 {
			next = "," + `"` + next + `":0`
		} else {
			next = `"` + next + `":0`
		}
		if b.Len()+len(next)+1 > impl.MaxBodyBytes {
			break
		}
		b.WriteString(next)
		members++
	}
	b.WriteString("}")
	body := []byte(b.String())
	if members < 1900 {
		t.Fatalf("only %d members fit", members)
	}

	ts := newTestServer(t)
	a := ts.signUp(t, nil)
	for _, tt := range []struct {
		method, path string
		opts         []reqOption
	}{
		{"POST", "/auth/signup", nil},
		{"PATCH", "/me", []reqOption{withCookie(a.token)}},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := ts.call(t, tt.method, tt.path, "application/json", body, tt.opts...)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.status)
			}
			if n := len(r.env.Errors); n != impl.MaxErrorsListed {
				t.Errorf("%d errors listed, want %d", n, impl.MaxErrorsListed)
			}
			if len(r.body) > len(body)/4 {
				t.Errorf("a %d-byte request got a %d-byte answer", len(body), len(r.body))
			}
			m := regexp.MustCompile(`(\d+) more problems`).FindStringSubmatch(r.env.Message)
			if m == nil {
				t.Fatalf("the message %q does not say how many more problems there were", r.env.Message)
			}
			if more, _ := strconv.Atoi(m[1]); more+impl.MaxErrorsListed < members {
				t.Errorf("the message says %d more than the %d listed; the body has %d unknown members", more, impl.MaxErrorsListed, members)
			}
		})
	}
	// One past the cap is said in the singular.
	one := map[string]any{}
	for i := range impl.MaxErrorsListed + 1 {
		one["x"+strconv.Itoa(i)] = 0
	}
	ct, oneBody := jsonBody(one)
	if r := ts.call(t, "PATCH", "/me", ct, oneBody, withCookie(a.token)); !strings.Contains(r.env.Message, " 1 more problem was found;") {
		t.Errorf("%d unknown members: %q", impl.MaxErrorsListed+1, r.env.Message)
	}
	if n := ts.count(t, "users"); n != 1 {
		t.Errorf("%d users, want the one signed up", n)
	}
}

// rawRequest writes req to a new connection, then body from another
// goroutine (ignoring write errors: the server may stop reading), and
// reads one response. It returns the response and how long it took.
func rawRequest(t *testing.T, url, head string, body io.Reader) (*http.Response, []byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		go io.Copy(conn, body)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, b, time.Since(start)
}

// zeros is an endless body that costs its sender no memory.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > z.n {
		n = z.n
	}
	clear(p[:n])
	z.n -= n
	return int(n), nil
}

// TestHostileTransfers sends bodies that lie about their size, never
// end, or never arrive, and oversized headers. The server answers with an
// envelope without reading more than its limit.
func TestHostileTransfers(t *testing.T) {
	ts := newTestServer(t, withReadTimeout(500*time.Millisecond))
	a := ts.signUp(t, nil)
	before, _ := ts.me(t, a.token)
	head := func(extra string) string {
		return "PATCH /me HTTP/1.1\r\nHost: meapi\r\nCookie: __session=" + a.token + "\r\nContent-Type: application/json\r\n" + extra + "\r\n"
	}
	const tenMB = 10 << 20

	t.Run("10 MB chunked", func(t *testing.T) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		res, body, d := rawRequest(t, ts.url, head("Transfer-Encoding: chunked\r\n"), chunked(&zeros{n: tenMB}))
		runtime.ReadMemStats(&m1)
		checkRawError(t, res, body, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
		if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 4<<20 {
			t.Errorf("allocated %d bytes to refuse 10 MB: the body was buffered", grew)
		}
		if d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("Content-Length says 10 MB, nothing follows", func(t *testing.T) {
		res, body, d := rawRequest(t, ts.url, head(fmt.Sprintf("Content-Length: %d\r\n", tenMB)), nil)
		checkRawError(t, res, body, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
		if d > time.Second {
			t.Errorf("took %v: the server waited for a body it would refuse anyway", d)
		}
	})
	t.Run("Content-Length says 20 bytes, 10 MB follow", func(t *testing.T) {
		res, body, _ := rawRequest(t, ts.url, head("Content-Length: 20\r\n"), io.MultiReader(strings.NewReader(`{"first_name":"Eve",`), &zeros{n: tenMB}))
		checkRawError(t, res, body, http.StatusBadRequest, "INVALID_JSON")
	})
	t.Run("a body that never ends arriving", func(t *testing.T) {
		res, body, d := rawRequest(t, ts.url, head("Content-Length: 100\r\n"), io.MultiReader(strings.NewReader(`{"first_name":`), blockForever{}))
		checkRawError(t, res, body, http.StatusBadRequest, "INVALID_JSON")
		if d > 3*time.Second {
			t.Errorf("took %v with a read timeout of 500ms", d)
		}
	})
	if after, _ := ts.me(t, a.token); !cmp.Equal(before, after) {
		t.Errorf("a hostile transfer changed the user")
	}

	t.Run("64 KB cookie", func(t *testing.T) {
		r := ts.call(t, "GET", "/me", "", nil, withCookie(strings.Repeat("c", 64<<10)))
		r.wantError(t, http.StatusUnauthorized, "NOT_AUTHENTICATED", "")
	})
	t.Run("1000 headers", func(t *testing.T) {
		opts := []reqOption{withCookie(a.token)}
		for i := range 1000 {
			opts = append(opts, withHeader(fmt.Sprintf("X-Junk-%d", i), "junk"))
		}
		if r := ts.call(t, "GET", "/me", "", nil, opts...); r.status != http.StatusOK {
			t.Errorf("got %d", r.status)
		}
	})
}

// checkRawError checks a response read off the wire: an envelope with this
// status and code, valid against the contract.
func checkRawError(t *testing.T, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	if res.StatusCode != status || !bytes.Contains(body, []byte(`"code":"`+code+`"`)) {
		t.Fatalf("got %d %s, want %d %s", res.StatusCode, body, status, code)
	}
	v, err := contractValidator()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PATCH", "http://meapi/me", nil)
	if err := v.Check(req, res.StatusCode, res.Header, body); err != nil {
		t.Errorf("the answer breaks the contract: %v", err)
	}
}

type blockForever struct{}

func (blockForever) Read([]byte) (int, error) { select {} }

// chunked encodes r in HTTP/1.1 chunks.
func chunked(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if _, werr := fmt.Fprintf(pw, "%x\r\n%s\r\n", n, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				io.WriteString(pw, "0\r\n\r\n")
				pw.Close()
				return
			}
		}
	}()
	return pr
}
