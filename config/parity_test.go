package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
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
		wantComplaint(t, fmt.Sprintf("%q", tc.body), complaints, tc.warn)
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
		wantComplaint(t, fmt.Sprintf("%q", tc.body), complaints, tc.warn)
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
		wantComplaint(t, fmt.Sprintf("%q", tc.body), complaints, tc.warn)
	}
}

// TestSyncGroupTrackingWeight: a sync group member's weighted trackers
// are made unweighted (interfaces, files) or dropped (scripts), with a
// warning, unless its group has sync_group_tracking_weight or the
// deprecated global_tracking, which keep their weights.
func TestSyncGroupTrackingWeight(t *testing.T) {
	const text = `vrrp_script chk {
    script "/bin/true"
}
vrrp_sync_group G {
    group {
        VI_1
    }
    %s
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_interface {
        eth1 weight -20
    }
    track_script {
        chk weight 10
    }
    virtual_ipaddress {
        192.0.2.10/24
    }
}
`
	for _, tc := range []struct {
		kw           string
		ifW, scripts int
		warn         string
	}{
		{"", 0, 0, "weights are ignored in a sync group"},
		{"sync_group_tracking_weight", -20, 1, ""},
		{"global_tracking", -20, 1, "deprecated"},
	} {
		cfg, complaints, _ := load(t, fmt.Sprintf(text, tc.kw), testOpts())
		x := cfg.Instances[0]
		if len(x.TrackInterfaces) != 1 || x.TrackInterfaces[0].Weight != tc.ifW || len(x.TrackScripts) != tc.scripts {
			t.Errorf("%q: interfaces %+v, scripts %+v", tc.kw, x.TrackInterfaces, x.TrackScripts)
		}
		if got := cfg.SyncGroups[0].TrackingWeight; got != (tc.kw != "") {
			t.Errorf("%q: TrackingWeight %v", tc.kw, got)
		}
		joined := strings.Join(complaints, "\n")
		if tc.warn == "" && strings.Contains(joined, "weight") || tc.warn != "" && !strings.Contains(joined, tc.warn) {
			t.Errorf("%q: complaints %q, want %q", tc.kw, complaints, tc.warn)
		}
	}
}

// TestGARPExtraIf: garp_extra_if all N (and its deprecated alias
// vmac_garp_intvl) applies; without all it applies only to an instance
// whose VMAC does not send the adverts (vmac_xmit_base); an instance inherits vrrp_garp_extra_if; a missing or
// bad delay ignores the line with a warning.
func TestGARPExtraIf(t *testing.T) {
	for _, tc := range []struct {
		global, body string
		want         time.Duration
		warn         string
	}{
		{"", "    garp_extra_if all 60\n", time.Minute, ""},
		{"", "    garp_extra_if 60\n", 0, ""},
		{"", "    use_vmac\n    vmac_xmit_base\n    garp_extra_if 60\n", time.Minute, ""},
		{"", "    use_vmac\n    garp_extra_if 60\n", 0, ""},
		{"", "    vmac_garp_intvl all 60\n", time.Minute, "deprecated"},
		{"    vrrp_garp_extra_if all 100\n", "", 100 * time.Second, ""},
		{"    vrrp_garp_extra_if all 100\n", "    garp_extra_if all 0\n", 0, ""},
		{"", "    garp_extra_if all\n", 0, "specified without time"},
		{"", "    garp_extra_if all 86401\n", 0, "invalid"},
	} {
		text := instConf(tc.body)
		if tc.global != "" {
			text = "global_defs {\n" + tc.global + "}\n" + text
		}
		cfg, complaints, _ := load(t, text, testOpts())
		if got := cfg.Instances[0].GARPExtraIf; got != tc.want {
			t.Errorf("%q %q: GARPExtraIf %v, want %v", tc.global, tc.body, got, tc.want)
		}
		wantComplaint(t, fmt.Sprintf("%q %q", tc.global, tc.body), complaints, tc.warn)
	}
}

// wantComplaint fails t unless complaints hold warn (empty: no complaint
// at all); what names the case.
func wantComplaint(t *testing.T, what string, complaints []string, warn string) {
	t.Helper()
	joined := strings.Join(complaints, "\n")
	if warn == "" && len(complaints) != 0 || warn != "" && !strings.Contains(joined, warn) {
		t.Errorf("%s: complaints %q, want %q", what, complaints, warn)
	}
}
