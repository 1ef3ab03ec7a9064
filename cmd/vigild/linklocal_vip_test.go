package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestLinkLocalFirstVIP: RFC 5798 asks an IPv6 instance's first VIP to be
// link-local. When the master adds it, it must not become the source of
// the master's adverts (it did: the master reopened its socket from the
// VIP, the backup saw adverts from an address it also configures, and the
// pair flapped between two masters). The pair must hold one master, the
// backup must see the master's own link-local address, and nothing may
// flap for a few seconds.
func TestLinkLocalFirstVIP(t *testing.T) {
	l := newLab(t)
	const ll = "fe80::51"
	withLL := func(prio int) string {
		return strings.Replace(conf("", prio, ""), "        "+vip6+"/64", "        "+ll+"/64\n        "+vip6+"/64", 1)
	}
	c1 := withLL(150)
	if !strings.Contains(c1, ll+"/64") {
		t.Fatal("setup: the link-local VIP is not in the configuration")
	}
	v1 := startVigild(t, l.R1, c1, "-i", "r1")
	v2 := startVigild(t, l.R2, withLL(100), "-i", "r2")
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_6").State == "BACKUP" }, "r2 VI_6 backup")

	// Settled (start-up may have raced, the slower one briefly master):
	// from now on nothing may move.
	b1, b2 := v1.Instance(t, "VI_6").Transitions, v2.Instance(t, "VI_6").Transitions
	time.Sleep(3 * time.Second) // 30 advert intervals
	s1, s2 := v1.Instance(t, "VI_6"), v2.Instance(t, "VI_6")
	if s1.State != "MASTER" || s2.State != "BACKUP" {
		t.Fatalf("after 3 s: r1 %s, r2 %s; want MASTER, BACKUP", s1.State, s2.State)
	}
	if s1.Transitions != b1 || s2.Transitions != b2 {
		t.Errorf("transitions in 3 s: r1 %d, r2 %d; want none (flapping)\n%s", s1.Transitions-b1, s2.Transitions-b2, v1.Output())
	}
	if s2.Master == "" || strings.HasPrefix(s2.Master, ll) {
		t.Errorf("r2 sees the master as %q: the adverts come from the VIP", s2.Master)
	}
	if hasAddr(t, l.R2, "eth0", ll) {
		t.Errorf("backup r2 holds the link-local VIP %s", ll)
	}
}
