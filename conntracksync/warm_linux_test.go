package conntracksync_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// TestWarmStandbyKernel: a warm standby on the real kernel. The peer's
// flows (its initial dump and later events) appear in the backup's kernel
// before any takeover, while the backup's internal cache stays empty (the
// events of its own writes are dropped by the event socket's kernel filter
// on the writer's port ids: none reaches the listener) and nothing goes
// back to the peer; a UDP flow that expires in the backup's kernel (its
// timeout shortened there, as if no packet had refreshed it) is marked
// lost, and the takeover's commit writes only it again; the flush after
// the takeover leaves the flows in the kernel and makes them ours.
func TestWarmStandbyKernel(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	h1, h2, ip1, ip2 := pairLab(t, "wm1", "wm2")
	ns2 := cttest.NS{Name: h2.Name()}

	flows := lastingFlows(400)
	commitInto(t, "/run/netns/"+h1.Name(), flows[:300])
	fw1 := startNode(t, h1, ip1, ip2)
	fw2 := startSyncNodeWith(t, h2, ip2, ip1, ct.Config{WarmStandby: true})
	commitInto(t, "/run/netns/"+h1.Name(), flows[300:])
	stats := statsOf
	inKernel := func() int { return kernelHolds(t, ns2, flows) }
	testnet.Eventually(t, 30*time.Second, func() bool { return inKernel() == len(flows) }, "the peer's flows in wm2's kernel: %v", stats(fw2))
	cttest.CheckKernel(t, ns2, flows, func(f *ct.Flow) uint32 { return f.TimeoutSec }, 60)
	testnet.Eventually(t, 10*time.Second, func() bool {
		s1, s2 := fw1.r.Stats(), fw2.r.Stats()
		return s2.Warm.Pending == 0 && s1.Backlog == 0 && s2.Backlog == 0 && s1.Bulks > 0 && !s1.Channel.BulkWaiting
	}, "channels idle: wm1 %v wm2 %v", stats(fw1), stats(fw2))
	s2 := fw2.r.Stats()
	if s2.Internal != 0 || s2.Listener.OwnEvents != 0 || s2.Warm.Written < uint64(len(flows)) || fw2.r.Stats().Commits != 0 {
		t.Fatalf("wm2 after the warm writes: internal %d (want 0), own events %d (want 0), warm %+v", s2.Internal, s2.Listener.OwnEvents, s2.Warm)
	}

	// A UDP flow expires on the backup while the master keeps it.
	var udp ct.Flow
	for _, f := range flows {
		if f.Orig.Proto == ct.ProtoUDP && f.Orig.Src.Is4() && !f.Related() {
			udp = f
			break
		}
	}
	o := udp.Orig
	ns2.Exec(t, "conntrack", "-U", "-p", "udp", "-s", o.Src.String(), "-d", o.Dst.String(),
		"--sport", strconv.Itoa(int(o.SrcPort)), "--dport", strconv.Itoa(int(o.DstPort)), "--timeout", "1")
	time.Sleep(1500 * time.Millisecond)
	testnet.Eventually(t, 20*time.Second, func() bool {
		// A dump reaps expired entries and reports their destruction.
		_ = ns2.Cmd("conntrack", "-L").Run()
		return fw2.r.Stats().Warm.LostNow == 1
	}, "the expired flow marked lost: %v", stats(fw2))
	if _, ok := cttest.KernelFlows(t, ns2)[udp.Key()]; ok {
		t.Fatal("the expired flow is still in wm2's kernel")
	}
	time.Sleep(300 * time.Millisecond) // room for an echo to show up; not a timing assertion
	if s := fw1.r.Stats(); s.External != 0 {
		t.Fatalf("wm2 sent %d flows back to wm1: %v", s.External, stats(fw1))
	}

	// Takeover: only the lost flow is written.
	fw2.r.SetMaster(true)
	st, err := fw2.r.Commit(context.Background())
	if err != nil || st.Entries != len(flows) || st.Warm != len(flows)-1 || st.Created != 1 || st.Failed != 0 {
		t.Fatalf("takeover commit: %+v, %v", st, err)
	}
	cttest.CheckKernel(t, ns2, flows, func(f *ct.Flow) uint32 { return f.TimeoutSec }, 60)
	if n := fw2.r.FlushExternal(); n != len(flows) {
		t.Fatalf("FlushExternal flushed %d", n)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return fw2.r.Stats().Internal == len(flows) }, "wm2's internal cache after the takeover: %v", stats(fw2))
	if n := inKernel(); n != len(flows) {
		t.Fatalf("the flush after the takeover removed flows: %d of %d left", n, len(flows))
	}
	if s := fw1.r.Stats(); s.External != 0 {
		t.Fatalf("wm2's takeover echoed %d flows to wm1", s.External)
	}
}

// TestWarmStandbyRestartKernel: a warm standby restarted on the real
// kernel, whose table holds the peer's flows its first run wrote beside
// its own flows. Once the peer's table is in, its internal cache holds its
// own flows only, the peer's external cache holds those and none of the
// peer's own, and the kernel still holds them all. It reads its kernel's
// table after the peer's is in: none of the peer's flows enter its
// internal cache to be taken back later.
func TestWarmStandbyRestartKernel(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	h1, h2, ip1, ip2 := pairLab(t, "wr1", "wr2")
	ns2 := cttest.NS{Name: h2.Name()}
	flows := lastingFlows(2050)
	peers, own := flows[:2000], flows[2000:]
	commitInto(t, "/run/netns/"+h1.Name(), peers)
	fw1 := startNode(t, h1, ip1, ip2)
	fw2 := startSyncNodeWith(t, h2, ip2, ip1, ct.Config{WarmStandby: true})
	commitInto(t, "/run/netns/"+h2.Name(), own)
	testnet.Eventually(t, 30*time.Second, func() bool {
		return kernelHolds(t, ns2, peers) == len(peers) && fw2.r.Stats().Internal == len(own) && fw1.r.Stats().External == len(own)
	}, "the peer's flows in wr2's kernel, its own in wr1's external cache: wr1 %v wr2 %v", statsOf(fw1), statsOf(fw2))

	fw2.stop()
	fw2 = startSyncNodeWith(t, h2, ip2, ip1, ct.Config{WarmStandby: true})
	testnet.Eventually(t, 30*time.Second, func() bool {
		s := fw2.r.Stats()
		return !s.Warm.Holding && s.External == len(peers) && s.Internal == len(own)
	}, "the restarted wr2 with the peer's table, its own flows only in its internal cache: %v", statsOf(fw2))
	time.Sleep(time.Second) // room for an echo to show up; not a timing assertion
	if s := fw1.r.Stats(); s.External != len(own) {
		t.Fatalf("wr1's external cache holds %d flows, want wr2's own %d: %v", s.External, len(own), statsOf(fw1))
	}
	if s := fw2.r.Stats(); s.Internal != len(own) {
		t.Fatalf("the restarted wr2's internal cache holds %d flows, want its own %d: %v", s.Internal, len(own), statsOf(fw2))
	}
	// wr2 read its kernel's table once wr1's was in: the read left wr1's
	// flows out, and nothing had to be taken back.
	if s := fw2.r.Stats(); s.Warm.Retracted != 0 {
		t.Errorf("the restarted wr2 took %d of wr1's flows back from its internal cache, want 0: %v", s.Warm.Retracted, statsOf(fw2))
	}
	cttest.CheckKernel(t, ns2, flows, func(f *ct.Flow) uint32 { return f.TimeoutSec }, 60)
}

// kernelHolds counts the flows of flows that ns's kernel table holds.
func kernelHolds(t *testing.T, ns cttest.NS, flows []ct.Flow) int {
	t.Helper()
	kf := cttest.KernelFlows(t, ns)
	n := 0
	for i := range flows {
		if _, ok := kf[flows[i].Key()]; ok {
			n++
		}
	}
	return n
}

// lastingFlows is ct.SampleFlows(n) with a timeout that none of them
// reaches during a test, however slow.
func lastingFlows(n int) []ct.Flow {
	flows := ct.SampleFlows(n)
	for i := range flows {
		flows[i].TimeoutSec = 1200
	}
	return flows
}
