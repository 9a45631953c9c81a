// Command loadmatrix runs `meapi serve` in each response validation mode,
// each on a fresh database, loads it with `meapi loadtest`'s engine over
// loopback, and prints one table with the throughput of each mode as a
// ratio to `off`, measured in the same run. It also measures the time from
// starting meapi on an existing database to its first answered /healthz.
//
//	go run ./bench/loadmatrix --meapi bin/meapi --duration 10s
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
	"strings"
	"syscall"
	"time"

	"meapi/loadtest"
)

func main() {
	bin := flag.String("meapi", "bin/meapi", "the meapi binary to run")
	duration := flag.Duration("duration", 10*time.Second, "how long to load each mode with each operation")
	conns := flag.Int("connections", 32, "keep-alive connections")
	modes := flag.String("modes", "off,log,enforce", "response validation modes, the first being the baseline")
	ops := flag.String("ops", "get,patch", "operations: get, patch, mixed")
	rounds := flag.Int("rounds", 1, "how many times to run the whole matrix (medians are reported)")
	flag.Parse()
	if err := run(*bin, *duration, *conns, strings.Split(*modes, ","), strings.Split(*ops, ","), *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "loadmatrix:", err)
		os.Exit(1)
	}
}

type server struct {
	cmd *exec.Cmd
	url string
}

// start runs meapi serve on db with its log in logPath, and waits until it
// answers /healthz; it returns how long that took.
func start(bin, db, logPath string, args ...string) (*server, time.Duration, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, 0, err
	}
	defer logf.Close()
	begin := time.Now()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	deadline := begin.Add(10 * time.Second)
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
	return nil, 0, fmt.Errorf("meapi did not serve within 10 s (log: %s)", logPath)
}

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

type key struct{ mode, op string }

func run(bin string, duration time.Duration, conns int, modes, ops []string, rounds int) error {
	dir, err := os.MkdirTemp("", "meapi-loadmatrix-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	results := map[key][]loadtest.Result{}
	var startups []time.Duration
	for round := range rounds {
		// Every mode's server runs at once, and each operation loads them
		// one right after the other, in an order that turns every round:
		// on a shared machine, what is compared is then measured minutes
		// closer together, and no mode always goes first.
		order := append(slices.Clone(modes[round%len(modes):]), modes[:round%len(modes)]...)
		srvs := map[string]*server{}
		dbs := map[string]string{}
		stopAll := func() {
			for _, srv := range srvs {
				srv.stop()
			}
		}
		for _, mode := range modes {
			dbs[mode] = filepath.Join(dir, fmt.Sprintf("%s-%d.db", mode, round))
			srv, _, err := start(bin, dbs[mode], filepath.Join(dir, mode+".log"), "--response-validation", mode)
			if err != nil {
				stopAll()
				return err
			}
			srvs[mode] = srv
		}
		for _, op := range ops {
			for _, mode := range order {
				res, err := loadtest.Run(context.Background(), loadtest.Config{BaseURL: srvs[mode].url, Connections: conns, Duration: duration, Op: op})
				if err != nil {
					stopAll()
					return fmt.Errorf("%s %s: %w", mode, op, err)
				}
				fmt.Fprintf(os.Stderr, "round %d  %-8s %s\n", round+1, mode, res)
				results[key{mode, op}] = append(results[key{mode, op}], res)
			}
		}
		for _, mode := range modes {
			if err := srvs[mode].stop(); err != nil {
				return fmt.Errorf("stop %s: %w", mode, err)
			}
			// Start again on the database the run filled: the time to the
			// first answered /healthz.
			srv, took, err := start(bin, dbs[mode], filepath.Join(dir, mode+"-restart.log"))
			if err != nil {
				return err
			}
			startups = append(startups, took)
			srv.stop()
		}
	}

	fmt.Printf("%-8s %-6s %10s %9s %8s %8s %8s %8s %7s %8s\n", "mode", "op", "req/s", "vs "+modes[0], "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "RSS MiB")
	for _, op := range ops {
		base := results[key{modes[0], op}]
		for _, mode := range modes {
			rs := results[key{mode, op}]
			rps := median(rs, func(r loadtest.Result) float64 { return r.RPS() })
			// The ratio is the median of each round's own ratio: both
			// sides of one were measured minutes apart at most.
			ratios := make([]float64, len(rs))
			for i := range rs {
				ratios[i] = rs[i].RPS() / base[i].RPS()
			}
			ms := func(f func(loadtest.Result) time.Duration) float64 {
				return median(rs, func(r loadtest.Result) float64 { return float64(f(r).Microseconds()) / 1000 })
			}
			errors := 0
			for _, r := range rs {
				errors += r.Errors
			}
			fmt.Printf("%-8s %-6s %10.0f %8.2fx %8.2f %8.2f %8.2f %8.2f %7d %8.0f\n", mode, op, rps, medianOf(ratios),
				ms(func(r loadtest.Result) time.Duration { return r.P50 }), ms(func(r loadtest.Result) time.Duration { return r.P90 }),
				ms(func(r loadtest.Result) time.Duration { return r.P99 }), ms(func(r loadtest.Result) time.Duration { return r.P999 }),
				errors, median(rs, func(r loadtest.Result) float64 { return r.RSS / (1 << 20) }))
		}
	}
	slices.Sort(startups)
	fmt.Printf("\nstartup to a served /healthz on an existing database: median %.0f ms of %d (min %.0f, max %.0f)\n",
		float64(startups[len(startups)/2].Microseconds())/1000, len(startups),
		float64(startups[0].Microseconds())/1000, float64(startups[len(startups)-1].Microseconds())/1000)
	fmt.Printf("%d connections, %s per mode and operation, %d round(s); load generator on the same machine\n", conns, duration, rounds)
	fmt.Printf("req/s and latencies: medians over the rounds; vs %s: the median of each round's ratio\n", modes[0])
	return nil
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
