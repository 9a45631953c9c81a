// Package timestamp is the wire form of openapi.yaml's Timestamp: RFC 3339
// in UTC with exactly three digits of fraction ("2026-11-28T06:18:35.120Z").
// encoding/json writes a time.Time with as many digits as it needs
// (".12Z", none at all on a whole second), which a client reading "to the
// millisecond" or sorting the strings gets wrong; the generated types use
// this one instead (x-go-type in openapi.yaml).
package timestamp

import (
	"fmt"
	"time"
)

// Layout is the one form timestamps are written in.
const Layout = "2006-01-02T15:04:05.000Z07:00"

// Millis is a time written to the millisecond, in UTC.
type Millis struct{ time.Time }

// Of is t as a Millis.
func Of(t time.Time) Millis { return Millis{t} }

// Append appends t in Layout, in UTC, without quotes.
func Append(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, Layout) }

// MarshalJSON writes the time in Layout.
func (m Millis) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, len(Layout)+2), '"')
	return append(Append(b, m.Time), '"'), nil
}

// UnmarshalJSON reads any RFC 3339 time, as a client of another server
// may have to.
func (m *Millis) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("timestamp: %s is not a JSON string", b)
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	m.Time = t
	return nil
}
