// Package store holds what meapi keeps and the contract of keeping it: the
// domain types (users, browser sessions, sign-ins), the errors every engine
// answers with, and the interface every engine satisfies (Engine).
//
// The engines live in packages of their own: store/sqlite (the embedded
// default) and store/postgres. Both are held to one contract by the suite in
// store/storetest. This package imports neither of them, and knows nothing
// of HTTP or of the wire format: impl declares the interface it needs.
//
// Every method that writes runs in one transaction, so a request either
// changes everything it meant to or nothing. Uniqueness (email and username,
// both compared case-folded) is enforced by unique indexes, never only by a
// check in Go. A session's generation is moved by triggers in the database,
// so that no write path, and no edit by hand, can forget it.
package store
