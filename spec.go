// Package meapi holds the contract: openapi.yaml, embedded byte for byte so
// that GET /openapi.yaml serves exactly the file the server was built from.
// The code lives in gen (generated from it), impl, store and cmd/meapi.
package meapi

import _ "embed"

// OpenAPIYAML is openapi.yaml as committed.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
