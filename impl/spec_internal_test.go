package impl

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"meapi/gen"
	"meapi/impl/rules"
)

// TestReservedUsernamesAreDocumented keeps the list in the Username
// schema's description and the one the server enforces the same.
func TestReservedUsernamesAreDocumented(t *testing.T) {
	doc, err := gen.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	desc := doc.Components.Schemas["Username"].Value.Description
	_, list, ok := strings.Cut(desc, "`VALIDATION_ERROR`:")
	if !ok {
		t.Fatalf("the Username description does not list the reserved names:\n%s", desc)
	}
	documented := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == '.' || r == ' ' || r == '\n' })
	if strings.Join(documented, " ") != strings.Join(rules.ReservedUsernames, " ") {
		t.Errorf("openapi.yaml lists %q\nthe server refuses %q", documented, rules.ReservedUsernames)
	}
}

// TestRulesPatternsAreTheContracts: the patterns the domain rules check are
// the very text of openapi.yaml's, so that the server accepts exactly what
// a client checking the schema accepts; the sign-in username has the same
// rule as the stored one; and every pattern is ASCII, so that ECMAScript's
// and Go's regular expressions read it alike.
func TestRulesPatternsAreTheContracts(t *testing.T) {
	doc, err := gen.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	schemas := doc.Components.Schemas
	for name, want := range map[string]string{"Email": rules.EmailPattern(), "ImageURL": rules.ImageURLPattern()} {
		if got := schemas[name].Value.Pattern; got != want {
			t.Errorf("%s: openapi.yaml has %q, the rule checks %q", name, got, want)
		}
	}
	if a, b := schemas["Username"].Value, schemas["SignInWithUsername"].Value.Properties["username"].Value; a.Pattern != b.Pattern || a.MinLength != b.MinLength || *a.MaxLength != *b.MaxLength {
		t.Errorf("the sign-in username's rule differs from Username's")
	}
	for name, ref := range schemas {
		for _, s := range append([]*openapi3.SchemaRef{ref}, slices.Collect(maps.Values(ref.Value.Properties))...) {
			if s.Value == nil {
				continue
			}
			for _, r := range s.Value.Pattern {
				if r > 0x7e {
					t.Errorf("%s: the pattern %q holds %+q", name, s.Value.Pattern, r)
				}
			}
		}
	}
}
