package daemon

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestLoopPreparesAnnouncer: an instance that becomes BACKUP (at start)
// has the worker open its announcement sockets for its VIPs and the
// reconciler look up their interface's index; a link event
// for its interface tells the reconciler (index cache) and, while BACKUP,
// opens them again; a master that takes over prepares nothing more, and a
// failed Prepare neither stops the takeover nor counts as a failed round.
func TestLoopPreparesAnnouncer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		ann := a.d.host.Announcer.(*viptest.Announcements)
		time.Sleep(time.Second)
		synctest.Wait()
		want := viptest.Announcement{Iface: "eth0", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.254")}}
		if got := ann.Prepared(); len(got) != 1 || got[0].Iface != want.Iface || !slices.Equal(got[0].Addrs, want.Addrs) {
			t.Fatalf("Prepared after start = %+v, want one %+v", got, want)
		}
		if got := a.kernel.Resolved(); len(got) != 1 || !slices.Equal(got[0], []string{"eth0"}) {
			t.Fatalf("ResolveInterfaces after start: %q, want one call for eth0", got)
		}

		a.ifev <- check.IfaceEvent{Kind: check.IfaceAdded, Index: 7, Name: "eth0", Up: true}
		a.ifev <- check.IfaceEvent{Kind: check.IfaceRenamed, Index: 8, Name: "eth9", OldName: "eth8", Up: true}
		synctest.Wait()
		if got := a.kernel.InterfacesChanged(); !slices.Equal(got, []string{"eth0", "eth9", "eth8"}) {
			t.Errorf("InterfacesChanged = %q, want eth0, eth9, eth8", got)
		}
		if got := ann.Prepared(); len(got) != 2 {
			t.Errorf("Prepared after eth0 reappeared = %+v, want a second call", got)
		}
		if got := a.kernel.Resolved(); len(got) != 2 {
			t.Errorf("ResolveInterfaces after eth0 reappeared: %q, want a second call", got)
		}

		ann.FailWith(errors.New("socket: permission denied"))
		a.ifev <- check.IfaceEvent{Kind: check.IfaceAdded, Index: 9, Name: "eth0", Up: true}
		synctest.Wait()
		if st := a.d.Status().Instances[0]; st.State != "BACKUP" || st.AnnounceErrors != 0 || st.VIPErrors != 0 {
			t.Fatalf("a failed Prepare changed the instance: %+v", st)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("after a failed Prepare: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
		}
		if got := ann.Prepared(); len(got) != 2 {
			t.Errorf("Prepared = %d calls, want 2 (the failed one records nothing, MASTER prepares nothing)", len(got))
		}
		if st := a.d.Status().Instances[0]; st.AnnounceErrors == 0 {
			t.Errorf("the takeover's failing round was not counted: %+v", st)
		}
	})
}
