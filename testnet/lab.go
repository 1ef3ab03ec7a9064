package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// bridgeName is the bridge inside every switch namespace.
const bridgeName = "br0"

// Lab is one test's set of namespaces. Create it with [New]; everything it
// creates is removed by the test's Cleanup.
type Lab struct {
	t      testing.TB
	prefix string

	mu sync.Mutex
	// mu guards the following fields.
	hosts []*Host
	names map[string]bool
}

// Host is a network namespace in a [Lab].
type Host struct {
	lab    *Lab
	name   string // short name given by the test
	ns     string // netns name "<prefix>-<name>"
	handle netns.NsHandle

	mu sync.Mutex
	// mu guards the following fields.
	ports  int // switch: counter for port names
	tables int // counter for nftables table names
	ifaces map[string]*Iface
}

// Switch is a Linux bridge in a namespace of its own.
type Switch struct {
	host *Host
}

// Iface is one end of a veth pair.
type Iface struct {
	host  *Host
	name  string
	mac   net.HardwareAddr
	index int
	peer  *Iface // far end: the switch port or the wire peer
	sw    *Switch

	isoMu sync.Mutex
	iso   *Rule // guarded by isoMu: the Isolate table, nil when not isolated
}

// New creates a lab for one test with a random per-test prefix. All
// namespaces and the processes in them are removed by t.Cleanup. It skips the
// test loudly if not root or `ip` is missing (t.Fatalf when CI=true).
func New(t testing.TB) *Lab {
	t.Helper()
	NeedRoot(t, "ip")
	l := &Lab{t: t, names: map[string]bool{}}
	for i := 0; ; i++ {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatalf("testnet: random prefix: %v", err)
		}
		l.prefix = "vg" + hex.EncodeToString(b[:])
		if left, _ := Leftovers(l.prefix); len(left) == 0 {
			break
		}
		if i > 100 {
			t.Fatalf("testnet: no free namespace prefix")
		}
	}
	t.Cleanup(l.cleanup)
	return l
}

// NewNamed creates a lab whose namespaces are named "<prefix>-<name>" with
// the prefix given, for a program whose names people type (the demo). It
// fails when namespaces with that prefix exist already ([RemoveLeftovers]
// clears them). Like [New], everything is removed by t.Cleanup.
func NewNamed(t testing.TB, prefix string) *Lab {
	t.Helper()
	NeedRoot(t, "ip")
	if prefix == "" || strings.ContainsAny(prefix, "/ \t\n") {
		t.Fatalf("testnet: bad lab prefix %q", prefix)
	}
	if left, err := Leftovers(prefix); err != nil || len(left) > 0 {
		t.Fatalf("testnet: namespaces %v already exist (%v)", left, err)
	}
	l := &Lab{t: t, prefix: prefix, names: map[string]bool{}}
	t.Cleanup(l.cleanup)
	return l
}

// RemoveLeftovers kills every process in the namespaces named
// "<prefix>-..." and deletes them: what a lab built with [NewNamed] and
// left up on purpose leaves behind.
func RemoveLeftovers(t testing.TB, prefix string) {
	t.Helper()
	left, err := Leftovers(prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, ns := range left {
		killAll(t, ns)
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("testnet: ip netns del %s: %v: %s", ns, err, bytes.TrimSpace(out))
		}
	}
}

// skipOrFail skips the test, or fails it when CI=true.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: not skipping)", msg)
	}
	t.Skipf("SKIPPING: %s", msg)
}

// need skips or fails the test if the binary is not installed.
func need(t testing.TB, bin string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		skipOrFail(t, "testnet: %q not installed: %v", bin, err)
	}
}

// Prefix returns the lab's prefix (random, or NewNamed's); every namespace it creates is
// named "<prefix>-<name>".
func (l *Lab) Prefix() string { return l.prefix }

// Leftovers lists the named network namespaces whose names start with
// prefix+"-". After a lab's cleanup it must be empty.
func Leftovers(prefix string) ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testnet: list %s: %w", netnsDir, err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// NsPids returns the pids of the processes in the named network namespace
// (`ip netns pids`).
func NsPids(ns string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", ns).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("testnet: ip netns pids %s: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("testnet: ip netns pids %s: bad pid %q", ns, f)
		}
		pids = append(pids, p)
	}
	return pids, nil
}

func (l *Lab) cleanup() {
	l.mu.Lock()
	hosts := l.hosts
	l.hosts = nil
	l.mu.Unlock()
	// Kill what still runs in the lab's namespaces, then delete them.
	for _, h := range hosts {
		killAll(l.t, h.ns)
	}
	for i := len(hosts) - 1; i >= 0; i-- {
		h := hosts[i]
		if h.handle >= 0 {
			_ = h.handle.Close()
		}
		if out, err := exec.Command("ip", "netns", "del", h.ns).CombinedOutput(); err != nil {
			l.t.Errorf("testnet: cleanup: ip netns del %s: %v: %s", h.ns, err, bytes.TrimSpace(out))
		}
	}
	if left, err := Leftovers(l.prefix); err != nil || len(left) > 0 {
		l.t.Errorf("testnet: cleanup: namespaces left over: %v %v", left, err)
	}
}

// killAll SIGKILLs every process in ns and waits (bounded) until none is left.
func killAll(t testing.TB, ns string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := NsPids(ns)
		if err != nil {
			t.Errorf("testnet: cleanup: %v", err)
			return
		}
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("testnet: cleanup: processes %v still in %s", pids, ns)
			return
		}
		for _, p := range pids {
			_ = killPid(p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs a command in the root namespace's context (used for `ip -n NS`
// and `ip netns` commands, which address namespaces by name).
func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("testnet: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// must runs a command and fails the test on error.
func must(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := run(name, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// Host creates a namespace "<prefix>-<name>" with lo up and IPv6 DAD off
// (accept_dad=0 for all and default, so every interface created later
// inherits it). It fails the test if name is already used in this lab.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	return l.newHost(name, false)
}

func (l *Lab) newHost(name string, isSwitch bool) *Host {
	t := l.t
	t.Helper()
	if name == "" || strings.ContainsAny(name, "/ \t\n") {
		t.Fatalf("testnet: bad host name %q", name)
	}
	l.mu.Lock()
	if l.names[name] {
		l.mu.Unlock()
		t.Fatalf("testnet: host or switch %q already exists in this lab", name)
	}
	l.names[name] = true
	l.mu.Unlock()

	h := &Host{lab: l, name: name, ns: l.prefix + "-" + name, handle: -1, ifaces: map[string]*Iface{}}
	must(t, "ip", "netns", "add", h.ns)
	// Registered before anything else can fail, so cleanup deletes it.
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	hd, err := netns.GetFromPath(filepath.Join(netnsDir, h.ns))
	if err != nil {
		t.Fatalf("testnet: open namespace %s: %v", h.ns, err)
	}
	h.handle = hd
	must(t, "ip", "-n", h.ns, "link", "set", "lo", "up")
	sysctls := []string{
		"net.ipv6.conf.all.accept_dad=0",
		"net.ipv6.conf.default.accept_dad=0",
	}
	if isSwitch {
		// The switch namespace has no addresses: no IPv6 (no RS, MLD or
		// DAD noise from its ports).
		sysctls = append(sysctls, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	h.Exec(t, "sysctl", append([]string{"-q", "-w"}, sysctls...)...)
	return h
}

// Switch creates a Linux bridge "br0" in a namespace of its own
// ("<prefix>-<name>"), with multicast snooping off, STP off and forward
// delay 0, and brings it up.
func (l *Lab) Switch(name string) *Switch {
	l.t.Helper()
	h := l.newHost(name, true)
	must(l.t, "ip", "-n", h.ns, "link", "add", bridgeName, "type", "bridge",
		"mcast_snooping", "0", "forward_delay", "0", "stp_state", "0")
	must(l.t, "ip", "-n", h.ns, "link", "set", bridgeName, "up")
	return &Switch{host: h}
}

// Name returns the switch's namespace name.
func (s *Switch) Name() string { return s.host.ns }

// Host returns the switch's namespace as a Host, for example to capture on
// the bridge ("br0") or on a port.
func (s *Switch) Host() *Host { return s.host }

// Attach creates a veth pair: ifname inside h, the peer enslaved to the
// bridge; both ends up.
func (s *Switch) Attach(h *Host, ifname string) *Iface {
	t := h.lab.t
	t.Helper()
	checkIfname(t, ifname)
	sh := s.host
	sh.mu.Lock()
	sh.ports++
	port := fmt.Sprintf("p%d-%s", sh.ports, h.name)
	if len(port) > 15 {
		port = fmt.Sprintf("p%d", sh.ports)
	}
	sh.mu.Unlock()
	must(t, "ip", "-n", h.ns, "link", "add", ifname, "type", "veth", "peer", "name", port, "netns", sh.ns)
	must(t, "ip", "-n", sh.ns, "link", "set", port, "master", bridgeName, "up")
	must(t, "ip", "-n", h.ns, "link", "set", ifname, "up")
	a := h.register(t, ifname)
	b := sh.register(t, port)
	a.peer, b.peer = b, a
	a.sw, b.sw = s, s
	return a
}

// Wire creates a direct veth pair, aif in a and bif in b, both up. a and b
// may be the same host.
func (l *Lab) Wire(a *Host, aif string, b *Host, bif string) (*Iface, *Iface) {
	t := l.t
	t.Helper()
	checkIfname(t, aif)
	checkIfname(t, bif)
	must(t, "ip", "-n", a.ns, "link", "add", aif, "type", "veth", "peer", "name", bif, "netns", b.ns)
	must(t, "ip", "-n", a.ns, "link", "set", aif, "up")
	must(t, "ip", "-n", b.ns, "link", "set", bif, "up")
	x := a.register(t, aif)
	y := b.register(t, bif)
	x.peer, y.peer = y, x
	return x, y
}

func checkIfname(t testing.TB, name string) {
	t.Helper()
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n:") {
		t.Fatalf("testnet: bad interface name %q (1..15 chars, no '/', ':' or spaces)", name)
	}
}

// register reads the interface's index and MAC and records it.
func (h *Host) register(t testing.TB, ifname string) *Iface {
	t.Helper()
	idx, mac, err := h.linkInfo(ifname)
	if err != nil {
		t.Fatalf("%v", err)
	}
	i := &Iface{host: h, name: ifname, mac: mac, index: idx}
	h.mu.Lock()
	h.ifaces[ifname] = i
	h.mu.Unlock()
	return i
}

// Link is what `ip -d link show` says of an interface.
type Link struct {
	Index     int      `json:"ifindex"`
	Name      string   `json:"ifname"`
	Address   string   `json:"address"`
	Flags     []string `json:"flags"`
	OperState string   `json:"operstate"`
	Parent    string   `json:"link"` // the lower interface (macvlan, vlan, veth peer)
	LinkInfo  struct {
		Kind string `json:"info_kind"` // "macvlan", "veth", ...
		Data struct {
			Mode string `json:"mode"` // a macvlan's: "private", "bridge", ...
		} `json:"info_data"`
	} `json:"linkinfo"`
}

// Link reads the interface ifname of h; an error when it does not exist.
func (h *Host) Link(ifname string) (Link, error) {
	out, err := run("ip", "-n", h.ns, "-d", "-j", "link", "show", "dev", ifname)
	if err != nil {
		return Link{}, err
	}
	var ls []Link
	if err := json.Unmarshal([]byte(out), &ls); err != nil || len(ls) != 1 {
		return Link{}, fmt.Errorf("testnet: ip -d -j link show dev %s in %s: %q: %v", ifname, h.ns, out, err)
	}
	return ls[0], nil
}

// Counters is what an interface's own counters have counted so far (the
// kernel's link statistics, as ip -s link shows them).
type Counters struct {
	RxPackets, TxPackets uint64
	RxBytes, TxBytes     uint64
}

// Counters reads the frame and byte counters of the interface ifname of h
// over netlink, in a fraction of a millisecond: a benchmark reads them at
// the edges of a window without running a command.
func (h *Host) Counters(ifname string) (Counters, error) {
	nh, err := netlink.NewHandleAt(h.handle)
	if err != nil {
		return Counters{}, fmt.Errorf("testnet: counters of %s in %s: %w", ifname, h.ns, err)
	}
	defer nh.Close()
	l, err := nh.LinkByName(ifname)
	if err != nil {
		return Counters{}, fmt.Errorf("testnet: counters of %s in %s: %w", ifname, h.ns, err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return Counters{}, fmt.Errorf("testnet: counters of %s in %s: the kernel sent no statistics", ifname, h.ns)
	}
	return Counters{RxPackets: st.RxPackets, TxPackets: st.TxPackets, RxBytes: st.RxBytes, TxBytes: st.TxBytes}, nil
}

func (h *Host) linkInfo(ifname string) (int, net.HardwareAddr, error) {
	l, err := h.Link(ifname)
	if err != nil {
		return 0, nil, err
	}
	mac, err := net.ParseMAC(l.Address)
	if err != nil {
		return 0, nil, fmt.Errorf("testnet: %s in %s: MAC %q: %w", ifname, h.ns, l.Address, err)
	}
	return l.Index, mac, nil
}

// Carrier reports whether the interface ifname in h has carrier
// (LOWER_UP), as the kernel sees it now.
func (h *Host) Carrier(ifname string) (bool, error) {
	l, err := h.Link(ifname)
	if err != nil {
		return false, err
	}
	for _, f := range l.Flags {
		if f == "LOWER_UP" {
			return true, nil
		}
	}
	return false, nil
}

// Name returns the interface name inside its host.
func (i *Iface) Name() string { return i.name }

// Host returns the namespace the interface lives in.
func (i *Iface) Host() *Host { return i.host }

// MAC returns the interface's hardware address as read when it was created.
func (i *Iface) MAC() net.HardwareAddr { return append(net.HardwareAddr(nil), i.mac...) }

// Index returns the interface index inside its namespace.
func (i *Iface) Index() int { return i.index }

// Switch returns the switch the interface is attached to (for a switch port,
// its own switch), or nil for a direct wire.
func (i *Iface) Switch() *Switch { return i.sw }

// Peer returns the far end of the veth: the switch port (in the switch's
// namespace) or the wire peer.
func (i *Iface) Peer() *Iface { return i.peer }

// AddAddr adds an address in CIDR notation, "192.0.2.1/24" or
// "2001:db8::1/64"; IPv6 addresses are added with nodad.
func (i *Iface) AddAddr(t testing.TB, cidr string) {
	t.Helper()
	p, err := parsePrefix(cidr)
	if err != nil {
		t.Fatalf("testnet: AddAddr %q: %v", cidr, err)
	}
	args := []string{"-n", i.host.ns, "addr", "add", cidr, "dev", i.name}
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		args = append(args, "nodad")
	}
	must(t, "ip", args...)
}

// Down sets this end (the host side) administratively down.
func (i *Iface) Down(t testing.TB) {
	t.Helper()
	must(t, "ip", "-n", i.host.ns, "link", "set", i.name, "down")
}

// Up sets this end (the host side) administratively up.
func (i *Iface) Up(t testing.TB) {
	t.Helper()
	must(t, "ip", "-n", i.host.ns, "link", "set", i.name, "up")
}

// Cut takes the far end (switch port or wire peer) down: this side loses
// carrier, as when a cable is pulled.
func (i *Iface) Cut(t testing.TB) {
	t.Helper()
	must(t, "ip", "-n", i.peer.host.ns, "link", "set", i.peer.name, "down")
}

// Restore brings the far end back up: carrier returns on this side.
func (i *Iface) Restore(t testing.TB) {
	t.Helper()
	must(t, "ip", "-n", i.peer.host.ns, "link", "set", i.peer.name, "up")
}

// Iface returns the interface named ifname that Attach or Wire created in
// this host (or, for a switch's host, the port), or nil.
func (h *Host) Iface(ifname string) *Iface {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ifaces[ifname]
}

// Name returns the host's network namespace name ("<prefix>-<name>").
func (h *Host) Name() string { return h.ns }

// NsHandle returns an open handle on the host's namespace, valid until the
// lab's cleanup. Do not close it.
func (h *Host) NsHandle() netns.NsHandle { return h.handle }

// Command returns `ip netns exec NS name args...`, not started.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
}

// Exec runs name with args to completion inside the namespace and returns
// its combined output; it fails the test with that output on error.
func (h *Host) Exec(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := h.Command(context.Background(), name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("testnet: in %s: %s %s: %v\n%s", h.ns, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// HasAddr reports whether dev in h's namespace has addr (an address
// without its prefix length), as `ip -o addr show dev` lists it.
func (h *Host) HasAddr(ctx context.Context, dev, addr string) (bool, error) {
	out, err := h.Command(ctx, "ip", "-o", "addr", "show", "dev", dev).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("testnet: ip addr show dev %s in %s: %v: %s", dev, h.ns, err, out)
	}
	for _, f := range strings.Fields(string(out)) {
		if a, _, ok := strings.Cut(f, "/"); ok && a == addr {
			return true, nil
		}
	}
	return false, nil
}

// Sysctl sets a sysctl inside the namespace, key in dotted or slashed form
// ("net.ipv4.ip_forward" or "net/ipv6/conf/eth0.10/accept_ra").
func (h *Host) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	h.Exec(t, "sysctl", "-q", "-w", key+"="+value)
}
