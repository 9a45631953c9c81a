package impl_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"meapi/gen"
)

// TestContractIsValid checks openapi.yaml itself, its examples included,
// and that the copy embedded in the generated code is the same document.
func TestContractIsValid(t *testing.T) {
	doc, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaPatternValidation()); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	embedded, err := gen.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	embedded.Servers = nil // contract() drops them too
	a, _ := json.Marshal(doc)
	b, _ := json.Marshal(embedded)
	if string(a) != string(b) {
		t.Errorf("the spec embedded in gen/ differs from openapi.yaml: run make generate")
	}
}

// TestContractDeclaresEveryRefusal checks that each operation declares the
// statuses the stack can answer it with, so that the response validator
// checks error bodies too and clients know to expect them.
func TestContractDeclaresEveryRefusal(t *testing.T) {
	doc, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			want := []int{500}
			if op.RequestBody != nil {
				want = append(want, 400, 413, 415)
			}
			if method != http.MethodGet {
				want = append(want, 403)
			}
			if op.Security != nil && len(*op.Security) == 1 && len((*op.Security)[0]) > 0 {
				want = append(want, 401)
			}
			for _, status := range want {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s %s does not declare %d", method, path, status)
				}
			}
			for code, ref := range op.Responses.Map() {
				if slices.Contains([]string{"200", "201"}, code) {
					continue
				}
				if ct := ref.Value.Content.Get("application/json"); ct == nil || ct.Schema.Ref != "#/components/schemas/ErrorEnvelope" {
					t.Errorf("%s %s %s: want an ErrorEnvelope", method, path, code)
				}
			}
		}
	}
}

// TestNullableCopiesMatch: a member that may be an object or null refers
// to a copy of the object's schema that is nullable (the one form every
// generator reads): NullableUser is User's, NullableSignin is Signin's,
// member for member.
func TestNullableCopiesMatch(t *testing.T) {
	doc, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	for copyName, of := range map[string]string{"NullableUser": "User", "NullableSignin": "Signin"} {
		c, o := doc.Components.Schemas[copyName].Value, doc.Components.Schemas[of].Value
		if !c.Nullable || o.Nullable {
			t.Errorf("%s must be nullable and %s not", copyName, of)
		}
		if !slices.Equal(c.Required, o.Required) {
			t.Errorf("%s requires %v, %s %v", copyName, c.Required, of, o.Required)
		}
		a, _ := json.Marshal(c.Properties)
		b, _ := json.Marshal(o.Properties)
		if string(a) != string(b) {
			t.Errorf("%s's members differ from %s's:\n%s\n%s", copyName, of, a, b)
		}
	}
}
