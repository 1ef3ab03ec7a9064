package ctl

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/healthcheck"
)

// TestLVSStatusRoundTrip: vigilctl reads back what vigild writes,
// checker kinds and verdicts included.
func TestLVSStatusRoundTrip(t *testing.T) {
	in := Status{LVS: &LVSStatus{Applies: 3, Foreign: []string{"[203.0.113.5]:udp:53"}, VirtualServers: []VirtualServer{{
		Name: "[192.0.2.10]:tcp:80", Services: []string{"[192.0.2.10]:tcp:80"}, Quorum: 1, QuorumUp: true,
		Real: []RealServer{{Address: "198.51.100.2:8080", Up: false, Weight: 1, Checkers: []healthcheck.CheckerStats{{
			ID: healthcheck.CheckerID{RSID: healthcheck.RSID{VS: 0, RS: 0}}, Kind: healthcheck.KindTCP, Failures: 2,
			LastVerdict: healthcheck.Failure, LastLatency: 430 * time.Millisecond, LastError: "connection refused",
		}}}},
	}}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kind":"TCP_CHECK"`) || !strings.Contains(string(b), `"last_verdict":"failure"`) {
		t.Fatalf("document %s", b)
	}
	var out Status
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.LVS, out.LVS) {
		t.Fatalf("read back %+v, want %+v", out.LVS, in.LVS)
	}
	var bad Status
	if err := json.Unmarshal([]byte(strings.Replace(string(b), "TCP_CHECK", "NO_CHECK", 1)), &bad); err == nil {
		t.Fatal("an unknown checker kind was accepted")
	}
}

// TestLVSMetrics: the virtual and real servers and their checkers are
// exported, labelled by keepalived's names.
func TestLVSMetrics(t *testing.T) {
	s := Status{LVS: &LVSStatus{VirtualServers: []VirtualServer{{Name: "[192.0.2.10]:tcp:80", QuorumUp: true,
		Real: []RealServer{{Address: "198.51.100.2:8080", Up: true, Weight: 5, Checkers: []healthcheck.CheckerStats{{
			Kind: healthcheck.KindTCP, Attempts: 7, Up: true}}}}}}}}
	var b strings.Builder
	if err := WriteMetrics(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`vigil_ipvs_quorum_up{virtual_server="[192.0.2.10]:tcp:80"} 1`,
		`vigil_ipvs_real_server_weight{virtual_server="[192.0.2.10]:tcp:80",real_server="198.51.100.2:8080"} 5`,
		`vigil_healthcheck_attempts_total{virtual_server="[192.0.2.10]:tcp:80",real_server="198.51.100.2:8080",checker="0",kind="TCP_CHECK"} 7`,
		`vigil_ipvs_programmed 1`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("missing %s in\n%s", want, b.String())
		}
	}
	var none strings.Builder
	if err := WriteMetrics(&none, Status{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(none.String(), "vigil_ipvs") || strings.Contains(none.String(), "vigil_healthcheck") {
		t.Errorf("IPVS metrics without IPVS:\n%s", none.String())
	}
}
