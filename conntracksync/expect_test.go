package conntracksync

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

func testExpect(port uint16, helper string) Expect {
	a := netip.MustParseAddr
	return Expect{
		Master: ftfw.ExpTuple{Src: a("192.0.2.10"), Dst: a("198.51.100.2"), Proto: ProtoTCP, HasPorts: true, SrcPort: 40000, DstPort: 21},
		Tuple:  ftfw.ExpTuple{Src: a("198.51.100.2"), Dst: a("192.0.2.10"), Proto: ProtoTCP, HasPorts: true, DstPort: port},
		Mask: ftfw.ExpTuple{Src: a("255.255.255.255"), Dst: a("255.255.255.255"), Proto: ProtoTCP, HasPorts: true,
			DstPort: 0xffff},
		HasTimeout: true, TimeoutSecs: 300, HasFlags: true, Helper: helper,
	}
}

// conntrackd's helper filter: off takes nothing, on (or an empty list) all,
// a list the helpers it names, by case-insensitive prefix.
func TestExpectSyncAllows(t *testing.T) {
	for _, tc := range []struct {
		s      ExpectSync
		helper string
		want   bool
	}{
		{ExpectSync{}, "ftp", false},
		{ExpectSync{On: true}, "ftp", true},
		{ExpectSync{On: true}, "", true},
		{ExpectSync{On: true, Helpers: []string{"ftp"}}, "ftp", true},
		{ExpectSync{On: true, Helpers: []string{"ftp"}}, "FTP", true},
		{ExpectSync{On: true, Helpers: []string{"ftp"}}, "sip", false},
		{ExpectSync{On: true, Helpers: []string{"sip"}}, "sip-5061", true},
		{ExpectSync{On: true, Helpers: []string{"sip-5061"}}, "sip", false},
		{ExpectSync{On: true, Helpers: []string{"ftp"}}, "", false},
	} {
		if got := tc.s.Allows(tc.helper); got != tc.want {
			t.Errorf("%+v.Allows(%q) = %v", tc.s, tc.helper, got)
		}
	}
}

// The cache reports changes other than the timeout, and a dump's
// differences.
func TestExpectCache(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := NewExpectCache()
	x := testExpect(50001, "ftp")
	if !c.Put(&x, t0) {
		t.Fatal("new expectation: no change")
	}
	x.TimeoutSecs = 100
	if c.Put(&x, t0) {
		t.Fatal("a timeout alone changed the state")
	}
	x.Flags = 1
	if !c.Put(&x, t0) {
		t.Fatal("flags changed nothing")
	}
	y := testExpect(50002, "ftp")
	c.Put(&y, t0)
	z := testExpect(50003, "ftp")
	changed, removed := c.Replace([]Expect{x, z}, t0)
	if len(changed) != 1 || changed[0] != z || len(removed) != 1 || removed[0] != y || c.Len() != 2 {
		t.Fatalf("Replace: changed %v removed %v len %d", changed, removed, c.Len())
	}
	if !c.Delete(&x) || c.Delete(&x) || c.Len() != 1 {
		t.Fatal("Delete")
	}
	if c.Flush() != 1 || c.Len() != 0 {
		t.Fatal("Flush")
	}
}

// Committed expectations get CommitTimeout, else what is left of the
// peer's timeout, else the default; never less than a second.
func TestExpectTimeoutSec(t *testing.T) {
	now := time.Unix(1000, 0)
	x := testExpect(1, "ftp")
	e := ExpectEntry{Expect: x, Updated: now.Add(-100 * time.Second)}
	if got := ExpectTimeoutSec(&e, now, 0); got != 200 {
		t.Errorf("left %d, want 200", got)
	}
	if got := ExpectTimeoutSec(&e, now, 30*time.Second); got != 30 {
		t.Errorf("CommitTimeout: %d", got)
	}
	e.Updated = now.Add(-time.Hour)
	if got := ExpectTimeoutSec(&e, now, 0); got != 1 {
		t.Errorf("expired: %d, want 1", got)
	}
	e.Expect.HasTimeout = false
	if got := ExpectTimeoutSec(&e, now, 0); got != DefaultExpectTimeoutSec {
		t.Errorf("none sent: %d", got)
	}
}
