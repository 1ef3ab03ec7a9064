package daemon

import (
	"testing"
	"time"
)

func TestRearmNeeded(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name        string
		fired       bool
		armed, next time.Time
		want        bool
	}{
		{"fired, same deadline", true, t0, t0, true},
		{"fired, no deadline", true, t0, time.Time{}, true},
		{"not armed, a deadline appears", false, time.Time{}, t0, true},
		{"not armed, no deadline", false, time.Time{}, time.Time{}, false},
		{"armed, deadline gone", false, t0, time.Time{}, false},
		{"armed, same deadline", false, t0, t0, false},
		{"armed, earlier by 1ns", false, t0, t0.Add(-time.Nanosecond), true},
		{"armed, later by 1ns", false, t0, t0.Add(time.Nanosecond), false},
		{"armed, later by a Master_Down interval", false, t0, t0.Add(3 * time.Second), false},
	} {
		if got := rearmNeeded(tc.fired, tc.armed, tc.next); got != tc.want {
			t.Errorf("%s: rearmNeeded(%v, armed, next) = %v, want %v", tc.name, tc.fired, got, tc.want)
		}
	}
}
