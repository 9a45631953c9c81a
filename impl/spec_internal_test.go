package impl

import (
	"strings"
	"testing"

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
