package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// use_vmac with keepalived 2.2.7 in one VRRP group: both daemons run
// VI_1 (IPv4) and VI_6 (IPv6) of VRID 51 on VMACs named vrrp.51 and
// vrrp6.51. The client's neighbour entries for the VIPs hold the virtual
// MACs and keep them across every failover: the MAC moves with the master.

const (
	vmac4 = "00:00:5e:00:01:33"
	vmac6 = "00:00:5e:00:02:33"
)

var vmacConf = func(prio int) string { return conf("", prio, "    use_vmac") }

// linkOf returns h's interface name and whether it exists.
func linkOf(t *testing.T, h *testnet.Host, name string) (testnet.Link, bool) {
	t.Helper()
	l, err := h.Link(name)
	return l, err == nil
}

// wantVMACs checks that h has keepalived's two VMACs on eth0, up.
func wantVMACs(t *testing.T, h *testnet.Host) {
	t.Helper()
	for name, mac := range map[string]string{"vrrp.51": vmac4, "vrrp6.51": vmac6} {
		l, ok := linkOf(t, h, name)
		if !ok || l.Address != mac || l.Parent != "eth0" || l.LinkInfo.Kind != "macvlan" || l.LinkInfo.Data.Mode != "private" ||
			!strings.Contains(strings.Join(l.Flags, ","), "UP") {
			t.Fatalf("%s on %s: %+v (exists %v), want an up private macvlan of eth0 with %s", name, h.Name(), l, ok, mac)
		}
	}
	// IPv6 adverts leave vrrp6.51 from eth0's link-local address; no
	// address is made from the virtual MAC; vrrp.51 has no IPv6.
	ll := func(dev string) string {
		return strings.Join(strings.Fields(h.Exec(t, "ip", "-6", "-br", "addr", "show", "dev", dev, "scope", "link"))[2:], " ")
	}
	if a, b := ll("eth0"), ll("vrrp6.51"); a == "" || a != b {
		t.Errorf("link-local addresses on %s: eth0 %q, vrrp6.51 %q; want the same one", h.Name(), a, b)
	}
	if out := h.Exec(t, "ip", "-6", "-o", "addr", "show", "dev", "vrrp.51"); out != "" {
		t.Errorf("IPv6 on vrrp.51 of %s: %s", h.Name(), out)
	}
}

// waitLinks waits until both VMACs exist on h.
func waitLinks(t *testing.T, h *testnet.Host) {
	t.Helper()
	testnet.Eventually(t, settle, func() bool {
		_, a := linkOf(t, h, "vrrp.51")
		_, b := linkOf(t, h, "vrrp6.51")
		return a && b
	}, "VMACs on %s", h.Name())
}

func sysctl(t *testing.T, h *testnet.Host, path string) string {
	t.Helper()
	out, err := h.Command(t.Context(), "cat", "/proc/sys/"+path).Output()
	if err != nil {
		t.Fatalf("read %s in %s: %v", path, h.Name(), err)
	}
	return strings.TrimSpace(string(out))
}

// hostileSysctls sets values on h that vigild must change and put back:
// a strict all.rp_filter and eth0 settings that are not keepalived's.
func hostileSysctls(t *testing.T, h *testnet.Host) map[string]string {
	t.Helper()
	before := map[string]string{
		"net/ipv4/conf/all/rp_filter":   "1",
		"net/ipv4/conf/eth0/rp_filter":  "0",
		"net/ipv4/conf/eth0/arp_ignore": "2",
		"net/ipv4/conf/eth0/arp_filter": "0",
	}
	for k, v := range before {
		h.Sysctl(t, k, v)
	}
	return before
}

// wantVMACSysctls checks keepalived's settings while vigild runs.
func wantVMACSysctls(t *testing.T, h *testnet.Host) {
	t.Helper()
	for k, v := range map[string]string{
		"net/ipv4/conf/vrrp.51/arp_ignore":   "1",
		"net/ipv4/conf/vrrp.51/accept_local": "1",
		"net/ipv4/conf/vrrp.51/rp_filter":    "0",
		"net/ipv6/conf/vrrp.51/disable_ipv6": "1",
		"net/ipv4/conf/eth0/arp_ignore":      "1",
		"net/ipv4/conf/eth0/arp_filter":      "1",
		"net/ipv4/conf/all/rp_filter":        "0",
		"net/ipv4/conf/eth0/rp_filter":       "1",
	} {
		if got := sysctl(t, h, k); got != v {
			t.Errorf("%s on %s while vigild runs: %s, want %s", k, h.Name(), got, v)
		}
	}
}

// wantRestored checks that vigild's VMACs are gone and the sysctls are
// what they were before it started.
func wantRestored(t *testing.T, h *testnet.Host, before map[string]string) {
	t.Helper()
	for _, name := range []string{"vrrp.51", "vrrp6.51"} {
		if _, ok := linkOf(t, h, name); ok {
			t.Errorf("%s still on %s after vigild stopped", name, h.Name())
		}
	}
	for k, v := range before {
		if got := sysctl(t, h, k); got != v {
			t.Errorf("%s on %s after vigild stopped: %s, want %s as before", k, h.Name(), got, v)
		}
	}
}

// clientSeesVMAC waits until the client's neighbour entries for both VIPs
// hold the virtual MACs (IPv4 learnt from GARP; IPv6 asked by a ping,
// which also proves the VIP answers).
func clientSeesVMAC(t *testing.T, l *lab, who string) {
	t.Helper()
	testnet.Eventually(t, settle, func() bool { return neighMAC(t, l.Client, vip4) == vmac4 },
		"client's neighbour for %s holds %s with %s master, has %q", vip4, vmac4, who, neighMAC(t, l.Client, vip4))
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip6) && neighMAC(t, l.Client, vip6) == vmac6 },
		"client pings %s with %s master, neighbour %s", vip6, who, vmac6)
}

// startVMACMaster sets hostile sysctls on r1 and starts vigild there as the
// VMAC master (priority 150); it returns the sysctls as they were.
func startVMACMaster(t *testing.T, l *lab) (map[string]string, *vigild) {
	t.Helper()
	before := hostileSysctls(t, l.R1)
	v := startVigild(t, l.R1, vmacConf(150), "-i", "r1")
	waitVMACMaster(t, l.R1)
	return before, v
}

// waitVMACMaster waits until h has both VMACs with the VIPs on them.
func waitVMACMaster(t *testing.T, h *testnet.Host) {
	t.Helper()
	waitLinks(t, h)
	waitAddr(t, h, "vrrp.51", vip4, true, settle)
	waitAddr(t, h, "vrrp6.51", vip6, true, settle)
}

// TestInteropVMACVigilMaster: vigild (150) master on its VMACs,
// keepalived (100) backup on its own; vigild stops and keepalived takes
// over, then vigild returns and preempts. The client's neighbour entries
// never leave the virtual MACs. vigild sets keepalived's sysctls and puts
// back what it found when it stops.
func TestInteropVMACVigilMaster(t *testing.T) {
	l := newLab(t)
	before, v1 := startVMACMaster(t, l)
	wantVMACs(t, l.R1)
	wantVMACSysctls(t, l.R1)
	if hasAddr(t, l.R1, "eth0", vip4) || hasAddr(t, l.R1, "eth0", vip6) {
		t.Error("vigild put a VIP on eth0 as well")
	}
	k := l.R2.Keepalived(t, vmacConf(100), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)
	k.WaitOutput(t, "(VI_6) Entering BACKUP STATE", settle)
	waitLinks(t, l.R2)
	wantVMACs(t, l.R2)
	clientSeesVMAC(t, l, "vigild")
	if hasAddr(t, l.R2, "vrrp.51", vip4) || hasAddr(t, l.R2, "vrrp6.51", vip6) {
		t.Fatal("keepalived backup holds a VIP")
	}
	for _, in := range []string{"VI_1", "VI_6"} {
		if s := v1.Instance(t, in); s.State != "MASTER" {
			t.Fatalf("vigild %s state %s", in, s.State)
		}
	}

	// Failover to keepalived: the MAC moves with the VIPs.
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	waitAddr(t, l.R2, "vrrp.51", vip4, true, settle)
	waitAddr(t, l.R2, "vrrp6.51", vip6, true, settle)
	wantRestored(t, l.R1, before)
	clientSeesVMAC(t, l, "keepalived")

	// And back: vigild preempts (150 > 100).
	v1 = startVigild(t, l.R1, vmacConf(150), "-i", "r1")
	waitVMACMaster(t, l.R1)
	waitAddr(t, l.R2, "vrrp.51", vip4, false, settle)
	waitAddr(t, l.R2, "vrrp6.51", vip6, false, settle)
	clientSeesVMAC(t, l, "vigild again")
	wantVMACSysctls(t, l.R1)
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	wantRestored(t, l.R1, before)
	out := v1.Output()
	for _, line := range []string{"VMAC vrrp.51 on eth0", "VMAC vrrp6.51 on eth0", "setting sysctl net.ipv4.conf.all.rp_filter from 1 to 0",
		"resetting sysctl net.ipv4.conf.all.rp_filter to 1", "VMAC removed"} {
		if !strings.Contains(out, line) {
			t.Errorf("vigild did not log %q", line)
		}
	}
	if strings.Contains(out, "VMAC: ") {
		t.Errorf("vigild complained about its VMACs:\n%s", out)
	}
}

// TestInteropVMACKeepalivedMaster: keepalived (150) master, vigild (100)
// backup keeps its VMACs up without VIPs and accepts keepalived's adverts
// from keepalived's VMACs; keepalived is killed and its link cut, vigild
// takes over on its VMACs; keepalived returns and vigild steps down.
func TestInteropVMACKeepalivedMaster(t *testing.T) {
	l := newLab(t)
	k := l.R1.Keepalived(t, vmacConf(150), "-P")
	k.WaitOutput(t, "(VI_1) Entering MASTER STATE", settle)
	waitVMACMaster(t, l.R1)
	before := hostileSysctls(t, l.R2)
	v2 := startVigild(t, l.R2, vmacConf(100), "-i", "r2")
	testnet.Eventually(t, settle, func() bool {
		a, b := v2.Instance(t, "VI_1"), v2.Instance(t, "VI_6")
		return a.State == "BACKUP" && b.State == "BACKUP" && a.Received["ok"] > 5 && b.Received["ok"] > 5
	}, "vigild backup accepting keepalived's adverts on its VMACs")
	wantVMACs(t, l.R2)
	wantVMACSysctls(t, l.R2)
	if hasAddr(t, l.R2, "vrrp.51", vip4) || hasAddr(t, l.R2, "vrrp6.51", vip6) {
		t.Fatal("vigild backup holds a VIP")
	}
	clientSeesVMAC(t, l, "keepalived")

	k.Kill()
	l.If1.Cut(t)
	waitAddr(t, l.R2, "vrrp.51", vip4, true, settle)
	waitAddr(t, l.R2, "vrrp6.51", vip6, true, settle)
	clientSeesVMAC(t, l, "vigild")

	// keepalived returns (and finds its old VMACs) and preempts.
	l.If1.Restore(t)
	l.R1.Keepalived(t, vmacConf(150), "-P")
	waitAddr(t, l.R2, "vrrp.51", vip4, false, settle)
	waitAddr(t, l.R2, "vrrp6.51", vip6, false, settle)
	testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_1").State == "BACKUP" }, "vigild back to backup")
	clientSeesVMAC(t, l, "keepalived again")
	wantVMACs(t, l.R2) // a backup keeps its VMACs
	v2.Signal(syscall.SIGTERM)
	v2.Wait(settle)
	wantRestored(t, l.R2, before)
}

// ifindex returns the interface index of h's name (0 when absent).
func ifindex(t *testing.T, h *testnet.Host, name string) int {
	t.Helper()
	out, err := h.Command(t.Context(), "cat", "/sys/class/net/"+name+"/ifindex").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// TestReloadVMAC: a reload that fails to load changes nothing; one that
// drops VI_6's use_vmac removes vrrp6.51 and moves the IPv6 VIP to eth0,
// while VI_1 keeps its VMAC (the same interface) and its VIP; a reload
// without any use_vmac removes the last VMAC and puts eth0's sysctls back.
func TestReloadVMAC(t *testing.T) {
	l := newLab(t)
	before, v := startVMACMaster(t, l)
	idx := ifindex(t, l.R1, "vrrp.51")
	transitions := v.Instance(t, "VI_1").Transitions

	if err := os.WriteFile(v.Conf, []byte(vmacConf(150)+"\nvrrp_instance VI_X {\n    interface eth0\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	v.WaitOutput(t, "Reload failed, keeping the running configuration", settle)
	wantVMACs(t, l.R1)
	if !hasAddr(t, l.R1, "vrrp.51", vip4) || !hasAddr(t, l.R1, "vrrp6.51", vip6) {
		t.Fatal("a failed reload removed a VIP")
	}

	// VI_6 without use_vmac (VI_1 keeps it).
	text := vmacConf(150)
	i := strings.Index(text, "vrrp_instance VI_6")
	dropped := text[:i] + strings.Replace(text[i:], "    use_vmac\n", "", 1)
	if err := os.WriteFile(v.Conf, []byte(dropped), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	testnet.Eventually(t, settle, func() bool { _, ok := linkOf(t, l.R1, "vrrp6.51"); return !ok }, "vrrp6.51 removed")
	if got := ifindex(t, l.R1, "vrrp.51"); got != idx || !hasAddr(t, l.R1, "vrrp.51", vip4) {
		t.Errorf("vrrp.51 after the reload: index %d (was %d), VIP %v", got, idx, hasAddr(t, l.R1, "vrrp.51", vip4))
	}
	if st := v.Instance(t, "VI_1"); st.State != "MASTER" || st.Transitions != transitions {
		t.Errorf("VI_1 after a reload that did not change it: %s, transitions %d -> %d", st.State, transitions, st.Transitions)
	}
	wantVMACSysctls(t, l.R1)
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip6) }, "client reaches %s on eth0", vip6)

	// No use_vmac left.
	if err := os.WriteFile(v.Conf, []byte(conf("", 150, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	testnet.Eventually(t, settle, func() bool { _, ok := linkOf(t, l.R1, "vrrp.51"); return !ok }, "vrrp.51 removed")
	for k, want := range before {
		testnet.Eventually(t, settle, func() bool { return sysctl(t, l.R1, k) == want }, "%s back to %s after the last VMAC", k, want)
	}
	v.Signal(syscall.SIGTERM)
	v.Wait(settle)
}

// TestVMACDeletedBehindOurBack: an operator deletes the master's IPv4
// VMAC; vigild creates it again (as keepalived does), its socket reopens on
// the new link, and the master puts its VIP back on it while keepalived
// stays backup.
func TestVMACDeletedBehindOurBack(t *testing.T) {
	l := newLab(t)
	_, v := startVMACMaster(t, l)
	k := l.R2.Keepalived(t, vmacConf(100), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)
	idx := ifindex(t, l.R1, "vrrp.51")
	l.R1.Exec(t, "ip", "link", "del", "vrrp.51")
	testnet.Eventually(t, settle, func() bool { n := ifindex(t, l.R1, "vrrp.51"); return n != 0 && n != idx }, "vrrp.51 created again")
	waitVMACMaster(t, l.R1)
	wantVMACs(t, l.R1)
	wantVMACSysctls(t, l.R1)
	v.WaitOutput(t, "VMAC created again", settle)
	v.WaitOutput(t, "VRRP socket reopened", settle)
	sent := v.Instance(t, "VI_1").AdvertsSent
	testnet.Eventually(t, settle, func() bool { return v.Instance(t, "VI_1").AdvertsSent > sent+5 }, "adverts from the new vrrp.51")
	// It may also release MASTER for a moment, as for any VIP removed
	// behind its back, when the address's own removal event comes first.
	if st := v.Instance(t, "VI_1"); st.State != "MASTER" {
		t.Errorf("VI_1 after its VMAC was put back: %s, want MASTER", st.State)
	}
	if hasAddr(t, l.R2, "vrrp.51", vip4) {
		t.Error("keepalived holds the VIP: it does not hear the new VMAC's adverts")
	}
	clientSeesVMAC(t, l, "vigild")
}

// TestVMACAfterKill: vigild killed with its VMACs up (VIPs on them) is
// started again: it adopts the same interfaces, removes the VIPs the dead
// one left, becomes master again, and at stop removes the VMACs.
func TestVMACAfterKill(t *testing.T) {
	l := newLab(t)
	_, v := startVMACMaster(t, l)
	idx := ifindex(t, l.R1, "vrrp.51")
	if err := v.Kill(); err != nil {
		t.Fatal(err)
	}
	if ifindex(t, l.R1, "vrrp.51") != idx || !hasAddr(t, l.R1, "vrrp.51", vip4) {
		t.Fatal("the killed vigild's VMAC or VIP is gone: nothing left to adopt")
	}
	v = startVigild(t, l.R1, vmacConf(150), "-i", "r1")
	v.WaitOutput(t, "removing VIPs.", settle)
	waitVMACMaster(t, l.R1)
	if got := ifindex(t, l.R1, "vrrp.51"); got != idx {
		t.Errorf("vrrp.51 index %d after the restart, want the adopted %d", got, idx)
	}
	clientSeesVMAC(t, l, "vigild restarted")
	v.Signal(syscall.SIGTERM)
	v.Wait(settle)
	for _, name := range []string{"vrrp.51", "vrrp6.51"} {
		if _, ok := linkOf(t, l.R1, name); ok {
			t.Errorf("%s left after stop", name)
		}
	}
}

// TestInteropVMACXmitBase: with vmac_xmit_base on both sides the adverts
// leave eth0 while the VIPs and the virtual MACs stay on the VMACs; vigild
// master, keepalived backup, and a failover.
func TestInteropVMACXmitBase(t *testing.T) {
	xconf := func(prio int) string { return conf("", prio, "    use_vmac\n    vmac_xmit_base") }
	l := newLab(t)
	v := startVigild(t, l.R1, xconf(150), "-i", "r1")
	waitVMACMaster(t, l.R1)
	k := l.R2.Keepalived(t, xconf(100), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)
	k.WaitOutput(t, "(VI_6) Entering BACKUP STATE", settle)
	clientSeesVMAC(t, l, "vigild")
	if hasAddr(t, l.R2, "vrrp.51", vip4) || hasAddr(t, l.R2, "vrrp6.51", vip6) {
		t.Fatal("keepalived backup holds a VIP: it does not hear vigild's adverts from eth0")
	}
	if out := l.R1.Exec(t, "ip", "-6", "-o", "addr", "show", "dev", "vrrp6.51", "scope", "link"); out != "" {
		t.Errorf("vrrp6.51 has a link-local address with vmac_xmit_base: %s", out)
	}
	v.Signal(syscall.SIGTERM)
	v.Wait(settle)
	waitAddr(t, l.R2, "vrrp.51", vip4, true, settle)
	waitAddr(t, l.R2, "vrrp6.51", vip6, true, settle)
	clientSeesVMAC(t, l, "keepalived")
}

// advertsFrom counts the IPv4 adverts of VRID 51 from src that the client
// sees in one second (ten at advert_int 0.1 s).
func advertsFrom(t *testing.T, l *lab, src string) int {
	t.Helper()
	c := l.Client.Capture(t, "eth0", "ip proto 112 and src host "+src)
	time.Sleep(time.Second)
	n := 0
	for _, p := range c.Stop(t) {
		if f := harness.Classify(p); f.Kind == harness.FrameAdvert && f.VRID == 51 && !f.V6 {
			n++
		}
	}
	return n
}

// TestVMACSourceFollowsParent: an IPv4 VMAC has no address of its own, so
// vigild's adverts leave it from eth0's primary address. Moving eth0 to
// another address moves the adverts' source with it (the socket is
// reopened on the parent's address event), as keepalived reads the base
// interface's addresses for an IPv4 VMAC.
func TestVMACSourceFollowsParent(t *testing.T) {
	l := newLab(t)
	_, v := startVMACMaster(t, l)
	adverts := func(src string) int { return advertsFrom(t, l, src) }
	if n := adverts(harness.R1v4); n < 5 {
		t.Fatalf("%d adverts from %s in 1 s before the move", n, harness.R1v4)
	}
	const moved = "192.0.2.11"
	l.R1.Exec(t, "ip", "addr", "del", harness.R1v4+"/24", "dev", "eth0")
	l.R1.Exec(t, "ip", "addr", "add", moved+"/24", "dev", "eth0")
	testnet.Eventually(t, settle, func() bool { return adverts(moved) >= 5 }, "adverts from %s after eth0 moved to it", moved)
	if n := adverts(harness.R1v4); n != 0 {
		t.Errorf("%d adverts still from %s after eth0 moved", n, harness.R1v4)
	}
	if s := v.Instance(t, "VI_1"); s.State != "MASTER" {
		t.Errorf("VI_1 %s after the move", s.State)
	}
}
