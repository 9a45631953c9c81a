// Package impl implements the operations of openapi.yaml against a store,
// and builds the HTTP stack around them: session loading, request and
// response validation against the spec, and the one error envelope that
// every failure is turned into. NewHandler is the only way in; main and the
// tests use it alike.
package impl
