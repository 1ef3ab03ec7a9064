package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const ctKeyed = ctComplete + " auth_key_file /etc/vigil/sync.key\n"

// TestConntrackArbiterKeywords: the heartbeat's defaults, the keywords'
// values, the dump and its round trip.
func TestConntrackArbiterKeywords(t *testing.T) {
	cfg, got, _ := load(t, ctBlock(ctKeyed), testOpts())
	if len(got) != 0 {
		t.Fatalf("complaints: %q", got)
	}
	s := cfg.ConntrackSync
	if !s.Arbitration() || s.HeartbeatInterval != DefaultHeartbeatInterval || s.HeartbeatPort != DefaultSyncPort+1 {
		t.Fatalf("defaults: arbitration %v interval %v port %d", s.Arbitration(), s.HeartbeatInterval, s.HeartbeatPort)
	}
	cfg, got, _ = load(t, ctBlock(ctKeyed+" heartbeat_interval 0.1\n heartbeat_port 4000\n witness VI_1 192.0.2.200 2001:db8::7\n"), testOpts())
	if len(got) != 0 {
		t.Fatalf("complaints: %q", got)
	}
	s = cfg.ConntrackSync
	want := []Witness{{Pos: Pos{"t.conf", 16, 2}, Instance: "VI_1", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("2001:db8::7")}}}
	if s.HeartbeatInterval != 100*time.Millisecond || s.HeartbeatPort != 4000 || !slices.EqualFunc(s.Witnesses, want, func(a, b Witness) bool {
		return a.Pos == b.Pos && a.Instance == b.Instance && slices.Equal(a.Addrs, b.Addrs)
	}) {
		t.Fatalf("interval %v port %d witnesses %+v", s.HeartbeatInterval, s.HeartbeatPort, s.Witnesses)
	}
	d := string(Dump(cfg))
	for _, l := range []string{"    heartbeat_interval 0.1\n", "    heartbeat_port 4000\n", "    witness VI_1 192.0.2.200 2001:db8::7\n"} {
		if !strings.Contains(d, l) {
			t.Errorf("dump lacks %q:\n%s", l, d)
		}
	}
	roundTrip(t, cfg, testOpts())
}

// TestConntrackArbiterErrors: every bad value has its file:line:col, and
// heartbeat keywords without a key draw a warning (no arbitration).
func TestConntrackArbiterErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"interval too short", ctKeyed + " heartbeat_interval 0.01\n", []string{`warning t.conf:14:21: heartbeat_interval: "0.01" is not a time in [0.05, 10] seconds (using 0.25)`}},
		{"port is FTFW's", ctKeyed + " heartbeat_port 3780\n", []string{"fatal t.conf:14:2: heartbeat_port: heartbeat_port 3780 is the FTFW port"}},
		{"witness of another instance", ctKeyed + " witness VI_9 192.0.2.200\n", []string{"fatal t.conf:14:2: witness: witness: VI_9 is not an instance of track_group VI_1"}},
		{"witness not an address", ctKeyed + " witness VI_1 192.0.2.300\n", []string{`fatal t.conf:14:15: witness: "192.0.2.300" is not a unicast IP address`}},
		{"witness multicast", ctKeyed + " witness VI_1 224.0.0.18\n", []string{`fatal t.conf:14:15: witness: "224.0.0.18" is not a unicast IP address`}},
		{"witness without address", ctKeyed + " witness VI_1\n", []string{"fatal t.conf:14:2: witness: want witness INSTANCE ADDRESS..."}},
		{"no key", ctComplete + " witness VI_1 192.0.2.200\n", []string{"warning t.conf:13:2: witness: the arbiter's heartbeat runs only with auth_key_file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, _ := load(t, ctBlock(tc.body), testOpts())
			if len(got) != len(tc.want) {
				t.Fatalf("complaints %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("complaint %q, want it to contain %q", got[i], tc.want[i])
				}
			}
		})
	}
}
