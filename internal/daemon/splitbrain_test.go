package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// TestSplitBrainHealed checks the rule on both sides of each of its
// boundaries, and the cases that motivate it.
func TestSplitBrainHealed(t *testing.T) {
	const down = 3*time.Second + 106*time.Second/256 // priority 150, advert_int 1 s
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var never time.Time
	for _, c := range []struct {
		name                   string
		masterSince, lastHeard time.Time
		now                    time.Time
		want                   bool
	}{
		// A normal preemption: we heard the old master as backup up to
		// our takeover at 10 s; its last advert crosses ours.
		{"crossing advert at once", at(10 * time.Second), at(9500 * time.Millisecond), at(10*time.Second + time.Millisecond), false},
		{"crossing advert late", at(10 * time.Second), at(9500 * time.Millisecond), at(10*time.Second + down - time.Nanosecond), false},
		// The address owner becomes master at start-up and has never
		// heard the old master: still a crossing advert.
		{"owner at start-up, never heard", at(10 * time.Second), never, at(10*time.Second + time.Millisecond), false},
		{"never heard, master just under down", at(0), never, at(down - time.Nanosecond), false},
		{"never heard, master for down", at(0), never, at(down), true},
		// Master for an hour; the backup was silent, then became master.
		{"healed after an hour", at(0), at(time.Second), at(time.Hour), true},
		// Master long enough, silence on both sides of the boundary.
		{"silence just under down", at(0), at(time.Hour - down + time.Nanosecond), at(time.Hour), false},
		{"silence exactly down", at(0), at(time.Hour - down), at(time.Hour), true},
		// The other master's second advert (a one-way split): not again.
		{"next advert of the same split", at(0), at(time.Hour - time.Second), at(time.Hour), false},
		// Master just under down after a long silence (we took over
		// because the old master's adverts stopped; it comes back).
		{"our takeover after silence", at(time.Hour), at(time.Hour - down), at(time.Hour + down - time.Nanosecond), false},
		{"not master", never, at(0), at(time.Hour), false},
	} {
		if got := splitBrainHealed(c.masterSince, c.lastHeard, c.now, down); got != c.want {
			t.Errorf("%s: splitBrainHealed = %v, want %v", c.name, got, c.want)
		}
	}
	// advert_int 0.01 s: Master_Down_Interval is under 40 ms, but the
	// floor of one second holds, so a crossing advert delayed by a 50 ms
	// stall is not a split brain.
	const fast = 30*time.Millisecond + 106*10*time.Millisecond/256
	for _, c := range []struct {
		name                   string
		masterSince, lastHeard time.Time
		now                    time.Time
		want                   bool
	}{
		{"crossing advert after a 50 ms stall", at(0), at(-10 * time.Millisecond), at(50 * time.Millisecond), false},
		{"silence just under the floor", at(0), at(0), at(splitBrainMinSilence - time.Nanosecond), false},
		{"master just under the floor", at(0), never, at(splitBrainMinSilence - time.Nanosecond), false},
		{"silence and mastership of the floor", at(0), at(0), at(splitBrainMinSilence), true},
	} {
		if got := splitBrainHealed(c.masterSince, c.lastHeard, c.now, fast); got != c.want {
			t.Errorf("advert_int 0.01 s, %s: splitBrainHealed = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestLowerThanUs: the adverts a master answers as lower, in RFC 5798
// §6.4.3's order (keepalived's too): a lower priority, or ours from a
// lower address.
func TestLowerThanUs(t *testing.T) {
	m := vrrp.NewMachine(vrrp.Config{VRID: 51, Priority: 100, AdvertInterval: time.Second, Version: 3,
		Preempt: true, LocalAddr: netip.MustParseAddr("192.0.2.5")})
	inst := &instance{m: m}
	for _, c := range []struct {
		prio uint8
		src  string
		want bool
	}{
		{99, "192.0.2.9", true},
		{101, "192.0.2.1", false},
		{100, "192.0.2.4", true},
		{100, "::ffff:192.0.2.4", true},
		{100, "192.0.2.6", false},
		{100, "192.0.2.5", false},
	} {
		if got := inst.lowerThanUs(vrrp.AdvertReceived{Priority: c.prio, Src: netip.MustParseAddr(c.src)}); got != c.want {
			t.Errorf("priority %d from %s: lowerThanUs = %v, want %v", c.prio, c.src, got, c.want)
		}
	}
}
