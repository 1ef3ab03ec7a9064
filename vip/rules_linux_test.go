package vip_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

// ipRule is one entry of `ip -j rule show`.
type ipRule struct {
	Priority int    `json:"priority"`
	Src      string `json:"src"`
	SrcLen   int    `json:"srclen"`
	Dst      string `json:"dst"`
	DstLen   int    `json:"dstlen"`
	IIF      string `json:"iif"`
	OIF      string `json:"oif"`
	FwMark   string `json:"fwmark"`
	FwMask   string `json:"fwmask"`
	Table    string `json:"table"`
}

func kernelRules(t *testing.T, h *testnet.Host, family string) []ipRule {
	t.Helper()
	out := h.Exec(t, "ip", "-j", family, "rule", "show")
	var rs []ipRule
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("ip -j rule: %v\n%s", err, out)
	}
	return rs
}

// TestRules adds virtual_rules (from, to+iif, fwmark/mask, oif, IPv6, with
// and without priority), checks them with iproute2, proves the second add is
// a no-op, and removes exactly them, twice.
func TestRules(t *testing.T) {
	_, h, _, m := oneHost(t)
	h.Exec(t, "ip", "rule", "add", "from", "192.0.2.10/32", "table", "999", "priority", "50") // the admin's
	rules := []vip.Rule{
		{From: pfx("192.0.2.10/32"), Table: 100, Priority: 100},
		{To: pfx("198.51.100.0/24"), IIF: "eth0", Table: 200, Priority: 200},
		{FwMark: 0x10, FwMask: 0xff, Table: 300, Priority: 300},
		{From: pfx("203.0.113.0/24"), OIF: "eth0", Table: 101}, // the kernel picks the priority
		{From: pfx("2001:db8::10/128"), Table: 100, Priority: 100},
		{IPv6: true, FwMark: 7, Table: 400, Priority: 400},
	}
	v4before, v6before := kernelRules(t, h, "-4"), kernelRules(t, h, "-6")
	if err := m.AddRules(ctx(t), rules); err != nil {
		t.Fatalf("AddRules: %v", err)
	}
	v4, v6 := kernelRules(t, h, "-4"), kernelRules(t, h, "-6")
	if len(v4) != len(v4before)+4 || len(v6) != len(v6before)+2 {
		t.Fatalf("rules: %d+%d, want %d+%d:\n%+v\n%+v", len(v4), len(v6), len(v4before)+4, len(v6before)+2, v4, v6)
	}
	want := []struct {
		rs   []ipRule
		want ipRule
	}{
		{v4, ipRule{Priority: 100, Src: "192.0.2.10", Table: "100"}},
		{v4, ipRule{Priority: 200, Src: "all", Dst: "198.51.100.0", DstLen: 24, IIF: "eth0", Table: "200"}},
		{v4, ipRule{Priority: 300, Src: "all", FwMark: "0x10", FwMask: "0xff", Table: "300"}},
		{v6, ipRule{Priority: 100, Src: "2001:db8::10", Table: "100"}},
		{v6, ipRule{Priority: 400, Src: "all", FwMark: "0x7", Table: "400"}}, // iproute2 omits a full mask,
	}
	for _, w := range want {
		found := false
		for _, r := range w.rs {
			found = found || reflect.DeepEqual(r, w.want)
		}
		if !found {
			t.Errorf("rule %+v not in kernel: %+v", w.want, w.rs)
		}
	}
	found := false
	for _, r := range v4 {
		found = found || (r.Src == "203.0.113.0" && r.SrcLen == 24 && r.OIF == "eth0" && r.Table == "101")
	}
	if !found {
		t.Errorf("rule from 203.0.113.0/24 oif eth0 table 101 missing: %+v", v4)
	}
	if present, err := m.PresentRules(ctx(t), rules); err != nil || !reflect.DeepEqual(present, rules) {
		t.Errorf("PresentRules = %v, %v", present, err)
	}

	if err := m.AddRules(ctx(t), rules); err != nil {
		t.Fatalf("second AddRules: %v", err)
	}
	if again := kernelRules(t, h, "-4"); !reflect.DeepEqual(again, v4) {
		t.Errorf("second AddRules changed rules:\n%+v\n%+v", v4, again)
	}
	if s := m.Stats(); s.RulesAdded != uint64(len(rules)) {
		t.Errorf("RulesAdded = %d, want %d", s.RulesAdded, len(rules))
	}

	for range 2 {
		if err := m.RemoveRules(ctx(t), rules); err != nil {
			t.Fatalf("RemoveRules: %v", err)
		}
		if got := kernelRules(t, h, "-4"); !reflect.DeepEqual(got, v4before) {
			t.Errorf("IPv4 rules after remove:\n%+v\nwant\n%+v", got, v4before)
		}
		if got := kernelRules(t, h, "-6"); !reflect.DeepEqual(got, v6before) {
			t.Errorf("IPv6 rules after remove:\n%+v\nwant\n%+v", got, v6before)
		}
	}
	if s := m.Stats(); s.RulesRemoved != uint64(len(rules)) {
		t.Errorf("RulesRemoved = %d, want %d", s.RulesRemoved, len(rules))
	}
}
