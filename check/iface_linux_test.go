package check

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// nextEvent reads events until one satisfies match, failing after a
// generous timeout with everything seen on the way.
func nextEvent(t *testing.T, w *Watcher, what string, match func(IfaceEvent) bool) IfaceEvent {
	t.Helper()
	var seen []string
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-w.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s; seen %q", what, seen)
			}
			if match(e) {
				return e
			}
			seen = append(seen, e.String())
		case <-timeout:
			t.Fatalf("no %s within 20 s; seen %q", what, seen)
		}
	}
}

func is(kind IfaceEventKind, name string) func(IfaceEvent) bool {
	return func(e IfaceEvent) bool { return e.Kind == kind && e.Name == name }
}

func isAddr(kind IfaceEventKind, name, prefix string) func(IfaceEvent) bool {
	p := netip.MustParsePrefix(prefix)
	return func(e IfaceEvent) bool { return e.Kind == kind && e.Name == name && e.Addr == p }
}

// TestWatcherInNamespace: one netlink subscription in a test namespace
// reports the links present at start, carrier loss and return (the far
// end cut), admin down/up, IPv4 and IPv6 addresses added and removed, a
// rename, and a deletion.
func TestWatcherInNamespace(t *testing.T) {
	lab := testnet.New(t)
	h := lab.Host("h")
	p := lab.Host("p")
	eth, _ := lab.Wire(h, "eth0", p, "eth0")
	ns := h.NsHandle()
	w, err := NewWatcher(WatcherConfig{Namespace: &ns})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	nextEvent(t, w, "eth0 present at start", is(IfaceAdded, "eth0"))
	nextEvent(t, w, "eth0 up at start", is(IfaceUp, "eth0"))
	if i, ok := w.Iface("eth0"); !ok || !i.Up() || i.Index != eth.Index() {
		t.Fatalf("Iface(eth0) = %+v, %v; want up, index %d", i, ok, eth.Index())
	}

	eth.Cut(t)
	e := nextEvent(t, w, "eth0 down after the far end was cut", is(IfaceDown, "eth0"))
	if e.Up || e.Index != eth.Index() {
		t.Errorf("down event %+v", e)
	}
	if i, _ := w.Iface("eth0"); i.Up() || !i.AdminUp || i.Running {
		t.Errorf("after cut: %+v, want admin up, not running", i)
	}
	eth.Restore(t)
	nextEvent(t, w, "eth0 up after restore", is(IfaceUp, "eth0"))

	eth.Down(t)
	nextEvent(t, w, "eth0 down (admin)", is(IfaceDown, "eth0"))
	eth.Up(t)
	nextEvent(t, w, "eth0 up (admin)", is(IfaceUp, "eth0"))

	eth.AddAddr(t, "192.0.2.1/24")
	nextEvent(t, w, "IPv4 address added", isAddr(AddrAdded, "eth0", "192.0.2.1/24"))
	eth.AddAddr(t, "2001:db8::1/64")
	nextEvent(t, w, "IPv6 address added", isAddr(AddrAdded, "eth0", "2001:db8::1/64"))
	h.Exec(t, "ip", "addr", "del", "192.0.2.1/24", "dev", "eth0")
	nextEvent(t, w, "IPv4 address removed", isAddr(AddrRemoved, "eth0", "192.0.2.1/24"))
	if i, _ := w.Iface("eth0"); len(i.Addrs) == 0 {
		t.Errorf("eth0 lost every address in the view: %+v", i)
	} else {
		for _, a := range i.Addrs {
			if a == netip.MustParsePrefix("192.0.2.1/24") {
				t.Errorf("removed address still in the view: %+v", i)
			}
		}
	}

	h.Exec(t, "ip", "link", "set", "eth0", "down")
	h.Exec(t, "ip", "link", "set", "eth0", "name", "wan0")
	e = nextEvent(t, w, "rename", is(IfaceRenamed, "wan0"))
	if e.OldName != "eth0" || e.Index != eth.Index() {
		t.Errorf("rename event %+v", e)
	}
	if _, ok := w.Iface("eth0"); ok {
		t.Errorf("old name still known")
	}
	h.Exec(t, "ip", "link", "set", "wan0", "up")
	nextEvent(t, w, "wan0 up", is(IfaceUp, "wan0"))

	h.Exec(t, "ip", "link", "del", "wan0")
	nextEvent(t, w, "wan0 removed", is(IfaceRemoved, "wan0"))
	if _, ok := w.Iface("wan0"); ok {
		t.Errorf("deleted link still known")
	}
	w.Close()
	if _, ok := <-w.Events(); ok {
		// drain whatever was buffered
		for range w.Events() {
		}
	}
}
