//go:build tools

// This file pins ogen: the generator, which the client matrix runs with
// `go run github.com/ogen-go/ogen/cmd/ogen`, and the packages the code it
// generates imports, so that `go mod tidy` keeps them while ./api, which is
// generated at test time, is absent.
package main

import (
	_ "github.com/go-faster/errors"
	_ "github.com/go-faster/jx"
	_ "github.com/ogen-go/ogen"
	_ "github.com/ogen-go/ogen/cmd/ogen"
)
