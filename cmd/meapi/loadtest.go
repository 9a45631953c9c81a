package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"meapi/loadtest"
)

// runLoadtest drives a running meapi and reports what it measured.
func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meapi loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := loadtest.Config{}
	fs.StringVar(&cfg.BaseURL, "base-url", "http://127.0.0.1:8080", "the meapi to load (http only)")
	fs.IntVar(&cfg.Connections, "connections", 32, "keep-alive connections, each with a user of its own")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to load it")
	fs.StringVar(&cfg.Op, "op", "get", "get (GET /me), patch (PATCH /me) or mixed (9 GET to 1 PATCH)")
	fs.IntVar(&cfg.MaxRequests, "max-requests", 10_000_000, "stop after this many requests, whatever the duration")
	var cookies string
	fs.StringVar(&cookies, "cookies", "", "a file of __session values, one a line (meapi seed writes one): each request uses one at random, and no user is signed up")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: meapi loadtest [flags]\n\nSigns up one user per connection on the meapi at --base-url (or uses the users of --cookies), then sends requests as fast as it answers\nand prints req/s, latency percentiles, errors and the server's RSS (from its /metrics).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return flagError(err)
	}
	if cookies != "" {
		var err error
		if cfg.Cookies, err = loadtest.ReadCookies(cookies); err != nil {
			return err
		}
	}
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}
