// Command meapi serves the meapi API, looks after its database, and tests
// deployments of it.
//
//	meapi serve [flags]                    serve HTTP (every flag also from MEAPI_<FLAG>)
//	meapi migrate [--db FILE]              apply pending migrations and exit
//	meapi backup --to FILE [--db FILE]     write a consistent copy of the database
//	meapi seed --users N --cookies FILE    fill a database with signed-in users, for load tests
//	meapi conformance --base-url URL       contract-test a running deployment
//	meapi loadtest --base-url URL          load a running meapi and measure it
//	meapi version                          print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// version is set at build time by the Makefile (-ldflags -X).
var version = "dev"

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	var failed casesFailed
	switch {
	case errors.As(err, &failed):
		os.Exit(1) // the report says which; nothing to add
	case err != nil:
		fmt.Fprintln(os.Stderr, "meapi:", err)
		os.Exit(2)
	}
}

const usage = `usage: meapi <command> [flags]

commands:
  serve        serve the API (meapi serve --help for its flags)
  migrate      apply pending database migrations and exit
  backup       write a consistent copy of the database (--to FILE), also while serving
  seed         make --users signed-in accounts and write their cookies to --cookies, for load tests
  conformance  contract-test a running deployment (meapi conformance --help)
  loadtest     load a running meapi and measure it (meapi loadtest --help)
  version      print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "migrate":
		return migrateDB(ctx, args[1:], stdout, stderr)
	case "backup":
		return backupDB(ctx, args[1:], stdout, stderr)
	case "seed":
		return seedDB(ctx, args[1:], stdout, stderr)
	case "conformance":
		return runConformance(ctx, args[1:], stdout, stderr)
	case "loadtest":
		return runLoadtest(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "meapi %s (%s)\n", version, runtime.Version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// envName is the environment variable that sets a flag.
func envName(flagName string) string {
	return "MEAPI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags sets each flag from its environment variable, then from the
// command line, so that the command line wins.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}
