package daemon

import (
	"bytes"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/conntracksync"
)

// TestHeartbeatPaths: the heartbeat runs over every sync path of the
// block, unicast to each path's peer on heartbeat_port; a multicast path
// with a peer_address carries it, one without is skipped with a warning
// naming its file:line, as are a path on the heartbeat_port and a second
// path on an address already bound.
func TestHeartbeatPaths(t *testing.T) {
	a := netip.MustParseAddr
	pos := func(line int) config.Pos { return config.Pos{File: "k.conf", Line: line, Col: 5} }
	s := &config.ConntrackSync{
		Pos: pos(1), Interface: "sync0", LocalAddr: a("198.51.100.1"), PeerAddr: a("198.51.100.2"), Port: 3780, HeartbeatPort: 3781,
		Paths: []config.CTPath{
			{Pos: pos(10), Name: "lan", Interface: "eth1", LocalAddr: a("203.0.113.1"), PeerAddr: a("203.0.113.2")},
			{Pos: pos(20), Name: "mc", Interface: "eth2", LocalAddr: a("192.0.2.1"), PeerAddr: a("192.0.2.2"), Group: a("225.0.0.50"), Port: 3790},
			{Pos: pos(30), Name: "mcnopeer", Interface: "eth3", LocalAddr: a("192.0.2.129"), Group: a("225.0.0.51")},
			{Pos: pos(40), Name: "onhb", Interface: "eth4", LocalAddr: a("2001:db8::1"), PeerAddr: a("2001:db8::2"), Port: 3781},
			{Pos: pos(50), Name: "again", Interface: "eth5", LocalAddr: a("203.0.113.1"), PeerAddr: a("203.0.113.3")},
		},
	}
	var buf bytes.Buffer
	got := heartbeatPaths(slog.New(slog.NewTextHandler(&buf, nil)), s)
	want := []conntracksync.HeartbeatPath{
		{Interface: "sync0", LocalAddr: a("198.51.100.1"), PeerAddr: a("198.51.100.2"), Port: 3781},
		{Interface: "eth1", LocalAddr: a("203.0.113.1"), PeerAddr: a("203.0.113.2"), Port: 3781},
		{Interface: "eth2", LocalAddr: a("192.0.2.1"), PeerAddr: a("192.0.2.2"), Port: 3781},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths\n got %+v\nwant %+v", got, want)
	}
	log := buf.String()
	for _, w := range []string{
		"k.conf:30:5: arbiter: sync path mcnopeer (multicast group 225.0.0.51) has no peer_address",
		"k.conf:40:5: arbiter: sync path onhb uses port 3781, the heartbeat_port",
		"k.conf:50:5: arbiter: sync path again has the local_address of path lan",
	} {
		if !strings.Contains(log, w) {
			t.Errorf("no warning %q in\n%s", w, log)
		}
	}
	if n := strings.Count(log, "level=WARN"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, log)
	}

	// A multicast first path without a peer and nothing else: no path.
	s = &config.ConntrackSync{Pos: pos(1), Interface: "sync0", LocalAddr: a("198.51.100.1"), Group: a("225.0.0.50"), Port: 3780, HeartbeatPort: 3781}
	buf.Reset()
	if got := heartbeatPaths(slog.New(slog.NewTextHandler(&buf, nil)), s); len(got) != 0 {
		t.Errorf("multicast without a peer: %+v", got)
	}
	if !strings.Contains(buf.String(), "k.conf:1:5: arbiter: sync path sync0 (multicast group 225.0.0.50) has no peer_address") {
		t.Errorf("no warning for the first path:\n%s", buf.String())
	}
}
