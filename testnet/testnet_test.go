package testnet_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// twoHosts builds hosts a and b on one switch with 192.0.2.1-2/24 and
// 2001:db8::1-2/64 on their eth0.
func twoHosts(t *testing.T) (*testnet.Lab, *testnet.Switch, *testnet.Iface, *testnet.Iface) {
	t.Helper()
	lab := testnet.New(t)
	sw := lab.Switch("sw")
	a, b := lab.Host("a"), lab.Host("b")
	ea, eb := sw.Attach(a, "eth0"), sw.Attach(b, "eth0")
	ea.AddAddr(t, "192.0.2.1/24")
	eb.AddAddr(t, "192.0.2.2/24")
	ea.AddAddr(t, "2001:db8::1/64")
	eb.AddAddr(t, "2001:db8::2/64")
	return lab, sw, ea, eb
}

// ping sends count echo requests from h to dst, 10 ms apart, and returns
// how many replies came back. It waits up to 5 s for missing replies (it
// returns as soon as all are in).
func ping(t *testing.T, h *testnet.Host, dst string, count int) int {
	t.Helper()
	return pingWait(t, h, dst, count, "5")
}

// noPing is ping for a check that expects losses: it waits only 0.3 s for
// missing replies (a reply inside a namespace takes microseconds).
func noPing(t *testing.T, h *testnet.Host, dst string, count int) int {
	t.Helper()
	return pingWait(t, h, dst, count, "0.3")
}

func pingWait(t *testing.T, h *testnet.Host, dst string, count int, wait string, extra ...string) int {
	t.Helper()
	args := append([]string{"-n", "-q", "-c", strconv.Itoa(count), "-i", "0.01", "-W", wait}, extra...)
	out, err := h.Command(context.Background(), "ping", append(args, dst)...).CombinedOutput()
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("ping %s from %s: %v\n%s", dst, h.Name(), err, out)
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

func carrier(t *testing.T, i *testnet.Iface) bool {
	t.Helper()
	up, err := i.Host().Carrier(i.Name())
	if err != nil {
		t.Fatal(err)
	}
	return up
}

func TestPingOverSwitch(t *testing.T) {
	lab, sw, ea, eb := twoHosts(t)
	if ea.Switch() != sw || ea.Peer().Switch() != sw || ea.Peer().Host() != sw.Host() || ea.Peer().Peer() != ea {
		t.Error("switch port bookkeeping wrong")
	}
	if port := sw.Host().Iface(ea.Peer().Name()); port != ea.Peer() {
		t.Errorf("switch host does not know port %s", ea.Peer().Name())
	}
	if !strings.HasPrefix(ea.Host().Name(), lab.Prefix()+"-") {
		t.Errorf("host namespace %q lacks the lab prefix %q", ea.Host().Name(), lab.Prefix())
	}
	a, b := ea.Host(), eb.Host()
	for _, c := range []struct {
		h  *testnet.Host
		to string
	}{{a, "192.0.2.2"}, {b, "192.0.2.1"}, {a, "2001:db8::2"}, {b, "2001:db8::1"}} {
		if got := ping(t, c.h, c.to, 3); got != 3 {
			t.Errorf("%s -> %s: %d of 3 replies", c.h.Name(), c.to, got)
		}
	}
	// The addresses are usable at once: DAD is off.
	if out := a.Exec(t, "ip", "-6", "addr", "show", "dev", "eth0"); strings.Contains(out, "tentative") {
		t.Errorf("tentative IPv6 address despite nodad/accept_dad=0:\n%s", out)
	}
	if got := strings.TrimSpace(a.Exec(t, "sysctl", "-n", "net.ipv6.conf.eth0.accept_dad")); got != "0" {
		t.Errorf("eth0 accept_dad = %s, want 0", got)
	}
}

func TestPingOverWire(t *testing.T) {
	lab := testnet.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	x, y := lab.Wire(a, "wa", b, "wb")
	if x.Peer() != y || y.Peer() != x {
		t.Fatal("wire ends are not each other's peers")
	}
	if x.Switch() != nil {
		t.Error("a wire end claims a switch")
	}
	x.AddAddr(t, "198.51.100.1/24")
	y.AddAddr(t, "198.51.100.2/24")
	x.AddAddr(t, "2001:db8:1::1/64")
	y.AddAddr(t, "2001:db8:1::2/64")
	if got := ping(t, a, "198.51.100.2", 2); got != 2 {
		t.Errorf("IPv4 over wire: %d of 2", got)
	}
	if got := ping(t, b, "2001:db8:1::1", 2); got != 2 {
		t.Errorf("IPv6 over wire: %d of 2", got)
	}
}

func TestIfaceIdentity(t *testing.T) {
	_, _, ea, _ := twoHosts(t)
	var gotIdx int
	var gotMAC net.HardwareAddr
	err := ea.Host().Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		gotIdx, gotMAC = ifi.Index, ifi.HardwareAddr
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if gotIdx != ea.Index() || gotMAC.String() != ea.MAC().String() {
		t.Errorf("inside the namespace eth0 is index %d MAC %v; Iface says %d %v", gotIdx, gotMAC, ea.Index(), ea.MAC())
	}
	if len(ea.MAC()) != 6 || ea.Index() <= 1 {
		t.Errorf("implausible MAC %v / index %d", ea.MAC(), ea.Index())
	}
}

// TestDoSocketStaysInNamespace proves sockets made inside Do live in the
// host's namespace: a UDP socket bound to a's address receives a datagram
// that b sends over the switch.
func TestDoSocketStaysInNamespace(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	var pc net.PacketConn
	if err := ea.Host().Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", "192.0.2.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// Not bindable in the test's own namespace.
	if c, err := net.ListenPacket("udp4", "192.0.2.1:0"); err == nil {
		c.Close()
		t.Fatal("192.0.2.1 is bindable outside the lab; Do did not switch namespaces")
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	if err := eb.Host().Do(func() error {
		c, err := net.Dial("udp4", fmt.Sprintf("192.0.2.1:%d", port))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "hello" || from.(*net.UDPAddr).IP.String() != "192.0.2.2" {
		t.Errorf("got %q from %v", buf[:n], from)
	}
	if err := ea.Host().Do(func() error { return errors.New("boom") }); err == nil || err.Error() != "boom" {
		t.Errorf("Do did not return fn's error: %v", err)
	}
}

func TestCutRestore(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	a := ea.Host()
	if !carrier(t, ea) {
		t.Fatal("no carrier before Cut")
	}
	ea.Cut(t)
	testnet.Eventually(t, 10*time.Second, func() bool { return !carrier(t, ea) }, "carrier still up on %s after Cut", ea.Name())
	if !carrier(t, eb) {
		t.Error("Cut of a's link took b's carrier too")
	}
	if got := noPing(t, a, "192.0.2.2", 1); got != 0 {
		t.Errorf("ping over a cut link got %d replies", got)
	}
	ea.Restore(t)
	testnet.Eventually(t, 10*time.Second, func() bool { return carrier(t, ea) }, "no carrier on %s after Restore", ea.Name())
	testnet.Eventually(t, 10*time.Second, func() bool { return ping(t, a, "192.0.2.2", 1) == 1 }, "no ping after Restore")
}

func TestDownUpWire(t *testing.T) {
	lab := testnet.New(t)
	x, y := lab.Wire(lab.Host("a"), "wa", lab.Host("b"), "wb")
	x.Down(t)
	testnet.Eventually(t, 10*time.Second, func() bool { return !carrier(t, y) }, "peer keeps carrier after Down")
	x.Up(t)
	testnet.Eventually(t, 10*time.Second, func() bool { return carrier(t, y) && carrier(t, x) }, "no carrier after Up")
	x.Cut(t) // on a wire the far end is y
	testnet.Eventually(t, 10*time.Second, func() bool { return !carrier(t, x) }, "carrier kept after Cut on a wire")
	x.Restore(t)
	testnet.Eventually(t, 10*time.Second, func() bool { return carrier(t, x) }, "no carrier after Restore on a wire")
}

func TestIsolateIsSilent(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	a, b := ea.Host(), eb.Host()
	if got := ping(t, a, "192.0.2.2", 1); got != 1 {
		t.Fatalf("no ping before Isolate")
	}
	ea.Isolate(t)
	ea.Isolate(t) // idempotent
	for _, c := range []struct {
		h  *testnet.Host
		to string
	}{{a, "192.0.2.2"}, {b, "192.0.2.1"}, {a, "2001:db8::2"}} {
		if got := noPing(t, c.h, c.to, 3); got != 0 {
			t.Errorf("%s -> %s while isolated: %d replies", c.h.Name(), c.to, got)
		}
	}
	if !carrier(t, ea) || !carrier(t, eb) {
		t.Error("Isolate changed carrier")
	}
	ea.Rejoin(t)
	ea.Rejoin(t) // idempotent
	testnet.Eventually(t, 10*time.Second, func() bool { return ping(t, b, "192.0.2.1", 1) == 1 }, "no ping after Rejoin")
}

func TestIsolateWire(t *testing.T) {
	lab := testnet.New(t)
	a := lab.Host("a")
	x, y := lab.Wire(a, "wa", lab.Host("b"), "wb")
	x.AddAddr(t, "203.0.113.1/24")
	y.AddAddr(t, "203.0.113.2/24")
	x.Isolate(t)
	if got := noPing(t, a, "203.0.113.2", 2); got != 0 {
		t.Errorf("isolated wire: %d replies", got)
	}
	x.Rejoin(t)
	testnet.Eventually(t, 10*time.Second, func() bool { return ping(t, a, "203.0.113.2", 1) == 1 }, "no ping after Rejoin")
}

func TestDropRandom(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	a, b := ea.Host(), eb.Host()
	for _, dir := range []testnet.Direction{testnet.Out, testnet.In, testnet.Both} {
		r := a.DropRandom(t, "eth0", 100, dir)
		if got := noPing(t, a, "192.0.2.2", 3); got != 0 {
			t.Errorf("100%% %v: %d of 3 replies", dir, got)
		}
		if got := noPing(t, b, "2001:db8::1", 3); got != 0 {
			t.Errorf("100%% %v, IPv6 from b: %d of 3 replies", dir, got)
		}
		r.Remove(t)
		r.Remove(t) // idempotent
		testnet.Eventually(t, 10*time.Second, func() bool { return ping(t, a, "192.0.2.2", 1) == 1 }, "no ping after removing the %v rule", dir)
	}
	r := a.DropRandom(t, "eth0", 0, testnet.Both)
	if got := ping(t, a, "192.0.2.2", 50); got != 50 {
		t.Errorf("0%%: %d of 50 replies", got)
	}
	r.Remove(t)
	// 50 % of the requests: the loss must be clearly partial. With 200
	// probes, outside 25..75 % has a probability below 1e-12.
	r = b.DropRandom(t, "eth0", 50, testnet.In)
	if got := pingWait(t, a, "192.0.2.2", 200, "1"); got < 50 || got > 150 {
		t.Errorf("50%%: %d of 200 replies", got)
	}
	r.Remove(t)
	// A match restricts the drop: UDP only, ping still passes.
	r = a.DropRandomMatch(t, "eth0", 100, testnet.Both, "meta l4proto udp")
	if got := ping(t, a, "192.0.2.2", 2); got != 2 {
		t.Errorf("UDP-only drop dropped ICMP: %d of 2", got)
	}
	r.Remove(t)
}

// icmpEcho reports whether frame is an Ethernet/IPv4 ICMP echo request from
// src to dst.
func icmpEcho(frame []byte, src, dst netip.Addr) bool {
	if len(frame) < 14+20+8 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ip[9] != 1 || len(ip) < ihl+8 {
		return false
	}
	s, _ := netip.AddrFromSlice(ip[12:16])
	d, _ := netip.AddrFromSlice(ip[16:20])
	return s == src && d == dst && ip[ihl] == 8
}

func TestCapture(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	c := eb.Host().Capture(t, "eth0", "icmp")
	before := time.Now()
	if got := ping(t, ea.Host(), "192.0.2.2", 1); got != 1 {
		t.Fatal("no ping reply")
	}
	after := time.Now()
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	// Visible while the capture runs.
	c.WaitPacket(t, 10*time.Second, func(p testnet.Packet) bool { return icmpEcho(p.Data, src, dst) })
	pkts := c.Stop(t)
	if got, err := c.Packets(); err != nil || len(got) != len(pkts) {
		t.Errorf("Packets after Stop: %d frames (%v), Stop returned %d", len(got), err, len(pkts))
	}
	var found bool
	for _, p := range pkts {
		if !icmpEcho(p.Data, src, dst) {
			continue
		}
		found = true
		// Kernel timestamp: on this machine's clock, between the moments
		// around the ping (1 s slack for clock granularity).
		if p.Time.Before(before.Add(-time.Second)) || p.Time.After(after.Add(time.Second)) {
			t.Errorf("echo timestamp %v not within [%v, %v]", p.Time, before, after)
		}
		if p.Time.Nanosecond()%1000 == 0 && p.Time.Nanosecond() != 0 {
			t.Logf("timestamp %v has only microsecond precision", p.Time)
		}
		if got := net.HardwareAddr(p.Data[6:12]); got.String() != ea.MAC().String() {
			t.Errorf("echo from MAC %v, want a's %v", got, ea.MAC())
		}
	}
	if !found {
		t.Errorf("no ICMP echo request 192.0.2.1 -> 192.0.2.2 among %d captured frames", len(pkts))
	}
	if again := c.Stop(t); len(again) != len(pkts) {
		t.Errorf("second Stop returned %d frames, first %d", len(again), len(pkts))
	}
	// The filter works: a capture for UDP sees no ICMP.
	c = eb.Host().Capture(t, "eth0", "udp")
	ping(t, ea.Host(), "192.0.2.2", 1)
	for _, p := range c.Stop(t) {
		if icmpEcho(p.Data, src, dst) {
			t.Error("capture with filter udp returned an ICMP echo")
		}
	}
}

// procState returns the state letter of /proc/pid/stat ("" if gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// TestFreezeVforkingShell: dash runs each command with vfork, and a stop
// that catches the child between its vfork and its exec leaves the shell
// waiting for that exec, never stopped. Freeze must still stop the whole
// group, every time: a shell that does nothing but start commands is
// frozen and thawed 100 times.
func TestFreezeVforkingShell(t *testing.T) {
	lab := testnet.New(t)
	p := lab.Host("a").Start(t, "sh", "-c", "echo started; while :; do /bin/true; done")
	p.WaitOutput(t, "started", 10*time.Second)
	for i := range 100 {
		if err := p.Freeze(); err != nil {
			t.Fatalf("freeze %d: %v", i, err)
		}
		if err := p.Thaw(); err != nil {
			t.Fatalf("thaw %d: %v", i, err)
		}
	}
}

// childPids lists the children of pid.
func childPids(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func TestFreezeThaw(t *testing.T) {
	lab := testnet.New(t)
	h := lab.Host("a")
	p := h.Start(t, "sh", "-c", "sleep 1000 & while :; do echo tick; sleep 0.02; done")
	p.WaitOutput(t, "tick", 10*time.Second)
	var kids []int
	testnet.Eventually(t, 10*time.Second, func() bool { kids = childPids(p.Pid()); return len(kids) > 0 }, "sh has no children")
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	// Freeze returns only once the whole group is stopped.
	if s := procState(p.Pid()); s != "T" {
		t.Errorf("state %q right after Freeze, want T", s)
	}
	for _, k := range kids {
		if s := procState(k); s != "T" && s != "" && s != "Z" {
			t.Errorf("child %d in state %q right after Freeze, want T", k, s)
		}
	}
	n := len(p.Output())
	time.Sleep(200 * time.Millisecond) // let a running process print (not a timing assertion: frozen prints nothing however long)
	if m := len(p.Output()); m != n {
		t.Errorf("frozen process wrote output (%d -> %d bytes)", n, m)
	}
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	if s := procState(p.Pid()); s == "T" {
		t.Error("still stopped right after Thaw")
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return len(p.Output()) > n }, "no output after Thaw")
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(time.Second); err != nil || code != -1 {
		t.Errorf("after Kill: Wait = %d, %v; want -1 (signalled), nil", code, err)
	}
}

func TestProcExitAndOutput(t *testing.T) {
	lab := testnet.New(t)
	h := lab.Host("a")
	p := h.Start(t, "sh", "-c", "echo out; echo err >&2; exit 3")
	code, err := p.Wait(10 * time.Second)
	if err != nil || code != 3 {
		t.Errorf("Wait = %d, %v; want 3, nil", code, err)
	}
	if out := p.Output(); !strings.Contains(out, "out") || !strings.Contains(out, "err") {
		t.Errorf("Output = %q, want stdout and stderr", out)
	}
	if err := p.Kill(); err != nil {
		t.Errorf("Kill after exit: %v", err)
	}
	s := h.Start(t, "sleep", "1000")
	if _, err := s.Wait(50 * time.Millisecond); !errors.Is(err, testnet.ErrRunning) {
		t.Errorf("Wait on a running process: %v, want ErrRunning", err)
	}
	// The process runs in the namespace: it sees only lo (no interfaces
	// were added to this host).
	l := h.Start(t, "ip", "-o", "link")
	if _, err := l.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if out := l.Output(); !strings.Contains(out, "lo:") || strings.Count(out, "\n") != 1 {
		t.Errorf("ip link inside the host: %q", out)
	}
}

func TestSysctl(t *testing.T) {
	lab := testnet.New(t)
	h := lab.Host("a")
	h.Sysctl(t, "net.ipv4.ip_forward", "1")
	if got := strings.TrimSpace(h.Exec(t, "sysctl", "-n", "net.ipv4.ip_forward")); got != "1" {
		t.Errorf("ip_forward = %q after Sysctl", got)
	}
	other := lab.Host("b")
	if got := strings.TrimSpace(other.Exec(t, "sysctl", "-n", "net.ipv4.ip_forward")); got != "0" {
		t.Errorf("ip_forward leaked to another namespace: %q", got)
	}
}

// TestCleanupRemovesEverything runs a lab in a sub-test and checks after it
// returns that its namespaces and processes are gone, including a process
// the test started itself and never stopped.
func TestCleanupRemovesEverything(t *testing.T) {
	testnet.NeedRoot(t)
	var prefix string
	var pids []int
	var stray *exec.Cmd
	t.Run("lab", func(t *testing.T) {
		_, sw, ea, _ := twoHosts(t)
		prefix = ea.Host().Name()[:strings.IndexByte(ea.Host().Name(), '-')]
		p := ea.Host().Start(t, "sh", "-c", "sleep 1000 & sleep 1000")
		testnet.Eventually(t, 10*time.Second, func() bool { return len(childPids(p.Pid())) > 0 }, "no child")
		pids = append(pids, p.Pid())
		pids = append(pids, childPids(p.Pid())...)
		stray = sw.Host().Command(context.Background(), "sleep", "1000")
		if err := stray.Start(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, stray.Process.Pid)
		ea.Isolate(t)
		eb := sw.Host()
		_ = eb.Capture(t, "br0", "")
		left, err := testnet.Leftovers(prefix)
		if err != nil || len(left) != 3 {
			t.Fatalf("during the test: Leftovers = %v, %v; want 3 namespaces", left, err)
		}
	})
	if prefix == "" {
		t.Fatal("sub-test did not run")
	}
	if left, err := testnet.Leftovers(prefix); err != nil || len(left) != 0 {
		t.Errorf("after cleanup: namespaces %v left (%v)", left, err)
	}
	// The stray is our child: cleanup killed it, we reap it.
	if err := stray.Wait(); err == nil {
		t.Error("stray process exited cleanly; cleanup should have killed it")
	}
	for _, pid := range pids {
		if s := procState(pid); s != "" && s != "Z" {
			t.Errorf("process %d still alive after cleanup (state %s)", pid, s)
		}
	}
}

func TestParallelLabsDoNotCollide(t *testing.T) {
	prefixes := make(chan string, 2)
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			lab, _, ea, _ := twoHosts(t)
			prefixes <- lab.Prefix()
			if got := ping(t, ea.Host(), "192.0.2.2", 2); got != 2 {
				t.Errorf("%d of 2 replies", got)
			}
		})
	}
	t.Cleanup(func() {
		a, b := <-prefixes, <-prefixes
		if a == b {
			t.Errorf("two labs share prefix %q", a)
		}
	})
}

func TestBadArguments(t *testing.T) {
	// Each case builds its lab on the fake TB, so the lab's own failures
	// (which use the TB given to New) are recorded too; cleanups still run
	// on the real test.
	for name, fn := range map[string]func(tb testing.TB){
		"duplicate host": func(tb testing.TB) { l := testnet.New(tb); l.Host("a"); l.Host("a") },
		"long ifname": func(tb testing.TB) {
			l := testnet.New(tb)
			h := l.Host("a")
			l.Wire(h, "abcdefghijklmnop", h, "x")
		},
		"percent 101":   func(tb testing.TB) { testnet.New(tb).Host("a").DropRandom(tb, "lo", 101, testnet.In) },
		"bad direction": func(tb testing.TB) { testnet.New(tb).Host("a").DropRandom(tb, "lo", 1, 0) },
		"bad cidr": func(tb testing.TB) {
			l := testnet.New(tb)
			h := l.Host("a")
			x, _ := l.Wire(h, "x1", h, "x2")
			x.AddAddr(tb, "192.0.2.1")
		},
		"failing command": func(tb testing.TB) { testnet.New(tb).Host("a").Exec(tb, "false") },
		"missing output": func(tb testing.TB) {
			testnet.New(tb).Host("a").Start(tb, "true").WaitOutput(tb, "never printed", 10*time.Second)
		},
		"no such packet": func(tb testing.TB) {
			h := testnet.New(tb).Host("a")
			c := h.Capture(tb, "lo", "")
			h.Exec(tb, "ping", "-c", "1", "127.0.0.1")
			c.WaitPacket(tb, 200*time.Millisecond, func(p testnet.Packet) bool { return len(p.Data) > 100000 })
		},
		"eventually": func(tb testing.TB) {
			testnet.Eventually(tb, 30*time.Millisecond, func() bool { return false }, "never")
		},
	} {
		if !fails(t, fn) {
			t.Errorf("%s: did not fail the test", name)
		}
	}
	if fails(t, func(tb testing.TB) {
		n := 0
		testnet.Eventually(tb, 10*time.Second, func() bool { n++; return n == 3 }, "third time")
	}) {
		t.Error("Eventually failed a condition that became true")
	}
}

// TestSwitchFloodsVRRPMulticast: the switch passes the VRRP groups
// 224.0.0.18 and ff02::12 to every port (snooping off), and an isolated port
// passes neither.
func TestSwitchFloodsVRRPMulticast(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	send := func() {
		pingWait(t, ea.Host(), "224.0.0.18", 1, "0.3", "-I", "eth0")
		pingWait(t, ea.Host(), "ff02::12", 1, "0.3", "-I", "eth0")
	}
	count := func(pkts []testnet.Packet) (v4, v6 int) {
		for _, p := range pkts {
			switch net.HardwareAddr(p.Data[0:6]).String() {
			case "01:00:5e:00:00:12":
				v4++
			case "33:33:00:00:00:12":
				v6++
			}
		}
		return v4, v6
	}
	filter := "dst host 224.0.0.18 or dst host ff02::12"
	c := eb.Host().Capture(t, "eth0", filter)
	send()
	if v4, v6 := count(c.Stop(t)); v4 == 0 || v6 == 0 {
		t.Errorf("b saw %d frames to 224.0.0.18 and %d to ff02::12; want both", v4, v6)
	}
	ea.Isolate(t)
	c = eb.Host().Capture(t, "eth0", filter)
	send()
	if v4, v6 := count(c.Stop(t)); v4 != 0 || v6 != 0 {
		t.Errorf("isolated a still reached b: %d and %d multicast frames", v4, v6)
	}
}

// TestKeepalivedFreezeThaw runs Debian's keepalived as the only VRRP router
// on a switch: its adverts reach the other host, stop while it is frozen,
// and come back when it is thawed.
func TestKeepalivedFreezeThaw(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	k := ea.Host().Keepalived(t, `
global_defs {
	router_id testnet
	vrrp_version 3
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 100
	advert_int 0.1
	virtual_ipaddress {
		192.0.2.254/24
	}
}
`, "-P")
	k.WaitOutput(t, "Entering MASTER STATE", 20*time.Second)
	adverts := func(window time.Duration) int {
		c := eb.Host().Capture(t, "eth0", "ip proto 112")
		time.Sleep(window)
		return len(c.Stop(t))
	}
	if n := adverts(500 * time.Millisecond); n == 0 {
		t.Fatal("no VRRP adverts from the running keepalived")
	}
	if err := k.Freeze(); err != nil {
		t.Fatal(err)
	}
	// Freeze has returned: every keepalived process is stopped, so nothing
	// is sent, however long we look.
	if n := adverts(500 * time.Millisecond); n != 0 {
		t.Errorf("%d adverts while keepalived was frozen", n)
	}
	if err := k.Thaw(); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 20*time.Second, func() bool { return adverts(300*time.Millisecond) > 0 }, "no adverts after Thaw")
}

// TestCounters: an interface's counters count the frames that crossed it,
// read from inside its namespace. Twenty pings after a first one (which
// resolves the neighbour) are twenty frames out of a and into b, and
// twenty back. Then twenty frames one way only. The link carries no IPv6:
// a freshly configured interface sends router solicitations and multicast
// listener reports when the kernel pleases, and one sent between the
// reads of a's counters and b's counts on one side of the window only
// ("b sent 22 and a received 23").
func TestCounters(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	a, b := ea.Host(), eb.Host()
	a.Sysctl(t, "net.ipv6.conf.eth0.disable_ipv6", "1")
	b.Sysctl(t, "net.ipv6.conf.eth0.disable_ipv6", "1")
	if got := ping(t, a, "192.0.2.2", 1); got != 1 {
		t.Fatalf("first ping: %d replies", got)
	}
	read := func() (testnet.Counters, testnet.Counters) {
		t.Helper()
		ca, err := a.Counters("eth0")
		if err != nil {
			t.Fatal(err)
		}
		cb, err := b.Counters("eth0")
		if err != nil {
			t.Fatal(err)
		}
		return ca, cb
	}
	a0, b0 := read()
	if got := ping(t, a, "192.0.2.2", 20); got != 20 {
		t.Fatalf("%d of 20 replies", got)
	}
	a1, b1 := read()
	aTx, bRx := a1.TxPackets-a0.TxPackets, b1.RxPackets-b0.RxPackets
	bTx, aRx := b1.TxPackets-b0.TxPackets, a1.RxPackets-a0.RxPackets
	if aTx < 20 || aTx > 30 || bTx < 20 || bTx > 30 {
		t.Errorf("a sent %d frames, b %d: want 20 each (up to 30)", aTx, bTx)
	}
	if aTx != bRx || bTx != aRx {
		t.Errorf("a sent %d frames and b received %d; b sent %d and a received %d: want the same", aTx, bRx, bTx, aRx)
	}
	if d, e := a1.TxBytes-a0.TxBytes, b1.RxBytes-b0.RxBytes; d != e || d < 20*98 {
		// An ICMP echo of ping's default 56 bytes is a 98-byte frame.
		t.Errorf("a sent %d bytes and b received %d: want the same, at least 20 frames of 98", d, e)
	}
	// One way only: twenty broadcast echo requests, which b receives and
	// does not answer (icmp_echo_ignore_broadcasts). Received and sent are
	// not mixed up.
	if got := pingWait(t, a, "192.0.2.255", 20, "0.3", "-b"); got != 0 {
		t.Fatalf("%d replies to broadcast echo requests", got)
	}
	a2, b2 := read()
	if aTx, bRx := a2.TxPackets-a1.TxPackets, b2.RxPackets-b1.RxPackets; aTx < 20 || aTx > 30 || aTx != bRx {
		t.Errorf("broadcast echo: a sent %d frames, b received %d: want 20 (up to 30) each", aTx, bRx)
	}
	if bTx, aRx := b2.TxPackets-b1.TxPackets, a2.RxPackets-a1.RxPackets; bTx > 10 || bTx != aRx {
		t.Errorf("broadcast echo: b sent %d frames, a received %d: want the same, none but its own few", bTx, aRx)
	}
	if _, err := a.Counters("nosuch0"); err == nil {
		t.Error("Counters of an interface that is not there: no error")
	}
}

// ParseStatusKB reads "N kB" figures by key and refuses a missing key or a
// figure in another unit; StatusKB reads this process's own.
func TestStatusKB(t *testing.T) {
	kb, err := testnet.ParseStatusKB("Name:\tvigild\nVmHWM:\t   13600 kB\nVmRSS:\t   13312 kB\nThreads:\t7\n", "VmRSS", "VmHWM")
	if err != nil || kb[0] != 13312 || kb[1] != 13600 {
		t.Errorf("ParseStatusKB = %v, %v", kb, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\tx kB\n", "VmHWM:\t1 MB\n"} {
		if kb, err := testnet.ParseStatusKB(bad, "VmHWM"); err == nil {
			t.Errorf("ParseStatusKB(%q) = %v, want an error", bad, kb)
		}
	}
	kb, err = testnet.StatusKB(os.Getpid(), "RssFile", "VmHWM")
	if err != nil || kb[0] <= 0 || kb[1] <= 0 {
		t.Errorf("own RssFile and VmHWM: %v, %v", kb, err)
	}
}

// GroupSumPeakKB counts every process of a group: a shell whose child
// awk holds a 64 MB string reports the child's peak and its own.
func TestGroupSumPeakKB(t *testing.T) {
	cmd := exec.Command("sh", "-c", `awk 'BEGIN { s = "x"; for (i = 0; i < 26; i++) s = s s; print "ready"; fflush(); system("sleep 30") }' & wait`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("awk: %v", err)
	}
	own, err := testnet.StatusKB(cmd.Process.Pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	// The child's own peak, read by its pid.
	var child int64
	for pid := range testnet.GroupStates(cmd.Process.Pid) {
		if pid == cmd.Process.Pid {
			continue
		}
		kb, err := testnet.StatusKB(pid, "VmHWM")
		if err != nil {
			t.Fatal(err)
		}
		child = max(child, kb[0])
	}
	if child < 64<<10 || own[0] >= 64<<10 {
		t.Fatalf("the child's peak %d kB, the shell's %d kB; want the child's 64 MB and more", child, own[0])
	}
	sum, err := testnet.GroupSumPeakKB(cmd.Process.Pid)
	if err != nil || sum < child+own[0] {
		t.Errorf("GroupSumPeakKB = %d kB, %v; want at least the child's %d and the shell's %d", sum, err, child, own[0])
	}
	if rss, err := testnet.GroupSumRSSKB(cmd.Process.Pid); err != nil || rss <= child/2 {
		t.Errorf("GroupSumRSSKB = %d kB, %v; the child's peak %d", rss, err, child)
	}
	if _, err := testnet.GroupSumPeakKB(1 << 30); err == nil {
		t.Error("GroupSumPeakKB of no group: no error")
	}
}

// ParseStat takes the fields after the command name's last parenthesis,
// whatever the name holds, and refuses a line without them.
func TestParseStat(t *testing.T) {
	f, err := testnet.ParseStat("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 7781 0 3 0 12 5 0 0 20 0 3 0 100 0 0")
	if err != nil || f[0] != "S" || f[2] != "4242" || f[7] != "7781" || f[11] != "12" || f[12] != "5" {
		t.Fatalf("ParseStat: %v, %v", f, err)
	}
	for _, bad := range []string{"4242 (truncated", "4242 (x) S 1 2"} {
		if f, err := testnet.ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q) = %v, want an error", bad, f)
		}
	}
	if f, err := testnet.StatFields(os.Getpid()); err != nil || f[0] != "R" && f[0] != "S" {
		t.Errorf("StatFields of this process: %v, %v", f, err)
	}
}

// HasAddr finds an address on its device only, whole: 192.0.2.1 is not
// 192.0.2.10, and a missing device is an error.
func TestHasAddr(t *testing.T) {
	_, _, ea, _ := twoHosts(t)
	ea.AddAddr(t, "192.0.2.10/32")
	a := ea.Host()
	for _, c := range []struct {
		dev, addr string
		want      bool
	}{
		{"eth0", "192.0.2.1", true}, {"eth0", "192.0.2.10", true}, {"eth0", "2001:db8::1", true},
		{"eth0", "192.0.2.2", false}, {"eth0", "192.0.2.100", false}, {"eth0", "192.0.2", false}, {"lo", "192.0.2.1", false},
	} {
		got, err := a.HasAddr(t.Context(), c.dev, c.addr)
		if err != nil || got != c.want {
			t.Errorf("HasAddr(%s, %s) = %v, %v; want %v", c.dev, c.addr, got, err, c.want)
		}
	}
	if _, err := a.HasAddr(t.Context(), "nosuch0", "192.0.2.1"); err == nil {
		t.Error("HasAddr on a missing device: no error")
	}
}

// GroupsUniqueKB counts a page that several processes map once: two
// sleeps share their program and libc, so their pages counted once are
// fewer than their resident sizes summed by at least half of one's; one
// process alone counts its resident size. (The exact resident sizes, from
// smaps_rollup: VmRSS is the kernel's per-CPU counters' estimate.)
func TestGroupsUniqueKB(t *testing.T) {
	testnet.NeedRoot(t) // pagemap's frame numbers are root's to read
	start := func(script string) (pgid int, pids []int) {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
		// Settled: every process of the group asleep (state S), the
		// sleeps in their nanosleep. A sleep that is still being loaded
		// (its name is sleep from its exec on) grows meanwhile, and its
		// sizes read a moment apart differ.
		testnet.Eventually(t, 10*time.Second, func() bool {
			pids = pids[:0]
			for pid, state := range testnet.GroupStates(cmd.Process.Pid) {
				if state != 'S' {
					return false
				}
				if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(b) == "sleep\n" {
					pids = append(pids, pid)
				}
			}
			return len(pids) == strings.Count(script, "sleep")
		}, "the sleeps of %q asleep", script)
		return cmd.Process.Pid, pids
	}
	rss := func(pid int) int64 {
		t.Helper()
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^Rss:\s+(\d+) kB`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no Rss in /proc/%d/smaps_rollup", pid)
		}
		kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
		return kb
	}

	one, pids := start("exec sleep 30")
	r1 := rss(pids[0])
	u1, err := testnet.GroupsUniqueKB(one)
	if err != nil || u1 < r1-8 || u1 > r1 {
		t.Errorf("one sleep: GroupsUniqueKB = %d kB, %v; want its resident size, %d kB", u1, err, r1)
	}

	two, pids := start("sleep 30 & sleep 30 & wait")
	var sum int64
	for pid := range testnet.GroupStates(two) {
		sum += rss(pid)
	}
	least := min(rss(pids[0]), rss(pids[1]))
	u2, err := testnet.GroupsUniqueKB(two)
	if err != nil || u2 <= 0 || u2 > sum-least/2 {
		t.Errorf("two sleeps and their shell: GroupsUniqueKB = %d kB, %v; want at most their resident sizes summed, %d kB, less half a sleep's %d kB", u2, err, sum, least)
	}
	both, err := testnet.GroupsUniqueKB(one, two)
	if err != nil || both <= u2 || both > u2+r1 {
		t.Errorf("both groups: GroupsUniqueKB = %d kB, %v; want more than the second's %d kB and at most %d kB more", both, err, u2, r1)
	}
	t.Logf("one sleep %d kB, counted once %d kB; two sleeps and their shell %d kB summed, %d kB counted once; with the first group %d kB", r1, u1, sum, u2, both)
}
