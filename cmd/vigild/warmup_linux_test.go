package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

// TestStandbyMapsTakeoverCode: a real backup maps in, during the standby
// before its takeover, code that the takeover itself does not run. With
// IPv4 instances only, nothing in r2 runs the NA's code (ndp's marshaller,
// the ICMPv6 socket's write): once start-up has settled and its trim has
// dropped the program's pages, some of those pages are absent from r2, and
// after r2's takeover every one of them is present, mapped by
// Host.WarmTakeover (vip.TakeoverCode, memtrim.Populate). Without the
// warm-up they stay absent. The test binary is the vigild it starts (a
// fixed-address executable), so the addresses are r2's too.
func TestStandbyMapsTakeoverCode(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2") // the standby needs two Ps
	var na []uintptr
	for _, pc := range vip.TakeoverCode() {
		if name := runtime.FuncForPC(pc).Name(); strings.Contains(name, "ndp.") || strings.Contains(name, "ipv6.") {
			na = append(na, pc)
		}
	}
	if len(na) == 0 {
		t.Fatal("vip.TakeoverCode names none of the NA's functions")
	}
	l := newLab(t)
	startVigild(t, l.R1, ifInst("", 150, "0.1", ""))
	v2 := startVigild(t, l.R2, ifInst("", 100, "0.1", ""))
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v2.WaitOutput(t, "start-up settled", settle)
	resident := func() (n int, missing []string) {
		for _, pc := range na {
			ok, err := testnet.Resident(v2.Pid(), pc)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n++
			} else {
				missing = append(missing, runtime.FuncForPC(pc).Name())
			}
		}
		return n, missing
	}
	// The settled trim runs just after the line is logged.
	testnet.Eventually(t, settle, func() bool { n, _ := resident(); return n < len(na) },
		"the NA's code is still resident in r2 after its trim: the test cannot fail")
	// A takeover without its standby (a loop woken late: see
	// TestFailoverLinkCut) maps nothing in and runs no NA code: the link
	// is cut again, up to three takeovers.
	for i := 1; ; i++ {
		before := v2.MustStatus(t).WorkerStandbys
		l.If1.Cut(t)
		waitAddr(t, l.R2, "eth0", vip4, true, settle)
		if v2.MustStatus(t).WorkerStandbys > before {
			break
		}
		if i == 3 {
			t.Fatal("r2's worker stood by before none of its 3 takeovers")
		}
		l.If1.Restore(t)
		waitAddr(t, l.R2, "eth0", vip4, false, settle)
		testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_1").State == "BACKUP" }, "r2 backup again")
	}
	if n, missing := resident(); n < len(na) {
		t.Errorf("after the standby and the takeover, %d of the NA's %d functions are not resident in r2: %v; %s", len(na)-n, len(na), missing, vi1Timeline(v2.Output(), -1))
	}
}
