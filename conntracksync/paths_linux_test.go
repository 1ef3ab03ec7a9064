package conntracksync_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// pathLab is two firewalls joined by two sync links: sync0
// (198.51.100.0/24), the first path, and sync1 (203.0.113.0/24), the
// backup.
type pathLab struct {
	h1, h2     *testnet.Host
	a0, b0     *testnet.Iface // sync0 on fw1, fw2
	ip1, ip2   netip.Addr     // sync0's addresses
	bip1, bip2 netip.Addr     // sync1's
}

func newPathLab(t *testing.T) *pathLab {
	lab := testnet.New(t)
	l := &pathLab{ip1: netip.MustParseAddr("198.51.100.1"), ip2: netip.MustParseAddr("198.51.100.2"),
		bip1: netip.MustParseAddr("203.0.113.101"), bip2: netip.MustParseAddr("203.0.113.102")}
	l.h1, l.h2, l.a0, l.b0 = wiredPair(t, lab, "fw1", "fw2", "198.51.100.1/24", "198.51.100.2/24")
	a1, b1 := lab.Wire(l.h1, "sync1", l.h2, "sync1")
	a1.AddAddr(t, "203.0.113.101/24")
	b1.AddAddr(t, "203.0.113.102/24")
	return l
}

// paths are node side's (0: fw1, 1: fw2) sync paths: sync0, and with
// backup sync1 too.
func (l *pathLab) paths(side int, backup bool) []ct.Path {
	ip, peer, bip, bpeer := l.ip1, l.ip2, l.bip1, l.bip2
	if side == 1 {
		ip, peer, bip, bpeer = l.ip2, l.ip1, l.bip2, l.bip1
	}
	ps := []ct.Path{{Name: "main", Interface: "sync0", LocalAddr: ip, PeerAddr: peer}}
	if backup {
		ps = append(ps, ct.Path{Name: "backup", Interface: "sync1", LocalAddr: bip, PeerAddr: bpeer})
	}
	return ps
}

// TestSyncPathFailover cuts the first sync path (its link down, or
// silently with nftables dropping everything while the links stay up)
// while new connections keep appearing on fw1: with a backup path, fw2's
// external cache ends equal to fw1's table, nothing lost and nothing
// extra, and both nodes send on the backup; with one path, replication
// stops at the cut (the proof that the test can fail).
func TestSyncPathFailover(t *testing.T) {
	cttest.NeedRoot(t, "conntrack", "nft")
	for _, tc := range []struct {
		name   string
		backup bool
		cut    func(t *testing.T, l *pathLab)
	}{
		{"link down", true, func(t *testing.T, l *pathLab) { l.a0.Cut(t) }},
		{"silent drop", true, func(t *testing.T, l *pathLab) { l.a0.Isolate(t) }},
		{"link down without a backup", false, func(t *testing.T, l *pathLab) { l.a0.Cut(t) }},
		{"silent drop without a backup", false, func(t *testing.T, l *pathLab) { l.a0.Isolate(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newPathLab(t)
			flows := ct.SampleFlows(3000)
			before, after := flows[:1000], flows[1000:]
			commitInto(t, "/run/netns/"+l.h1.Name(), before)
			fw1 := startSyncNodeWith(t, l.h1, l.ip1, l.ip2, ct.Config{Paths: l.paths(0, tc.backup)})
			fw2 := startSyncNodeWith(t, l.h2, l.ip2, l.ip1, ct.Config{Paths: l.paths(1, tc.backup)})
			stats := func(n *vigilNode) fmt.Stringer {
				return cttest.Lazy(func() string { return fmt.Sprintf("%+v", n.r.Stats()) })
			}
			testnet.Eventually(t, 20*time.Second, func() bool { return fw2.r.Stats().External == len(before) },
				"fw2 external cache before the cut: %v", stats(fw2))

			tc.cut(t, l)
			// New connections across the cut and the switch: 20 batches
			// over about 4 s.
			for i := 0; i < len(after); i += 100 {
				commitInto(t, "/run/netns/"+l.h1.Name(), after[i:i+100])
				time.Sleep(200 * time.Millisecond)
			}
			if !tc.backup {
				// Room for the replication to go on, were it able to.
				time.Sleep(3 * time.Second)
				if n := fw2.r.Stats().External; n >= len(flows) {
					t.Fatalf("with one path cut, fw2 still got everything (%d)", n)
				}
				return
			}
			testnet.Eventually(t, 30*time.Second, func() bool { return fw2.r.Stats().External == len(flows) },
				"fw2 external cache after the cut: %v\nfw1: %v", stats(fw2), stats(fw1))
			// fw1's kernel table, less the sync links' own flows.
			var table, got []ct.Flow
			for _, f := range cttest.KernelFlows(t, cttest.NS{Name: l.h1.Name()}) {
				if f.Orig.Proto != 17 || (f.Orig.DstPort != ct.DefaultPort && f.Orig.SrcPort != ct.DefaultPort) {
					table = append(table, f)
				}
			}
			_, ext := fw2.r.Dump()
			for _, e := range ext {
				got = append(got, e.Flow)
			}
			if missing, extra := diffKeys(flowKeys(got, true), flowKeys(table, true)); len(missing)+len(extra) > 0 || len(table) != len(flows) {
				t.Fatalf("fw2's external cache differs from fw1's kernel table (%d flows): %d missing (%q), %d extra (%q)", len(table), len(missing), first(missing, 5), len(extra), first(extra, 5))
			}
			for _, n := range []*vigilNode{fw1, fw2} {
				s := n.r.Stats()
				// One stream over the paths: no message arrives twice.
				if d := s.Drops["stale_seq"]; d != 0 {
					t.Errorf("%s: %d stale (duplicate) messages", n.host.Name(), d)
				}
				if len(s.Paths) != 2 || s.Paths[0].Active || !s.Paths[1].Active || s.PathSwitches == 0 || s.Paths[1].Out == 0 || s.Paths[1].In == 0 {
					t.Errorf("%s: paths %+v, switches %d", n.host.Name(), s.Paths, s.PathSwitches)
				}
			}
			t.Logf("fw1 paths %+v\nfw2 paths %+v", fw1.r.Stats().Paths, fw2.r.Stats().Paths)
		})
	}
}

// TestMulticastIPv6VigilPair: two vigil nodes over an IPv6 link-local
// multicast group (documentation range ff02::db8:0:1), the peer given by
// address on one side and pinned on the other; a stream of connections
// reaches the peer's external cache.
func TestMulticastIPv6VigilPair(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	h1, h2, _, _ := wiredPair(t, testnet.New(t), "m1", "m2", "2001:db8:7::1/64", "2001:db8:7::2/64")
	ip1, ip2 := netip.MustParseAddr("2001:db8:7::1"), netip.MustParseAddr("2001:db8:7::2")
	group := netip.MustParseAddr("ff02::db8:0:1")
	flows := ct.SampleFlows(1000)
	commitInto(t, "/run/netns/"+h1.Name(), flows[:500])
	n1 := startSyncNodeWith(t, h1, ip1, ip2, ct.Config{Paths: []ct.Path{{Name: "mc", Interface: "sync0", LocalAddr: ip1, PeerAddr: ip2, Group: group}}})
	n2 := startSyncNodeWith(t, h2, ip2, ip1, ct.Config{Paths: []ct.Path{{Name: "mc", Interface: "sync0", LocalAddr: ip2, Group: group}}})
	commitInto(t, "/run/netns/"+h1.Name(), flows[500:])
	testnet.Eventually(t, 20*time.Second, func() bool { return n2.r.Stats().External == len(flows) },
		"external cache over IPv6 multicast: %v", cttest.Lazy(func() string { return fmt.Sprintf("%+v", n2.r.Stats()) }))
	if p := n2.r.Stats().Paths[0]; p.Peer != ip1.String() || p.Group != group.String() {
		t.Errorf("n2's path: %+v", p)
	}
	if d := n1.r.Stats().Drops["foreign_source"]; d != 0 {
		t.Errorf("n1 dropped %d datagrams as foreign (its own looped back?)", d)
	}
}

// TestInteropPathFailoverConntrackd: vigil and conntrackd with two
// channels (conntrackd's UDP Default and a second UDP; vigil's two paths):
// the first link goes down, both move to the second (conntrackd on its
// interface's state, vigil on carrier), and connections made after the cut
// on either side reach the other.
func TestInteropPathFailoverConntrackd(t *testing.T) {
	cttest.NeedRoot(t, "conntrack", "conntrackd")
	l := newPathLab(t)
	base := testnet.ConntrackdConfig{Local: l.ip2.String(), Peer: l.ip1.String(), Interface: "sync0"}
	second := fmt.Sprintf("\tUDP {\n\t\tIPv4_address %s\n\t\tIPv4_Destination_Address %s\n\t\tPort 3780\n\t\tInterface sync1\n\t}\n}\nGeneral {", l.bip2, l.bip1)
	ctd := l.h2.ConntrackdText(t, func(dir string) string {
		conf := strings.Replace(base.Render(dir), "\tUDP {", "\tUDP Default {", 1)
		conf = strings.Replace(conf, "}\nGeneral {", second, 1)
		// The backup link's addresses are the firewall's own too.
		return strings.Replace(conf, "\t\tAddress Ignore {\n", fmt.Sprintf("\t\tAddress Ignore {\n\t\t\tIPv4_address %s\n\t\t\tIPv4_address %s\n", l.bip1, l.bip2), 1)
	})
	flows := ct.SampleFlows(4000)
	commitInto(t, "/run/netns/"+l.h1.Name(), flows[:1000])
	fw1 := startSyncNodeWith(t, l.h1, l.ip1, l.ip2, ct.Config{Paths: l.paths(0, true)})
	ctdHas := func(want []ct.Flow) func() bool {
		return func() bool {
			out, err := ctd.Client(t.Context(), "-e")
			if err != nil {
				return false
			}
			missing, _ := diffKeys(ctdKeys(string(out)), flowKeys(want, false))
			return len(missing) == 0
		}
	}
	testnet.Eventually(t, 30*time.Second, ctdHas(flows[:1000]), "conntrackd before the cut: %v", cttest.Lazy(ctd.Log))

	l.a0.Cut(t)
	for i := 1000; i < 2000; i += 100 {
		commitInto(t, "/run/netns/"+l.h1.Name(), flows[i:i+100])
		time.Sleep(200 * time.Millisecond)
	}
	commitInto(t, "/run/netns/"+l.h2.Name(), flows[2000:])
	testnet.Eventually(t, 30*time.Second, ctdHas(flows[:2000]), "conntrackd after the cut (vigil: %v): %v",
		cttest.Lazy(func() string { return fmt.Sprintf("%+v", fw1.r.Stats()) }), cttest.Lazy(ctd.Log))
	testnet.Eventually(t, 30*time.Second, func() bool { return sameFlowsOf(fw1.r, flows[2000:]) == 2000 },
		"vigil's external cache after the cut: %v of 2000 (%v)", cttest.Lazy(func() string { return fmt.Sprint(sameFlowsOf(fw1.r, flows[2000:])) }),
		cttest.Lazy(func() string { return fmt.Sprintf("%+v", fw1.r.Stats()) }))
	if !strings.Contains(ctd.Log(), "`sync1' becomes dedicated link") {
		t.Errorf("conntrackd did not move to sync1:\n%s", ctd.Log())
	}
	if s := fw1.r.Stats(); !s.Paths[1].Active {
		t.Errorf("vigil's paths: %+v", s.Paths)
	}
}

// sameFlowsOf is sameFlows over r's external cache.
func sameFlowsOf(r *ct.Replicator, want []ct.Flow) int {
	_, ext := r.Dump()
	return sameFlows(ext, want)
}
