package vip_test

import (
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

// TestIPv6Forwarding: the R flag of our NAs follows the interface's
// forwarding sysctl, read inside the namespace at every call through the
// Announcer's kept descriptor: when the value changes, when the
// interface is renamed away and back (the kernel registers its sysctl
// again), when it is deleted and created again, and for a name that is
// gone, and names that are paths to another sysctl. Prepare opens the
// descriptor, Close closes it.
func TestIPv6Forwarding(t *testing.T) {
	lab := testnet.New(t)
	a := lab.Host("a")
	a.Exec(t, "ip", "link", "add", "fw0", "type", "veth", "peer", "name", "fwp0")
	ann := vip.NewAnnouncer(slog.New(slog.DiscardHandler))
	defer ann.Close()
	check := func(step, ifname string, want bool) {
		t.Helper()
		var got bool
		if err := a.Do(func() error { got = ann.IPv6Forwarding(ifname); return nil }); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s: IPv6Forwarding(%s) = %v, want %v", step, ifname, got, want)
		}
	}
	set := func(ifname string, on bool) {
		t.Helper()
		v := "0"
		if on {
			v = "1"
		}
		a.Sysctl(t, "net.ipv6.conf."+ifname+".forwarding", v)
	}
	// Prepare opens it ahead of a takeover's first NA round.
	if err := a.Do(func() error { return ann.Prepare("fw0", []netip.Addr{netip.MustParseAddr("2001:db8::10")}) }); err != nil {
		t.Fatal(err)
	}
	if n := forwardingFDs(t); n != 1 {
		t.Errorf("%d forwarding sysctls open after Prepare, want 1", n)
	}
	for _, on := range []bool{false, true, false, true} {
		set("fw0", on)
		check("value changed", "fw0", on)
	}
	// Renamed away and back between two reads: same index, the sysctl
	// registered again, the kept descriptor dead.
	a.Exec(t, "ip", "link", "set", "fw0", "name", "fwx")
	a.Exec(t, "ip", "link", "set", "fwx", "name", "fw0")
	check("renamed away and back", "fw0", true)
	set("fw0", false)
	check("renamed away and back, value changed", "fw0", false)
	a.Exec(t, "ip", "link", "set", "fw0", "name", "fwx")
	check("renamed away", "fw0", false)
	check("renamed away, new name", "fwx", false)
	a.Exec(t, "ip", "link", "set", "fwx", "name", "fw0")
	// Deleted and created again: a new device, whose value is the
	// namespace's default until set.
	set("fw0", true)
	check("before deletion", "fw0", true)
	a.Exec(t, "ip", "link", "del", "fw0")
	check("deleted", "fw0", false)
	a.Exec(t, "ip", "link", "add", "fw0", "type", "veth", "peer", "name", "fwp0")
	check("created again", "fw0", false)
	set("fw0", true)
	check("created again, value changed", "fw0", true)
	check("never existed", "nosuch0", false)
	// A name that is a path opens nothing: only an interface the kernel
	// resolves has its sysctl opened ("all" is not an interface, and
	// forwards here).
	a.Sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	for _, name := range []string{"../all", "all", "fw0/../../all", ""} {
		check("a path, not an interface", name, false)
	}
	// One descriptor per interface read, none left once closed.
	if n := forwardingFDs(t); n != 2 {
		t.Errorf("%d forwarding sysctls open, want 2 (fw0, fwx)", n)
	}
	ann.Close()
	if n := forwardingFDs(t); n != 0 {
		t.Errorf("%d forwarding sysctls open after Close, want 0", n)
	}
}

// forwardingFDs counts this process's descriptors open on an IPv6
// forwarding sysctl.
func forwardingFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "/proc/sys/net/ipv6/conf/") {
			n++
		}
	}
	return n
}

// BenchmarkIPv6Forwarding measures the Router flag's read: through the
// Announcer's kept descriptor (one pread), against opening and reading
// the /proc file afresh as each NA round once did.
func BenchmarkIPv6Forwarding(b *testing.B) {
	lab := testnet.New(b)
	a := lab.Host("a")
	a.Exec(b, "ip", "link", "add", "fw0", "type", "veth", "peer", "name", "fwp0")
	a.Sysctl(b, "net.ipv6.conf.fw0.forwarding", "1")
	b.Run("kept", func(b *testing.B) {
		ann := vip.NewAnnouncer(slog.New(slog.DiscardHandler))
		defer ann.Close()
		err := a.Do(func() error {
			ann.IPv6Forwarding("fw0")
			for b.Loop() {
				if !ann.IPv6Forwarding("fw0") {
					b.Fatal("IPv6Forwarding = false")
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("afresh", func(b *testing.B) {
		err := a.Do(func() error {
			for b.Loop() {
				v, err := os.ReadFile("/proc/sys/net/ipv6/conf/fw0/forwarding")
				if err != nil || strings.TrimSpace(string(v)) != "1" {
					b.Fatalf("read: %q, %v", v, err)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}
