package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/mail"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-json-experiment/json/jsontext"
)

// The checker is only worth having if it says what kin-openapi says. These
// tests ask both about the same bytes: the spec's examples, and mutations
// of them (every member dropped, and every value replaced by values of
// every kind), in both directions; FuzzAgreesWithKin goes on from there.

var formats = Formats{
	"email": func(s string) error {
		if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
			return errors.New("not an email address")
		}
		return nil
	},
	"uri": func(s string) error {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return errors.New("not an absolute URI")
		}
		return nil
	},
}

func kinFormats() map[string]openapi3.StringFormatValidator {
	m := map[string]openapi3.StringFormatValidator{}
	for name, f := range formats {
		m[name] = openapi3.NewCallbackValidator(f)
	}
	return m
}

var loadDoc = sync.OnceValues(func() (*openapi3.T, error) {
	return openapi3.NewLoader().LoadFromFile(filepath.Join("testdata", "api.yaml"))
})

type pair struct {
	name string
	kin  *openapi3.Schema
	fast *checker
	dir  direction
}

// pairs compiles every component schema in both directions.
func pairs(t testing.TB) []pair {
	doc, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	var ps []pair
	for _, dir := range []direction{dirRequest, dirResponse} {
		c := newCompiler(doc, dir, formats, 16)
		names := make([]string, 0, len(doc.Components.Schemas))
		for name := range doc.Components.Schemas {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ref := doc.Components.Schemas[name]
			fast, err := c.compile(ref)
			if err != nil {
				t.Fatalf("compile %s: %v", name, err)
			}
			ps = append(ps, pair{name: name, kin: ref.Value, fast: fast, dir: dir})
		}
	}
	return ps
}

func (p pair) kinVerdict(raw []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.WithStringFormatValidators(kinFormats())}
	if p.dir == dirRequest {
		opts = append(opts, openapi3.VisitAsRequest())
	} else {
		opts = append(opts, openapi3.VisitAsResponse())
	}
	return p.kin.VisitJSON(v, opts...)
}

// agree fails when the two validators disagree about raw. Only I-JSON is
// asked about: the checker refuses duplicate member names and invalid
// UTF-8 as malformed, where kin-openapi's decoder lets them through; meapi
// refuses such request bodies before validating them, and encoding/json
// never writes them.
func agree(t testing.TB, p pair, raw []byte) {
	t.Helper()
	if !jsontext.Value(raw).IsValid() {
		return
	}
	kinErr := p.kinVerdict(raw)
	fastErr := p.fast.validate(raw)
	if (kinErr == nil) != (fastErr == nil) {
		t.Errorf("%s (%s): kin-openapi says %v, schemacheck says %v, about\n%s", p.name, dirName(p.dir), kinErr, fastErr, raw)
	}
}

func dirName(d direction) string {
	if d == dirRequest {
		return "request"
	}
	return "response"
}

// samples are values of the spec's schemas, good and bad: its examples and
// a few made by hand.
func samples(t testing.TB) [][]byte {
	doc, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, ex := range doc.Components.Examples {
		add(ex.Value.Value)
	}
	for _, r := range doc.Components.Responses {
		for _, mt := range r.Value.Content {
			if mt.Example != nil {
				add(mt.Example)
			}
			for _, ex := range mt.Examples {
				add(ex.Value.Value)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Value.Content {
					for _, ex := range mt.Examples {
						add(ex.Value.Value)
					}
				}
			}
		}
	}
	for _, s := range []string{
		`{"title":"Hello"}`, `{"title":null,"body":"x"}`, `{"title":"  "}`, `{"title":"a\u0007b"}`, `{}`,
		`{"title":"t","tags":["red","blue"],"owner":"ada@example.com","link":"https://example.com/a","stars":5,"weight":1.5,"pinned":true}`,
		`{"title":"t","tags":["red","red","red","red"]}`, `{"title":"t","stars":6}`, `{"title":"t","stars":1.5}`, `{"title":"t","id":"x"}`,
		`{"title":"t","secret":"s"}`, `{"title":"t","owner":"not an address"}`, `{"title":"t","link":"relative"}`,
		`{"id":"note_1","title":"t","tags":[],"created_at":"2026-11-28T06:18:35.123Z","parent":null}`,
		`{"id":"note_1","title":"t","tags":[],"created_at":"2026-11-28T06:18:35.123Z","parent":{"id":"p"},"extra":3,"both":{"name":"n","age":1}}`,
		`{"id":"note_1","title":"t","tags":[],"created_at":"yesterday","parent":null}`,
		`{"kind":"email","email":"a@b.c"}`, `{"kind":"name","name":"ada"}`, `{"kind":"name","email":"a@b.c"}`, `{"kind":"sms"}`,
		`{"user":null,"seen":[]}`, `{"user":{"id":"u"},"seen":["2026-11-28T06:18:35.123Z"]}`,
		`{"code":"X","data":null}`, `{"code":"X","data":{}}`, `{"code":"X","data":{"a":1}}`,
		`null`, `[]`, `"x"`, `1`, `1.5`, `true`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// mutations are variants of raw: each member dropped, and each value (at
// any depth) replaced by each of replacements.
func mutations(raw []byte) [][]byte {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	replacements := []any{nil, true, 0.0, 1.5, 200.0, -1.0, "", "x", strings.Repeat("y", 101), "Ada", "ada@example.com",
		"https://example.com/a.png", "2026-11-28T06:18:35.123Z", "user_2qpk3vbzjxh7wm4tfn6cdr5sye", []any{}, map[string]any{}}
	var out [][]byte
	var walk func(path []any)
	walk = func(path []any) {
		node := get(v, path)
		switch n := node.(type) {
		case map[string]any:
			keys := make([]string, 0, len(n))
			for k := range n {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				out = append(out, marshal(edit(v, path, func(parent any) any {
					m := copyMap(parent.(map[string]any))
					delete(m, k)
					return m
				})))
				walk(append(slices.Clone(path), k))
			}
			out = append(out, marshal(edit(v, path, func(parent any) any {
				m := copyMap(parent.(map[string]any))
				m["unexpected"] = 1
				return m
			})))
		case []any:
			for i := range n {
				walk(append(slices.Clone(path), i))
			}
		}
		if len(path) > 0 {
			for _, r := range replacements {
				out = append(out, marshal(edit(v, path[:len(path)-1], func(parent any) any {
					switch p := parent.(type) {
					case map[string]any:
						m := copyMap(p)
						m[path[len(path)-1].(string)] = r
						return m
					case []any:
						a := slices.Clone(p)
						a[path[len(path)-1].(int)] = r
						return a
					}
					return parent
				})))
			}
		}
	}
	walk(nil)
	return out
}

func get(v any, path []any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// edit returns a copy of v in which the node at path is replaced by f(node).
func edit(v any, path []any, f func(any) any) any {
	if len(path) == 0 {
		return f(v)
	}
	switch k := path[0].(type) {
	case string:
		m := copyMap(v.(map[string]any))
		m[k] = edit(m[k], path[1:], f)
		return m
	case int:
		a := slices.Clone(v.([]any))
		a[k] = edit(a[k], path[1:], f)
		return a
	}
	return v
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestAgreesWithKinOnExamplesAndMutations asks both validators about each
// sample against every schema, and about each mutation of a sample against
// the schemas that accept the sample (where a mutation is most telling).
func TestAgreesWithKinOnExamplesAndMutations(t *testing.T) {
	ps := pairs(t)
	checked := 0
	for _, raw := range samples(t) {
		var home []pair
		for _, p := range ps {
			agree(t, p, raw)
			checked++
			if p.kinVerdict(raw) == nil {
				home = append(home, p)
			}
		}
		for _, m := range mutations(raw) {
			for _, p := range home {
				agree(t, p, m)
				checked++
			}
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d verdicts compared", checked)
}

// TestMemoRemembersOnlyValidValues checks that a remembered value is
// exactly the one found valid, and that an invalid one is never remembered.
func TestMemoRemembersOnlyValidValues(t *testing.T) {
	doc, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	user, err := newCompiler(doc, dirResponse, formats, 16).compile(doc.Components.Schemas["Note"])
	if err != nil {
		t.Fatal(err)
	}
	good := []byte(`{"id":"note_1","title":"Ada","tags":["red"],"created_at":"2026-11-28T06:18:35.123Z","parent":null}`)
	bad := bytes.Replace(good, []byte(`"Ada"`), []byte(`"Ada\u0007"`), 1)
	for range 2 {
		if err := user.validate(good); err != nil {
			t.Fatalf("a valid user: %v", err)
		}
		if err := user.validate(bad); err == nil {
			t.Fatalf("an invalid user passed")
		}
	}
	if !user.memo.has(user.memo.key(user.id, good)) || user.memo.has(user.memo.key(user.id, bad)) {
		t.Fatal("the memo does not hold the valid value alone")
	}
	// An answer to a write is checked, not remembered.
	written := bytes.Replace(good, []byte(`"Ada"`), []byte(`"Grace"`), 1)
	if err := user.validateAndRemember(written, false); err != nil {
		t.Fatalf("a valid user: %v", err)
	}
	if user.memo.has(user.memo.key(user.id, written)) {
		t.Fatal("a value checked with remember unset was remembered")
	}
}

func TestCompileRefusesUnsupportedKeywords(t *testing.T) {
	doc := &openapi3.T{Components: &openapi3.Components{Schemas: openapi3.Schemas{}}}
	fmax := 3.0
	for name, s := range map[string]*openapi3.Schema{
		"multipleOf":    {Type: &openapi3.Types{"number"}, MultipleOf: &fmax},
		"unknownFormat": {Type: &openapi3.Types{"string"}, Format: "ipv6"},
		"uniqueItems":   {Type: &openapi3.Types{"array"}, Items: openapi3.NewStringSchema().NewRef(), UniqueItems: true},
	} {
		if _, err := newCompiler(doc, dirResponse, formats, 0).compile(s.NewRef()); err == nil {
			t.Errorf("%s compiled", name)
		}
	}
}

func FuzzAgreesWithKin(f *testing.F) {
	for _, raw := range samples(f) {
		f.Add(raw, uint8(0))
	}
	ps := pairs(f)
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		agree(t, ps[int(which)%len(ps)], raw)
	})
}
