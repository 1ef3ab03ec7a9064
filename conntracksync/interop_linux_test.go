package conntracksync_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// ctdKeys parses `conntrackd -e` / `-i` output into one string per entry:
// "proto src dst sport dport" of the original tuple (type/code/id for ICMP)
// plus the reply tuple's addresses and ports.
func ctdKeys(out string) []string {
	var keys []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		var vals []string
		for _, w := range f[2:] {
			if i := strings.IndexByte(w, '='); i > 0 {
				switch w[:i] {
				case "src", "dst", "sport", "dport", "type", "code", "id":
					vals = append(vals, w[i+1:])
				}
			}
		}
		keys = append(keys, f[0]+" "+strings.Join(vals, " "))
	}
	sort.Strings(keys)
	return keys
}

// flowKeys renders flows the way ctdKeys parses conntrackd's output
// (which shows the original tuple only), or with the reply tuple too.
func flowKeys(flows []ct.Flow, withReply bool) []string {
	protoName := map[uint8]string{ct.ProtoTCP: "tcp", ct.ProtoUDP: "udp", ct.ProtoICMP: "icmp", ct.ProtoICMPv6: "icmpv6"}
	var keys []string
	for _, f := range flows {
		var vals []string
		tuples := []ct.Tuple{f.Orig, f.Reply}
		if !withReply {
			tuples = tuples[:1]
		}
		for _, tu := range tuples {
			vals = append(vals, tu.Src.String(), tu.Dst.String())
			if f.Orig.Proto == ct.ProtoICMP || f.Orig.Proto == ct.ProtoICMPv6 {
				vals = append(vals, fmt.Sprint(tu.ICMPType), fmt.Sprint(tu.ICMPCode), fmt.Sprint(tu.ICMPID))
			} else {
				vals = append(vals, fmt.Sprint(tu.SrcPort), fmt.Sprint(tu.DstPort))
			}
		}
		keys = append(keys, protoName[f.Orig.Proto]+" "+strings.Join(vals, " "))
	}
	sort.Strings(keys)
	return keys
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func diffKeys(got, want []string) (missing, extra []string) {
	g := make(map[string]bool, len(got))
	for _, k := range got {
		g[k] = true
	}
	w := make(map[string]bool, len(want))
	for _, k := range want {
		w[k] = true
		if !g[k] {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	return missing, extra
}

type syncPair struct {
	lab          *testnet.Lab
	vigil, ctd   *testnet.Host
	ctdd         *testnet.Conntrackd // the running conntrackd, once started
	vigilAddr    netip.Addr
	conntrackdIP netip.Addr
}

func newSyncPair(t *testing.T) *syncPair {
	cttest.NeedRoot(t, "conntrack", "conntrackd", "nft")
	lab := testnet.New(t)
	p := &syncPair{lab: lab, vigil: lab.Host("v"), ctd: lab.Host("c"),
		vigilAddr: netip.MustParseAddr("198.51.100.1"), conntrackdIP: netip.MustParseAddr("198.51.100.2")}
	a, b := lab.Wire(p.vigil, "sync0", p.ctd, "sync0")
	a.AddAddr(t, "198.51.100.1/24")
	b.AddAddr(t, "198.51.100.2/24")
	return p
}

func (p *syncPair) netns(h *testnet.Host) string { return "/run/netns/" + h.Name() }

func (p *syncPair) nsOf(h *testnet.Host) cttest.NS { return cttest.NS{Name: h.Name()} }

func (p *syncPair) startConntrackd(t *testing.T) { p.startConntrackdWith(t, nil) }

// startConntrackdWith starts conntrackd with mod's changes (nil: none).
func (p *syncPair) startConntrackdWith(t *testing.T, mod func(*testnet.ConntrackdConfig)) {
	cfg := testnet.ConntrackdConfig{Local: "198.51.100.2", Peer: "198.51.100.1", Interface: "sync0",
		ModeExtra: "DisableExternalCache Off"}
	if mod != nil {
		mod(&cfg)
	}
	p.ctdd = p.ctd.Conntrackd(t, cfg)
}

// ctdClient runs a conntrackd client command against the started conntrackd.
func (p *syncPair) ctdClient(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.ctdd.Client(t.Context(), args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

func (p *syncPair) startVigil(t *testing.T) *ct.Replicator { return p.startVigilWith(t, nil) }

// startVigilWith runs a replicator with mod's changes (nil: none) until
// the test ends.
func (p *syncPair) startVigilWith(t *testing.T, mod func(*ct.Config)) *ct.Replicator {
	cfg := ct.Config{Interface: "sync0", LocalAddr: p.vigilAddr, PeerAddr: p.conntrackdIP,
		Netns: p.netns(p.vigil), Filter: ct.Filter{AddressPolicy: ct.Ignore, Addresses: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.1/32"), netip.PrefixFrom(p.vigilAddr, 32), netip.PrefixFrom(p.conntrackdIP, 32)}}}
	if mod != nil {
		mod(&cfg)
	}
	r, err := newReplicator(cttest.Logger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	runReplicator(t, r)
	return r
}

// runReplicator runs r until the test ends.
func runReplicator(t testing.TB, r *ct.Replicator) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Run(ctx); err != context.Canceled {
			t.Errorf("replicator: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// wiredPair adds hosts n1 and n2 to lab, joined by sync0 with the
// addresses (prefixes) cidr1 and cidr2.
func wiredPair(t testing.TB, lab *testnet.Lab, n1, n2, cidr1, cidr2 string) (h1, h2 *testnet.Host, a, b *testnet.Iface) {
	h1, h2 = lab.Host(n1), lab.Host(n2)
	a, b = lab.Wire(h1, "sync0", h2, "sync0")
	a.AddAddr(t, cidr1)
	b.AddAddr(t, cidr2)
	return h1, h2, a, b
}

// commitInto writes flows into h's kernel from a committer the replicator
// does not know, so their events look like real traffic.
func commitInto(t testing.TB, netns string, flows []ct.Flow) {
	t.Helper()
	c, err := ctnetlink.NewCommitter(2, netns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	if st, err := c.Commit(context.Background(), ct.SampleEntries(flows, now), now, 0); err != nil || st.Created != len(flows) {
		t.Fatalf("commit %d flows: %+v %v", len(flows), st, err)
	}
}

func interopVigilToConntrackd(t *testing.T, n, lossPercent int) {
	start := time.Now()
	p := newSyncPair(t)
	if lossPercent > 0 {
		// Loss from the start, handshake included, on the receiver.
		p.ctd.DropRandomMatch(t, "sync0", lossPercent, testnet.In, "udp dport 3780")
	}
	flows := ct.SampleFlows(n)
	commitInto(t, p.netns(p.vigil), flows[:n/2]) // before start: initial dump
	p.startConntrackd(t)
	r := p.startVigil(t)
	commitInto(t, p.netns(p.vigil), flows[n/2:]) // after start: events
	want := flowKeys(flows, false)
	var got []string
	testnet.Eventually(t, 60*time.Second, func() bool {
		out := p.ctdClient(t, "-e")
		if os.Getenv("CTD_DEBUG") != "" {
			t.Logf("%.600s", out)
			t.Logf("%.1200s", p.ctdClient(t, "-e", "-x"))
		}
		got = ctdKeys(out)
		return len(got) >= len(want)
	}, "conntrackd's external cache has %v of %d entries (vigil: %v)",
		cttest.Lazy(func() string { return fmt.Sprint(len(got)) }), len(want), cttest.Lazy(func() string { return fmt.Sprintf("%+v", r.Stats()) }))
	if missing, extra := diffKeys(got, want); len(missing)+len(extra) > 0 {
		t.Fatalf("conntrackd's external cache differs from vigil's table: %d missing (%q), %d extra (%q)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}
	// conntrackd -e shows no NAT: commit its external cache and compare
	// the kernel entries (reply tuples, marks, states, timeouts).
	p.ctdClient(t, "-c")
	slack := uint32(time.Since(start)/time.Second) + 5
	cttest.CheckKernel(t, p.nsOf(p.ctd), flows, func(f *ct.Flow) uint32 { return f.TimeoutSec }, slack)
	t.Logf("vigil stats: %+v", r.Stats())
}

func interopConntrackdToVigil(t *testing.T, n, lossPercent int) {
	p := newSyncPair(t)
	if lossPercent > 0 {
		p.vigil.DropRandomMatch(t, "sync0", lossPercent, testnet.In, "udp dport 3780")
	}
	flows := ct.SampleFlows(n)
	commitInto(t, p.netns(p.ctd), flows[:n/2])
	p.startConntrackd(t)
	r := p.startVigil(t)
	commitInto(t, p.netns(p.ctd), flows[n/2:])
	want := flowKeys(flows, true)
	testnet.Eventually(t, 60*time.Second, func() bool { return r.Stats().External >= len(want) },
		"vigil's external cache has %v of %d entries (%v)", cttest.Lazy(func() string { return fmt.Sprint(r.Stats().External) }), len(want),
		cttest.Lazy(func() string { return fmt.Sprintf("%+v", r.Stats()) }))
	_, ext := r.Dump()
	var got []ct.Flow
	for _, e := range ext {
		got = append(got, e.Flow)
	}
	if missing, extra := diffKeys(flowKeys(got, true), want); len(missing)+len(extra) > 0 {
		t.Fatalf("vigil's external cache differs from conntrackd's table: %d missing (%q), %d extra (%q)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}
	// State and marks too, not only tuples.
	byKey := make(map[ct.Key]ct.Flow, len(got))
	for _, f := range got {
		byKey[f.Key()] = f
	}
	for i := range flows {
		g := byKey[flows[i].Key()]
		if g.TCPState != flows[i].TCPState || g.Mark != flows[i].Mark || g.Status&ct.StatusAssured != flows[i].Status&ct.StatusAssured {
			t.Fatalf("flow %s received as %s", &flows[i], &g)
		}
	}
	t.Logf("vigil stats: %+v", r.Stats())
}

func TestInteropVigilToConntrackd(t *testing.T) { interopVigilToConntrackd(t, 10000, 0) }
func TestInteropConntrackdToVigil(t *testing.T) { interopConntrackdToVigil(t, 10000, 0) }
func TestInteropVigilToConntrackdLossy(t *testing.T) {
	interopVigilToConntrackd(t, 10000, lossPercent(t))
}
func TestInteropConntrackdToVigilLossy(t *testing.T) {
	interopConntrackdToVigil(t, 10000, lossPercent(t))
}

// lossPercent is 10, or CONNTRACKSYNC_INTEROP_LOSS for heavier manual runs.
func lossPercent(t *testing.T) int {
	if s := os.Getenv("CONNTRACKSYNC_INTEROP_LOSS"); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 0 || p > 90 {
			t.Fatalf("CONNTRACKSYNC_INTEROP_LOSS=%q: want 0..90", s)
		}
		return p
	}
	return 10
}
