package ipvslab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// pairConf is director i's keepalived.conf: one VRRP instance holding the
// VIP on front and the real servers' gateway on back, the kernel's sync
// daemon on back following the instance (lvs_sync_daemon), and one NAT
// service over two real servers. Without sync, no sync daemon.
func pairConf(i int, sync bool) string {
	prio := 150 - 50*i
	syncd := ""
	if sync {
		syncd = " lvs_sync_daemon back VI_1 id 7\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global_defs {
 router_id dir%d
%s}
vrrp_instance VI_1 {
 state BACKUP
 interface front
 virtual_router_id 51
 priority %d
 advert_int 1
 virtual_ipaddress {
  %s/32 dev front
  %s/32 dev back
 }
}
virtual_server %s 80 {
 delay_loop 1
 lb_algo rr
 lb_kind NAT
 protocol TCP
`, i, syncd, prio, VIP, Gateway, VIP)
	for j := range 2 {
		fmt.Fprintf(&b, " real_server %s %d {\n  weight 1\n%s }\n", RealAddr(j), portNAT, check(portNAT))
	}
	b.WriteString("}\n")
	return b.String()
}

// holds reports whether h has addr on ifname.
func holds(h *testnet.Host, ifname, addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "ip", "-o", "-4", "addr", "show", "dev", ifname).CombinedOutput()
	return err == nil && strings.Contains(string(out), " "+addr+"/")
}

// conns returns h's IPVS connection entries (ipvsadm -Lnc) from the
// client to the VIP's port 80.
func conns(t testing.TB, h *testnet.Host) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "ipvsadm", "-Lnc").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Lnc in %s: %v\n%s", h.Name(), err, out)
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		// pro expire state source virtual destination
		f := strings.Fields(l)
		if len(f) == 6 && f[0] == "TCP" && strings.HasPrefix(f[3], ClientAddr+":") && f[4] == VIP+":80" {
			got = append(got, f[2]+" "+f[3]+" "+f[5])
		}
	}
	return got
}

// testDirectorPair: two directors, VRRP moving the VIP and the gateway,
// the kernel's sync daemon replicating IPVS connections from the master
// to the backup. A NAT connection established through the master keeps
// working after the master's daemon is killed (SIGTERM, what `kill`
// sends) and the backup takes over.
//
// The control, against keepalived: without lvs_sync_daemon the same
// connection breaks at the failover (the new master's kernel has no entry
// for it), so the scenario can tell a replicated connection from one that
// was not.
func testDirectorPair(t *testing.T) {
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) { runPair(t, k, true) })
	}
	t.Run("keepalived without sync daemon (control)", func(t *testing.T) { runPair(t, Keepalived, false) })
}

func runPair(t *testing.T, k Kind, sync bool) {
	l := New(t, Options{Directors: 2, Reals: 2})
	for j := range 2 {
		l.Reals[j].ServeTCP(t, portNAT)
	}
	want := Expect(Service{Line: fmt.Sprintf("TCP %s:80 rr", VIP), Dests: []string{
		Dest(fmt.Sprintf("%s:%d", RealAddr(0), portNAT), "Masq", 1),
		Dest(fmt.Sprintf("%s:%d", RealAddr(1), portNAT), "Masq", 1),
	}})
	t.Cleanup(func() {
		if t.Failed() {
			dumpPair(t, l)
		}
	})
	// dir0 first, master alone, then dir1 joins as backup: the failover
	// under test is the only transition (two daemons started together
	// both become master for a moment).
	master, backup := l.Directors[0], l.Directors[1]
	ds := []*Daemon{Start(t, master, k, pairConf(0, sync))}
	testnet.Eventually(t, settle, func() bool {
		return holds(master, "front", VIP) && holds(master, "back", Gateway)
	}, "%s: dir0 (priority 150) holds %s and %s", k, VIP, Gateway)
	ds = append(ds, Start(t, backup, k, pairConf(1, sync)))
	for _, h := range l.Directors {
		WaitTable(t, h, settle, want, string(k)+": "+h.Name()+" at start")
	}
	if holds(backup, "front", VIP) || !holds(master, "front", VIP) {
		t.Fatalf("%s: dir0 should hold %s alone", k, VIP)
	}

	c, err := l.Dial(t, VIP+":80")
	if err != nil {
		t.Fatalf("%s: dial through the master: %v", k, err)
	}
	// Past the sync threshold (3 packets by default) the master's sync
	// daemon sends the connection; the backup's kernel keeps it.
	var first string
	for i := range 6 {
		who, err := c.Ask(fmt.Sprintf("before %d", i))
		if err != nil {
			t.Fatalf("%s: through the master: %v", k, err)
		}
		if first == "" {
			first = who
		}
	}
	if sync {
		testnet.Eventually(t, settle, func() bool { return len(conns(t, backup)) > 0 },
			"%s: the backup's kernel has the connection (sync daemon); master's entries %q", k, conns(t, master))
		t.Logf("%s: the backup's replicated connection: %q", k, conns(t, backup))
	} else if got := conns(t, backup); len(got) > 0 {
		t.Fatalf("%s: without a sync daemon the backup has the connection: %q", k, got)
	}

	ds[0].Stop(t)
	testnet.Eventually(t, settle, func() bool {
		return holds(backup, "front", VIP) && holds(backup, "back", Gateway)
	}, "%s: dir1 takes %s and %s over", k, VIP, Gateway)

	if !sync {
		if who, err := c.Ask("after"); err == nil {
			t.Fatalf("%s: without a sync daemon the connection still works after the failover (answered by %s): the scenario cannot tell", k, who)
		} else {
			t.Logf("%s: without a sync daemon the connection broke, as it must: %v", k, err)
		}
		ds[1].Stop(t)
		return
	}
	// The established connection keeps working through the new master,
	// to the same real server.
	for i := range 3 {
		who, err := c.Ask(fmt.Sprintf("after %d", i))
		if err != nil {
			t.Fatalf("%s: the connection through the VIP broke at the failover: %v", k, err)
		}
		if who != first {
			t.Fatalf("%s: the connection moved from %s to %s", k, first, who)
		}
	}
	ds[1].Stop(t)
}

// dumpPair logs what a failed pair scenario needs: addresses and IPVS
// state of the directors, the neighbours of the client and the real
// servers.
func dumpPair(t *testing.T, l *Lab) {
	run := func(h *testnet.Host, name string, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := h.Command(ctx, name, args...).CombinedOutput()
		t.Logf("%s: %s %s (%v):\n%s", h.Name(), name, strings.Join(args, " "), err, out)
	}
	for _, h := range l.Directors {
		run(h, "ip", "-o", "-4", "addr")
		run(h, "ip", "-4", "neigh")
		run(h, "ipvsadm", "-Lnc")
		run(h, "ipvsadm", "-L", "--daemon")
	}
	run(l.Client, "ip", "-4", "neigh")
	for _, r := range l.Reals {
		run(r.Host, "ip", "-4", "neigh")
	}
}
