package impl

import (
	"bytes"
	"context"
	_ "embed"

	"meapi/gen"
)

// redocScript is Redoc's standalone bundle as published on npm (the version
// tools/package.json pins; `make check-docs-asset` compares the two).
//
//go:embed apidocs/redoc.standalone.js
var redocScript []byte

// apiReferencePage loads the spec and the renderer by relative URLs, so
// that it works behind a proxy that serves the API under a path prefix.
const apiReferencePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meapi API reference</title>
</head>
<body>
<redoc spec-url="openapi.yaml"></redoc>
<script src="docs/redoc.standalone.js"></script>
</body>
</html>
`

// apiReferencePolicy lets the page use only this server. Redoc needs inline
// styles (it styles with CSS-in-JS) and a worker made from a blob (its
// search index).
const apiReferencePolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// GetAPIReference answers GET /docs.
func (s *Server) GetAPIReference(_ context.Context, _ gen.GetAPIReferenceRequestObject) (gen.GetAPIReferenceResponseObject, error) {
	return gen.GetAPIReference200TexthtmlResponse{
		Body:          bytes.NewReader([]byte(apiReferencePage)),
		ContentLength: int64(len(apiReferencePage)),
		Headers:       gen.GetAPIReference200ResponseHeaders{ContentSecurityPolicy: apiReferencePolicy},
	}, nil
}

// GetAPIReferenceScript answers GET /docs/redoc.standalone.js.
func (s *Server) GetAPIReferenceScript(_ context.Context, _ gen.GetAPIReferenceScriptRequestObject) (gen.GetAPIReferenceScriptResponseObject, error) {
	return gen.GetAPIReferenceScript200TextjavascriptResponse{
		Body:          bytes.NewReader(redocScript),
		ContentLength: int64(len(redocScript)),
		// A day: the script changes only with a new build of the server.
		Headers: gen.GetAPIReferenceScript200ResponseHeaders{CacheControl: "public, max-age=86400"},
	}, nil
}
