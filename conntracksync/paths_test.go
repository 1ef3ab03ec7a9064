package conntracksync

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestPathSelect walks the path selector through its rules, on both
// sides of each PathSilence boundary.
func TestPathSelect(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		at     time.Duration
		down   []int // links that go down at this step
		upi    []int // links that come up
		heard  []int // paths a datagram from the peer arrives on
		active int   // want
		why    pathReason
	}
	cases := []struct {
		name  string
		paths int
		steps []step
	}{
		{"one path never switches", 1, []step{
			{at: 0, down: []int{0}, active: 0, why: pathKeep},
			{at: time.Hour, active: 0, why: pathKeep},
		}},
		{"link down moves to the next path up", 3, []step{
			{at: 0, heard: []int{0}, active: 0, why: pathKeep},
			{at: time.Second, down: []int{0, 1}, active: 2, why: pathLinkDown},
			{at: 2 * time.Second, active: 2, why: pathKeep},
		}},
		{"link down prefers a path that hears the peer", 3, []step{
			{at: 0, heard: []int{0, 2}, active: 0, why: pathKeep},
			{at: time.Second, down: []int{0}, active: 2, why: pathLinkDown},
		}},
		{"all links down: keep", 2, []step{
			{at: 0, down: []int{0, 1}, active: 0, why: pathKeep},
		}},
		{"silent active path while another hears: boundary", 2, []step{
			{at: 0, heard: []int{0, 1}, active: 0, why: pathKeep},
			{at: time.Second, heard: []int{1}, active: 0, why: pathKeep},
			{at: PathSilence - time.Nanosecond, active: 0, why: pathKeep},
			{at: PathSilence, active: 1, why: pathSilent},
			// Path 0 is silent: it is not preferred again until it hears.
			{at: PathSilence + time.Second, heard: []int{1}, active: 1, why: pathKeep},
			{at: PathSilence + 2*time.Second, heard: []int{0}, active: 0, why: pathPreferred},
		}},
		{"total silence probes the next path, then the next", 3, []step{
			{at: 0, heard: []int{0}, active: 0, why: pathKeep},
			{at: PathSilence - time.Nanosecond, active: 0, why: pathKeep},
			{at: PathSilence, active: 1, why: pathProbe},
			{at: 2*PathSilence - time.Nanosecond, active: 1, why: pathKeep},
			{at: 2 * PathSilence, active: 2, why: pathProbe},
			{at: 3 * PathSilence, active: 0, why: pathProbe},
		}},
		{"probe skips paths whose link is down", 3, []step{
			{at: 0, down: []int{1}, active: 0, why: pathKeep},
			{at: PathSilence, active: 2, why: pathProbe},
		}},
		{"a preferred path that comes back up waits until it hears", 2, []step{
			{at: 0, heard: []int{0, 1}, active: 0, why: pathKeep},
			{at: time.Second / 2, down: []int{0}, heard: []int{1}, active: 1, why: pathLinkDown},
			{at: time.Second, upi: []int{0}, heard: []int{1}, active: 1, why: pathKeep},
			{at: 2 * time.Second, heard: []int{0, 1}, active: 0, why: pathPreferred},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newPathSelect(c.paths, t0)
			for i, st := range c.steps {
				now := at(st.at)
				for _, p := range st.down {
					s.setUp(p, false)
				}
				for _, p := range st.upi {
					s.setUp(p, true)
				}
				for _, p := range st.heard {
					s.heardFrom(p, now)
				}
				a, why := s.choose(now)
				if a != st.active || why != st.why {
					t.Fatalf("step %d at +%v: active %d (%v), want %d (%v)", i, st.at, a, why, st.active, st.why)
				}
				if d := s.deadline(now); c.paths > 1 && !d.After(now) {
					t.Fatalf("step %d: deadline %v not after now", i, d.Sub(t0))
				}
			}
		})
	}
}

// TestSyncPaths: the legacy single-path fields make one path; names and
// ports default; Config checks each path.
func TestSyncPaths(t *testing.T) {
	c := Config{Interface: "sync0", LocalAddr: netip.MustParseAddr("192.0.2.1"), PeerAddr: netip.MustParseAddr("192.0.2.2")}
	ps := c.SyncPaths()
	if len(ps) != 1 || ps[0].Name != "sync0" || ps[0].Port != DefaultPort || ps[0].PeerAddr != c.PeerAddr {
		t.Fatalf("SyncPaths = %+v", ps)
	}
	bad := []struct {
		cfg  Config
		want string
	}{
		{Config{Paths: []Path{{Name: "a", LocalAddr: netip.MustParseAddr("192.0.2.1"), PeerAddr: netip.MustParseAddr("192.0.2.2")}, {Name: "a", LocalAddr: netip.MustParseAddr("198.51.100.1"), PeerAddr: netip.MustParseAddr("198.51.100.2")}}}, `path 1: name "a" empty or not unique`},
		{Config{Paths: []Path{{Name: "m", LocalAddr: netip.MustParseAddr("192.0.2.1"), Group: netip.MustParseAddr("192.0.2.9"), Interface: "x"}}}, "multicast needs a multicast group (not 192.0.2.9)"},
		{Config{Paths: []Path{{Name: "m", LocalAddr: netip.MustParseAddr("192.0.2.1"), Group: netip.MustParseAddr("225.0.0.50")}}}, "and an interface"},
		{Config{Paths: []Path{{Name: "m", LocalAddr: netip.MustParseAddr("2001:db8::1"), Group: netip.MustParseAddr("225.0.0.50"), Interface: "x"}}}, "different families"},
		{Config{AuthKeyFile: "/k", Paths: []Path{{Name: "m", LocalAddr: netip.MustParseAddr("192.0.2.1"), Group: netip.MustParseAddr("225.0.0.50"), Interface: "x"}}}, "auth_key_file needs the first path's local_address and peer_address"},
		{Config{Paths: []Path{{Name: "u", LocalAddr: netip.MustParseAddr("192.0.2.1")}}}, "path u: peer_address missing"},
	}
	for _, b := range bad {
		_, err := b.cfg.withDefaults()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("withDefaults(%+v) = %v, want %q", b.cfg.Paths, err, b.want)
		}
	}
	good := Config{Paths: []Path{{Name: "m", Interface: "x", LocalAddr: netip.MustParseAddr("192.0.2.1"), Group: netip.MustParseAddr("225.0.0.50")}}}
	if _, err := good.withDefaults(); err != nil {
		t.Fatalf("multicast without peer: %v", err)
	}
}
