package ipvs_test

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/ipvs"
)

// testSyncDaemon starts a master and a backup sync daemon on a veth,
// reads them back (and through ipvsadm), and stops them.
func testSyncDaemon(t *testing.T, k *ipvs.Kernel) {
	root, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	must(t, err)
	t.Cleanup(root.Close)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vsync"}, PeerName: "vsyncp"}
	must(t, root.LinkAdd(veth))
	t.Cleanup(func() { _ = root.LinkDel(veth) })
	for _, n := range []string{"vsync", "vsyncp"} {
		l, err := root.LinkByName(n)
		must(t, err)
		must(t, root.LinkSetUp(l))
	}
	master := ipvs.SyncDaemon{State: ipvs.SyncMaster, Iface: "vsync", SyncID: 5, MaxLen: 1200,
		Group: netip.MustParseAddr("239.0.0.81"), Port: 8849, TTL: 2}
	must(t, k.StartSyncDaemon(master))
	t.Cleanup(func() { _ = k.StopSyncDaemon(ipvs.SyncMaster) })
	must(t, k.StartSyncDaemon(ipvs.SyncDaemon{State: ipvs.SyncBackup, Iface: "vsyncp", SyncID: 5}))
	t.Cleanup(func() { _ = k.StopSyncDaemon(ipvs.SyncBackup) })

	ds, err := k.SyncDaemons()
	must(t, err)
	var got *ipvs.SyncDaemon
	for i := range ds {
		if ds[i].State == ipvs.SyncMaster {
			got = &ds[i]
		}
	}
	if len(ds) != 2 || got == nil || *got != master {
		t.Errorf("sync daemons %+v, want the master %+v and a backup", ds, master)
	}
	out, err := exec.Command("ipvsadm", "-L", "--daemon").CombinedOutput()
	must(t, err)
	for _, want := range []string{"master sync daemon (mcast=vsync, syncid=5", "backup sync daemon (mcast=vsyncp, syncid=5"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ipvsadm -L --daemon:\n%s\nlacks %q", out, want)
		}
	}

	must(t, k.StopSyncDaemon(ipvs.SyncMaster))
	ds, err = k.SyncDaemons()
	must(t, err)
	if len(ds) != 1 || ds[0].State != ipvs.SyncBackup {
		t.Errorf("after stopping the master: %+v, want only the backup", ds)
	}
	must(t, k.StopSyncDaemon(ipvs.SyncBackup))
	if err := k.StopSyncDaemon(ipvs.SyncBackup); err == nil {
		t.Error("stopping a stopped daemon succeeded")
	}
	if ds, err := k.SyncDaemons(); err != nil || len(ds) != 0 {
		t.Errorf("after stopping both: %+v %v", ds, err)
	}
	if err := k.StartSyncDaemon(ipvs.SyncDaemon{State: ipvs.SyncMaster, Iface: strings.Repeat("x", 16)}); err == nil {
		t.Error("a 16-byte interface name was accepted")
	}
}
