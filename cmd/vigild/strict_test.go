package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// nftTables lists h's nftables tables ("table inet vigil" lines).
func nftTables(t *testing.T, h *testnet.Host) string {
	t.Helper()
	out, err := h.Command(t.Context(), "nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables in %s: %v\n%s", h.Name(), err, out)
	}
	return string(out)
}

// tcpListen accepts (and closes) connections on port 8080 of every
// address of h until the test ends.
func tcpListen(t *testing.T, h *testnet.Host) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", ":8080"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// tcpConnects reports whether h completes a TCP handshake with addr:8080
// within a second.
func tcpConnects(t *testing.T, h *testnet.Host, addr string) bool {
	t.Helper()
	var c net.Conn
	err := h.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", net.JoinHostPort(addr, "8080"), time.Second)
		return err
	})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestNoAcceptFilter: RFC 5798 Accept_Mode as keepalived enforces it. R1 is
// the only router, so a non-owner master (priority 150) holding both VIPs;
// with no_accept, traffic to its VIPs is dropped by vigil's own nftables
// table (the client can neither ping them nor open a TCP connection to
// them, while R1's own address answers both and an unrelated table is
// left alone); SIGTERM removes the table. A table a
// killed vigild left, with a VIP still in its drop set, is removed at the
// next start when nothing needs it, and the VIPs answer.
func TestNoAcceptFilter(t *testing.T) {
	testnet.NeedRoot(t, "nft", "ping")
	l := newLab(t)
	l.R1.Exec(t, "nft", "add table ip other; add chain ip other c { type filter hook input priority 0; }")
	tcpListen(t, l.R1)

	v := startVigild(t, l.R1, conf("", 150, "    no_accept"), "-i", "r1")
	v.WaitState(t, "VI_1", "MASTER")
	v.WaitState(t, "VI_6", "MASTER")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	if !strings.Contains(nftTables(t, l.R1), "table inet vigil") {
		t.Fatalf("no vigil table while a no_accept master:\n%s", nftTables(t, l.R1))
	}
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, r1v4) && tcpConnects(t, l.Client, r1v4) },
		"R1's own address does not answer")
	for _, a := range []string{vip4, vip6} {
		for range 3 {
			if ping(t, l.Client, a) {
				t.Fatalf("the no_accept master answers a ping to %s", a)
			}
			if tcpConnects(t, l.Client, a) {
				t.Fatalf("the no_accept master accepts a TCP connection to %s", a)
			}
		}
	}
	set := l.R1.Exec(t, "nft", "list", "set", "inet", "vigil", "vips4")
	if !strings.Contains(set, vip4) {
		t.Errorf("vips4 does not hold %s:\n%s", vip4, set)
	}

	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	if code, err := v.Wait(settle); err != nil || code != 0 {
		t.Fatalf("vigild after SIGTERM: exit %d, %v", code, err)
	}
	tables := nftTables(t, l.R1)
	if strings.Contains(tables, "inet vigil") || !strings.Contains(tables, "table ip other") {
		t.Fatalf("after SIGTERM, want vigil's table gone and the other kept:\n%s", tables)
	}

	// A killed vigild's table, with the VIP in its drop set.
	l.R1.Exec(t, "nft", "add table inet vigil; add set inet vigil vips4 { type ipv4_addr; }; "+
		"add chain inet vigil in { type filter hook input priority -1; }; add rule inet vigil in ip daddr @vips4 drop; "+
		"add element inet vigil vips4 { "+vip4+" }")
	v2 := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	v2.WaitState(t, "VI_1", "MASTER")
	v2.WaitState(t, "VI_6", "MASTER")
	for _, a := range []string{vip4, vip6} {
		testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, a) && tcpConnects(t, l.Client, a) },
			"accept mode: %s does not answer", a)
	}
	if tables := nftTables(t, l.R1); strings.Contains(tables, "inet vigil") {
		t.Errorf("the leftover table survives a start that needs no filter:\n%s", tables)
	}
}

// TestStartupShutdownScripts: startup_script runs before VRRP starts (it
// sees no VIP on the host) and shutdown_script after vigild has stopped
// everything (the VIP is gone), each as script_user nobody under
// enable_script_security; a startup script that outlives
// startup_script_timeout is killed and vigild starts anyway.
func TestStartupShutdownScripts(t *testing.T) {
	testnet.Nobody(t)
	l := newLab(t)
	base := secBase(t)
	out := secDir(t, base, "out", 0o777)
	log := filepath.Join(out, "log")
	vipOn := "ip -o addr show dev eth0 | grep -q ' " + vip4 + "/' && echo vip || echo novip"
	start := testnet.WriteScript(t, base, "start.sh", `echo "start $(id -u) $(`+vipOn+`)" >> `+log)
	stop := testnet.WriteScript(t, base, "stop.sh", `echo "stop $1 $(id -u) $(`+vipOn+`)" >> `+log)
	g := "    enable_script_security\n    script_user nobody\n" +
		"    startup_script " + start + "\n    shutdown_script \"" + stop + " bye\"\n    shutdown_script_timeout 5\n"
	v := startVigild(t, l.R1, conf(g, 150, ""), "-i", "r1")
	v.WaitState(t, "VI_1", "MASTER")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	if code, err := v.Wait(settle); err != nil || code != 0 {
		t.Fatalf("vigild after SIGTERM: exit %d, %v", code, err)
	}
	uid, _ := testnet.Nobody(t)
	id := strconv.FormatUint(uint64(uid), 10)
	want := "start " + id + " novip\nstop bye " + id + " novip"
	if got := uidLog(t, log); got != want {
		t.Fatalf("scripts wrote %q, want %q\n%s", got, want, v.Output())
	}

	// A startup script that hangs is killed at its timeout.
	hang := testnet.WriteScript(t, base, "hang.sh", "echo hang >> "+log+"; exec sleep 600")
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	v2 := startVigild(t, l.R1, conf("    script_user nobody\n    enable_script_security\n    startup_script "+hang+"\n    startup_script_timeout 1\n", 150, ""), "-i", "r1")
	v2.WaitState(t, "VI_1", "MASTER")
	if d := time.Since(began); d < time.Second {
		t.Errorf("MASTER %v after start: the startup script was not waited for", d)
	}
	v2.WaitOutput(t, "startup script timed out", settle)
	if got := uidLog(t, log); got != "hang" {
		t.Errorf("hang script log %q", got)
	}
}

// TestRouteTableNamesReachKernel: `table NAME` in virtual_routes and
// virtual_rules is resolved through the rt_tables files vigild sees (here
// the namespace's own /etc/iproute2, which `ip netns exec` mounts from
// /etc/netns/NS/iproute2: rt_tables and an rt_tables.d/*.conf), and the
// master's route and rule land in those tables.
func TestRouteTableNamesReachKernel(t *testing.T) {
	testnet.NeedRoot(t)
	l := newLab(t)
	dir := filepath.Join("/etc/netns", l.R1.Name(), "iproute2")
	t.Cleanup(func() {
		os.RemoveAll(filepath.Dir(dir))
		os.Remove("/etc/netns") // only if nothing else is there
	})
	if err := os.MkdirAll(filepath.Join(dir, "rt_tables.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"rt_tables":               "255 local\n254 main\n253 default\n1000 vigiltest\n",
		"rt_tables.d/vigild.conf": "# from a drop-in\n1001 vigildrop\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	extra := "    virtual_routes {\n        198.51.100.0/24 via " + r2v4 + " dev eth0 table vigiltest\n    }\n" +
		"    virtual_rules {\n        from 203.0.113.0/24 table vigildrop priority 100\n    }\n"
	cfg := strings.Replace(conf("", 150, ""), "    virtual_ipaddress {\n        "+vip4+"/24", extra+"    virtual_ipaddress {\n        "+vip4+"/24", 1)
	v := startVigild(t, l.R1, cfg, "-i", "r1")
	v.WaitState(t, "VI_1", "MASTER")
	testnet.Eventually(t, settle, func() bool {
		out := l.R1.Exec(t, "ip", "-4", "route", "show", "table", "all")
		return strings.Contains(out, "198.51.100.0/24 via "+r2v4+" dev eth0 table vigiltest") ||
			strings.Contains(out, "198.51.100.0/24 via "+r2v4+" dev eth0 table 1000")
	}, "route not in table 1000:\n%s", l.R1.Exec(t, "ip", "-4", "route", "show", "table", "all"))
	testnet.Eventually(t, settle, func() bool {
		out := l.R1.Exec(t, "ip", "-4", "rule", "show")
		return strings.Contains(out, "from 203.0.113.0/24 lookup vigildrop") || strings.Contains(out, "from 203.0.113.0/24 lookup 1001")
	}, "rule not looking up table 1001:\n%s", l.R1.Exec(t, "ip", "-4", "rule", "show"))
	if strings.Contains(v.Output(), "not found in rt_tables") {
		t.Errorf("vigild could not resolve a name:\n%s", v.Output())
	}
}

// TestVIPLimitFromInterfaceMTU: vigild -t counts the VIPs an advert can
// carry from the interface's real MTU (1280 here: 76 IPv6 addresses) and
// names the first address moved to the excluded ones.
func TestVIPLimitFromInterfaceMTU(t *testing.T) {
	testnet.NeedRoot(t)
	l := newLab(t)
	l.R1.Exec(t, "ip", "link", "set", "eth0", "mtu", "1280")
	var vips strings.Builder
	for i := 1; i <= 80; i++ {
		fmt.Fprintf(&vips, "        2001:db8:1::%x/64\n", 0x1000+i)
	}
	cfg := "vrrp_instance VI_6 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        fe80::51/64\n" +
		vips.String() + "    }\n}\n"
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := vigildIn(t, l, "-t", "-f", path)
	want := path + ":81:9: virtual_ipaddress: (VI_6) number of VIPs (81) exceeds the space available in an advert (eth0 MTU 1280: at most 76 addresses)"
	if code != 5 || !strings.Contains(out, want) {
		t.Fatalf("vigild -t: exit %d, want 5 and %q:\n%s", code, want, out)
	}
}
