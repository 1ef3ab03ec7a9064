package daemon

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// slowKernel is the viptest kernel whose address additions stall first,
// as a netlink call to a busy kernel can; it records when each (of a
// non-empty list) ended, and writes "add" into ev when one is given.
type slowKernel struct {
	*viptest.Kernel
	stall time.Duration
	ev    *ctEvents

	mu    sync.Mutex // guards added
	added []time.Time
}

func (k *slowKernel) AddAddresses(ctx context.Context, addrs []vip.Address) error {
	if len(addrs) == 0 {
		return nil // the statics, here none
	}
	select {
	case <-time.After(k.stall):
	case <-ctx.Done():
		return ctx.Err()
	}
	err := k.Kernel.AddAddresses(ctx, addrs)
	k.mu.Lock()
	k.added = append(k.added, time.Now())
	k.mu.Unlock()
	if k.ev != nil {
		k.ev.add("add")
	}
	return err
}

func (k *slowKernel) addedAt() []time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.added)
}

// timedAnnouncements records when each announcement went out and whether
// its addresses were on the host then, and writes "announce" into ev when
// one is given.
type timedAnnouncements struct {
	*viptest.Announcements
	kernel *viptest.Kernel
	ev     *ctEvents

	mu   sync.Mutex // guards the following fields
	at   []time.Time
	held []bool
}

func (a *timedAnnouncements) Announce(ifname string, addrs []netip.Addr, mac net.HardwareAddr, router bool) error {
	held := true
	for _, x := range addrs {
		if !slices.ContainsFunc(a.kernel.Addresses(), func(v vip.Address) bool { return v.Prefix.Addr() == x }) {
			held = false
		}
	}
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.held = append(a.held, held)
	a.mu.Unlock()
	if a.ev != nil {
		a.ev.add("announce")
	}
	return a.Announcements.Announce(ifname, addrs, mac, router)
}

// listen records the time of every advert from src on the wire.
func listen(t *testing.T, wire *vrrptest.Wire, src netip.Addr) func() []time.Time {
	seen := capture(t, wire, "192.0.2.200")
	return func() []time.Time {
		var at []time.Time
		for _, a := range seen() {
			if a.src == src {
				at = append(at, a.at)
			}
		}
		return at
	}
}

// TestLoopAdvertsDuringSlowKernel: the new master's address addition
// stalls for 2 s; its adverts keep their 1 s interval (within 1 ms)
// meanwhile, because the address work is on the kernel worker, and the
// gratuitous ARP still goes out only once the VIP is on the host.
func TestLoopAdvertsDuringSlowKernel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		adverts := listen(t, wire, netip.MustParseAddr("192.0.2.1"))
		base := viptest.NewKernel("eth0", "eth1")
		slow := &slowKernel{Kernel: base, stall: 2 * time.Second}
		ann := &timedAnnouncements{Announcements: viptest.NewAnnouncements(base), kernel: base}
		a := newNode(t, wire, base, "192.0.2.1", "fe80::1", prio(pairConf, "150"), Options{})
		a.d.host.VIPs, a.d.host.Announcer = slow, ann
		start := time.Now()
		a.start(t)

		down := 3*time.Second + time.Duration(256-150)*time.Second/256
		sleepUntil(start, down+time.Second+time.Millisecond)
		if a.state("VI_1") != "MASTER" || a.has("192.0.2.254/24") {
			t.Fatalf("during the stall: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
		}
		sleepUntil(start, down+6*time.Second)
		if !a.has("192.0.2.254/24") {
			t.Fatal("the VIP was not added after the stall")
		}
		got := adverts()
		if len(got) < 6 {
			t.Fatalf("%d adverts in 6 s as master", len(got))
		}
		for i := 1; i < len(got); i++ {
			if gap := got[i].Sub(got[i-1]); gap < time.Second-time.Millisecond || gap > time.Second+time.Millisecond {
				t.Errorf("advert %d came %v after the one before", i, gap)
			}
		}
		if first := got[0].Sub(start); first != down {
			t.Errorf("first advert at %v, want the takeover at %v", first, down)
		}
		added := slow.addedAt()
		ann.mu.Lock()
		defer ann.mu.Unlock()
		if len(added) != 1 || len(ann.at) == 0 {
			t.Fatalf("%d additions, %d announcements", len(added), len(ann.at))
		}
		if ann.at[0].Before(added[0]) || slices.Contains(ann.held, false) {
			t.Errorf("announced at %v, VIP added at %v, VIP held at each %v", ann.at[0].Sub(start), added[0].Sub(start), ann.held)
		}
	})
}

// TestLoopShutdownWaitsForKernel: the kernel worker's queue is run to the
// end before Run returns: a master stopped while its address addition
// still stalls has its VIP removed, not left behind.
func TestLoopShutdownWaitsForKernel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		base := viptest.NewKernel("eth0", "eth1")
		slow := &slowKernel{Kernel: base, stall: 2 * time.Second}
		a := newNode(t, wire, base, "192.0.2.1", "fe80::1", prio(pairConf, "255"), Options{})
		a.d.host.VIPs = slow
		a.start(t)
		time.Sleep(time.Second) // the owner took over at once; its addition stalls
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || a.has("192.0.2.254/24") {
			t.Fatalf("set-up: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
		}
		a.stop()
		if a.has("192.0.2.254/24") || len(slow.addedAt()) != 1 {
			t.Fatalf("after Run: VIP %v, %d additions", a.has("192.0.2.254/24"), len(slow.addedAt()))
		}
		if st := a.d.Status().Instances[0]; st.VIPErrors != 0 {
			t.Errorf("%d VIP errors", st.VIPErrors)
		}
	})
}

var _ vip.Reconciler = (*slowKernel)(nil)
var _ vip.Sender = (*timedAnnouncements)(nil)

// recKernel is the viptest kernel that also writes each non-empty address
// addition into a ctEvents log, to order it against the replicator's calls.
type recKernel struct {
	*viptest.Kernel
	ev *ctEvents
}

func (k recKernel) AddAddresses(ctx context.Context, addrs []vip.Address) error {
	if len(addrs) > 0 {
		k.ev.add("vips %s", addrs[0].Dev)
	}
	return k.Kernel.AddAddresses(ctx, addrs)
}

// TestLoopCommitBeforeVIPs: through the whole loop and the kernel worker,
// sync group FW's takeover commits the replicated connections (a commit
// that takes 300 ms of fake time), flushes and sends the bulk before the
// worker adds the first VIP; the instance outside the group adds its VIP
// without a commit.
func TestLoopCommitBeforeVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		ev := &ctEvents{}
		k := viptest.NewKernel("eth0", "eth1", "eth2", "eth3")
		a := newNode(t, wire, k, "192.0.2.1", "fe80::1", ctTestConf("FW", ""), Options{})
		rep := &fakeRep{ev: ev, external: 7, commitTook: 300 * time.Millisecond}
		c, err := newCTSyncWith(a.d.log, a.d.cfg, rep, "")
		if err != nil {
			t.Fatal(err)
		}
		a.d.ct.fo.Close()
		a.d.ct, a.d.host.VIPs = c, recKernel{k, ev}
		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, name := range []string{"VI_IN", "VI_OUT", "VI_MGMT"} {
			if a.state(name) != "MASTER" {
				t.Fatalf("%s is %s", name, a.state(name))
			}
		}
		got := slices.DeleteFunc(ev.get(), func(s string) bool { return s == "run" })
		want := []string{"commit", "commit done", "flush", "bulk"}
		if len(got) != 7 || !slices.Equal(got[:4], want) || !slices.Contains(got[4:], "vips eth2") ||
			!slices.Contains(got[4:], "vips eth0") || !slices.Contains(got[4:], "vips eth1") {
			t.Errorf("events %q, want %q before the three VIP additions", got, want)
		}
	})
}
