package ctnetlink

import (
	"context"
	"fmt"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/internal/nsenter"
	"github.com/vigil-ha/vigil/testnet"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCommitWritesFlowsWithNATAndTimeouts(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "c")
	flows := ct.SampleFlows(3000)
	now := time.Now()
	es := ct.SampleEntries(flows, now.Add(-10*time.Second)) // 10 s since the last update
	c, err := NewCommitter(2, ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Commit(context.Background(), es, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Created != len(flows) || st.Failed != 0 {
		t.Fatalf("commit stats %+v, want %d created", st, len(flows))
	}
	cttest.CheckKernel(t, ns, flows, func(f *ct.Flow) uint32 { return f.TimeoutSec - 10 }, 5)
	// And the CLI agrees on a NAT entry.
	out := ns.Output(t, "conntrack", "-L", "-p", "tcp", "--src-nat")
	if !strings.Contains(out, "dst=203.0.113.1") {
		t.Fatalf("conntrack -L --src-nat shows no SNAT entry:\n%.2000s", out)
	}

	// CommitTimeout overrides the sent timeout.
	ns2 := cttest.NewNS(t, cttest.Prefix(t), "c2")
	c2, err := NewCommitter(1, ns2.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Commit(context.Background(), es[:200], now, 77*time.Second); err != nil {
		t.Fatal(err)
	}
	cttest.CheckKernel(t, ns2, flows[:200], func(*ct.Flow) uint32 { return 77 }, 5)
}

func TestCommitExistingEntriesAreUpdated(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "e")
	flows := ct.SampleFlows(400)
	// Pre-create some of them with another mark and timeout.
	pre, replaced := 0, 0
	for i := range flows {
		f := &flows[i]
		if f.Orig.Proto != ct.ProtoTCP || !f.Orig.Src.Is4() || f.Reply != f.Orig.Invert() || pre >= 20 {
			continue
		}
		pre++
		f.Mark = 4242
		args := []string{"-I", "-p", "tcp", "-s", f.Orig.Src.String(), "-d", f.Orig.Dst.String(),
			"--sport", fmt.Sprint(f.Orig.SrcPort), "--dport", fmt.Sprint(f.Orig.DstPort),
			"--state", "SYN_SENT", "-t", "30", "--mark", "7"}
		if pre%2 == 0 {
			// The kernel refuses to clear ASSURED in an update (EBUSY):
			// these must be deleted and created again.
			args = append(args, "-u", "ASSURED")
			f.Status &^= ct.StatusAssured
			replaced++
		}
		ns.Exec(t, "conntrack", args...)
	}
	st := commitOnce(t, 1, ns.Path(), flows)
	t.Logf("commit stats: %+v", st)
	if st.Updated != pre-replaced || st.Replaced != replaced || st.Created != len(flows)-pre || st.Failed != 0 {
		t.Fatalf("commit stats %+v, want %d updated, %d replaced and %d created", st, pre-replaced, replaced, len(flows)-pre)
	}
	cttest.CheckKernel(t, ns, flows, func(f *ct.Flow) uint32 { return f.TimeoutSec }, 5)
}

func TestCommitRelatedAfterMasters(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "r")
	masters := ct.SampleFlows(600)
	var flows []ct.Flow
	// Related flows first in the input: the committer must reorder.
	for i := range masters {
		m := masters[i]
		if m.Orig.Proto != ct.ProtoTCP || m.Reply != m.Orig.Invert() {
			continue
		}
		r := ct.Flow{Orig: ct.Tuple{Src: m.Orig.Dst, Dst: m.Orig.Src, Proto: ct.ProtoTCP, SrcPort: 20, DstPort: uint16(30000 + i)},
			Status: ct.StatusConfirmed | ct.StatusSeenReply, TCPState: ct.TCPEstablished, TimeoutSec: 300, Master: m.Orig}
		r.Reply = r.Orig.Invert()
		flows = append(flows, r)
	}
	nrel := len(flows)
	flows = append(flows, masters...)
	st := commitOnce(t, 2, ns.Path(), flows)
	if st.Created != len(flows) || st.Failed != 0 || nrel == 0 {
		t.Fatalf("commit stats %+v, want %d created (%d related)", st, len(flows), nrel)
	}
	cttest.CheckKernel(t, ns, flows, func(f *ct.Flow) uint32 { return f.TimeoutSec }, 5)
}

// commitOnce writes flows into the kernel of netns with a fresh committer of
// workers workers (timeouts from the flows) and returns its stats.
func commitOnce(t testing.TB, workers int, netns string, flows []ct.Flow) ct.CommitStats {
	t.Helper()
	c, err := NewCommitter(workers, netns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	st, err := c.Commit(context.Background(), ct.SampleEntries(flows, now), now, 0)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// commitInto commits flows into netns, all of them new.
func commitInto(t testing.TB, netns string, flows []ct.Flow) {
	t.Helper()
	if st := commitOnce(t, 2, netns, flows); st.Created != len(flows) {
		t.Fatalf("commit %d flows: %+v", len(flows), st)
	}
}

// runListener runs a listener in ns until the test ends.
func runListener(t *testing.T, ns cttest.NS, cache *ct.Cache, cfg ListenerConfig) *Listener {
	t.Helper()
	cfg.Netns = ns.Path()
	l := NewListener(cttest.Logger(t), cache, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.Run(ctx); err != context.Canceled {
			t.Errorf("listener: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	testnet.Eventually(t, 10*time.Second, func() bool { return l.Stats().Dumps > 0 }, "first dump")
	return l
}

type updateLog struct {
	mu  sync.Mutex
	log []string
}

func (u *updateLog) add(k ct.UpdateKind, f *ct.Flow) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.log = append(u.log, k.String()+" "+f.Orig.String())
}

func (u *updateLog) count(prefix string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, s := range u.log {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func TestListenerFollowsConntrackCLI(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "l")
	ns.Exec(t, "conntrack", "-I", "-p", "udp", "-s", "192.0.2.9", "-d", "198.51.100.9",
		"--sport", "53", "--dport", "53", "-t", "100")
	cache := ct.NewCache()
	var ups updateLog
	filter := &ct.Filter{AddressPolicy: ct.Ignore, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.66/32")}}
	l := runListener(t, ns, cache, ListenerConfig{Filter: filter, OnUpdate: ups.add})
	udpKey := ct.Key{Orig: ct.Tuple{Src: netip.MustParseAddr("192.0.2.9"), Dst: netip.MustParseAddr("198.51.100.9"), Proto: ct.ProtoUDP, SrcPort: 53, DstPort: 53}}
	if _, ok := cache.Get(udpKey); !ok {
		t.Fatalf("initial dump: %v not in the cache (len %d)", udpKey.Orig, cache.Len())
	}

	ns.Exec(t, "conntrack", "-I", "-p", "tcp", "-s", "192.0.2.1", "-d", "198.51.100.1",
		"--sport", "4000", "--dport", "443", "--state", "ESTABLISHED", "-t", "500", "-u", "SEEN_REPLY,ASSURED")
	key := ct.Key{Orig: ct.Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.1"), Proto: ct.ProtoTCP, SrcPort: 4000, DstPort: 443}}
	testnet.Eventually(t, 5*time.Second, func() bool {
		e, ok := cache.Get(key)
		return ok && e.Flow.TCPState == ct.TCPEstablished && e.Flow.Status&ct.StatusAssured != 0
	}, "conntrack -I not in the internal cache")

	ns.Exec(t, "conntrack", "-U", "-p", "tcp", "-s", "192.0.2.1", "-d", "198.51.100.1",
		"--sport", "4000", "--dport", "443", "-m", "99")
	testnet.Eventually(t, 5*time.Second, func() bool {
		e, ok := cache.Get(key)
		return ok && e.Flow.Mark == 99 && e.Flow.TCPState == ct.TCPEstablished
	}, "conntrack -U mark not in the internal cache")

	// An ignored address never enters.
	ns.Exec(t, "conntrack", "-I", "-p", "tcp", "-s", "192.0.2.66", "-d", "198.51.100.1",
		"--sport", "4000", "--dport", "443", "--state", "ESTABLISHED", "-t", "500")

	ns.Exec(t, "conntrack", "-D", "-p", "tcp", "-s", "192.0.2.1")
	testnet.Eventually(t, 5*time.Second, func() bool { _, ok := cache.Get(key); return !ok }, "conntrack -D still in the internal cache")

	testnet.Eventually(t, 5*time.Second, func() bool { return l.Stats().Filtered[ct.DropAddress] >= 1 }, "ignored address not counted")
	if cache.Len() != 1 {
		t.Fatalf("cache holds %d entries, want 1 (the UDP flow): %v", cache.Len(), cache.Snapshot())
	}
	if ups.count("new proto=6") != 1 || ups.count("update proto=6") < 1 || ups.count("delete proto=6") != 1 {
		t.Fatalf("updates reported: %q", ups.log)
	}
}

func TestListenerDoesNotAnnounceOwnCommits(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "o")
	cache := ct.NewCache()
	var ups updateLog
	l := runListener(t, ns, cache, ListenerConfig{OnUpdate: ups.add})
	c, err := l.NewCommitter(2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The socket's kernel filter would drop the commit's events: without
	// it, the listener's own check must keep them out (its fallback for
	// whatever the filter lets through).
	l.sockMu.Lock()
	if err := l.sock.filterPorts(nil); err != nil {
		t.Fatal(err)
	}
	l.sockMu.Unlock()
	flows := ct.SampleFlows(500)
	now := time.Now()
	if _, err := c.Commit(context.Background(), ct.SampleEntries(flows, now), now, 0); err != nil {
		t.Fatal(err)
	}
	// Our own commits are skipped (the Replicator puts them in the cache
	// itself), counted, and never announced.
	testnet.Eventually(t, 10*time.Second, func() bool { return l.Stats().OwnEvents >= uint64(len(flows)) }, "own events: %v", cttest.Lazy(func() string { return fmt.Sprintf("%+v", l.Stats()) }))
	if cache.Len() != 0 {
		t.Fatalf("the listener put %d own commits in the cache", cache.Len())
	}
	// A foreign change after the commit is announced.
	ns.Exec(t, "conntrack", "-I", "-p", "tcp", "-s", "192.0.2.200", "-d", "198.51.100.1",
		"--sport", "1", "--dport", "2", "--state", "ESTABLISHED", "-t", "500")
	testnet.Eventually(t, 5*time.Second, func() bool { return ups.count("new") == 1 }, "foreign flow not announced")
	if n := len(ups.log); n != 1 || l.Stats().OwnEvents < uint64(len(flows)) {
		t.Fatalf("announced %d updates (want only the foreign one), own events %d", n, l.Stats().OwnEvents)
	}
}

// TestCommitBeforeFirstReadDumpsOnce: a commit made while the listener's
// first dump is held back (a node that takes MASTER before its start-up
// read) is caught up by that first dump, and the table is not dumped a
// second time for it.
func TestCommitBeforeFirstReadDumpsOnce(t *testing.T) {
	cttest.NeedRoot(t)
	ns := cttest.NewNS(t, cttest.Prefix(t), "q")
	cache := ct.NewCache()
	l := NewListener(cttest.Logger(t), cache, ListenerConfig{Netns: ns.Path()})
	readAfter := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.run(ctx, readAfter); err != context.Canceled {
			t.Errorf("listener: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	// quiet asks for a catch-up only with an event socket to leave.
	testnet.Eventually(t, 10*time.Second, func() bool {
		l.sockMu.Lock()
		defer l.sockMu.Unlock()
		return l.sock != nil
	}, "event socket")
	c, err := l.NewCommitter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	flows := ct.SampleFlows(300)
	now := time.Now()
	var cerr error
	l.quiet(func() { _, cerr = c.Commit(context.Background(), ct.SampleEntries(flows, now), now, 0) })
	if cerr != nil {
		t.Fatal(cerr)
	}
	if !l.redumpWanted.Load() {
		t.Fatal("the commit asked for no catch-up dump")
	}
	if st := l.Stats(); st.Dumps != 0 {
		t.Fatalf("dumped before its read was let go: %+v", st)
	}
	close(readAfter)
	testnet.Eventually(t, 10*time.Second, func() bool { return l.Stats().Dumps > 0 }, "first dump")
	if cache.Len() != len(flows) {
		t.Fatalf("the first dump put %d flows in the cache, want the %d committed", cache.Len(), len(flows))
	}
	// The receive loop serves a pending catch-up each time it wakes, at
	// least every evRecvTimeout: four of them pass here.
	time.Sleep(4 * evRecvTimeout)
	if st := l.Stats(); st.Dumps != 1 || st.Redumps != 0 {
		t.Fatalf("the table was dumped again for a commit its first dump had caught: %+v", st)
	}
}

func TestListenerRecoversFromENOBUFS(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "b")
	cache := ct.NewCache()
	l := runListener(t, ns, cache, ListenerConfig{ReadBuffer: 4096, MinRedump: 50 * time.Millisecond})
	// A committer the listener does not know: its events are foreign and
	// flood the tiny socket buffer.
	c, err := NewCommitter(2, ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	flows := ct.SampleFlows(5000)
	now := time.Now()
	if _, err := c.Commit(context.Background(), ct.SampleEntries(flows, now), now, 0); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 20*time.Second, func() bool { return cache.Len() == len(flows) },
		"internal cache has %d of %d flows after the flood", cache.Len(), len(flows))
	st := l.Stats()
	if st.Redumps == 0 || !strings.Contains(st.LastError, "no buffer space") {
		t.Fatalf("no redump after the flood: %+v", st)
	}
	// Still following events after recovery.
	ns.Exec(t, "conntrack", "-D", "-s", "192.0.2.1")
	want := 0
	for i := range flows {
		if flows[i].Orig.Src != netip.MustParseAddr("192.0.2.1") {
			want++
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kernel after -D: %s", ns.Exec(t, "conntrack", "-L", "-s", "192.0.2.1"))
		}
	})
	testnet.Eventually(t, 20*time.Second, func() bool { return cache.Len() == want }, "cache %v, want %d after conntrack -D (%v)", cttest.Lazy(func() string { return fmt.Sprint(cache.Len()) }), want, cttest.Lazy(func() string { return fmt.Sprintf("%+v", l.Stats()) }))
}

// ourDump dumps ns's table with our streaming decoder.
func ourDump(t testing.TB, ns cttest.NS) map[ct.Key]ct.Flow {
	t.Helper()
	out := map[ct.Key]ct.Flow{}
	err := nsenter.Do(ns.Path(), func() error {
		s, err := openEvSock(0)
		if err != nil {
			return err
		}
		defer s.close()
		return s.dump(func(f *ct.Flow) { out[f.Key()] = *f })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Our allocation-free decoder reads what ti-mo/conntrack's reads.
func TestDecoderAgreesWithTiMo(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "d")
	masters := ct.SampleFlows(1000)
	flows := append([]ct.Flow(nil), masters...)
	for i := range masters[:100] {
		m := masters[i]
		if m.Orig.Proto != ct.ProtoTCP || m.Reply != m.Orig.Invert() {
			continue
		}
		r := ct.Flow{Orig: ct.Tuple{Src: m.Orig.Dst, Dst: m.Orig.Src, Proto: ct.ProtoTCP, SrcPort: 20, DstPort: uint16(30000 + i)},
			Status: ct.StatusConfirmed | ct.StatusSeenReply, TCPState: ct.TCPEstablished, TimeoutSec: 300, Master: m.Orig, Mark: 5}
		r.Reply = r.Orig.Invert()
		flows = append(flows, r)
	}
	commitInto(t, ns.Path(), flows)
	ours, theirs := ourDump(t, ns), cttest.KernelFlows(t, ns)
	if len(ours) != len(flows) || len(theirs) != len(flows) {
		t.Fatalf("dumped %d (ours) and %d (ti-mo), want %d", len(ours), len(theirs), len(flows))
	}
	for k, f := range theirs {
		g := ours[k]
		if !g.Equal(&f) || g.TimeoutSec+2 < f.TimeoutSec || g.TimeoutSec > f.TimeoutSec+2 {
			t.Fatalf("ours:  %s\nti-mo: %s", &g, &f)
		}
	}
}

// TestWarmWritesFilteredInKernel: the events of a warm standby's writes
// (Kernel.Write: creates, then deletions, on a committer opened, released
// and opened again with new port ids) never reach the listener's socket:
// its kernel filter drops them, so neither the event count nor the own
// events' count moves, while a flow made by the conntrack tool still
// arrives and is announced; and a committer the listener does not know
// is not filtered (its events all arrive).
func TestWarmWritesFilteredInKernel(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "w")
	k := New(cttest.Logger(t), Config{Netns: ns.Path(), Workers: 2})
	defer k.Release()
	flows := ct.SampleFlows(600)
	warm := make(map[ct.Key]bool, len(flows))
	for i := range flows {
		warm[flows[i].Key()] = true
	}
	var mu sync.Mutex
	isWarm := func(key *ct.Key) bool { mu.Lock(); defer mu.Unlock(); return warm[*key] }
	cache := ct.NewCache()
	var ups updateLog
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := k.Follow(ctx, ct.Table{Cache: cache, OnUpdate: ups.add, Warm: isWarm}); err != context.Canceled {
			t.Errorf("follow: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	testnet.Eventually(t, 10*time.Second, func() bool { return k.Stats().Dumps > 0 }, "first dump")
	before := k.Stats()

	now := time.Now()
	es := ct.SampleEntries(flows, now)
	dels := make([]ct.Key, 100)
	for i := range dels {
		dels[i] = flows[i].Key()
	}
	if st, _, err := k.Write(context.Background(), es[:500], dels, now, 0); err != nil || st.Created != 500 || st.Failed != 0 {
		t.Fatalf("write: %+v, %v", st, err)
	}
	k.Release() // the next write opens sockets with new port ids
	if st, _, err := k.Write(context.Background(), es[500:], nil, now, 0); err != nil || st.Created != 100 || st.Failed != 0 {
		t.Fatalf("write after release: %+v, %v", st, err)
	}
	if n := len(cttest.KernelFlows(t, ns)); n != 500 {
		t.Fatalf("%d flows in the kernel after the writes, want 500", n)
	}

	// Events reach the socket in the order the kernel made them: once the
	// conntrack tool's flow is in, every event of the writes before it
	// was either received or dropped.
	ns.Exec(t, "conntrack", "-I", "-p", "tcp", "-s", "192.0.2.200", "-d", "198.51.100.1",
		"--sport", "1", "--dport", "2", "--state", "ESTABLISHED", "-t", "500")
	testnet.Eventually(t, 5*time.Second, func() bool { return ups.count("new") == 1 }, "the conntrack tool's flow not announced")
	st := k.Stats()
	if got := st.Events - before.Events; got != 1 || st.OwnEvents != 0 || st.WarmEvents != 0 || st.Redumps != 0 {
		t.Fatalf("after 700 writes and one foreign flow: %d events received (want 1), stats %+v", got, st)
	}
	if n := len(ups.log); n != 1 || cache.Len() != 1 {
		t.Fatalf("announced %q, cache %d: want the conntrack tool's flow alone", ups.log, cache.Len())
	}

	// A committer the listener does not know is someone else: its
	// events arrive.
	c, err := NewCommitter(1, ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	others := ct.SampleFlows(800)[600:]
	if _, err := c.Commit(context.Background(), ct.SampleEntries(others, now), now, 0); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return k.Stats().Events-st.Events >= uint64(len(others)) },
		"the unknown committer's events: %v", cttest.Lazy(func() string { return fmt.Sprintf("%+v", k.Stats()) }))
}

// A conntrack event with nearly every attribute fits an event slot with
// room to spare: a flow with NAT, a master, a mark, labels, sequence
// adjustments, counters and timestamps. What it lacks (a helper's name of
// at most 16 bytes, a zone, a security context's string) adds a few dozen
// bytes.
func TestEventFitsSlot(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "e")
	for _, s := range []string{"net.netfilter.nf_conntrack_acct=1", "net.netfilter.nf_conntrack_timestamp=1"} {
		ns.Exec(t, "sysctl", "-q", "-w", s)
	}
	// The kernel keeps a flow's labels once a rule of the namespace uses them.
	ns.Exec(t, "nft", "add table ip vt; add chain ip vt c; add rule ip vt c ct label 127 counter")
	ev := eventSock(t, ns)

	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	master := ct.Flow{Orig: ct.Tuple{Src: a("192.0.2.1"), Dst: a("198.51.100.1"), Proto: ct.ProtoTCP, SrcPort: 40000, DstPort: 21},
		Status: ct.StatusConfirmed | ct.StatusSeenReply | ct.StatusAssured, TCPState: ct.TCPEstablished, TimeoutSec: 300}
	master.Reply = master.Orig.Invert()
	fat := ct.Flow{Orig: ct.Tuple{Src: a("192.0.2.1"), Dst: a("198.51.100.1"), Proto: ct.ProtoTCP, SrcPort: 40001, DstPort: 20},
		Status: ct.StatusConfirmed | ct.StatusSeenReply | ct.StatusAssured, TCPState: ct.TCPEstablished, TimeoutSec: 300,
		Master: master.Orig, Mark: 0xffffffff, Labels: strings.Repeat("\xff", 16),
		SeqAdjOrig:  ct.SeqAdj{CorrectionPos: 1 << 31, OffsetBefore: 1 << 30, OffsetAfter: 1<<30 + 7},
		SeqAdjReply: ct.SeqAdj{CorrectionPos: 1 << 31, OffsetBefore: 1 << 30, OffsetAfter: 1<<30 + 9}}
	fat.Reply = fat.Orig.Invert()
	fat.Reply.Dst, fat.Reply.DstPort = a("203.0.113.1"), 61000 // source NAT
	fat.Status |= ct.StatusSrcNAT | ct.StatusSrcNATDone | ct.StatusSeqAdjust
	commitInto(t, ns.Path(), []ct.Flow{master, fat})

	largest, events := 0, 0
	var got ct.Flow
	deadline := time.Now().Add(10 * time.Second)
	for events < 2 && time.Now().Before(deadline) {
		err := ev.recvEvents(func(m nlMsg) error {
			events++
			if n := nlmsgHdrLen + len(m.data); n > largest {
				largest, got = n, ct.Flow{}
				var d decoded
				if err := decodeFlow(m.data[nfgenmsgLen:], &got, &d); err != nil {
					t.Errorf("event: %v", err)
				}
			}
			return nil
		})
		if err != nil && err != errRecvTimeout {
			t.Fatal(err)
		}
	}
	if events < 2 {
		t.Fatalf("%d events of the 2 flows committed", events)
	}
	if got.Labels == "" || got.SeqAdjOrig == (ct.SeqAdj{}) || !got.Related() || got.Mark == 0 {
		t.Fatalf("the largest event lacks an attribute of the flow committed: %+v", got)
	}
	t.Logf("the largest event: %d bytes, slots of %d", largest, evSlotSize)
	if largest > evSlotSize/4 {
		t.Errorf("an event of %d bytes: want at most a quarter of the %d-byte slot", largest, evSlotSize)
	}
}

// An event larger than its slot fails the read (the listener then
// subscribes and dumps again) rather than being parsed cut short.
func TestEventLargerThanSlot(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "t")
	ev := eventSock(t, ns)
	ev.makeSlots(64) // a flow's event is some 200 bytes at least
	commitInto(t, ns.Path(), ct.SampleFlows(1))
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if err = ev.recvEvents(func(nlMsg) error {
			t.Error("a cut event was parsed")
			return nil
		}); err != errRecvTimeout {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "event larger than 64 bytes") {
		t.Fatalf("recvEvents: %v, want the event's truncation", err)
	}
}

// eventSock opens an event socket in ns joined to the conntrack groups,
// closed when the test ends.
func eventSock(t *testing.T, ns cttest.NS) *evSock {
	t.Helper()
	var ev *evSock
	if err := nsenter.Do(ns.Path(), func() (err error) {
		ev, err = openEvSock(1 << 20)
		if err != nil {
			return err
		}
		if err := ev.join(); err != nil {
			ev.close()
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ev.close)
	return ev
}
