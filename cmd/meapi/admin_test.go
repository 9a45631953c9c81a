package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meapi/store/postgres/pgtest"
)

// TestBackupWhileServing copies the database with `meapi backup` while the
// server goes on writing: the copy is a consistent database with every
// account acknowledged before the backup began.
func TestBackupWhileServing(t *testing.T) {
	db := dbPath(t)
	c := startChild(t, db)
	client := newClient()
	tok := signUp(t, client, c.url, "before@example.com")

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	// The backup starts once writes are under way, and they go on during it.
	writing := make(chan struct{})
	go func() {
		defer wg.Done()
		for n := 0; !stop.Load(); n++ {
			send(client, "PATCH", c.url+"/me", tok, fmt.Sprintf(`{"first_name":"n%d"}`, n), nil)
			if n == 20 {
				close(writing)
			}
		}
	}()
	<-writing
	to := dbPath(t)
	var out bytes.Buffer
	if err := run(ctxBg, []string{"backup", "--db", db, "--to", to}, &out, io.Discard); err != nil {
		t.Fatalf("backup: %v", err)
	}
	stop.Store(true)
	wg.Wait()
	if !strings.Contains(out.String(), "backed up") {
		t.Errorf("output %q", out.String())
	}

	copyDB, err := sql.Open("sqlite", to)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	var integrity string
	var users int
	if err := copyDB.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("the copy's integrity_check: %q %v", integrity, err)
	}
	if err := copyDB.QueryRow(`SELECT count(*) FROM users WHERE email = 'before@example.com'`).Scan(&users); err != nil || users != 1 {
		t.Errorf("the copy lacks the account made before it: %d %v", users, err)
	}
	// The copy serves.
	c2 := startChild(t, to)
	if r := send(client, "GET", c2.url+"/me", tok, "", nil); r.status != http.StatusOK {
		t.Errorf("GET /me on the copy: %d", r.status)
	}
	if err := run(ctxBg, []string{"backup", "--db", db, "--to", to}, io.Discard, io.Discard); err == nil {
		t.Errorf("a backup over an existing file succeeded")
	}
	if err := run(ctxBg, []string{"backup", "--db", db}, io.Discard, io.Discard); err == nil {
		t.Errorf("a backup without --to succeeded")
	}
}

// TestMigrateAndReadiness serves a database whose migrations have not run
// (--migrate=false): /readyz says 503 until `meapi migrate` has run.
func TestMigrateAndReadiness(t *testing.T) {
	db := dbPath(t)
	c := startChild(t, db, "--migrate=false")
	client := newClient()
	r := send(client, "GET", c.url+"/readyz", "", "", nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "meapi migrate") {
		t.Fatalf("/readyz before migrating: %d %s", r.status, r.body)
	}
	var out bytes.Buffer
	if err := run(ctxBg, []string{"migrate", "--db", db}, &out, io.Discard); err != nil || !regexp.MustCompile(`applied [1-9][0-9]* migrations`).MatchString(out.String()) {
		t.Fatalf("migrate: %v %q", err, out.String())
	}
	if r := send(client, "GET", c.url+"/readyz", "", "", nil); r.status != http.StatusOK {
		t.Errorf("/readyz after migrating: %d %s", r.status, r.body)
	}
	out.Reset()
	if err := run(ctxBg, []string{"migrate", "--db", db}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "applied 0 migrations") {
		t.Errorf("migrate again: %v %q", err, out.String())
	}
}

// TestMetrics reads /metrics on the API's port, then on an address of its
// own.
func TestMetrics(t *testing.T) {
	client := newClient()
	c := startChild(t, dbPath(t), "--signin-limit-account", "1")
	tok := signUp(t, client, c.url, "m@example.com")
	send(client, "GET", c.url+"/me", tok, "", nil)
	for range 2 {
		send(client, "POST", c.url+"/auth/signin", "", `{"strategy":"plain_email","email":"m@example.com","password":"wrong"}`, nil)
	}
	r := send(client, "GET", c.url+"/metrics", "", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("/metrics: %d", r.status)
	}
	for _, want := range []string{
		`meapi_http_requests_total{method="GET",route="/me",status="200"} 1`,
		`meapi_http_requests_total{method="POST",route="/auth/signin",status="401"} 1`,
		`meapi_http_requests_total{method="POST",route="/auth/signin",status="429"} 1`,
		`meapi_signin_failures_total 1`,
		`meapi_signin_rate_limited_total 1`,
		// Every store operation is there from the start, at 0.
		`meapi_store_errors_total{op="update_profile"} 0`,
		`meapi_store_errors_total{op="reserve_attempt"} 0`,
		`meapi_http_request_duration_seconds_bucket{method="GET",route="/me",le="+Inf"} 1`,
		`meapi_http_open_connections`,
		`meapi_http_requests_in_flight`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	c2 := startChild(t, dbPath(t), "--metrics-addr", "127.0.0.1:0")
	var metricsAddr string
	for _, line := range strings.Split(c2.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"serving metrics"`) {
			metricsAddr = line[strings.Index(line, `"addr":"`)+8:]
			metricsAddr = metricsAddr[:strings.Index(metricsAddr, `"`)]
		}
	}
	if r := send(client, "GET", c2.url+"/metrics", "", "", nil); r.status != http.StatusNotFound {
		t.Errorf("/metrics on the API's port with --metrics-addr: %d, want 404", r.status)
	}
	if r := send(client, "GET", "http://"+metricsAddr+"/metrics", "", "", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "meapi_http_open_connections") {
		t.Errorf("/metrics on --metrics-addr %s: %d", metricsAddr, r.status)
	}
}

// TestBackupIsForSQLite: a postgres URL is refused with a pointer to
// pg_dump, before anything connects.
func TestBackupIsForSQLite(t *testing.T) {
	err := run(ctxBg, []string{"backup", "--db", "postgres://nobody@127.0.0.1:1/none", "--to", dbPath(t)}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SQLite only") || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("backup of a postgres URL: %v", err)
	}
}

func TestRedactDB(t *testing.T) {
	for in, want := range map[string]string{
		"meapi.db": "meapi.db",
		"postgres://meapi:s3cret@db:5432/meapi?sslmode=require": "postgres://meapi:xxxxx@db:5432/meapi?sslmode=require",
		"postgresql://meapi@db/meapi":                           "postgresql://meapi@db/meapi",
		// libpq and pgx take a password from the query too.
		"postgres://meapi@db/meapi?password=s3cret&sslmode=disable":        "postgres://meapi@db/meapi?password=xxxxx&sslmode=disable",
		"postgres://meapi@db/meapi?sslmode=verify-full&sslpassword=s3cret": "postgres://meapi@db/meapi?sslmode=verify-full&sslpassword=xxxxx",
		"postgres://meapi@db/meapi?pass%77ord=s3cret":                      "postgres://meapi@db/meapi?pass%77ord=xxxxx",
		"postgres://meapi@db/meapi?Password=s3cret&x=1":                    "postgres://meapi@db/meapi?Password=xxxxx&x=1",
		"postgres://meapi:s3cret@db/meapi?password=s3cret":                 "postgres://meapi:xxxxx@db/meapi?password=xxxxx",
		// The scheme is read in any case, and logged as it is used.
		"POSTGRES://meapi:s3cret@db/meapi":   "postgres://meapi:xxxxx@db/meapi",
		"PostgreSQL://meapi:s3cret@db/meapi": "postgresql://meapi:xxxxx@db/meapi",
		"postgres://meapi:s3cret@[::1/meapi": "postgres://(unparsable)",
		// A key=value connection string is not read as PostgreSQL's, but
		// its password is not to be printed either.
		"host=db password=s3cret dbname=meapi":    "host=db password=xxxxx dbname=meapi",
		"host=db password='s3 cret' dbname=meapi": "host=db password=xxxxx dbname=meapi",
	} {
		if got := redactDB(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("redactDB(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDBPasswordIsNeverPrinted runs the commands as an operator does with a
// PostgreSQL password in --db's URL, in its user information or its query:
// neither the error (one line) nor anything on stderr holds it, whether the
// database cannot be reached or is served from.
func TestDBPasswordIsNeverPrinted(t *testing.T) {
	const pw = "hunter2"
	// A --db taken for an SQLite file would be made here, not in the source.
	t.Chdir(t.TempDir())
	for _, db := range []string{
		"postgres://u@127.0.0.1:1/db?password=" + pw,
		"postgres://u@127.0.0.1:1/db?sslmode=disable&sslpassword=" + pw,
		"postgresql://u@127.0.0.1:1/db?pass%77ord=" + pw,
		"POSTGRES://u:" + pw + "@127.0.0.1:1/db",
		"PostgreSQL://u:" + pw + "@127.0.0.1:1/db?password=" + pw,
		"postgres://u:" + pw + "@127.0.0.1:1/db?connect_timeout=x",
		"host=127.0.0.1 port=1 password=" + pw + " dbname=db",
		// Quoted (an env file's mistake), with a space, another scheme:
		// none is PostgreSQL's URL, and none may become a file's name.
		`"postgres://u:` + pw + `@127.0.0.1:1/db"`,
		" postgres://u:" + pw + "@127.0.0.1:1/db",
		"pgsql://u:" + pw + "@127.0.0.1:1/db",
	} {
		for _, cmd := range [][]string{
			{"migrate", "--db", db},
			{"serve", "--addr", "127.0.0.1:0", "--db", db},
			{"seed", "--db", db, "--users", "1", "--cookies", filepath.Join(t.TempDir(), "cookies.txt")},
		} {
			var stdout, stderr bytes.Buffer
			// Only a guard: a serve that wrongly starts stops, and fails below.
			ctx, cancel := context.WithTimeout(ctxBg, time.Minute)
			err := run(ctx, cmd, &stdout, &stderr)
			cancel()
			if err == nil {
				t.Errorf("%s %s: no error", cmd[0], db)
				continue
			}
			if out := err.Error() + stdout.String() + stderr.String(); strings.Contains(out, pw) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s %s: want one line without the password; got %q, stderr %q", cmd[0], db, err, stderr.String())
			}
		}
	}

	// Served from: the log's "serving" line names the database, without
	// the password. A password the test server asks for moves into the
	// query; one it does not ask for is ignored by it.
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	secret := pw
	if p, ok := u.User.Password(); ok {
		secret = p
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	q.Set("password", secret)
	u.RawQuery = q.Encode()
	c := startChild(t, u.String())
	if !strings.Contains(c.logs.String(), "password=xxxxx") {
		t.Errorf("the log does not name the database with its password masked:\n%s", c.logs.String())
	}
	checkLogsHoldNoSecrets(t, c.logs.String(), secret)
}
