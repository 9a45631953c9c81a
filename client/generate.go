// Package client is a Go client of the meapi API, generated from
// openapi.yaml: Client sends requests, ClientWithResponses also decodes the
// answers into the generated types. Nothing here is written by hand; run
// `make generate` after editing openapi.yaml.
//
// The session is a cookie: give the http.Client a cookie jar
// (net/http/cookiejar sends the Secure __session cookie to https URLs and to
// loopback addresses).
package client

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config config.yaml ../openapi.yaml
