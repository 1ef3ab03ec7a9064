package vip

import (
	"slices"
	"time"
)

// GARPConfig is the timing of the gratuitous ARP / unsolicited NA bursts a
// new master sends (keepalived's garp_master_delay, garp_master_repeat and
// garp_interval / gna_interval). Refresh while master
// (garp_master_refresh, garp_master_refresh_repeat) is the caller's job: it
// calls Schedule again with Delay 0 every refresh period.
type GARPConfig struct {
	// Repeat is the number of announcement rounds per burst
	// (garp_master_repeat; keepalived's default is 5). Repeat ≤ 0 means
	// no announcements at all.
	Repeat int
	// Interval separates consecutive rounds of one burst (garp_interval;
	// keepalived's default is 0: back to back). Negative counts as 0.
	Interval time.Duration
	// Delay is the time from the transition to the second burst
	// (garp_master_delay; keepalived's default is 5 s). Delay ≤ 0 means
	// no second burst.
	Delay time.Duration
}

// Schedule returns the send times of the announcement rounds after a
// transition to master at now, in ascending order: Repeat rounds at
// now, now+Interval, now+2·Interval, …, and, when Delay > 0, Repeat more at
// now+Delay, now+Delay+Interval, …. Each round is one [Announcer.Announce]
// call (one GARP per IPv4 and one NA per IPv6 address). When the bursts
// overlap (Delay < Repeat·Interval) the times interleave; equal times are
// kept, one round each. The result has 0, Repeat or 2·Repeat entries.
func Schedule(now time.Time, cfg GARPConfig) []time.Time {
	if cfg.Repeat <= 0 {
		return nil
	}
	interval := max(cfg.Interval, 0)
	n := cfg.Repeat
	if cfg.Delay > 0 {
		n *= 2
	}
	times := make([]time.Time, 0, n)
	for i := range cfg.Repeat {
		times = append(times, now.Add(time.Duration(i)*interval))
	}
	if cfg.Delay > 0 {
		for i := range cfg.Repeat {
			times = append(times, now.Add(cfg.Delay+time.Duration(i)*interval))
		}
		slices.SortStableFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	}
	return times
}
