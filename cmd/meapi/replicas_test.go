package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"meapi/store/postgres/pgtest"
)

// TestReplicasShareOnePostgreSQL runs three `meapi serve` on one PostgreSQL
// database, as three replicas behind a load balancer, and checks that they
// behave as one server: what one writes the others serve at once, a
// sign-out ends the session everywhere, uniqueness and the sign-in limits
// hold across them, and killing one loses no acknowledged write.
func TestReplicasShareOnePostgreSQL(t *testing.T) {
	db := pgtest.URL(t)
	var rs []*child
	for range 3 {
		// Every sign-up of the test comes from 127.0.0.1.
		rs = append(rs, startChild(t, db, "--signup-limit-address", "1000", "--db-pool-size", "4"))
	}
	client := newClient()

	t.Run("a patch on one is served by the others", func(t *testing.T) {
		tok := signUp(t, client, rs[0].url, "ada@example.com")
		if r := send(client, "PATCH", rs[1].url+"/me", tok, `{"first_name":"Ada"}`, nil); r.status != http.StatusOK {
			t.Fatalf("PATCH on the second: %d %s", r.status, r.body)
		}
		for i, c := range rs {
			if r := send(client, "GET", c.url+"/me", tok, "", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"first_name":"Ada"`) {
				t.Errorf("GET /me on replica %d: %d %s", i, r.status, r.body)
			}
		}
	})

	t.Run("a switch on one is followed by the others", func(t *testing.T) {
		grace := signUp(t, client, rs[0].url, "grace@example.com")
		// Linus joins the same browser session through the second.
		r := send(client, "POST", rs[1].url+"/auth/signup", grace, fmt.Sprintf(`{"email":"linus@example.com","password":%q}`, secretPassword), nil)
		if r.status != http.StatusCreated {
			t.Fatalf("second sign-up: %d %s", r.status, r.body)
		}
		tok := cookieOf(t, r)
		for i, c := range rs {
			if r := send(client, "GET", c.url+"/me", tok, "", nil); !strings.Contains(string(r.body), `"email":"linus@example.com"`) {
				t.Errorf("replica %d before the switch: %d %s", i, r.status, r.body)
			}
		}
		// GET /session lists the users of the sign-ins in their order.
		var sess struct {
			Data struct {
				Users []struct{ Email string } `json:"users"`
			} `json:"data"`
			Session struct {
				Signins []struct{ ID string } `json:"signins"`
			} `json:"session"`
		}
		if err := json.Unmarshal(send(client, "GET", rs[0].url+"/session", tok, "", nil).body, &sess); err != nil {
			t.Fatal(err)
		}
		graceSignin := ""
		for i, u := range sess.Data.Users {
			if u.Email == "grace@example.com" && i < len(sess.Session.Signins) {
				graceSignin = sess.Session.Signins[i].ID
			}
		}
		if graceSignin == "" {
			t.Fatalf("no sign-in of grace in GET /session: %+v", sess)
		}
		if r := send(client, "POST", rs[2].url+"/session/switch-sign-in", tok, fmt.Sprintf(`{"signin_id":%q}`, graceSignin), nil); r.status != http.StatusOK {
			t.Fatalf("switch on the third: %d %s", r.status, r.body)
		}
		for i, c := range rs {
			if r := send(client, "GET", c.url+"/me", tok, "", nil); !strings.Contains(string(r.body), `"email":"grace@example.com"`) {
				t.Errorf("replica %d after the switch: %d %s", i, r.status, r.body)
			}
		}
	})

	t.Run("a sign-out on one is refused by all at once", func(t *testing.T) {
		tok := signUp(t, client, rs[0].url, "signout@example.com")
		for _, c := range rs {
			send(client, "GET", c.url+"/me", tok, "", nil) // every replica keeps the session now
		}
		if r := send(client, "POST", rs[1].url+"/session/sign-out", tok, `{"all":true}`, nil); r.status != http.StatusOK {
			t.Fatalf("sign-out: %d %s", r.status, r.body)
		}
		for i, c := range rs {
			if r := send(client, "GET", c.url+"/me", tok, "", nil); r.status != http.StatusUnauthorized {
				t.Errorf("GET /me on replica %d after sign-out: %d, want 401", i, r.status)
			}
			if r := send(client, "PATCH", c.url+"/me", tok, `{"first_name":"Ghost"}`, nil); r.status != http.StatusUnauthorized {
				t.Errorf("PATCH /me on replica %d after sign-out: %d, want 401", i, r.status)
			}
		}
	})

	t.Run("a username contested from all three has one winner", func(t *testing.T) {
		const n = 9
		toks := make([]string, n)
		for i := range toks {
			toks[i] = signUp(t, client, rs[i%3].url, fmt.Sprintf("contender%d@example.com", i))
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i, tok := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = send(client, "PATCH", rs[i%3].url+"/me", tok, `{"username":"Contested"}`, nil).status
			}()
		}
		wg.Wait()
		won, lost := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusConflict:
				lost++
			}
		}
		if won != 1 || lost != n-1 {
			t.Errorf("statuses %v: want one 200 and %d 409", statuses, n-1)
		}
	})

	t.Run("failed sign-ins over the three reach the limit at its count", func(t *testing.T) {
		signUp(t, client, rs[0].url, "target@example.com")
		const tries = 30 // at once, spread over the replicas; the limit is 10
		statuses := make([]int, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = send(client, "POST", rs[i%3].url+"/auth/signin", "",
					`{"strategy":"plain_email","email":"target@example.com","password":"wrong password"}`, nil).status
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[http.StatusUnauthorized] != 10 || count[http.StatusTooManyRequests] != tries-10 {
			t.Errorf("statuses %v: want exactly 10 × 401 and %d × 429", count, tries-10)
		}
		// Even the right password is refused now, on every replica.
		for i, c := range rs {
			r := send(client, "POST", c.url+"/auth/signin", "", fmt.Sprintf(`{"strategy":"plain_email","email":"target@example.com","password":%q}`, secretPassword), nil)
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Errorf("the right password on replica %d: %d (Retry-After %q), want 429", i, r.status, r.header.Get("Retry-After"))
			}
		}
	})

	t.Run("killing one under write load loses no acknowledged write", func(t *testing.T) {
		const writers = 6
		toks := make([]string, writers)
		for i := range toks {
			toks[i] = signUp(t, client, rs[i%3].url, fmt.Sprintf("writer%d@example.com", i))
		}
		// acked[i] is the last first_name of writer i answered 200.
		acked := make([]atomic.Int64, writers)
		var total atomic.Int64
		killed := make(chan struct{})
		var once sync.Once
		stop := make(chan struct{})
		var wg sync.WaitGroup
		deadline := time.Now().Add(30 * time.Second)
		for i := range writers {
			untilStopped(&wg, stop, func(k int) bool {
				if k >= 400 || time.Now().After(deadline) {
					return false
				}
				n := int64(k + 1)
				c := rs[(i+k)%3]
				r := send(client, "PATCH", c.url+"/me", toks[i], fmt.Sprintf(`{"first_name":"v%d"}`, n), nil)
				switch {
				case r.err != nil && c == rs[2]:
					return true // the killed one: not acknowledged
				case r.err != nil || r.status != http.StatusOK:
					t.Errorf("writer %d on a live replica: %d %v %s", i, r.status, r.err, r.body)
					return false
				}
				acked[i].Store(n)
				if total.Add(1) == 300 {
					once.Do(func() { close(killed) })
				}
				return true
			})
		}
		select {
		case <-killed:
		case <-time.After(20 * time.Second):
			t.Fatal("the writers did not reach 300 writes within 20 s")
		}
		kill(t, rs[2], syscall.SIGKILL)
		rs[2].wait(10 * time.Second)
		afterKill := total.Load()
		wg.Wait()
		close(stop)
		if total.Load() <= afterKill {
			t.Errorf("no write was acknowledged after the kill: the other two stopped serving")
		}
		for i, tok := range toks {
			want := fmt.Sprintf(`"first_name":"v%d"`, acked[i].Load())
			for j, c := range rs[:2] {
				r := send(client, "GET", c.url+"/me", tok, "", nil)
				if r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
					t.Errorf("writer %d on replica %d: acknowledged %s, serves %d %.200s", i, j, want, r.status, r.body)
				}
			}
		}
		t.Logf("%d writes acknowledged, %d of them after the kill; all there", total.Load(), total.Load()-afterKill)
	})
}

func cookieOf(t *testing.T, r result) string {
	t.Helper()
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "__session" && ck.Value != "" {
			return ck.Value
		}
	}
	t.Fatalf("no session cookie in the answer")
	return ""
}
