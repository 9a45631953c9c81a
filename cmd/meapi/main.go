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
	"regexp"
	"runtime"
	"strings"
	"time"
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
// command line, so that the command line wins. A value that cannot be used
// is one line naming the flag or the variable it came from and the form it
// wants (the usage is printed for -h and --help only). MEAPI_ variables that
// are no flag of the command are warned about on the flag set's output:
// a misspelt one would otherwise be ignored without a word.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()

	known := map[string]bool{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		known[name] = true
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if fs.Set(f.Name, v) != nil {
				err = fmt.Errorf("%s=%q: want %s", name, v, wantedForm(f))
			}
		}
	})
	if err != nil {
		return err
	}
	warnUnknownEnv(out, fs.Name(), known)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			usage()
			return err
		}
		return flagParseError(fs, err)
	}
	return nil
}

// flagSyntax reads the errors of package flag, whose words are the only
// place they say which flag.
var flagSyntax = struct{ invalid, undefined, noValue *regexp.Regexp }{
	invalid:   regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-(\S+): `),
	undefined: regexp.MustCompile(`^flag provided but not defined: -(\S+)$`),
	noValue:   regexp.MustCompile(`^flag needs an argument: -(\S+)$`),
}

// flagParseError is one line for a command line that cannot be used.
func flagParseError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if m := flagSyntax.invalid.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[2]); f != nil {
			return fmt.Errorf("--%s %q: want %s", m[2], m[1], wantedForm(f))
		}
	}
	if m := flagSyntax.undefined.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("unknown flag --%s (%s --help lists them)", m[1], fs.Name())
	}
	if m := flagSyntax.noValue.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[1]); f != nil {
			return fmt.Errorf("--%s needs a value: %s", m[1], wantedForm(f))
		}
	}
	return err
}

// wantedForm says in words what a flag takes.
func wantedForm(f *flag.Flag) string {
	switch f.Value.(flag.Getter).Get().(type) {
	case time.Duration:
		return "a duration such as 15s, 10m or 2h30m"
	case int, int64, uint, uint64:
		return "a whole number such as 10"
	case float64:
		return "a number such as 1.5"
	case bool:
		return "true or false"
	}
	return "a string"
}

// warnUnknownEnv warns of MEAPI_ variables that are no flag of the command
// (MEAPI_TEST_ ones are the tests'), with the nearest flag's when there is
// one close enough to be a typo.
func warnUnknownEnv(w io.Writer, command string, known map[string]bool) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "MEAPI_") || strings.HasPrefix(name, "MEAPI_TEST_") || known[name] {
			continue
		}
		hint := ""
		best := 4 // a typo is a few letters off
		for k := range known {
			if d := editDistance(name, k); d < best {
				best, hint = d, " (did you mean "+k+"?)"
			}
		}
		fmt.Fprintf(w, "meapi: warning: %s is set, but %s has no such setting%s; it is ignored\n", name, command, hint)
	}
}

// editDistance is the Levenshtein distance of two strings of bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
