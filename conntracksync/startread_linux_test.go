package conntracksync_test

import (
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// TestStartReadKernel: TestTwinStartRead's first case on the real kernel
// and a real peer. sr2 starts beside sr1, which has been running with
// 2,000 flows; sr2's own 50 flows are in its kernel. sr2 reads its table
// only once sr1's 2,000 flows are in its external cache, and its own 50
// then reach sr1. Before, it read its table as its session started, with
// none of sr1's flows in.
func TestStartReadKernel(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	h1, h2, ip1, ip2 := pairLab(t, "sr1", "sr2")
	flows := lastingFlows(2050)
	peers, own := flows[:2000], flows[2000:]
	commitInto(t, "/run/netns/"+h1.Name(), peers)
	commitInto(t, "/run/netns/"+h2.Name(), own)
	fw1 := startNode(t, h1, ip1, ip2)
	testnet.Eventually(t, 30*time.Second, func() bool { return fw1.r.Stats().Internal == len(peers) }, "sr1's flows in its internal cache: %v", statsOf(fw1))

	w := &readWatch{}
	fw2 := startSyncNodeWrapped(t, h2, ip2, ip1, ct.Config{}, func(k ct.Kernel) ct.Kernel { w.Kernel = k; return w })
	w.r.Store(fw2.r)
	testnet.Eventually(t, 30*time.Second, func() bool { return fw2.r.Stats().Internal == len(own) }, "sr2's own flows in its internal cache: %v", statsOf(fw2))
	if n := w.externalAtRead.Load(); n != int64(len(peers)) {
		t.Fatalf("sr2 read its kernel's table with %d of sr1's %d flows in its external cache: %v", n, len(peers), statsOf(fw2))
	}
	testnet.Eventually(t, 30*time.Second, func() bool { return fw1.r.Stats().External == len(own) }, "sr2's own flows in sr1's external cache: %v", statsOf(fw1))
}
