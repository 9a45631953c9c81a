package timestamp_test

import (
	"encoding/json"
	"testing"
	"time"

	"meapi/impl/timestamp"
)

func TestMillisIsWrittenWithThreeDigitsAndReadsAnyRFC3339(t *testing.T) {
	at := time.Date(2026, 11, 28, 6, 18, 35, 0, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{at, `"2026-11-28T05:18:35.000Z"`},
		{at.Add(120 * time.Millisecond), `"2026-11-28T05:18:35.120Z"`},
		{at.Add(123456 * time.Microsecond), `"2026-11-28T05:18:35.123Z"`}, // truncated, as the store keeps it
	} {
		b, err := json.Marshal(timestamp.Of(tt.t))
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.t, b, err, tt.want)
		}
	}
	for _, in := range []string{`"2026-11-28T05:18:35Z"`, `"2026-11-28T06:18:35.5+01:00"`} {
		var m timestamp.Millis
		if err := json.Unmarshal([]byte(in), &m); err != nil || m.Year() != 2026 {
			t.Errorf("Unmarshal(%s): %v, %v", in, m, err)
		}
	}
	var m timestamp.Millis
	if err := json.Unmarshal([]byte(`1732774715`), &m); err == nil {
		t.Errorf("a number read as a timestamp: %v", m)
	}
}
