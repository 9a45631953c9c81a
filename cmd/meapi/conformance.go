package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"meapi"
	"meapi/conformance"
)

// casesFailed is the error of a conformance run in which cases failed:
// exit status 1, where 2 is for a run that could not be made at all.
type casesFailed int

func (n casesFailed) Error() string { return fmt.Sprintf("%d conformance cases failed", int(n)) }

func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meapi conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("base-url", "", "where the API under test is served, e.g. https://staging.example.com (required)")
	timeout := fs.Duration("timeout", 15*time.Second, "the longest one request may take")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: meapi conformance --base-url URL\n\n"+
			"Creates throwaway accounts on the deployment at URL, exercises every operation of the\n"+
			"openapi.yaml built into this binary, refusals included, and checks every response against it.\n"+
			"Prints one line per case and a last line \"N passed, N failed\"; exits 0 only when all pass.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return flagError(err)
	}
	if *baseURL == "" {
		fs.Usage()
		return errors.New("--base-url is required")
	}
	res, err := conformance.Run(ctx, conformance.Config{
		BaseURL: *baseURL,
		Spec:    meapi.OpenAPIYAML,
		Out:     stdout,
		Client:  &http.Client{Timeout: *timeout},
	})
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return casesFailed(res.Failed)
	}
	return nil
}
