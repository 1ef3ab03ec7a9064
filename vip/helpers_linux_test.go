package vip_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vishvananda/netlink"
)

// testLog logs at debug level into the test's output.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// oneHost builds a lab with one host "r" whose eth0 sits on a switch and
// carries 192.0.2.1/24 and 2001:db8::1/64, and a Manager working in that
// namespace from the test's own namespace (NewManagerAt).
func oneHost(t *testing.T) (*testnet.Lab, *testnet.Host, *testnet.Iface, *vip.Manager) {
	t.Helper()
	l := testnet.New(t)
	sw := l.Switch("sw")
	h := l.Host("r")
	eth := sw.Attach(h, "eth0")
	eth.AddAddr(t, "192.0.2.1/24")
	eth.AddAddr(t, "2001:db8::1/64")
	m, err := vip.NewManagerAt(testLog(t), h.NsHandle())
	if err != nil {
		t.Fatalf("NewManagerAt: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return l, h, eth, m
}

// ipAddr is one entry of `ip -j addr show`'s addr_info.
type ipAddr struct {
	Family        string `json:"family"`
	Local         string `json:"local"`
	Address       string `json:"address"` // the peer, for point-to-point
	Prefixlen     int    `json:"prefixlen"`
	Broadcast     string `json:"broadcast"`
	Scope         string `json:"scope"`
	Label         string `json:"label"`
	NoDAD         bool   `json:"nodad"`
	NoPrefixRoute bool   `json:"noprefixroute"`
	Deprecated    bool   `json:"deprecated"`
	Tentative     bool   `json:"tentative"`
	ValidLft      uint64 `json:"valid_life_time"`
	PreferredLft  uint64 `json:"preferred_life_time"`
}

// kernelAddrs reads dev's addresses with iproute2, independently of the
// code under test.
func kernelAddrs(t *testing.T, h *testnet.Host, dev string) []ipAddr {
	t.Helper()
	out := h.Exec(t, "ip", "-j", "addr", "show", "dev", dev)
	var links []struct {
		AddrInfo []ipAddr `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j addr show dev %s: %v\n%s", dev, err, out)
	}
	return links[0].AddrInfo
}

func findAddr(as []ipAddr, local string, plen int) (ipAddr, bool) {
	for _, a := range as {
		if a.Local == local && a.Prefixlen == plen {
			return a, true
		}
	}
	return ipAddr{}, false
}

// ipRoute is one entry of `ip -j route show`.
type ipRoute struct {
	Type     string   `json:"type"`
	Dst      string   `json:"dst"`
	Gateway  string   `json:"gateway"`
	Dev      string   `json:"dev"`
	Protocol string   `json:"protocol"`
	Scope    string   `json:"scope"`
	Prefsrc  string   `json:"prefsrc"`
	Metric   int      `json:"metric"`
	Table    string   `json:"table"`
	Flags    []string `json:"flags"`
}

func kernelRoutes(t *testing.T, h *testnet.Host, family string) []ipRoute {
	t.Helper()
	out := h.Exec(t, "ip", "-j", family, "route", "show", "table", "all")
	var rs []ipRoute
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("ip -j route: %v\n%s", err, out)
	}
	return rs
}

// addrEvents records the namespace's RTM_NEWADDR/RTM_DELADDR messages.
type addrEvents struct {
	ch   chan netlink.AddrUpdate
	done chan struct{}
}

func watchAddrs(t *testing.T, h *testnet.Host) *addrEvents {
	t.Helper()
	ns := h.NsHandle()
	e := &addrEvents{ch: make(chan netlink.AddrUpdate, 1024), done: make(chan struct{})}
	if err := netlink.AddrSubscribeWithOptions(e.ch, e.done, netlink.AddrSubscribeOptions{Namespace: &ns}); err != nil {
		t.Fatalf("subscribe to address events: %v", err)
	}
	t.Cleanup(func() { close(e.done) })
	return e
}

// until returns the events received before the marker address appears; the
// marker is added by the caller after the operation under test, so netlink's
// in-order delivery makes "nothing before the marker" a proof that the
// operation sent no address change.
func (e *addrEvents) until(t *testing.T, marker netip.Addr) []netlink.AddrUpdate {
	t.Helper()
	var got []netlink.AddrUpdate
	timeout := time.After(20 * time.Second)
	for {
		select {
		case u, ok := <-e.ch:
			if !ok {
				t.Fatal("address event channel closed")
			}
			ip, _ := netip.AddrFromSlice(u.LinkAddress.IP)
			if ip.Unmap() == marker {
				return got
			}
			got = append(got, u)
		case <-timeout:
			t.Fatalf("marker %s never seen; events so far: %v", marker, got)
		}
	}
}

// markAddrs adds marker to lo: a known event to sync on.
func markAddr(t *testing.T, h *testnet.Host, marker string) netip.Addr {
	t.Helper()
	h.Exec(t, "ip", "addr", "add", marker+"/32", "dev", "lo")
	return netip.MustParseAddr(marker)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func macEqual(a, b net.HardwareAddr) bool { return slices.Equal(a, b) }
