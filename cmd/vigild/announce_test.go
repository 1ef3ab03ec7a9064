package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// garpFrom reports whether frame is a gratuitous ARP for ip sent by mac
// (request form: sender IP = target IP = ip, sender MAC = mac).
func garpFrom(frame []byte, ip netip.Addr, mac net.HardwareAddr) bool {
	if len(frame) < 42 || binary.BigEndian.Uint16(frame[12:14]) != 0x0806 {
		return false
	}
	arp := frame[14:]
	return bytes.Equal(arp[8:14], mac) && bytes.Equal(arp[14:18], ip.AsSlice()) && bytes.Equal(arp[24:28], ip.AsSlice())
}

// naFrom reports whether frame is an unsolicited neighbour advertisement
// for target with O=1, S=0, carrying mac in its target link-layer option.
func naFrom(frame []byte, target netip.Addr, mac net.HardwareAddr) bool {
	const ipv6Hdr = 40
	if len(frame) < 14+ipv6Hdr+24 || binary.BigEndian.Uint16(frame[12:14]) != 0x86dd {
		return false
	}
	ip := frame[14:]
	if ip[6] != 58 || ip[7] != 255 { // ICMPv6, hop limit 255
		return false
	}
	icmp := ip[ipv6Hdr:]
	if icmp[0] != 136 || !bytes.Equal(icmp[8:24], target.AsSlice()) {
		return false
	}
	flags := icmp[4]
	if flags&0x20 == 0 || flags&0x40 != 0 { // O set, S clear
		return false
	}
	for opts := icmp[24:]; len(opts) >= 8; {
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return false
		}
		if opts[0] == 2 && bytes.Equal(opts[2:8], mac) {
			return true
		}
		opts = opts[l:]
	}
	return false
}

// TestAnnouncements: the new master's gratuitous ARP and unsolicited NA
// reach the client with the master's MAC; garp_master_repeat rounds are
// sent, and garp_master_refresh repeats them while master. The address
// manager's "added address" lines, which the kernel worker holds until
// the loop takes its job's outcome, are in the log. Once the takeover's
// rounds are out and no transition has come for a Master_Down_Interval,
// start-up has settled and vigild gives start-up memory back a fourth
// and last time.
func TestAnnouncements(t *testing.T) {
	l := newLab(t)
	capt := l.Client.Capture(t, "eth0", "arp or icmp6")
	global := "vrrp_garp_master_refresh 1"
	cfg := conf(global, 150, "garp_master_repeat 2")
	v := startVigild(t, l.R1, cfg, "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	mac := l.If1.MAC()
	v4, v6 := netip.MustParseAddr(vip4), netip.MustParseAddr(vip6)
	capt.WaitPacket(t, settle, func(p testnet.Packet) bool { return garpFrom(p.Data, v4, mac) })
	capt.WaitPacket(t, settle, func(p testnet.Packet) bool { return naFrom(p.Data, v6, mac) })
	// Refresh every second: wait for at least two more rounds.
	time.Sleep(2500 * time.Millisecond)
	pkts := capt.Stop(t)
	var garps, nas int
	var first, last time.Time
	for _, p := range pkts {
		if garpFrom(p.Data, v4, mac) {
			garps++
			if first.IsZero() {
				first = p.Time
			}
			last = p.Time
		}
		if naFrom(p.Data, v6, mac) {
			nas++
		}
	}
	// 2 rounds at takeover, 2 after garp_master_delay (1 s), and refreshes.
	if garps < 4 || nas < 4 {
		t.Errorf("saw %d GARPs and %d NAs for the VIPs, want at least 4 each", garps, nas)
	}
	if last.Sub(first) < 1500*time.Millisecond {
		t.Errorf("GARPs span %v: no refresh while master", last.Sub(first))
	}
	for _, a := range []string{vip4, vip6} {
		added := false
		for line := range strings.Lines(v.Output()) {
			added = added || strings.Contains(line, "vip: added address") && strings.Contains(line, a)
		}
		if !added {
			t.Errorf("no \"vip: added address\" line for %s in the log:\n%s", a, v.Output())
		}
	}
	v.WaitOutput(t, `msg="start-up settled"`, settle)
	testnet.Eventually(t, settle, func() bool { return strings.Count(v.Output(), "released start-up memory") == 5 },
		"vigild did not release start-up memory five times (before the configuration is read, after it, before the loop, once it runs, once settled)")
}

// TestExcludedAndRoutes: virtual_ipaddress_excluded, virtual_routes and
// virtual_rules follow the master, and are not carried in adverts (the backup, which
// has only the main VIP, accepts the adverts without an address-list
// warning).
func TestExcludedAndRoutes(t *testing.T) {
	l := newLab(t)
	extra := fmt.Sprintf(`virtual_ipaddress_excluded {
        198.51.100.1/32 dev eth0
        2001:db8:2::1/128
    }
    virtual_routes {
        203.0.113.0/24 via %s dev eth0
        src %s 198.51.100.0/24 dev eth0
    }
    virtual_rules {
        from 203.0.113.0/24 table 100 priority 1000
    }`, clientv4, vip4)
	cfg := func(prio int) string {
		c := conf("", prio, "")
		// Only VI_1 gets the extras.
		i := bytes.Index([]byte(c), []byte("    virtual_ipaddress {"))
		return c[:i] + "    " + extra + "\n" + c[i:]
	}
	v1 := startVigild(t, l.R1, cfg(150), "-i", "r1")
	v2 := startVigild(t, l.R2, cfg(100), "-i", "r2")
	waitAddr(t, l.R1, "eth0", "198.51.100.1", true, settle)
	waitAddr(t, l.R1, "eth0", "2001:db8:2::1", true, settle)
	routes := func(h *testnet.Host) string {
		out, _ := h.Command(t.Context(), "ip", "route", "show").CombinedOutput()
		return string(out)
	}
	testnet.Eventually(t, settle, func() bool {
		r := routes(l.R1)
		return bytes.Contains([]byte(r), []byte("203.0.113.0/24 via "+clientv4)) && bytes.Contains([]byte(r), []byte("src "+vip4))
	}, "master's virtual_routes: %s", routes(l.R1))
	rules := func(h *testnet.Host) string {
		out, _ := h.Command(t.Context(), "ip", "rule", "show").CombinedOutput()
		return string(out)
	}
	testnet.Eventually(t, settle, func() bool {
		return bytes.Contains([]byte(rules(l.R1)), []byte("1000:\tfrom 203.0.113.0/24 lookup 100"))
	}, "master's virtual_rules: %s", rules(l.R1))
	if hasAddr(t, l.R2, "eth0", "198.51.100.1") || bytes.Contains([]byte(routes(l.R2)), []byte("203.0.113.0/24")) ||
		bytes.Contains([]byte(rules(l.R2)), []byte("203.0.113.0/24")) {
		t.Fatal("backup holds the excluded address, the virtual route or the virtual rule")
	}
	testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_1").Received["ok"] > 3 }, "backup accepts adverts")
	if n := v2.Instance(t, "VI_1").Received["addr_list_warning"]; n != 0 {
		t.Errorf("excluded addresses were carried in adverts: %d address-list warnings", n)
	}
	// Failover carries them over.
	v1.Kill()
	l.If1.Cut(t)
	waitAddr(t, l.R2, "eth0", "198.51.100.1", true, settle)
	testnet.Eventually(t, settle, func() bool {
		return bytes.Contains([]byte(routes(l.R2)), []byte("203.0.113.0/24 via "+clientv4))
	}, "new master's virtual_routes: %s", routes(l.R2))
}

// TestStatics: static_ipaddress, static_routes and static_rules are
// installed whatever the VRRP state (here on the backup) and removed
// when vigild stops.
func TestStatics(t *testing.T) {
	l := newLab(t)
	global := `}
static_ipaddress {
    198.51.100.7/32 dev eth0 label eth0:st
}
static_routes {
    203.0.113.0/25 via ` + clientv4 + ` dev eth0
}
static_rules {
    from 198.51.100.7/32 table 200 priority 2000
}
global_defs {`
	startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v2 := startVigild(t, l.R2, conf(global, 100, ""), "-i", "r2")
	waitAddr(t, l.R2, "eth0", "198.51.100.7", true, settle)
	out := func(args ...string) string {
		b, _ := l.R2.Command(t.Context(), "ip", args...).CombinedOutput()
		return string(b)
	}
	testnet.Eventually(t, settle, func() bool {
		return strings.Contains(out("route"), "203.0.113.0/25 via "+clientv4) && strings.Contains(out("rule"), "2000:\tfrom 198.51.100.7 lookup 200")
	}, "static route and rule on the backup: %s %s", out("route"), out("rule"))
	if s := v2.Instance(t, "VI_1"); s.State != "BACKUP" {
		t.Fatalf("r2 is %s", s.State)
	}
	v2.Signal(syscall.SIGTERM)
	if _, err := v2.Wait(settle); err != nil {
		t.Fatal(err)
	}
	if hasAddr(t, l.R2, "eth0", "198.51.100.7") || strings.Contains(out("route"), "203.0.113.0/25") || strings.Contains(out("rule"), "198.51.100.7") {
		t.Errorf("statics left after stop: %s %s", out("route"), out("rule"))
	}
}
