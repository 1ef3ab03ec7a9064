package main

import (
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestInterfaceRecreated: the master's interface is deleted (FAULT, the
// backup takes over) and created again with the same name; vigild reopens
// its sockets on the new link without a restart, leaves FAULT and takes
// back over, and the peer hears it again (no split brain).
func TestInterfaceRecreated(t *testing.T) {
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	l.R1.Exec(t, "ip", "link", "del", "eth0")
	takeover(t, l, v2)
	testnet.Eventually(t, settle, func() bool { return v1.Instance(t, "VI_1").State == "FAULT" }, "r1 FAULT without its interface")

	l.If1 = l.SW.Attach(l.R1, "eth0")
	l.If1.AddAddr(t, r1v4+"/24")
	l.If1.AddAddr(t, r1v6+"/64")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	testnet.Eventually(t, settle, func() bool {
		a, b := v2.Instance(t, "VI_1"), v2.Instance(t, "VI_6")
		return a.State == "BACKUP" && b.State == "BACKUP" && a.Master == r1v4
	}, "r2 hears r1 again and is backup")
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	s := v1.MustStatus(t)
	var reopens uint64
	for _, so := range s.Sockets {
		reopens += so.Reopens
	}
	if reopens < 2 {
		t.Errorf("sockets reopened %d times, want both families", reopens)
	}
	testnet.Eventually(t, settle, func() bool { return neighMAC(t, l.Client, vip4) == macString(l.If1) },
		"client's neighbour entry on r1's new MAC")
}
