package config

import (
	"strings"
	"testing"
)

// TestUnicastTTL: unicast_ttl is applied (no "not implemented" notice);
// 0, which the kernel will not send, becomes 1 with a warning; without
// unicast peers it is ignored with keepalived's warning and 255 stays.
func TestUnicastTTL(t *testing.T) {
	peers := "    unicast_peer {\n        192.0.2.2\n    }\n"
	for _, tc := range []struct {
		body string
		want int
		warn string
	}{
		{peers + "    unicast_ttl 64\n", 64, ""},
		{peers, 255, ""},
		{peers + "    unicast_ttl 0\n", 1, "a TTL of 0 cannot be sent (using 1)"},
		{"    unicast_ttl 64\n", 255, "cannot use unicast_ttl without unicast peers"},
	} {
		cfg, complaints, _ := load(t, instConf(tc.body), testOpts())
		if got := cfg.Instances[0].UnicastTTL; got != tc.want {
			t.Errorf("%q: UnicastTTL %d, want %d", tc.body, got, tc.want)
		}
		joined := strings.Join(complaints, "\n")
		if tc.warn == "" && len(complaints) != 0 || tc.warn != "" && !strings.Contains(joined, tc.warn) {
			t.Errorf("%q: complaints %q, want %q", tc.body, complaints, tc.warn)
		}
	}
}

// TestUnicastFaultNoPeer: unicast_fault_no_peer without any unicast peer
// asks for keepalived's FAULT instead of the deprecated fall-back to
// multicast (whose warning it silences); with peers it changes nothing.
func TestUnicastFaultNoPeer(t *testing.T) {
	for _, tc := range []struct {
		body  string
		fault bool
		warn  string
	}{
		{"    unicast_fault_no_peer\n", true, ""},
		{"    unicast_src_ip 192.0.2.1\n    unicast_fault_no_peer\n", true, ""},
		{"    unicast_fault_no_peer\n    unicast_peer {\n        192.0.2.2\n    }\n", false, ""},
		{"    unicast_fault_no_peer\n    unicast_peer {\n        2001:db8::2\n    }\n", true, "does not match the instance family"},
		{"    unicast_src_ip 192.0.2.1\n", false, "without any unicast peers"},
	} {
		cfg, complaints, _ := load(t, instConf(tc.body), testOpts())
		if got := cfg.Instances[0].UnicastNoPeerFault; got != tc.fault {
			t.Errorf("%q: UnicastNoPeerFault %v, want %v", tc.body, got, tc.fault)
		}
		joined := strings.Join(complaints, "\n")
		if tc.warn == "" && len(complaints) != 0 || tc.warn != "" && !strings.Contains(joined, tc.warn) {
			t.Errorf("%q: complaints %q, want %q", tc.body, complaints, tc.warn)
		}
	}
}

// TestTrackSrcIP: track_src_ip applies to a configured source address
// only (the unicast one for a unicast instance, else mcast_src_ip);
// without one it is ignored with a warning, where keepalived drops it
// silently.
func TestTrackSrcIP(t *testing.T) {
	peers := "    unicast_peer {\n        192.0.2.2\n    }\n"
	for _, tc := range []struct {
		body  string
		track bool
		warn  string
	}{
		{"    track_src_ip\n    mcast_src_ip 192.0.2.1\n", true, ""},
		{"    track_src_ip\n    unicast_src_ip 192.0.2.1\n" + peers, true, ""},
		{"    track_src_ip\n    mcast_src_ip 192.0.2.1\n" + peers, false, "needs a configured source address"},
		{"    track_src_ip\n", false, "needs a configured source address"},
		{"    mcast_src_ip 192.0.2.1\n", false, ""},
	} {
		cfg, complaints, _ := load(t, instConf(tc.body), testOpts())
		if got := cfg.Instances[0].TrackSrcIP; got != tc.track {
			t.Errorf("%q: TrackSrcIP %v, want %v", tc.body, got, tc.track)
		}
		joined := strings.Join(complaints, "\n")
		if tc.warn == "" && len(complaints) != 0 || tc.warn != "" && !strings.Contains(joined, tc.warn) {
			t.Errorf("%q: complaints %q, want %q", tc.body, complaints, tc.warn)
		}
	}
}
