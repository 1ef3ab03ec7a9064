package conntracksync

import (
	"net/netip"
	"time"
)

// Path is one sync path: a link to the peer, unicast UDP or multicast,
// conntrackd's UDP or Multicast channel. A Replicator with several paths
// runs one FTFW stream over them: it sends on the active path, receives
// on all of them, and moves the stream to another path when the active
// one's interface goes down or it stays silent while another path
// carries the peer's datagrams (PathSilence).
type Path struct {
	// Name labels the path in logs, the status and the metrics; unique
	// among the Replicator's paths.
	Name string
	// Interface is the path's link (SO_BINDTODEVICE, the link watched
	// for down); "" = any, and the path is never seen down.
	Interface string
	// LocalAddr is our address on the path: the bound address for
	// unicast; for multicast, the address the group is joined on and sent
	// from (conntrackd's IPv4_interface).
	LocalAddr netip.Addr
	// PeerAddr is the peer's address: for unicast, where we send and the
	// only source we accept. For multicast it is optional: when set, only
	// that source is accepted; when not, the first source heard on the
	// group that is not ours is pinned as the peer for the rest of the
	// run (conntrackd accepts any sender on the group).
	PeerAddr netip.Addr
	// Group, when valid, makes the path multicast: datagrams go to
	// Group:Port and the group is joined on Interface.
	Group netip.Addr
	Port  uint16 // 0 = Config.Port
}

// Multicast reports whether p is a multicast path.
func (p *Path) Multicast() bool { return p.Group.IsValid() }

// PathSilence is how long the active path may go without a datagram from
// the peer while another path carries some before the stream moves to
// that path; also how long total silence lasts before the next path is
// tried. The peer sends at least an ALIVE each second, so three are
// missed first.
const PathSilence = 3 * time.Second

// PathStats is one path in Stats.
type PathStats struct {
	Name      string    `json:"name"`
	Interface string    `json:"interface,omitempty"`
	Local     string    `json:"local,omitempty"`
	Peer      string    `json:"peer,omitempty"` // configured, or the pinned multicast peer
	Group     string    `json:"group,omitempty"`
	Up        bool      `json:"up"`     // the interface is up (always true without one)
	Active    bool      `json:"active"` // our datagrams go out on this path
	In        uint64    `json:"datagrams_in"`
	Out       uint64    `json:"datagrams_out"`
	LastHeard time.Time `json:"last_heard"` // last datagram from the peer; zero: never
}

// pathReason says why the active path changed.
type pathReason uint8

const (
	pathKeep       pathReason = iota
	pathLinkDown              // the active path's interface went down
	pathSilent                // silent while another path hears the peer
	pathProbe                 // no path hears the peer: try the next one
	pathPreferred             // a path listed earlier is up and hears the peer again
	pathLinkUpOnly            // every other path is down too: the first one up
)

func (r pathReason) String() string {
	switch r {
	case pathLinkDown:
		return "link down"
	case pathSilent:
		return "silent while another path hears the peer"
	case pathProbe:
		return "no path hears the peer: trying the next"
	case pathPreferred:
		return "a preferred path hears the peer again"
	case pathLinkUpOnly:
		return "the first path whose link is up"
	}
	return "unchanged"
}

// pathSelect is the pure core that chooses the active path. Paths are in
// order of preference (the first is the default). It takes the time
// passed in and keeps no clock.
type pathSelect struct {
	up     []bool
	heard  []time.Time // last datagram from the peer on each path
	active int
	// since is when the active path became active, or the last probe.
	since time.Time
}

func newPathSelect(n int, now time.Time) *pathSelect {
	s := &pathSelect{up: make([]bool, n), heard: make([]time.Time, n), since: now}
	for i := range s.up {
		s.up[i] = true
	}
	return s
}

// setUp records a path's link state. A link that goes down forgets that
// it heard the peer: coming back, it is preferred again only once it
// hears the peer anew.
func (s *pathSelect) setUp(i int, up bool) {
	s.up[i] = up
	if !up {
		s.heard[i] = time.Time{}
	}
}

// heardFrom records a datagram from the peer on path i.
func (s *pathSelect) heardFrom(i int, now time.Time) {
	if now.After(s.heard[i]) {
		s.heard[i] = now
	}
}

func (s *pathSelect) recent(i int, now time.Time) bool {
	return !s.heard[i].IsZero() && now.Sub(s.heard[i]) < PathSilence
}

// choose returns the active path at now and why it changed (pathKeep:
// it did not). The rules, in order:
//
//  1. the active path's link is down: the first other path whose link is
//     up, preferring one that hears the peer;
//  2. a path listed before the active one has its link up and hears the
//     peer: back to it;
//  3. the active path has not heard the peer for PathSilence (and has
//     been active that long) while another path has: that one;
//  4. no path has heard the peer for PathSilence and the active one has
//     been tried that long: the next path whose link is up, so that a
//     path cut silently (a firewall rule) is left even when the peer
//     sends on it too.
func (s *pathSelect) choose(now time.Time) (int, pathReason) {
	n := len(s.up)
	if n < 2 {
		return s.active, pathKeep
	}
	a := s.active
	hearing := -1 // first path, in order, with the link up that hears the peer
	for i := range n {
		if s.up[i] && s.recent(i, now) {
			hearing = i
			break
		}
	}
	switch {
	case !s.up[a]:
		if hearing >= 0 {
			return s.set(hearing, now), pathLinkDown
		}
		for k := 1; k < n; k++ {
			if i := (a + k) % n; s.up[i] {
				return s.set(i, now), pathLinkDown
			}
		}
		return a, pathKeep
	case hearing >= 0 && hearing < a:
		return s.set(hearing, now), pathPreferred
	case s.recent(a, now) || now.Sub(s.since) < PathSilence:
		return a, pathKeep
	case hearing >= 0:
		return s.set(hearing, now), pathSilent
	}
	for k := 1; k < n; k++ {
		if i := (a + k) % n; s.up[i] {
			return s.set(i, now), pathProbe
		}
	}
	s.since = now
	return a, pathKeep
}

func (s *pathSelect) set(i int, now time.Time) int {
	s.active, s.since = i, now
	return i
}

// deadline is when choose may next change its answer without a new
// event (link or datagram): the next silence or probe boundary.
func (s *pathSelect) deadline(now time.Time) time.Time {
	if len(s.up) < 2 {
		return time.Time{}
	}
	d := s.since.Add(PathSilence)
	if h := s.heard[s.active]; !h.IsZero() {
		d = later(d, h.Add(PathSilence))
	}
	if !d.After(now) {
		d = now.Add(PathSilence / 4)
	}
	return d
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// anyIPv6 reports whether a sync path is IPv6: datagrams are sized for the
// larger header.
func (c *Config) anyIPv6() bool {
	for i := range c.Paths {
		if c.Paths[i].is6() {
			return true
		}
	}
	return false
}
