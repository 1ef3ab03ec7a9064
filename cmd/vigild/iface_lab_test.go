package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// ifInst renders one IPv4 VRRPv3 instance on eth0 for the interface
// tests, with extra lines inside the block.
func ifInst(global string, prio int, adv, extra string) string {
	return fmt.Sprintf(`global_defs {
    router_id iface
%s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int %s
    version 3
%s
    virtual_ipaddress {
        %s/24
    }
}
`, global, prio, adv, extra, vip4)
}

// TestLinkDelaysLab: interface_up_down_delays { eth0 1.5 1 } with
// advert_int 1 (a delay must stay under two advert intervals).
// `ip link set eth0 down` followed 0.3 s later by `up` (a flap far shorter
// than the down delay) leaves the master MASTER with its VIP and no
// transition, also once the delay has passed. Down for longer, it goes
// FAULT, but not in the first half second.
func TestLinkDelaysLab(t *testing.T) {
	l := newLab(t)
	conf := "interface_up_down_delays {\n    eth0 1.5 1\n}\n" + ifInst("", 150, "1", "")
	v := startVigild(t, l.R1, conf)
	v.WaitInstance(t, 3*harness.Settle, "VI_1", "MASTER", func(s ctl.InstanceStatus) bool { return s.State == "MASTER" })
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	before := v.Instance(t, "VI_1").Transitions

	l.R1.Exec(t, "sh", "-c", "ip link set eth0 down; sleep 0.3; ip link set eth0 up")
	v.WaitOutput(t, "Delay timer for eth0 cancelled", settle)
	time.Sleep(2 * time.Second) // past the down delay
	if st := v.Instance(t, "VI_1"); st.State != "MASTER" || st.Transitions != before || !hasAddr(t, l.R1, "eth0", vip4) {
		t.Fatalf("after a 0.3 s flap: %s, transitions %d -> %d, VIP %v", st.State, before, st.Transitions, hasAddr(t, l.R1, "eth0", vip4))
	}

	l.If1.Down(t)
	time.Sleep(500 * time.Millisecond)
	if st := v.Instance(t, "VI_1"); st.State != "MASTER" {
		t.Fatalf("0.5 s into a 1.5 s down delay: %s", st.State)
	}
	v.WaitState(t, "VI_1", "FAULT")
	if hasAddr(t, l.R1, "eth0", vip4) {
		t.Error("FAULT kept the VIP")
	}
	l.If1.Up(t)
	v.WaitInstance(t, 3*harness.Settle, "VI_1", "MASTER again", func(s ctl.InstanceStatus) bool { return s.State == "MASTER" })
}

// TestDynamicInterfaceLab: with dynamic_interfaces vigild starts on a host
// without eth0: VI_1 waits in FAULT. Once the veth is created and
// addressed, VI_1 runs and becomes MASTER with its VIP; deleted, it goes
// FAULT, and created again it is MASTER again. Without
// dynamic_interfaces vigild refuses to start.
func TestDynamicInterfaceLab(t *testing.T) {
	l := testnet.New(t)
	sw := l.Switch("sw")
	r1 := l.Host("r1")

	noDyn := startVigild(t, r1, ifInst("", 150, "0.1", ""))
	if code, err := noDyn.Wait(settle); err != nil || code == 0 {
		t.Fatalf("without dynamic_interfaces: exit %d, %v; output:\n%s", code, err, noDyn.Output())
	}
	if !strings.Contains(noDyn.Output(), "interface eth0 does not exist") {
		t.Errorf("without dynamic_interfaces, no reason given:\n%s", noDyn.Output())
	}

	v := startVigild(t, r1, ifInst("    dynamic_interfaces", 150, "0.1", ""))
	v.WaitOutput(t, "doesn't currently exist - will use if created", settle)
	v.WaitState(t, "VI_1", "FAULT")
	time.Sleep(time.Second)
	if st := v.Instance(t, "VI_1"); st.State != "FAULT" || st.AdvertsSent != 0 {
		t.Fatalf("without eth0: %s, %d adverts sent", st.State, st.AdvertsSent)
	}

	eth0 := sw.Attach(r1, "eth0")
	eth0.AddAddr(t, r1v4+"/24")
	v.WaitState(t, "VI_1", "MASTER")
	waitAddr(t, r1, "eth0", vip4, true, settle)

	// Deleted, then created again: FAULT, then MASTER on the new link.
	r1.Exec(t, "ip", "link", "del", "eth0")
	v.WaitState(t, "VI_1", "FAULT")
	eth0 = sw.Attach(r1, "eth0")
	eth0.AddAddr(t, r1v4+"/24")
	v.WaitState(t, "VI_1", "MASTER")
	waitAddr(t, r1, "eth0", vip4, true, settle)
}

// advertDst is the IPv4 destination of a captured VRRP advert frame.
func advertDst(p testnet.Packet) netip.Addr {
	if len(p.Data) < 14+20 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(p.Data[14+16 : 14+20]))
}

// TestReloadUnicastPeersLab: r1 is the unicast master of r2. A reload
// that adds the client as a second peer leaves r1 MASTER with no
// transition: tcpdump on r1's eth0 sees no priority-0 advert from r1, the
// VIP is on eth0 at every look, and adverts go to the new peer afterwards.
func TestReloadUnicastPeersLab(t *testing.T) {
	l := newLab(t)
	peers := func(p ...string) string {
		return "    unicast_src_ip %s\n    unicast_peer {\n        " + strings.Join(p, "\n        ") + "\n    }"
	}
	r1conf := ifInst("", 150, "0.1", fmt.Sprintf(peers(r2v4), r1v4))
	v := startVigild(t, l.R1, r1conf)
	startVigild(t, l.R2, ifInst("", 100, "0.1", fmt.Sprintf(peers(r1v4), r2v4)))
	v.WaitState(t, "VI_1", "MASTER")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	before := v.Instance(t, "VI_1").Transitions

	capt := l.R1.Capture(t, "eth0", "ip proto 112")
	if err := os.WriteFile(v.Conf, []byte(ifInst("", 150, "0.1", fmt.Sprintf(peers(r2v4, clientv4), r1v4))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := v.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	v.WaitOutput(t, "unicast peers changed, applied without restart", settle)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if !hasAddr(t, l.R1, "eth0", vip4) {
			t.Fatal("the VIP left eth0 during the reload")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pkts := capt.Stop(t)
	mac := l.If1.MAC()
	toClient := 0
	for _, p := range pkts {
		f := harness.Classify(p)
		if f.Kind != harness.FrameAdvert || !f.From(mac) {
			continue
		}
		if f.Prio == 0 {
			t.Fatalf("r1 sent a priority-0 advert to %v at the reload", advertDst(p))
		}
		if advertDst(p) == netip.MustParseAddr(clientv4) {
			toClient++
		}
	}
	if toClient == 0 {
		t.Errorf("no advert to the new peer %s in %d captured frames", clientv4, len(pkts))
	}
	if st := v.Instance(t, "VI_1"); st.State != "MASTER" || st.Transitions != before {
		t.Errorf("after the reload: %s, transitions %d -> %d", st.State, before, st.Transitions)
	}
}

// TestSourceFollowsPrimary: without unicast_src_ip or mcast_src_ip,
// adverts leave from the interface's primary address, never from a VIP.
// eth0's primary goes away while the VIP, a secondary of its subnet, is
// promoted (promote_secondaries) and another address remains: the socket is
// reopened from that one. The VIP's own events (its promotion) are not
// what moves it: the daemon reads the interface again only for addresses
// that are not virtual.
func TestSourceFollowsPrimary(t *testing.T) {
	l := newLab(t)
	l.R1.Sysctl(t, "net.ipv4.conf.eth0.promote_secondaries", "1")
	v := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	if n := advertsFrom(t, l, harness.R1v4); n < 5 {
		t.Fatalf("%d adverts from %s in 1 s", n, harness.R1v4)
	}
	const other = "198.51.100.11"
	l.R1.Exec(t, "ip", "addr", "add", other+"/24", "dev", "eth0")
	if n := advertsFrom(t, l, harness.R1v4); n < 5 {
		t.Fatalf("another address added: %d adverts from %s in 1 s, want the first primary kept", n, harness.R1v4)
	}
	l.R1.Exec(t, "ip", "addr", "del", harness.R1v4+"/24", "dev", "eth0")
	if !hasAddr(t, l.R1, "eth0", vip4) {
		t.Fatalf("the VIP went with %s: promote_secondaries did not hold it", harness.R1v4)
	}
	testnet.Eventually(t, settle, func() bool { return advertsFrom(t, l, other) >= 5 }, "adverts from %s after %s went", other, harness.R1v4)
	if n := advertsFrom(t, l, vip4); n != 0 {
		t.Errorf("%d adverts from the VIP %s", n, vip4)
	}
	if s := v.Instance(t, "VI_1"); s.State != "MASTER" {
		t.Errorf("VI_1 %s after the move", s.State)
	}
}
