package daemon

import (
	"testing"
	"time"
)

func TestReceivedAt(t *testing.T) {
	now := time.Now() // carries a monotonic reading
	wall := now.Round(0)
	for _, c := range []struct {
		name   string
		kernel time.Time
		want   time.Duration // before now
	}{
		{"no stamp", time.Time{}, 0},
		{"250 µs ago", wall.Add(-250 * time.Microsecond), 250 * time.Microsecond},
		{"same instant", wall, 0},
		{"oldest believed", wall.Add(-maxRxAge), maxRxAge},
		{"older than that: clock stepped", wall.Add(-maxRxAge - time.Nanosecond), 0},
		{"in the future: clock stepped", wall.Add(time.Nanosecond), 0},
	} {
		got := receivedAt(c.kernel, now)
		if d := now.Sub(got); d != c.want {
			t.Errorf("%s: %v before now, want %v", c.name, d, c.want)
		}
		// The result keeps the monotonic reading: a later wall clock step
		// cannot move the timers it starts.
		if got.Round(0) == got {
			t.Errorf("%s: result %v has no monotonic reading", c.name, got)
		}
	}
}
