package ctl_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// kaStatus is a master with one VIP in a /24, one /32 and an excluded
// address on another device, its received adverts by verdict, and a
// backup without addresses.
func kaStatus() ctl.Status {
	return ctl.Status{
		Instances: []ctl.InstanceStatus{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Family: "inet", State: "MASTER",
			VIPs:         []string{"192.0.2.254/24 dev eth0", "192.0.2.253/32 dev eth0", "198.51.100.7/32 dev eth1"},
			ExcludedVIPs: []string{"198.51.100.7/32 dev eth1"},
			AdvertsSent:  40, BecomeMaster: 3, ReleaseMaster: 2, PriorityZeroSent: 1, PriorityZeroReceived: 4,
			Received: map[string]uint64{
				"ok": 100, "addr_list_warning": 10, "addr_list": 20, // received, for keepalived
				"interval": 30,
				"length":   1, "ttl": 2, "type": 3, "dst_mismatch": 5, "auth_type": 6,
				"auth_mismatch": 7, "ah_icv": 8, "ah_spi": 9, "ah_replay": 11, "checksum": 1000,
			},
		}, {
			Name: "VI_6", Interface: "eth1", VRID: 6, Family: "inet6", State: "BACKUP",
		}},
		Tracking: ctl.TrackingStatus{Scripts: []ctl.ScriptStatus{
			{Name: "chk_ok", State: "OK", Running: true},
			{Name: "chk_bad", State: "FAILED"},
			{Name: "chk_new", State: "INIT"},
		}},
	}
}

// TestKeepalivedNames: with the option, the exporter's families come with
// its labels (iname, intf, vrid; ip_address for the state) and its
// encodings: the state once per address, numbered as keepalived numbers
// it, the address written as keepalived writes it (no /32), excluded
// addresses apart; each counter summing the verdicts keepalived counts
// under its name; scripts GOOD 1 / BAD 0, running 1 / idle 0.
func TestKeepalivedNames(t *testing.T) {
	fams, text := parseExposition(t, kaStatus(), true)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"keepalived_up", nil, 1},
		{"keepalived_vrrp_state", []string{"iname", "VI_1", "intf", "eth0", "vrid", "51", "ip_address", "192.0.2.254/24"}, 2},
		{"keepalived_vrrp_state", []string{"iname", "VI_1", "intf", "eth0", "vrid", "51", "ip_address", "192.0.2.253"}, 2},
		{"keepalived_vrrp_excluded_state", []string{"iname", "VI_1", "intf", "eth1", "vrid", "51", "ip_address", "198.51.100.7"}, 2},
		{"keepalived_vrrp_state", []string{"iname", "VI_6", "intf", "eth1", "vrid", "6", "ip_address", ""}, 1},
		{"keepalived_advertisements_received_total", []string{"iname", "VI_1", "intf", "eth0", "vrid", "51"}, 130},
		{"keepalived_advertisements_sent_total", []string{"iname", "VI_1"}, 40},
		{"keepalived_become_master_total", []string{"iname", "VI_1"}, 3},
		{"keepalived_release_master_total", []string{"iname", "VI_1"}, 2},
		{"keepalived_packet_length_errors_total", []string{"iname", "VI_1"}, 1},
		{"keepalived_advertisements_interval_errors_total", []string{"iname", "VI_1"}, 30},
		{"keepalived_ip_ttl_errors_total", []string{"iname", "VI_1"}, 2},
		{"keepalived_invalid_type_received_total", []string{"iname", "VI_1"}, 3},
		{"keepalived_address_list_errors_total", []string{"iname", "VI_1"}, 35},
		{"keepalived_authentication_mismatch_total", []string{"iname", "VI_1"}, 6},
		{"keepalived_authentication_failure_total", []string{"iname", "VI_1"}, 35},
		{"keepalived_priority_zero_received_total", []string{"iname", "VI_1"}, 4},
		{"keepalived_priority_zero_sent_total", []string{"iname", "VI_1"}, 1},
		{"keepalived_advertisements_received_total", []string{"iname", "VI_6", "intf", "eth1", "vrid", "6"}, 0},
		{"keepalived_script_status", []string{"name", "chk_ok"}, 1},
		{"keepalived_script_status", []string{"name", "chk_bad"}, 0},
		{"keepalived_script_status", []string{"name", "chk_new"}, 0},
		{"keepalived_script_state", []string{"name", "chk_ok"}, 1},
		{"keepalived_script_state", []string{"name", "chk_bad"}, 0},
	} {
		if v, ok := find(fams, tc.name, tc.labels...); !ok || v != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, v, ok, tc.want)
		}
	}
	// The exporter's label sets, exactly: a dashboard's "by (iname)" or
	// join on ip_address must find the same labels.
	for name, f := range fams {
		if !strings.HasPrefix(name, "keepalived_") {
			continue
		}
		want := []string{"intf", "iname", "vrid"}
		switch name {
		case "keepalived_up":
			want = nil
		case "keepalived_vrrp_state", "keepalived_vrrp_excluded_state":
			want = []string{"iname", "intf", "ip_address", "vrid"}
		case "keepalived_script_status", "keepalived_script_state":
			want = []string{"name"}
		}
		slices.Sort(want)
		for _, m := range f.GetMetric() {
			var have []string
			for _, l := range m.GetLabel() {
				have = append(have, l.GetName())
			}
			slices.Sort(have)
			if !slices.Equal(have, want) {
				t.Errorf("%s labels %v, want %v", name, have, want)
			}
		}
	}
	if n := len(fams["keepalived_vrrp_state"].GetMetric()); n != 3 {
		t.Errorf("keepalived_vrrp_state has %d samples, want 3 (two addresses of VI_1, VI_6 without)", n)
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}

	// Without the option: none of them, and vigil's own families unchanged.
	fams, _ = parseExposition(t, kaStatus(), false)
	for name := range fams {
		if strings.HasPrefix(name, "keepalived_") {
			t.Errorf("%s served without the option", name)
		}
	}
	if v, ok := find(fams, "vigil_vrrp_become_master_total", "instance", "VI_1"); !ok || v != 3 {
		t.Errorf("vigil_vrrp_become_master_total = %v, %v", v, ok)
	}
}

// TestMetricsInstanceHistory: the families added for an operator's wall:
// the time of the last transition, MASTER taken and released, priority-0
// adverts both ways, and each tracker's state and weight, labelled with
// its kind and name.
func TestMetricsInstanceHistory(t *testing.T) {
	since := time.Date(2026, 5, 4, 3, 2, 1, 500_000_000, time.UTC)
	s := ctl.Status{Instances: []ctl.InstanceStatus{
		{
			Name: "VI_1", Interface: "eth0", VRID: 51, Family: "inet", State: "BACKUP", Since: since,
			BecomeMaster: 2, ReleaseMaster: 1, PriorityZeroSent: 5, PriorityZeroReceived: 6,
			Trackers: []ctl.TrackerStatus{
				{Kind: "interface", Name: "eth0", State: "up"},
				{Kind: "script", Name: "chk", State: "down", Weight: -20},
				{Kind: "script", Name: "chk_new", State: "init", Weight: 10},
				{Kind: "file", Name: "tf", State: "up", Weight: 3, Value: 7},
				{Kind: "process", Name: "nginx", State: "down", Weight: 0, Group: true},
			},
		},
		{Name: "VI_2", Interface: "eth1", VRID: 2, Family: "inet", State: "INIT"},
	}}
	fams, text := parseMetrics(t, s)
	vi1 := func(extra ...string) []string {
		return append([]string{"family", "inet", "instance", "VI_1", "interface", "eth0", "vrid", "51"}, extra...)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vigil_vrrp_last_transition_timestamp_seconds", vi1(), 1777863721.5},
		{"vigil_vrrp_last_transition_timestamp_seconds", []string{"instance", "VI_2"}, 0},
		{"vigil_vrrp_become_master_total", vi1(), 2},
		{"vigil_vrrp_release_master_total", vi1(), 1},
		{"vigil_vrrp_priority_zero_adverts_sent_total", vi1(), 5},
		{"vigil_vrrp_priority_zero_adverts_received_total", vi1(), 6},
		{"vigil_vrrp_tracker_up", vi1("kind", "interface", "name", "eth0"), 1},
		{"vigil_vrrp_tracker_up", vi1("kind", "script", "name", "chk"), 0},
		{"vigil_vrrp_tracker_up", vi1("kind", "script", "name", "chk_new"), 0},
		{"vigil_vrrp_tracker_up", vi1("kind", "file", "name", "tf"), 1},
		{"vigil_vrrp_tracker_up", vi1("kind", "process", "name", "nginx"), 0},
		{"vigil_vrrp_tracker_weight", vi1("kind", "script", "name", "chk"), -20},
		{"vigil_vrrp_tracker_weight", vi1("kind", "file", "name", "tf"), 3},
		{"vigil_vrrp_tracker_weight", vi1("kind", "process", "name", "nginx"), 0},
	} {
		if v, ok := find(fams, tc.name, tc.labels...); !ok || v != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, v, ok, tc.want)
		}
	}
	if n := len(fams["vigil_vrrp_tracker_up"].GetMetric()); n != 5 {
		t.Errorf("vigil_vrrp_tracker_up has %d samples, want 5", n)
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}
}
