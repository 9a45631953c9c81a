// Command loadmatrix measures meapi under load over loopback, in one run:
// for each engine (SQLite, PostgreSQL) and each number of users, it seeds a
// database with that many signed-in users (`meapi seed`), runs `meapi serve`
// on it in each response validation mode at once, and loads each with
// `meapi loadtest`'s engine, every request with a random user's cookie. On
// PostgreSQL it also runs the same statements in a plain pgx loop
// (bench/pgxloop), PostgreSQL's own limit on this machine. It prints one
// table, then the ratios the goals are stated in, all from this run.
//
//	go run ./bench/loadmatrix --meapi bin/meapi --engines sqlite,postgres --users 1000,100000,1000000
//
// PostgreSQL is the server MEAPI_TEST_POSTGRES_URL names, or a throwaway
// cluster started for the run (store/postgres/pgtest).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"meapi/bench/pgxloop"
	"meapi/loadtest"
	"meapi/store/postgres/pgtest"
)

func main() {
	bin := flag.String("meapi", "bin/meapi", "the meapi binary to run")
	duration := flag.Duration("duration", 10*time.Second, "how long to load each mode with each operation")
	conns := flag.Int("connections", 32, "keep-alive connections")
	modes := flag.String("modes", "off,log,enforce", "response validation modes, the first being the baseline")
	ops := flag.String("ops", "get,patch", "operations: get, patch, mixed")
	rounds := flag.Int("rounds", 1, "how many times to run the whole matrix (medians are reported)")
	engines := flag.String("engines", "sqlite", "engines: sqlite, postgres")
	users := flag.String("users", "1000", "numbers of users, each a database of its own")
	poolSize := flag.Int("db-pool-size", 8, "PostgreSQL: meapi's pool, and the pgx loop's")
	flag.Parse()
	m := &matrix{bin: *bin, duration: *duration, conns: *conns, modes: strings.Split(*modes, ","), ops: strings.Split(*ops, ","),
		rounds: *rounds, poolSize: *poolSize, results: map[key][]loadtest.Result{}}
	for _, u := range strings.Split(*users, ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(u, "_", ""))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "loadmatrix: --users %q: want positive numbers\n", u)
			os.Exit(2)
		}
		m.users = append(m.users, n)
	}
	err := m.run(strings.Split(*engines, ","))
	if m.cluster != nil {
		m.cluster.Stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadmatrix:", err)
		os.Exit(1)
	}
}

type key struct {
	engine string
	users  int
	mode   string // a validation mode, or pgxLoop
	op     string
}

// pgxLoop is the row of the plain pgx loop.
const pgxLoop = "pgx-loop"

type matrix struct {
	bin        string
	duration   time.Duration
	conns      int
	modes, ops []string
	rounds     int
	poolSize   int
	users      []int
	dir        string
	cluster    *pgtest.Cluster
	adminURL   string
	results    map[key][]loadtest.Result
	startups   []time.Duration
	seedTimes  []string
}

type server struct {
	cmd *exec.Cmd
	url string
}

// start runs meapi serve on db with its log in logPath, and waits until it
// answers /healthz; it returns how long that took.
func (m *matrix) start(db, logPath string, args ...string) (*server, time.Duration, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, 0, err
	}
	defer logf.Close()
	begin := time.Now()
	cmd := exec.Command(m.bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db,
		"--db-pool-size", strconv.Itoa(m.poolSize)}, args...)...)
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	deadline := begin.Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if addr := servingAddr(logPath); addr != "" {
			url := "http://" + addr
			if res, err := http.Get(url + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return &server{cmd: cmd, url: url}, time.Since(begin), nil
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	return nil, 0, fmt.Errorf("meapi did not serve within 60 s (log: %s)", logPath)
}

// servingAddr reads the address from the log's "serving" line.
func servingAddr(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, `"msg":"serving","addr":"`); i >= 0 {
			rest := line[i+len(`"msg":"serving","addr":"`):]
			return rest[:strings.IndexByte(rest, '"')]
		}
	}
	return ""
}

func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	return s.cmd.Wait()
}

func (m *matrix) run(engines []string) error {
	dir, err := os.MkdirTemp("", "meapi-loadmatrix-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m.dir = dir
	for _, engine := range engines {
		for _, n := range m.users {
			if err := m.runDatabase(engine, n); err != nil {
				return fmt.Errorf("%s, %d users: %w", engine, n, err)
			}
		}
	}
	m.print(engines)
	return nil
}

// database makes an empty database of the engine and returns what --db
// names it by.
func (m *matrix) database(engine string, users int) (string, error) {
	name := fmt.Sprintf("load_%d_%d", users, time.Now().UnixNano())
	switch engine {
	case "sqlite":
		return filepath.Join(m.dir, name+".db"), nil
	case "postgres":
		if m.adminURL == "" {
			if u := os.Getenv(pgtest.EnvURL); u != "" {
				m.adminURL = u
			} else {
				// Settings for measuring rather than for tests: the data set
				// of a million users fits in memory, as in production, and
				// the disk is written durably (pgtest turns fsync off); a
				// commit waits for no fsync of its own, like SQLite's
				// synchronous=NORMAL in WAL mode (synchronous_commit=off: a
				// crash of the machine, not of PostgreSQL, may lose the last
				// commits).
				c, err := pgtest.StartCluster("shared_buffers=1GB", "effective_cache_size=4GB",
					"fsync=on", "full_page_writes=on", "synchronous_commit=off")
				if err != nil {
					return "", err
				}
				m.cluster, m.adminURL = c, c.URL()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return pgtest.CreateDatabase(ctx, m.adminURL, name)
	}
	return "", fmt.Errorf("engine %q: want sqlite or postgres", engine)
}

func (m *matrix) runDatabase(engine string, users int) error {
	db, err := m.database(engine, users)
	if err != nil {
		return err
	}
	cookiesPath := filepath.Join(m.dir, fmt.Sprintf("%s-%d.cookies", engine, users))
	began := time.Now()
	seed := exec.Command(m.bin, "seed", "--db", db, "--users", strconv.Itoa(users), "--cookies", cookiesPath)
	seed.Stderr = os.Stderr
	if out, err := seed.Output(); err != nil {
		return fmt.Errorf("seed: %v\n%s", err, out)
	}
	m.seedTimes = append(m.seedTimes, fmt.Sprintf("%s %d users: %s", engine, users, time.Since(began).Round(time.Second)))
	cookies, err := loadtest.ReadCookies(cookiesPath)
	if err != nil {
		return err
	}
	defer os.Remove(cookiesPath)

	srvs := map[string]*server{}
	stopAll := func() {
		for _, srv := range srvs {
			srv.stop()
		}
	}
	defer stopAll()
	for _, mode := range m.modes {
		srv, _, err := m.start(db, filepath.Join(m.dir, mode+".log"), "--response-validation", mode)
		if err != nil {
			return err
		}
		srvs[mode] = srv
	}
	rows := slices.Clone(m.modes)
	if engine == "postgres" {
		rows = append(rows, pgxLoop)
	}
	// Every user once on each server, before anything is measured: the
	// users of a deployment come back, and what it keeps of them (kept
	// sessions, the validator's memo of answers, the database's pages) is
	// warm. Five seconds at random would see a minority of 100,000 users
	// once, so that a memo of answers would measure nothing but misses.
	// At most warmFor per server, which 1,000,000 users do not finish. (The
	// pgx loop keeps sessions only within a run; the database's pages are
	// the servers' too.)
	for _, mode := range m.modes {
		began := time.Now()
		res, err := m.warm(srvs, mode, cookies)
		if err != nil {
			return fmt.Errorf("warm %s: %w", mode, err)
		}
		fmt.Fprintf(os.Stderr, "%-8s %8d users  warm-up  %-8s %d users in %s\n", engine, users, mode, res.Requests, time.Since(began).Round(time.Second))
	}
	for round := range m.rounds {
		// Each operation loads every row one right after the other, in an
		// order that turns every round: on a shared machine, what is
		// compared is measured close together, and no row always goes first.
		order := append(slices.Clone(rows[round%len(rows):]), rows[:round%len(rows)]...)
		for _, op := range m.ops {
			for _, mode := range order {
				if round == 0 {
					// Warm the caches (the kept sessions, the database's
					// pages) before the first measurement.
					if _, err := m.load(engine, db, srvs, mode, op, cookies, time.Second); err != nil {
						return err
					}
				}
				res, err := m.load(engine, db, srvs, mode, op, cookies, m.duration)
				if err != nil {
					return fmt.Errorf("%s %s: %w", mode, op, err)
				}
				fmt.Fprintf(os.Stderr, "%-8s %8d users  round %d  %-8s %s\n", engine, users, round+1, mode, res)
				k := key{engine, users, mode, op}
				m.results[k] = append(m.results[k], res)
			}
		}
	}
	// Start again on the filled database: the time to the first /healthz.
	if srv := srvs[m.modes[0]]; srv != nil {
		srv.stop()
		delete(srvs, m.modes[0])
		srv, took, err := m.start(db, filepath.Join(m.dir, "restart.log"))
		if err != nil {
			return err
		}
		m.startups = append(m.startups, took)
		srv.stop()
	}
	return nil
}

// warmFor bounds each server's warm-up.
const warmFor = 60 * time.Second

func (m *matrix) warm(srvs map[string]*server, mode string, cookies []string) (loadtest.Result, error) {
	return loadtest.Run(context.Background(), loadtest.Config{BaseURL: srvs[mode].url, Connections: m.conns, Duration: warmFor,
		Op: "get", Cookies: cookies, EachOnce: true})
}

func (m *matrix) load(engine, db string, srvs map[string]*server, mode, op string, cookies []string, d time.Duration) (loadtest.Result, error) {
	if mode == pgxLoop {
		return pgxloop.Run(context.Background(), pgxloop.Config{URL: db, Cookies: cookies, Op: op, Workers: m.conns,
			PoolSize: m.poolSize, Duration: d, Kept: 65536})
	}
	return loadtest.Run(context.Background(), loadtest.Config{BaseURL: srvs[mode].url, Connections: m.conns, Duration: d, Op: op, Cookies: cookies})
}

func (m *matrix) print(engines []string) {
	fmt.Printf("%-8s %9s %-8s %-6s %9s %8s %8s %8s %7s %8s\n", "engine", "users", "mode", "op", "req/s", "vs "+m.modes[0], "p50 ms", "p99 ms", "errors", "RSS MiB")
	rps := func(k key) float64 { return median(m.results[k], func(r loadtest.Result) float64 { return r.RPS() }) }
	p99 := func(k key) float64 {
		return median(m.results[k], func(r loadtest.Result) float64 { return float64(r.P99.Microseconds()) / 1000 })
	}
	// ratio is the median of each round's own ratio of a to b: both sides
	// of one were measured minutes apart at most.
	ratio := func(a, b key, f func(loadtest.Result) float64) float64 {
		ra, rb := m.results[a], m.results[b]
		var rs []float64
		for i := range min(len(ra), len(rb)) {
			rs = append(rs, f(ra[i])/f(rb[i]))
		}
		return medianOf(rs)
	}
	rpsOf := func(r loadtest.Result) float64 { return r.RPS() }
	for _, engine := range engines {
		for _, n := range m.users {
			for _, op := range m.ops {
				rows := slices.Clone(m.modes)
				if engine == "postgres" {
					rows = append(rows, pgxLoop)
				}
				for _, mode := range rows {
					k := key{engine, n, mode, op}
					rs := m.results[k]
					errors := 0
					for _, r := range rs {
						errors += r.Errors
					}
					fmt.Printf("%-8s %9d %-8s %-6s %9.0f %7.2fx %8.2f %8.2f %7d %8.0f\n", engine, n, mode, op, rps(k),
						ratio(k, key{engine, n, m.modes[0], op}, rpsOf),
						median(rs, func(r loadtest.Result) float64 { return float64(r.P50.Microseconds()) / 1000 }), p99(k),
						errors, median(rs, func(r loadtest.Result) float64 { return r.RSS / (1 << 20) }))
				}
			}
		}
	}
	// The goals: most users against fewest, PostgreSQL against SQLite and
	// against its own limit. Ratios of medians: the rows compared ran in
	// different parts of the run.
	if len(m.users) > 1 {
		lo, hi := m.users[0], m.users[len(m.users)-1]
		fmt.Printf("\n%d users against %d (goal: req/s and p99 within 20%%):\n", hi, lo)
		for _, engine := range engines {
			for _, mode := range m.modes {
				for _, op := range m.ops {
					a, b := key{engine, hi, mode, op}, key{engine, lo, mode, op}
					fmt.Printf("  %-8s %-8s %-6s req/s %.2fx  p99 %.2fx\n", engine, mode, op, rps(a)/rps(b), p99(a)/p99(b))
				}
			}
		}
	}
	if slices.Contains(engines, "postgres") {
		fmt.Printf("\nmeapi on PostgreSQL against the plain pgx loop of its statements (goal: 0.5x or more), and against SQLite:\n")
		for _, n := range m.users {
			for _, mode := range m.modes {
				for _, op := range m.ops {
					k := key{"postgres", n, mode, op}
					line := fmt.Sprintf("  %9d %-8s %-6s vs pgx loop %.2fx", n, mode, op, ratio(k, key{"postgres", n, pgxLoop, op}, rpsOf))
					if slices.Contains(engines, "sqlite") {
						line += fmt.Sprintf("  vs SQLite %.2fx", rps(k)/rps(key{"sqlite", n, mode, op}))
					}
					fmt.Println(line)
				}
			}
		}
	}
	if len(m.startups) > 0 {
		s := slices.Clone(m.startups)
		slices.Sort(s)
		fmt.Printf("\nstartup to a served /healthz on a filled database: median %.0f ms of %d (min %.0f, max %.0f)\n",
			float64(s[len(s)/2].Microseconds())/1000, len(s), float64(s[0].Microseconds())/1000, float64(s[len(s)-1].Microseconds())/1000)
	}
	fmt.Printf("seeding: %s\n", strings.Join(m.seedTimes, "; "))
	fmt.Printf("%d connections, %s per row and operation, %d round(s); load generator on the same machine; every request a random user's\n", m.conns, m.duration, m.rounds)
	fmt.Printf("req/s and latencies: medians over the rounds; vs %s: the median of each round's ratio\n", m.modes[0])
}

func median(rs []loadtest.Result, f func(loadtest.Result) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	return medianOf(vs)
}

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	return vs[len(vs)/2]
}
