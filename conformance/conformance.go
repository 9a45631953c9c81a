// Package conformance is a contract test of a running meapi deployment, or
// of anything else that claims to implement openapi.yaml. It creates
// throwaway accounts, exercises every operation, refusals included, and
// checks every response against the document with its own validator,
// independently of whatever validation the server does.
package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Config says what to test and where to report.
type Config struct {
	// BaseURL is where the API is served, e.g. https://staging.example.com.
	BaseURL string
	// Spec is the OpenAPI document to hold the server to.
	Spec []byte
	// Out gets one line per case: "ok   name" or "FAIL name: why".
	Out io.Writer
	// Client sends the requests (default: one with a 15 s timeout).
	Client *http.Client
}

// Result counts the cases.
type Result struct {
	Passed, Failed int
	// FailedCases names the cases that failed, in order.
	FailedCases []string
}

// Run runs every case once, in order, and prints a line per case and a
// last line "N passed, N failed". The error is for a run that could not
// start (an invalid document); failed cases are in the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	v, err := NewValidator(cfg.Spec)
	if err != nil {
		return Result{}, err
	}
	r := &runner{ctx: ctx, cfg: cfg, v: v, base: strings.TrimSuffix(cfg.BaseURL, "/"), suffix: strings.ToLower(rand.Text()[:12])}
	if r.cfg.Client == nil {
		r.cfg.Client = &http.Client{Timeout: 15 * time.Second}
	}
	for _, c := range allCases() {
		err := c.run(r)
		if err == nil {
			r.res.Passed++
			fmt.Fprintf(cfg.Out, "ok   %s\n", c.name)
			continue
		}
		r.res.Failed++
		r.res.FailedCases = append(r.res.FailedCases, c.name)
		fmt.Fprintf(cfg.Out, "FAIL %s: %v\n", c.name, err)
	}
	fmt.Fprintf(cfg.Out, "%d passed, %d failed\n", r.res.Passed, r.res.Failed)
	return r.res, nil
}

type runner struct {
	ctx    context.Context
	cfg    Config
	v      *Validator
	base   string
	suffix string // makes this run's email addresses and usernames unique
	res    Result

	// What earlier cases made, for later ones.
	ada, grace     account
	jar            string // the token of the browser that holds both
	adaSignin      string
	graceSignin    string
	etag           string
	lastKnownAdaMe []byte
}

type account struct {
	email, username, password, token, id string
}

// response is one exchange, already checked against the contract.
type response struct {
	status int
	header http.Header
	body   []byte
	env    Envelope
}

// token returns the session token the response sets, or "".
func (res *response) token() string {
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == "__session" {
			return c.Value
		}
	}
	return ""
}

type request struct {
	method, path string
	contentType  string
	body         string
	token        string
	header       map[string]string
}

// send makes one request and checks the response against the contract;
// a response that breaks it fails the case whatever else it says.
func (r *runner) send(q request) (*response, error) {
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	req, err := http.NewRequestWithContext(r.ctx, q.method, r.base+q.path, body)
	if err != nil {
		return nil, err
	}
	if q.contentType != "" {
		req.Header.Set("Content-Type", q.contentType)
	}
	if q.token != "" {
		req.AddCookie(&http.Cookie{Name: "__session", Value: q.token})
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	res, err := r.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", q.method, q.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the body: %w", q.method, q.path, err)
	}
	out := &response{status: res.StatusCode, header: res.Header, body: b}
	if err := r.v.Check(req, res.StatusCode, res.Header, b); err != nil {
		return nil, fmt.Errorf("%s %s answered %d: %w", q.method, q.path, res.StatusCode, err)
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &out.env) // Check has decoded it already
	}
	return out, nil
}

// call sends q and expects of its answer what expect says.
func (r *runner) call(q request, status int, codesAndFields ...string) (*response, error) {
	res, err := r.send(q)
	if err != nil {
		return nil, err
	}
	if err := res.expect(status, codesAndFields...); err != nil {
		return nil, err
	}
	return res, nil
}

// expect checks the status and, for a refusal, the errors' codes and
// fields ("" for no field), in order.
func (res *response) expect(status int, codesAndFields ...string) error {
	if res.status != status {
		return fmt.Errorf("status %d, want %d: %s", res.status, status, clip(res.body))
	}
	var got []string
	for _, e := range res.env.Errors {
		f := ""
		if e.Field != nil {
			f = *e.Field
		}
		got = append(got, e.Code, f)
	}
	if !slices.Equal(got, codesAndFields) && !(len(got) == 0 && len(codesAndFields) == 0) {
		return fmt.Errorf("errors %q, want %q", got, codesAndFields)
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// dataUser is the envelope's data, read as a user.
type dataUser struct {
	ID        string  `json:"id"`
	Email     string  `json:"email"`
	Username  *string `json:"username"`
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
}

func (res *response) user() (dataUser, error) {
	var u dataUser
	if err := json.Unmarshal(res.env.Data, &u); err != nil {
		return u, fmt.Errorf("data is not a user: %w", err)
	}
	return u, nil
}

// unchanged fails when a refused request changed the user: GET /me must
// answer exactly what it did before.
func (r *runner) unchanged() error {
	res, err := r.call(request{method: "GET", path: "/me", token: r.ada.token}, 200)
	if err != nil {
		return err
	}
	if !bytes.Equal(res.env.Data, r.lastKnownAdaMe) {
		return fmt.Errorf("a refused request changed the user: %s, was %s", res.env.Data, r.lastKnownAdaMe)
	}
	return nil
}
