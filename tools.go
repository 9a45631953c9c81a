//go:build tools

// This file pins the versions of the tools the Makefile runs with `go run`,
// so that every machine generates and lints with the same ones.
package meapi

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	_ "github.com/oasdiff/oasdiff"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
