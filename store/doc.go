// Package store keeps meapi's users, browser sessions and sign-ins.
//
// It knows nothing of HTTP or of the wire format: impl declares the interface
// it needs and this package satisfies it. SQLite (modernc.org/sqlite, pure
// Go) is the embedded default. Every method that writes runs in one
// transaction, so a request either changes everything it meant to or nothing.
// Uniqueness (email and username, both compared case-folded) is enforced by
// unique indexes, never only by a check in Go.
package store
