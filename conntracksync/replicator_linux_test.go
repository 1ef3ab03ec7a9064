package conntracksync_test

import (
	"context"
	"fmt"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

type vigilNode struct {
	host   *testnet.Host
	addr   netip.Addr
	r      *ct.Replicator
	cancel func()
	done   chan struct{}
}

func startNode(t *testing.T, h *testnet.Host, local, peer netip.Addr) *vigilNode {
	return startNodeTB(t, h, local, peer)
}

func startNodeTB(t testing.TB, h *testnet.Host, local, peer netip.Addr) *vigilNode {
	t.Helper()
	return startSyncNode(t, h, local, peer, "")
}

// startSyncNode starts a Replicator on h's sync0 replicating with peer,
// keyed with keyFile ("": unauthenticated).
func startSyncNode(t testing.TB, h *testnet.Host, local, peer netip.Addr, keyFile string) *vigilNode {
	t.Helper()
	return startSyncNodeWith(t, h, local, peer, ct.Config{AuthKeyFile: keyFile})
}

// startSyncNodeWith is startSyncNode with cfg's other settings
// (AuthKeyFile, PurgeTimeout, Paths, ...). The filter ignores local and
// peer, and every path's addresses.
func startSyncNodeWith(t testing.TB, h *testnet.Host, local, peer netip.Addr, cfg ct.Config) *vigilNode {
	t.Helper()
	return startSyncNodeWrapped(t, h, local, peer, cfg, nil)
}

// startSyncNodeWrapped is startSyncNodeWith whose Replicator's kernel
// side, when wrap is set, is wrap's wrapper around the real one.
func startSyncNodeWrapped(t testing.TB, h *testnet.Host, local, peer netip.Addr, cfg ct.Config, wrap func(ct.Kernel) ct.Kernel) *vigilNode {
	t.Helper()
	log := cttest.Logger(t).With("node", h.Name())
	cfg.Interface, cfg.LocalAddr, cfg.PeerAddr, cfg.Netns = "sync0", local, peer, "/run/netns/"+h.Name()
	cfg.Filter = ct.Filter{AddressPolicy: ct.Ignore, Addresses: []netip.Prefix{netip.PrefixFrom(local, local.BitLen()), netip.PrefixFrom(peer, peer.BitLen())}}
	for _, p := range cfg.Paths {
		for _, a := range []netip.Addr{p.LocalAddr, p.PeerAddr} {
			if a.IsValid() {
				cfg.Filter.Addresses = append(cfg.Filter.Addresses, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	var k ct.Kernel = ctnetlink.ForReplicator(log, cfg)
	if wrap != nil {
		k = wrap(k)
	}
	r, err := ct.New(log, cfg, ct.Parts{Kernel: k})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &vigilNode{host: h, addr: local, r: r, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		if err := r.Run(ctx); err != context.Canceled {
			t.Errorf("replicator %s: %v", h.Name(), err)
		}
	}()
	t.Cleanup(n.stop)
	return n
}

// newReplicator builds a Replicator on the real kernel side.
func newReplicator(log *slog.Logger, cfg ct.Config) (*ct.Replicator, error) {
	return ct.New(log, cfg, ct.Parts{Kernel: ctnetlink.ForReplicator(log, cfg)})
}

// pairLab builds a lab of two hosts named n1 and n2 joined by sync0,
// 198.51.100.1 and .2, and returns them with their addresses.
func pairLab(t testing.TB, n1, n2 string) (h1, h2 *testnet.Host, ip1, ip2 netip.Addr) {
	t.Helper()
	lab := testnet.New(t)
	h1, h2 = lab.Host(n1), lab.Host(n2)
	a, b := lab.Wire(h1, "sync0", h2, "sync0")
	a.AddAddr(t, "198.51.100.1/24")
	b.AddAddr(t, "198.51.100.2/24")
	return h1, h2, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
}

// statsOf formats n's stats when printed.
func statsOf(n *vigilNode) fmt.Stringer {
	return cttest.Lazy(func() string { return fmt.Sprintf("%+v", n.r.Stats()) })
}

func (n *vigilNode) stop() {
	n.cancel()
	<-n.done
}

// TestReplicatorPairTakeover runs two vigil replicators over a lossy sync
// link (loss from the start, handshake included): the backup's external
// cache converges to the master's table; its commit puts the flows into its
// kernel without echoing them back; a restarted backup gets everything
// again without operator action; junk datagrams are counted.
func TestReplicatorPairTakeover(t *testing.T) {
	cttest.NeedRoot(t, "conntrack", "nft")
	h1, h2, ip1, ip2 := pairLab(t, "fw1", "fw2")
	h1.DropRandomMatch(t, "sync0", 10, testnet.Both, "udp dport 3780")
	h2.DropRandomMatch(t, "sync0", 10, testnet.Both, "udp dport 3780")

	flows := ct.SampleFlows(3000)
	commitInto(t, "/run/netns/"+h1.Name(), flows[:1500])
	fw1 := startNode(t, h1, ip1, ip2)
	fw2 := startNode(t, h2, ip2, ip1)
	commitInto(t, "/run/netns/"+h1.Name(), flows[1500:])

	converged := func(n *vigilNode, want int) func() bool {
		return func() bool { return n.r.Stats().External == want }
	}
	stats := statsOf
	testnet.Eventually(t, 30*time.Second, converged(fw2, len(flows)), "fw2 external cache: %v", stats(fw2))
	_, ext := fw2.r.Dump()
	var got []ct.Flow
	for _, e := range ext {
		got = append(got, e.Flow)
	}
	if missing, extra := diffKeys(flowKeys(got, true), flowKeys(flows, true)); len(missing)+len(extra) > 0 {
		t.Fatalf("fw2's external cache differs: %d missing (%q), %d extra (%q)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}

	// Let both channels go idle (fw1's RESYNC received by fw2 and
	// acknowledged — on this lossy link a lost RESYNC is sent again, so
	// fw1 may count more than fw2 received —, nothing of either side
	// unacknowledged or queued, no bulk waiting for the one before it), so
	// that whatever fw1 receives from now on comes from the commit. fw2's
	// start-up read of its table must be done too: a commit before it is
	// caught up by that first read, not by the dump checked below.
	testnet.Eventually(t, 30*time.Second, func() bool {
		s1, s2 := fw1.r.Stats(), fw2.r.Stats()
		return s2.Listener.Dumps > 0 &&
			s1.ResyncsSent > 0 && s2.ResyncsReceived > 0 && !s1.Channel.ResyncPending &&
			s1.Channel.Unacked == 0 && s2.Channel.Unacked == 0 &&
			s1.Channel.Queued == 0 && s2.Channel.Queued == 0 &&
			s1.Backlog == 0 && s2.Backlog == 0 && s2.Bulks > 0 &&
			!s1.Channel.BulkWaiting && !s2.Channel.BulkWaiting
	}, "channels idle: fw1 %v fw2 %v", stats(fw1), stats(fw2))
	before := fw1.r.Stats().Channel.DataReceived
	redumps := fw2.r.Stats().Listener.Redumps

	// Takeover: fw2 commits.
	st, err := fw2.r.Commit(context.Background())
	if err != nil || st.Created != len(flows) || st.Failed != 0 {
		t.Fatalf("commit: %+v, %v", st, err)
	}
	cttest.CheckKernel(t, cttest.NS{Name: h2.Name()}, flows, func(f *ct.Flow) uint32 { return f.TimeoutSec }, 60)
	testnet.Eventually(t, 10*time.Second, func() bool { return fw2.r.Stats().Internal == len(flows) }, "fw2 internal cache after commit: %v", stats(fw2))
	// The commit made room in the internal cache for the flows it wrote
	// before it put them there, rather than growing its maps from empty
	// (Cache.reserveLike).
	if room := ct.InternalRoom(fw2.r); room < len(flows) {
		t.Errorf("fw2's internal cache was made room for %d flows at the commit, want at least %d", room, len(flows))
	}
	if n := fw2.r.FlushExternal(); n != len(flows) {
		t.Fatalf("FlushExternal flushed %d", n)
	}
	// Our own commit is not echoed to fw1: wait for fw2 to be idle, then
	// check that fw1 received nothing.
	testnet.Eventually(t, 10*time.Second, func() bool {
		s := fw2.r.Stats()
		return s.Backlog == 0 && !s.Channel.BulkWaiting
	}, "fw2 backlog: %v", stats(fw2))
	time.Sleep(300 * time.Millisecond) // room for an echo to show up; not a timing assertion
	if s := fw1.r.Stats(); s.Channel.DataReceived != before {
		t.Fatalf("fw2's commit was echoed to fw1: %+v\nfw2: %v", s, stats(fw2))
	}
	// The commit ran with the event socket out of the NEW group, then the
	// listener caught up with a dump (at its next wake-up from the event
	// socket, so not necessarily by now).
	testnet.Eventually(t, 10*time.Second, func() bool { return fw2.r.Stats().Listener.Redumps > redumps },
		"no catch-up dump after the commit: %v", stats(fw2))

	// fw1 goes back to backup and asks fw2 for everything.
	fw1.r.RequestResync()
	testnet.Eventually(t, 30*time.Second, converged(fw1, len(flows)), "fw1 external cache after RequestResync: %v", stats(fw1))

	// Restart of fw1 (the backup): it gets the whole table without any
	// operator action.
	fw1.stop()
	fw1 = startNode(t, h1, ip1, ip2)
	testnet.Eventually(t, 30*time.Second, converged(fw1, len(flows)), "restarted fw1 external cache: %v", stats(fw1))

	// Junk from the peer's address is dropped and counted.
	err = h2.Do(func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: ip2.AsSlice()}, &net.UDPAddr{IP: ip1.AsSlice(), Port: ct.DefaultPort})
		if err != nil {
			return err
		}
		defer c.Close()
		for range 50 {
			if _, err := c.Write([]byte{0x10, 0, 0, 3, 1, 2, 3, 4, 5}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return fw1.r.Stats().Drops["bad_length"] > 0 }, "junk not counted: %v", stats(fw1))
}

// The sync link works over IPv6 too (udp6, SO_BINDTODEVICE), and Run
// leaves no goroutine behind when its context ends.
func TestReplicatorIPv6LinkAndCleanShutdown(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	before := runtime.NumGoroutine()
	lab := testnet.New(t)
	h1, h2 := lab.Host("a6"), lab.Host("b6")
	a, b := lab.Wire(h1, "sync0", h2, "sync0")
	a.AddAddr(t, "2001:db8:5::1/64")
	b.AddAddr(t, "2001:db8:5::2/64")
	ip1, ip2 := netip.MustParseAddr("2001:db8:5::1"), netip.MustParseAddr("2001:db8:5::2")
	flows := ct.SampleFlows(500)
	commitInto(t, "/run/netns/"+h1.Name(), flows)
	n1 := startNode(t, h1, ip1, ip2)
	n2 := startNode(t, h2, ip2, ip1)
	testnet.Eventually(t, 20*time.Second, func() bool { return n2.r.Stats().External == len(flows) },
		"external cache over IPv6: %v", cttest.Lazy(func() string { return fmt.Sprintf("%+v", n2.r.Stats()) }))
	n1.stop()
	n2.stop()
	testnet.Eventually(t, 5*time.Second, func() bool { return runtime.NumGoroutine() <= before },
		"goroutines: %v before, %v after", before, cttest.Lazy(func() string { return fmt.Sprint(runtime.NumGoroutine()) }))
}

// A takeover commit of more flows than one of its chunks holds, FTP data
// flows related to control flows among them, replicated from one real
// kernel into another: every flow is created, none refused (a related
// flow written before its master is refused with ENOENT; one sent with
// the EXPECTED status bit its source kernel gave it, with EBUSY), and the
// kernel holds them all.
func TestReplicatorCommitInChunks(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	h1, h2, ip1, ip2 := pairLab(t, "ck1", "ck2")
	// The flows that are not plain IPv4 (the helper's, the related
	// ones) are more than a chunk holds, so that a related flow could
	// come in a chunk before its master's.
	flows := ct.SampleFlows(3000)
	ftp, _ := ct.SampleFTP(2500)
	var data []ct.Flow
	for i, m := range ftp {
		d := ct.Flow{Orig: ct.Tuple{Src: m.Orig.Dst, Dst: m.Orig.Src, Proto: ct.ProtoTCP, SrcPort: 20, DstPort: uint16(50000 + i)},
			Status: ct.StatusConfirmed | ct.StatusSeenReply | ct.StatusAssured, TCPState: ct.TCPEstablished, TimeoutSec: 600, Master: m.Orig}
		d.Reply = d.Orig.Invert()
		data = append(data, d)
	}
	all := append(append(flows, ftp...), data...)
	startNode(t, h1, ip1, ip2)
	fw2 := startNode(t, h2, ip2, ip1)
	commitInto(t, "/run/netns/"+h1.Name(), all)
	testnet.Eventually(t, 60*time.Second, func() bool { return fw2.r.Stats().External == len(all) }, "fw2 external cache: %v", statsOf(fw2))
	related := 0
	_, ext := fw2.r.Dump()
	for _, e := range ext {
		if e.Flow.Related() {
			related++
		}
	}
	if related != len(data) {
		t.Fatalf("fw2 holds %d related flows, want %d", related, len(data))
	}
	st, err := fw2.r.Commit(context.Background())
	if err != nil || st.Created != len(all) || st.Failed != 0 {
		t.Fatalf("commit: %+v, %v", st, err)
	}
	if out := strings.TrimSpace(h2.Exec(t, "conntrack", "-C")); out != strconv.Itoa(len(all)) {
		t.Fatalf("the kernel holds %s flows, want %d", out, len(all))
	}
}

// A bulk of many rounds over a lossy link (loss from the start, both ways):
// the sender handles the peer's acknowledgements and NACKs between its
// rounds and reuses the chunks they free, and the peer's external cache
// still ends up holding exactly the table, on the bulk of a new peer
// session and on a resync to a flushed cache.
func TestReplicatorBulkOfManyRounds(t *testing.T) {
	cttest.NeedRoot(t, "conntrack", "nft")
	h1, h2, ip1, ip2 := pairLab(t, "bk1", "bk2")
	h1.DropRandomMatch(t, "sync0", 10, testnet.Both, "udp dport 3780")
	h2.DropRandomMatch(t, "sync0", 10, testnet.Both, "udp dport 3780")

	flows := ct.SampleFlows(30000) // several bulk rounds
	commitInto(t, "/run/netns/"+h1.Name(), flows)
	fw1 := startNode(t, h1, ip1, ip2)
	fw2 := startNode(t, h2, ip2, ip1)
	same := func(what string) {
		t.Helper()
		testnet.Eventually(t, 60*time.Second, func() bool { return fw2.r.Stats().External == len(flows) },
			"%s: fw2 external cache: %v", what, statsOf(fw2))
		_, ext := fw2.r.Dump()
		var got []ct.Flow
		for _, e := range ext {
			got = append(got, e.Flow)
		}
		if missing, extra := diffKeys(flowKeys(got, true), flowKeys(flows, true)); len(missing)+len(extra) > 0 {
			t.Fatalf("%s: fw2's external cache differs: %d missing (%q), %d extra (%q)", what, len(missing), first(missing, 5), len(extra), first(extra, 5))
		}
	}
	same("the new peer's bulk")
	bulks := fw1.r.Stats().Bulks
	if n := fw2.r.FlushExternal(); n != len(flows) {
		t.Fatalf("FlushExternal flushed %d", n)
	}
	fw2.r.RequestResync()
	same("the resync to a flushed cache")
	if s := fw1.r.Stats(); s.Bulks <= bulks {
		t.Fatalf("fw1 sent no bulk for the resync: %v", s)
	}
}

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
