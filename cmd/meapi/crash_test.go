package main

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestKillLosesNoAcknowledgedWrite kills `meapi serve` with SIGKILL in the
// middle of concurrent PATCH /me and sign-ups, several times, restarting it
// on the same file each time. After each restart the database must be
// intact, every PATCH answered 200 must be visible, every sign-up answered
// 201 must be whole, and no user may be half written.
func TestKillLosesNoAcknowledgedWrite(t *testing.T) {
	const (
		users    = 6 // each patched by its own writer, in sequence
		signers  = 2 // writers that sign up new accounts
		rounds   = 4 // kill points
		minDelay = 150 * time.Millisecond
		maxDelay = 600 * time.Millisecond
	)
	db := dbPath(t)
	// Every sign-up comes from 127.0.0.1: the limit per address (30 in ten
	// minutes by default) would turn the sign-up writers into 429s.
	serveArgs := []string{"--signup-limit-address", "1000000"}
	c := startChild(t, db, serveArgs...)
	client := newClient()
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i] = signUp(t, client, c.url, fmt.Sprintf("writer%d@example.com", i))
	}
	// acked[i] is the last value of user i's first_name answered 200.
	acked := make([]atomic.Int64, users)
	var signedUp sync.Map // email → true, answered 201
	var patches, signups atomic.Int64
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var secrets []string
	secrets = append(secrets, tokens...)

	for round := range rounds {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range users {
			first := acked[i].Load() + 1
			untilStopped(&wg, stop, func(k int) bool {
				n := first + int64(k)
				r := send(client, "PATCH", c.url+"/me", tokens[i], fmt.Sprintf(`{"first_name":"v%d"}`, n), nil)
				if r.err != nil {
					return false // the server is gone
				}
				if r.status != http.StatusOK {
					t.Errorf("PATCH: %d %s", r.status, r.body)
					return false
				}
				acked[i].Store(n)
				patches.Add(1)
				return true
			})
		}
		for s := range signers {
			untilStopped(&wg, stop, func(n int) bool {
				email := fmt.Sprintf("new-%d-%d-%d@example.com", round, s, n)
				r := send(client, "POST", c.url+"/auth/signup", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, secretPassword), nil)
				if r.err != nil {
					return false
				}
				if r.status != http.StatusCreated {
					t.Errorf("sign-up: %d %s", r.status, r.body)
					return false
				}
				signedUp.Store(email, true)
				signups.Add(1)
				return true
			})
		}
		delay := minDelay + time.Duration(rng.Int64N(int64(maxDelay-minDelay)))
		time.Sleep(delay)
		kill(t, c, syscall.SIGKILL)
		c.wait(10 * time.Second)
		close(stop)
		wg.Wait()
		logs := c.logs.String()
		client.CloseIdleConnections()

		c = startChild(t, db, serveArgs...)
		checkAfterKill(t, db, c, client, tokens, acked, &signedUp)
		t.Logf("kill point %d after %v: %d PATCH and %d sign-ups acknowledged so far, all there", round+1, delay.Round(time.Millisecond), patches.Load(), signups.Load())
		checkLogsHoldNoSecrets(t, logs, secrets...)
	}
	if patches.Load() == 0 || signups.Load() == 0 {
		t.Errorf("the writers got nothing done: %d PATCH, %d sign-ups", patches.Load(), signups.Load())
	}
}

func checkAfterKill(t *testing.T, db string, c *child, client *http.Client, tokens []string, acked []atomic.Int64, signedUp *sync.Map) {
	t.Helper()
	conn, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var integrity string
	if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check: %q %v", integrity, err)
	}
	// A sign-up writes its user, session and sign-in in one transaction:
	// a user without a sign-in would be half written.
	var halves int
	if err := conn.QueryRow(`SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM signins s WHERE s.user_id = u.id)
		OR u.password_hash = '' OR u.email = ''`).Scan(&halves); err != nil || halves != 0 {
		t.Errorf("%d users half written (%v)", halves, err)
	}
	var missing []string
	signedUp.Range(func(k, _ any) bool {
		var n int
		if err := conn.QueryRow(`SELECT count(*) FROM users WHERE email = ?`, k).Scan(&n); err != nil || n != 1 {
			missing = append(missing, k.(string))
		}
		return true
	})
	if len(missing) > 0 {
		t.Errorf("acknowledged sign-ups lost: %v", missing)
	}
	// Each user's first_name is the last acknowledged value, or the one
	// that was in flight when the server died (committed, unanswered).
	for i, tok := range tokens {
		r := send(client, "GET", c.url+"/me", tok, "", nil)
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("GET /me after restart: %d %v", r.status, r.err)
		}
		a := acked[i].Load()
		if a == 0 {
			continue
		}
		got := string(r.body)
		if !strings.Contains(got, fmt.Sprintf(`"first_name":"v%d"`, a)) && !strings.Contains(got, fmt.Sprintf(`"first_name":"v%d"`, a+1)) {
			t.Errorf("user %d: acknowledged first_name v%d lost: %s", i, a, got[:min(len(got), 200)])
		}
	}
}
