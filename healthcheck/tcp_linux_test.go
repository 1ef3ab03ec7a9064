package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTCPProbeLateLook: a connection the server established counts as a
// success even when the prober looks at it only after the connect
// timeout (a loaded machine runs the prober's goroutine late). The
// handshake on loopback completes inside connect, so a 1 ns timeout has
// always passed by the time the prober looks; a checker that let the
// expired timer win over the ready socket took such servers down.
func TestTCPProbeLateLook(t *testing.T) {
	c := loopConn(t, serveTCP(t, "127.0.0.1:0", func(net.Conn) {}))
	c.Timeout = time.Nanosecond
	want(t, "established, looked at late", (&TCPProbe{Conn: c}).Probe(context.Background()), Success, "")

	// The wait itself: its deadline passed before it looks.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(c.Addr.Port()), Addr: c.Addr.Addr().As4()}); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		t.Fatal(err)
	}
	want(t, "wait past its deadline", waitTCP(context.Background(), fd, time.Now().Add(-time.Second)), Success, "")

	// IPv6, and an IPv4-mapped address (an IPv4 socket, as net.Dialer).
	c6 := loopConn(t, serveTCP(t, "[::1]:0", func(net.Conn) {}))
	want(t, "ipv6", (&TCPProbe{Conn: c6}).Probe(context.Background()), Success, "")
	mapped := c
	mapped.Addr = netip.AddrPortFrom(netip.AddrFrom16(c.Addr.Addr().As16()), c.Addr.Port())
	mapped.Timeout = testTimeout
	want(t, "ipv4-mapped", (&TCPProbe{Conn: mapped}).Probe(context.Background()), Success, "")

	// A server that never completes the handshake still times out.
	silent := loopConn(t, blackhole(t))
	silent.Timeout = 200 * time.Millisecond
	want(t, "silent", (&TCPProbe{Conn: silent}).Probe(context.Background()), Failure, "timeout connecting")
}

// blackhole returns a loopback address whose listener never accepts and
// whose accept queue is full, so the kernel drops further SYNs: connects
// to it stay in progress.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port)).String()
	// Fill the accept queue (backlog 0 holds one connection).
	for range 2 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// TestCloseWithChecksInFlight: Close returns promptly with 2,000
// TCP_CHECKs waiting on connects that would take an hour to time out.
func TestCloseWithChecksInFlight(t *testing.T) {
	addr := netip.MustParseAddrPort(blackhole(t))
	const n = 2000
	tm := Timing{DelayLoop: time.Second, DelayBeforeRetry: time.Second, Retry: 1}
	var specs []Spec
	for i := range n {
		specs = append(specs, Spec{ID: CheckerID{RSID: RSID{VS: i}}, Core: CoreConfig{Kind: KindTCP, Timing: tm},
			Prober: &TCPProbe{Conn: Conn{Addr: addr, Timeout: time.Hour}}})
	}
	events := make(chan Event, n)
	s := New(Config{Events: events}, nil, specs)
	time.Sleep(firstCheckDelay + time.Second) // every first attempt has started
	finished := 0
	for _, st := range s.Snapshot() {
		finished += int(st.Attempts)
	}
	if finished > n/10 {
		t.Fatalf("%d of %d attempts finished against the blackhole: nothing to prove", finished, n)
	}
	done := make(chan struct{})
	start := time.Now()
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
		t.Logf("Close with %d checks in flight took %v", n-finished, time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return within 30 s with 2,000 checks in flight")
	}
}
