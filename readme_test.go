package meapi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"meapi/impl"
	"meapi/store"
	"meapi/store/postgres"
	"meapi/store/postgres/pgtest"
	"meapi/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestREADME runs every `sh` block of README.md, in order, against one fresh
// server (the real stack, on a SQLite file of its own, then on a PostgreSQL
// database of its own: the walk-through is the same on both), as a reader
// would who copies them into a terminal, and compares the output of each
// block that is followed by a `json` or `http` block with what that block
// prints: the same status, the same headers where it shows some, the same
// members in the same order with the same values. Ids, times and tokens are
// compared by their form, an id standing for the same one wherever it is
// printed. The only change to what is printed is the server's address.
func TestREADME(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the README's walk-through needs curl: apt-get install curl")
	}
	blocks := readmeBlocks(t)
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meapi.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		walkThrough(t, blocks, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		walkThrough(t, blocks, st)
	})
}

// walkThrough runs the blocks against a server on st.
func walkThrough(t *testing.T, blocks []block, st store.Engine) {
	h, err := impl.NewHandler(impl.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// localhost, as printed: curl sends a Secure cookie to it over http.
	base := "http://localhost:" + srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	dir := t.TempDir()
	ids := map[string]string{}
	ran := 0
	for i, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		ran++
		script := strings.ReplaceAll(b.text, "http://localhost:8080", base)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("README.md line %d: the block failed: %v\n%s\n%s", b.line, err, b.text, stderr.String())
		}
		if i+1 >= len(blocks) || (blocks[i+1].lang != "json" && blocks[i+1].lang != "http") || !blocks[i+1].follows {
			continue
		}
		want := blocks[i+1]
		if err := compareOutput(want.lang, want.text, string(out), ids); err != nil {
			t.Errorf("README.md line %d: the answer differs from the one printed at line %d: %v\ngot:\n%s", b.line, want.line, err, out)
		}
	}
	if ran < 8 {
		t.Errorf("only %d sh blocks in README.md", ran)
	}
}

type block struct {
	lang, text string
	line       int
	// follows is set for a block that comes right after the one before it,
	// with nothing but blank lines between.
	follows bool
}

func readmeBlocks(t *testing.T) []block {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []block
	var cur *block
	var text strings.Builder
	sc := bufio.NewScanner(f)
	n, gap := 0, false
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimPrefix(line, "```"), line: n, follows: !gap && len(blocks) > 0}
			text.Reset()
		case cur != nil && line == "```":
			cur.text = text.String()
			blocks = append(blocks, *cur)
			cur, gap = nil, false
		case cur != nil:
			text.WriteString(line + "\n")
		case strings.TrimSpace(line) != "":
			gap = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// compareOutput compares what a block printed with the answer README.md
// shows for it: a JSON body, or (http) a status line, some headers and a
// JSON body.
func compareOutput(lang, want, got string, ids map[string]string) error {
	if lang == "json" {
		return compareJSON(want, got, ids)
	}
	wantHead, wantBody, _ := strings.Cut(want, "\n\n")
	got = strings.ReplaceAll(got, "\r\n", "\n")
	gotHead, gotBody, _ := strings.Cut(got, "\n\n")
	wantLines, gotLines := strings.Split(wantHead, "\n"), strings.Split(gotHead, "\n")
	if wantLines[0] != gotLines[0] {
		return fmt.Errorf("status line %q, printed %q", gotLines[0], wantLines[0])
	}
	for _, w := range wantLines[1:] {
		name, value, _ := strings.Cut(w, ": ")
		found := false
		for _, g := range gotLines[1:] {
			gn, gv, _ := strings.Cut(g, ": ")
			if strings.EqualFold(gn, name) && sameValue(value, gv, ids) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("no header %q", w)
		}
	}
	return compareJSON(wantBody, gotBody, ids)
}

var (
	idForm    = regexp.MustCompile(`^(user|signin)_[a-z2-7]{26}$`)
	tokenForm = regexp.MustCompile(`__session=[A-Za-z0-9_-]{43};`)
	etagForm  = regexp.MustCompile(`^"(user_[a-z2-7]{26})\.([0-9]+)"$`)
)

// sameValue compares a printed string with the one the server sent: ids
// by form and the same each time, times by form, tokens by form, the rest
// exactly.
func sameValue(want, got string, ids map[string]string) bool {
	switch {
	case idForm.MatchString(want):
		if !idForm.MatchString(got) || want[:strings.IndexByte(want, '_')] != got[:strings.IndexByte(got, '_')] {
			return false
		}
		if seen, ok := ids[want]; ok {
			return seen == got
		}
		ids[want] = got
		return true
	case etagForm.MatchString(want):
		w, g := etagForm.FindStringSubmatch(want), etagForm.FindStringSubmatch(got)
		return g != nil && w[2] == g[2] && sameValue(w[1], g[1], ids)
	}
	if _, err := time.Parse(time.RFC3339Nano, want); err == nil {
		_, err := time.Parse(time.RFC3339Nano, got)
		return err == nil
	}
	if tokenForm.MatchString(want) {
		return tokenForm.ReplaceAllString(want, "T") == tokenForm.ReplaceAllString(got, "T")
	}
	return want == got
}

// compareJSON compares two JSON texts value by value, members in order.
func compareJSON(want, got string, ids map[string]string) error {
	w, g := jsontext.NewDecoder(strings.NewReader(want)), jsontext.NewDecoder(strings.NewReader(got))
	for {
		wt, werr := w.ReadToken()
		gt, gerr := g.ReadToken()
		if werr == io.EOF && gerr == io.EOF {
			return nil
		}
		if werr != nil || gerr != nil {
			return fmt.Errorf("at %s: %v / %v", g.StackPointer(), werr, gerr)
		}
		if wt.Kind() != gt.Kind() {
			return fmt.Errorf("at %s: %s, printed %s", g.StackPointer(), gt, wt)
		}
		switch wt.Kind() {
		case '"':
			if !sameValue(wt.String(), gt.String(), ids) {
				return fmt.Errorf("at %s: %q, printed %q", g.StackPointer(), gt.String(), wt.String())
			}
		case '0':
			if wt.String() != gt.String() {
				return fmt.Errorf("at %s: %s, printed %s", g.StackPointer(), gt.String(), wt.String())
			}
		case 't', 'f':
			if wt.Bool() != gt.Bool() {
				return fmt.Errorf("at %s: %v, printed %v", g.StackPointer(), gt.Bool(), wt.Bool())
			}
		}
	}
}
