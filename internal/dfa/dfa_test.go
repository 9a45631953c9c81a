package dfa

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// testPatterns are the expressions the DFA is held to regexp on: every
// pattern of the test spec and of meapi's, kin-openapi's date-time, and a
// few that exercise what the construction must get right.
func testPatterns(t testing.TB) []string {
	pats := []string{
		openapi3.FormatOfStringDateTime,
		`^[a-z]*a$`, `^(ab|a)(bc|c)$`, `^a{2,4}$`, `^[^a]b`, `^x`, `^(a|b)*c?$`, `^$`, `^.$`, `^\.[^\n]+$`,
		`^[\x{80}-\x{10FFFF}]+$`, `^[^\x00-\x1F\x7F-\x9F]*[^\x00-\x20\x7F-\xA0][^\x00-\x1F\x7F-\x9F]*$`,
		// Not the DFA's: regexp answers for them.
		`a`, `(?i)^abc$`, `^\bword\b`, `(?m)^a$`,
	}
	for _, file := range []string{filepath.Join("..", "..", "impl", "validate", "testdata", "api.yaml"), filepath.Join("..", "..", "openapi.yaml")} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi3.NewLoader().LoadFromData(b)
		if err != nil {
			t.Fatal(err)
		}
		var walk func(s *openapi3.Schema)
		walk = func(s *openapi3.Schema) {
			if s == nil {
				return
			}
			if s.Pattern != "" {
				pats = append(pats, s.Pattern)
			}
			for _, p := range s.Properties {
				walk(p.Value)
			}
			if s.Items != nil {
				walk(s.Items.Value)
			}
		}
		for _, ref := range doc.Components.Schemas {
			walk(ref.Value)
		}
		for _, h := range doc.Components.Headers {
			walk(h.Value.Schema.Value)
		}
	}
	return pats
}

var patternSamples = []string{
	"", "a", "aa", "aaa", "aaaaa", "ab", "abc", "abbc", "ac", "c", "b", "xa", "x", "\n", ".\n", ".a",
	"Ada", " Ada", "Ada ", "\u00a0", "Ada\u0085", "李", "\xff", "a\xffb", "\u2028",
	"user_2qpk3vbzjxh7wm4tfn6cdr5sye", "user_2qpk3vbzjxh7wm4tfn6cdr5sy", "user_2qpk3vbzjxh7wm4tfn6cdr5sye1",
	"signin_7rdm2kq4xwz6hbnf3ptcyv5sja", "ada@example.com", "a.b@x.co", ".a@x.co", "a'@x.co", "a@x.c", "a@-x.co",
	"https://images.example.com/a.png", "https://a/%2", "https://a/%20", "https://a/{x}",
	"2026-11-28T06:18:35.123Z", "2026-11-28T06:18:35Z", "2026-13-28T06:18:35Z", "2026-11-28T24:00:00Z", "2026-11-28T06:18:60+05:30",
	`"user_x.3"`, `"a b"`, "__session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
	"__session=" + strings.Repeat("A", 43) + "; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Lax",
	"GET, PATCH", "GET,PATCH", "+15555550100", "VALIDATION_ERROR", "/first_name", "/a~1b", "/a~2",
}

func TestDFAAgreesWithRegexp(t *testing.T) {
	compiled := 0
	for _, expr := range testPatterns(t) {
		p, err := Compile(expr)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		if p.dfa != nil {
			compiled++
		}
		re := regexp.MustCompile(expr)
		for _, s := range patternSamples {
			if got, want := p.MatchString(s), re.MatchString(s); got != want {
				t.Errorf("%q on %+q: the DFA says %v, regexp %v", expr, s, got, want)
			}
		}
	}
	for _, expr := range []string{`a`, `(?i)^abc$`, `^\bword\b`, `(?m)^a$`} {
		if p, _ := Compile(expr); p.dfa != nil {
			t.Errorf("%q got a DFA; it must be left to regexp", expr)
		}
	}
	// Every pattern of the specs is the DFA's.
	if compiled < 20 {
		t.Errorf("only %d patterns got a DFA", compiled)
	}
}

func FuzzDFAAgreesWithRegexp(f *testing.F) {
	for _, s := range patternSamples {
		f.Add(s, uint8(0))
	}
	pats := testPatterns(f)
	compiled := make([]*Regexp, len(pats))
	for i, expr := range pats {
		compiled[i], _ = Compile(expr)
	}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		i := int(which) % len(pats)
		if got, want := compiled[i].MatchString(s), compiled[i].re.MatchString(s); got != want {
			t.Errorf("%q on %+q: the DFA says %v, regexp %v", pats[i], s, got, want)
		}
	})
}
