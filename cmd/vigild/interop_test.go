package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// Interoperability with Debian's keepalived 2.2.7 in one VRRP group: the
// same configuration text runs under both daemons.

// TestInteropVigilMasterKeepalivedBackup: vigild (150) is master over
// keepalived (100) for IPv4 and IPv6; when vigild stops, keepalived takes
// over; when vigild comes back it preempts and keepalived steps down.
func TestInteropVigilMasterKeepalivedBackup(t *testing.T) {
	l := newLab(t)
	v1 := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	k := l.R2.Keepalived(t, conf("", 100, ""), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)
	k.WaitOutput(t, "(VI_6) Entering BACKUP STATE", settle)
	// keepalived must stay backup: it accepts vigild's adverts.
	if hasAddr(t, l.R2, "eth0", vip4) || hasAddr(t, l.R2, "eth0", vip6) {
		t.Fatal("keepalived backup holds a VIP")
	}
	if s := v1.Instance(t, "VI_1"); s.State != "MASTER" {
		t.Fatalf("vigild state %s", s.State)
	}
	// Failover to keepalived.
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	waitAddr(t, l.R2, "eth0", vip6, true, settle)
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip4) && ping(t, l.Client, vip6) }, "client pings VIPs on keepalived")
	// And back to vigild: it preempts (150 > 100), keepalived releases.
	v1 = startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	waitAddr(t, l.R2, "eth0", vip6, false, settle)
	testnet.Eventually(t, settle, func() bool { return neighMAC(t, l.Client, vip4) == macString(l.If1) }, "client's neighbour back on vigild")
	if s := v1.Instance(t, "VI_6"); s.State != "MASTER" || s.Reason != "preempt" && s.Reason != "master_down" {
		t.Errorf("vigild VI_6 back as %s for %s", s.State, s.Reason)
	}
}

// TestInteropKeepalivedMasterVigilBackup: keepalived (150) is master,
// vigild (100) backup; keepalived is killed and its link cut, vigild takes
// over; keepalived comes back and vigild steps down.
func TestInteropKeepalivedMasterVigilBackup(t *testing.T) {
	l := newLab(t)
	k := l.R1.Keepalived(t, conf("", 150, ""), "-P")
	k.WaitOutput(t, "(VI_1) Entering MASTER STATE", settle)
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v2 := startVigild(t, l.R2, conf("", 100, ""), "-i", "r2")
	testnet.Eventually(t, settle, func() bool {
		a, b := v2.Instance(t, "VI_1"), v2.Instance(t, "VI_6")
		return a.State == "BACKUP" && b.State == "BACKUP" && a.Received["ok"] > 5 && b.Received["ok"] > 5
	}, "vigild backup accepting keepalived's adverts")
	if s := v2.Instance(t, "VI_1"); s.MasterPriority != 150 {
		t.Errorf("vigild sees master priority %d, want 150", s.MasterPriority)
	}
	for _, in := range []string{"VI_1", "VI_6"} {
		s := v2.Instance(t, in)
		for reason, n := range s.Received {
			if reason != "ok" {
				t.Errorf("%s: keepalived's adverts dropped by vigild: %s=%d", in, reason, n)
			}
		}
	}
	k.Kill()
	l.If1.Cut(t)
	takeover(t, l, v2)
	// keepalived returns and preempts.
	l.If1.Restore(t)
	l.R1.Keepalived(t, conf("", 150, ""), "-P")
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	waitAddr(t, l.R2, "eth0", vip6, false, settle)
	testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_1").State == "BACKUP" }, "vigild back to backup")
}

// TestInteropUnicast: unicast peers between vigild and keepalived, both
// directions of failover, IPv4.
func TestInteropUnicast(t *testing.T) {
	uni := func(src, peer string) string {
		return fmt.Sprintf("unicast_src_ip %s\n    unicast_peer {\n        %s\n    }", src, peer)
	}
	cfg := func(prio int, src, peer string) string {
		c := conf("", prio, uni(src, peer))
		// Unicast is IPv4 here: drop the IPv6 instance.
		return c[:strings.Index(c, "vrrp_instance VI_6")]
	}
	l := newLab(t)
	v1 := startVigild(t, l.R1, cfg(150, r1v4, r2v4), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	k := l.R2.Keepalived(t, cfg(100, r2v4, r1v4), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)
	if hasAddr(t, l.R2, "eth0", vip4) {
		t.Fatal("keepalived unicast backup holds the VIP")
	}
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	// vigild as the backup of a keepalived unicast master.
	v1 = startVigild(t, l.R1, cfg(50, r1v4, r2v4), "-i", "r1")
	testnet.Eventually(t, settle, func() bool {
		s := v1.Instance(t, "VI_1")
		return s.State == "BACKUP" && s.Received["ok"] > 3
	}, "vigild backup of keepalived over unicast")
	if hasAddr(t, l.R1, "eth0", vip4) {
		t.Fatal("vigild unicast backup holds the VIP")
	}
	k.Kill()
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
}
