// Package gen holds the code that oapi-codegen generates from openapi.yaml:
// models, the chi strict server and the embedded spec. Nothing here is
// written by hand; run `make generate` after editing openapi.yaml.
package gen

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config config.yaml ../openapi.yaml
