package check

import (
	"net/netip"
	"slices"
	"testing"
)

func kinds(evs []IfaceEvent) []IfaceEventKind {
	var k []IfaceEventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

// TestIfaceTable is the pure bookkeeping behind Watcher: which netlink
// observations produce which events.
func TestIfaceTable(t *testing.T) {
	tb := newIfaceTable()
	a := netip.MustParsePrefix("192.0.2.1/24")
	b := netip.MustParsePrefix("2001:db8::1/64")
	step := func(name string, got []IfaceEvent, want ...IfaceEventKind) {
		t.Helper()
		if !slices.Equal(kinds(got), want) {
			t.Errorf("%s: events %v, want %v", name, got, want)
		}
	}
	step("address before its link is held back", tb.addr(3, a, true))
	step("new link, up, with the early address", tb.link(3, "eth0", true, true, false), IfaceAdded, IfaceUp, AddrAdded)
	step("same state again: nothing", tb.link(3, "eth0", true, true, false))
	step("carrier lost", tb.link(3, "eth0", true, false, false), IfaceDown)
	step("admin down while carrier lost: still down, nothing", tb.link(3, "eth0", false, false, false))
	step("admin up, carrier back", tb.link(3, "eth0", true, true, false), IfaceUp)
	step("address added", tb.addr(3, b, true), AddrAdded)
	step("duplicate address: nothing", tb.addr(3, b, true))
	step("address removed", tb.addr(3, a, false), AddrRemoved)
	step("unknown address removed: nothing", tb.addr(3, a, false))
	step("rename while up", tb.link(3, "wan0", true, true, false), IfaceRenamed)
	if _, ok := tb.byName("eth0"); ok {
		t.Error("old name still found")
	}
	if i, ok := tb.byName("wan0"); !ok || !i.Up() || !slices.Equal(i.Addrs, []netip.Prefix{b}) {
		t.Errorf("wan0 = %+v", i)
	}
	step("rename and down together", tb.link(3, "eth9", false, true, false), IfaceRenamed, IfaceDown)
	step("new link down", tb.link(4, "eth1", false, false, false), IfaceAdded)
	step("deleted with an address", tb.link(3, "eth9", false, false, true), AddrRemoved, IfaceRemoved)
	step("deleted while up", append(tb.link(4, "eth1", true, true, false), tb.link(4, "eth1", true, true, true)...), IfaceUp, IfaceDown, IfaceRemoved)
	step("unknown link deleted: nothing", tb.link(9, "x", false, false, true))
}
