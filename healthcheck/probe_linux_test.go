package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// nsPair builds lb (192.0.2.1, 2001:db8::1 on eth0) wired to rs
// (192.0.2.2, 2001:db8::2), in namespaces of their own.
func nsPair(t *testing.T) (lb, rs *testnet.Host) {
	t.Helper()
	lab := testnet.New(t)
	lb, rs = lab.Host("lb"), lab.Host("rs")
	a, b := lab.Wire(lb, "eth0", rs, "eth0")
	a.AddAddr(t, "192.0.2.1/24")
	a.AddAddr(t, "2001:db8::1/64")
	b.AddAddr(t, "192.0.2.2/24")
	b.AddAddr(t, "2001:db8::2/64")
	return lb, rs
}

// probeIn runs p inside h's namespace (its sockets are made there).
func probeIn(t *testing.T, h *testnet.Host, p Prober) Result {
	t.Helper()
	var r Result
	if err := h.Do(func() error { r = p.Probe(context.Background()); return nil }); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestProbesInNamespace: PING_CHECK to a live and a silent address, and
// TCP_CHECK's fwmark (SO_MARK, proved by an nftables rule that drops
// marked packets) and bind_if (SO_BINDTODEVICE, proved by binding to lo,
// which has no route to the server).
func TestProbesInNamespace(t *testing.T) {
	testnet.NeedRoot(t, "ip", "nft")
	lb, rs := nsPair(t)
	var l net.Listener
	if err := rs.Do(func() (err error) { l, err = net.Listen("tcp", "192.0.2.2:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	serve(t, l, func(net.Conn) {})
	conn := func(addr string, timeout time.Duration) Conn {
		return Conn{Addr: netip.MustParseAddrPort(addr), Timeout: timeout}
	}
	// The namespace starts with ping sockets closed to every group (raw
	// sockets then), and opens them to all groups for the second round.
	for _, mode := range []string{"raw", "ping socket"} {
		if mode == "ping socket" {
			lb.Sysctl(t, "net.ipv4.ping_group_range", "0 2147483647")
		}
		want(t, mode+": ping rs", probeIn(t, lb, &PingProbe{Conn: conn("192.0.2.2:0", testTimeout)}), Success, "")
		want(t, mode+": ping6 rs", probeIn(t, lb, &PingProbe{Conn: conn("[2001:db8::2]:0", testTimeout)}), Success, "")
		want(t, mode+": ping nobody", probeIn(t, lb, &PingProbe{Conn: conn("192.0.2.3:0", 300*time.Millisecond)}), Failure, "timeout")
	}

	c := conn("192.0.2.2:8080", testTimeout)
	want(t, "tcp", probeIn(t, lb, &TCPProbe{Conn: c}), Success, "")
	lb.Exec(t, "nft", "add table inet hc; add chain inet hc out { type filter hook output priority 0; }; add rule inet hc out meta mark 7 drop")
	marked := conn("192.0.2.2:8080", 300*time.Millisecond)
	marked.FWMark = 7
	if r := probeIn(t, lb, &TCPProbe{Conn: marked}); r.Verdict == Success {
		t.Errorf("a connection marked 7 got through the drop rule: %+v", r)
	}
	marked.FWMark, marked.Timeout = 8, testTimeout
	want(t, "mark 8", probeIn(t, lb, &TCPProbe{Conn: marked}), Success, "")

	// UDP_CHECK: a router's ICMP error (here rs has no route: network
	// unreachable, which a UDP socket reports only with IP_RECVERR, as
	// keepalived sets it) fails the check; silence passes.
	rs.Sysctl(t, "net.ipv4.ip_forward", "1")
	lb.Exec(t, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.2")
	rs.Exec(t, "nft", "add table inet hc; add chain inet hc pre { type filter hook prerouting priority 0; }; add rule inet hc pre ip daddr 198.51.100.10 drop")
	want(t, "udp host unreachable", probeIn(t, lb, &UDPProbe{Conn: conn("198.51.100.9:9", testTimeout)}), Failure, "")
	want(t, "udp silence", probeIn(t, lb, &UDPProbe{Conn: conn("198.51.100.10:9", 300*time.Millisecond)}), Success, "")

	bound := c
	bound.BindIf = "eth0"
	want(t, "bind_if eth0", probeIn(t, lb, &TCPProbe{Conn: bound}), Success, "")
	bound.BindIf = "lo"
	bound.Timeout = 300 * time.Millisecond
	if r := probeIn(t, lb, &TCPProbe{Conn: bound}); r.Verdict == Success {
		t.Errorf("bound to lo, the connection still reached the server: %+v", r)
	}
}
