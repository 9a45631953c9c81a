package loadtest

import (
	"testing"
	"time"
)

func TestSetPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 1000; i >= 1; i-- { // out of order: it sorts them
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	var r Result
	r.SetPercentiles(lat)
	want := [4]time.Duration{501 * time.Millisecond, 901 * time.Millisecond, 991 * time.Millisecond, 1000 * time.Millisecond}
	if got := [4]time.Duration{r.P50, r.P90, r.P99, r.P999}; got != want {
		t.Errorf("percentiles of 1..1000 ms: %v, want %v", got, want)
	}
	var none Result
	none.SetPercentiles(nil)
	if none.P50 != 0 || none.P999 != 0 {
		t.Errorf("no latencies: %+v", none)
	}
}
