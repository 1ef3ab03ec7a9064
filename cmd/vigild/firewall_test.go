package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	vnetlink "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/daemon"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// TestFirewallFailover: a stateful firewall pair (see firewall_lab_test.go)
// forwards one long-lived TCP connection with data both ways. fw1's inside
// and outside links are cut; fw2 takes the sync group over.
//
//   - replicated: with conntrack_sync, fw2 commits the replicated entry
//     before its VIPs go up, and the same connection goes on through fw2:
//     no reset, no reconnect, every counter verified on both ends.
//   - unreplicated: the same lab and configuration without conntrack_sync
//     must break the stream (fw2 drops the client's segments as invalid
//     and resets the server's): proof that the first subtest can fail.
func TestFirewallFailover(t *testing.T) {
	t.Run("replicated", func(t *testing.T) {
		l := newFWLab(t)
		v1, v2 := startFWPair(t, l, true)
		testnet.Eventually(t, fwSettle, func() bool { return v1.Conntrack(t).Established && v2.Conntrack(t).Established },
			"sync link established both ways")
		s := startFWStream(t, l)
		if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
			t.Fatalf("before the cut: %v", err)
		}
		// The backup holds the connection in its external cache only.
		testnet.Eventually(t, fwSettle, func() bool { return v2.Conntrack(t).External >= 1 },
			"fw2's external cache receives the stream's entry")
		if n := ctFlows(t, l.FW2); n != 0 {
			t.Fatalf("fw2's kernel already has %d entries for the stream before the takeover: the test would prove nothing", n)
		}

		before := ctList(t, l.FW1)
		takeovers := v2.Conntrack(t).Takeovers
		if dst := os.Getenv("VIGIL_FW_PCAP"); dst != "" {
			// Debugging aid: fw2's outside traffic, copied to dst at the end.
			c := l.FW2.Capture(t, "eth1", fmt.Sprintf("tcp port %d or arp", fwServerPort))
			t.Cleanup(func() { c.Stop(t); _ = exec.Command("cp", c.Path(), dst).Run() })
		}
		l.In1.Cut(t)
		l.Out1.Cut(t)
		for _, in := range []string{"VI_IN", "VI_OUT"} {
			v2.WaitState(t, in, "MASTER")
		}
		if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
			t.Fatalf("after fw2 took over: %v (fw2 forward drops: %s)\nfw1's entry before the cut:\n%s\nfw2's after the takeover:\n%s\nRSTs sent: fw2 %s, client %s, server %s",
				err, nftDrops(t, l.FW2), before, ctList(t, l.FW2), outRsts(t, l.FW2), outRsts(t, l.Client), outRsts(t, l.Server))
		}
		st := v2.Conntrack(t)
		t.Logf("fw2 takeover: %d entries, VIPs waited %s for the commit; stream verified %d bytes up, %d down",
			st.LastTakeover.Entries, st.LastTakeover.InLoop, s.up.Load(), s.down.Load())

		// Failback: fw1's links come back and it preempts (150 > 100). It
		// left MASTER for FAULT and asked fw2 for its table, so it commits
		// the stream's entry as fw2 last saw it (over its own stale one)
		// before its VIPs go up, and the same connection goes on.
		fw1Takeovers := v1.Conntrack(t).Takeovers
		l.In1.Restore(t)
		l.Out1.Restore(t)
		for _, in := range []string{"VI_IN", "VI_OUT"} {
			v1.WaitState(t, in, "MASTER")
			v2.WaitState(t, in, "BACKUP")
		}
		if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
			t.Fatalf("after fw1 took the stream back: %v\nfw1's entry:\n%s\nRSTs sent: fw1 %s, client %s, server %s",
				err, ctList(t, l.FW1), outRsts(t, l.FW1), outRsts(t, l.Client), outRsts(t, l.Server))
		}
		s.stop()
		if errs := s.errors(); len(errs) > 0 {
			t.Fatalf("stream errors: %s", strings.Join(errs, "; "))
		}
		if st1 := v1.Conntrack(t); st1.Takeovers != fw1Takeovers+1 || st1.LastTakeover.Entries < 1 || st1.ResyncRequests < 1 {
			t.Errorf("fw1 failback: takeovers %d → %d, resync requests %d, last %+v", fw1Takeovers, st1.Takeovers, st1.ResyncRequests, st1.LastTakeover)
		}
		if st.Takeovers != takeovers+1 || st.LastTakeover.Entries < 1 || st.LastTakeover.Error != "" || st.LastTakeover.Failed != 0 {
			t.Errorf("fw2 takeovers %d → %d, last %+v: want one takeover that committed the stream's entry", takeovers, st.Takeovers, st.LastTakeover)
		}
		if !st.Master || st.Commits < 1 {
			t.Errorf("fw2 status: master=%v commits=%d", st.Master, st.Commits)
		}
		if n := ctFlows(t, l.FW2); n < 1 {
			t.Errorf("fw2's kernel has no entry for the stream after the takeover")
		}
		if !strings.Contains(v2.Output(), "before adding the virtual addresses") {
			t.Errorf("fw2 did not log its commit before the VIPs")
		}
	})
	t.Run("unreplicated", func(t *testing.T) {
		l := newFWLab(t)
		_, v2 := startFWPair(t, l, false)
		s := startFWStream(t, l)
		if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
			t.Fatalf("before the cut: %v", err)
		}
		l.In1.Cut(t)
		l.Out1.Cut(t)
		for _, in := range []string{"VI_IN", "VI_OUT"} {
			v2.WaitState(t, in, "MASTER")
		}
		err := s.progress(fwProgressAfterCut, fwUnreplicatedWindow)
		if err == nil {
			t.Fatalf("the stream survived the failover without replication: the firewall test cannot fail (nf_conntrack_tcp_loose? ruleset?)")
		}
		t.Logf("without replication, as expected: %v", err)
	})
}

// TestFirewallResync: the backup's vigild restarts and gets the master's
// whole table again without any operator action; malformed datagrams to
// the sync port are dropped and counted, and replication goes on.
func TestFirewallResync(t *testing.T) {
	const flows = 2000
	l := newFWLab(t)
	v1, v2 := startFWPair(t, l, true)
	testnet.Eventually(t, fwSettle, func() bool { return v1.Conntrack(t).Established && v2.Conntrack(t).Established },
		"sync link established both ways")
	// Established TCP entries in fw1's table, created by conntrack(8), as
	// if forwarded (replicated like any kernel event).
	ctLoadFlows(t, l.FW1, flows, 0)
	same := func() bool {
		a, b := v1.Conntrack(t), v2.Conntrack(t)
		return a.Internal == flows && b.External == flows
	}
	testnet.Eventually(t, fwSettle, same, "fw2's external cache holds fw1's %d entries: %s", flows, fwCounts(t, v1, v2))
	bulks := v1.Conntrack(t).Bulks

	// Restart the backup's vigild (SIGKILL: no goodbye on the sync link).
	if err := v2.Kill(); err != nil {
		t.Fatal(err)
	}
	v2 = startVigild(t, l.FW2, fwConf("fw2", 100, fwSync2, fwSync1, true), "-i", "fw2")
	for _, in := range []string{"VI_IN", "VI_OUT"} {
		v2.WaitState(t, in, "BACKUP")
	}
	testnet.Eventually(t, fwSettle, same, "the restarted fw2's external cache is refilled with fw1's %d entries: %s", flows, fwCounts(t, v1, v2))
	if got := v1.Conntrack(t).Bulks; got <= bulks {
		t.Errorf("fw1 sent no bulk for the restarted peer (bulks %d → %d)", bulks, got)
	}
	if st := v2.Conntrack(t); st.Commits != 0 || st.Takeovers != 0 {
		t.Errorf("the backup committed: %+v", st)
	}

	// Malformed datagrams from the peer's address, each a different
	// fault, then one from a foreign address.
	bad := [][]byte{
		hdr(0x20, 0, 8, 1),                         // version 2
		hdr(0x10, 0, 0, 2),                         // len 0
		hdr(0x10, 0, 200, 3),                       // len beyond the datagram
		append(hdr(0x1a, 0x08, 12, 4), 0, 0, 0, 0), // ACK shorter than 16
	}
	drops0 := malformedDrops(v2.Conntrack(t).Drops)
	sendUDP(t, l.FW1, fwSync1, bad...)
	testnet.Eventually(t, fwSettle, func() bool { return malformedDrops(v2.Conntrack(t).Drops)-drops0 >= uint64(len(bad)) },
		"fw2 counts %d malformed datagrams: drops %v", len(bad), harness.Lazy(func() string { return fmt.Sprint(v2.Conntrack(t).Drops) }))
	l.FW1.Exec(t, "ip", "addr", "add", "198.51.100.3/24", "dev", "sync0")
	foreign0 := v2.Conntrack(t).Drops["foreign_source"]
	sendUDP(t, l.FW1, "198.51.100.3", hdr(0x1a, 0x10, 8, 5))
	testnet.Eventually(t, fwSettle, func() bool { return v2.Conntrack(t).Drops["foreign_source"] > foreign0 },
		"fw2 counts a datagram from a foreign address: %v", harness.Lazy(func() string { return fmt.Sprint(v2.Conntrack(t).Drops) }))

	// Replication still works.
	ctLoadFlows(t, l.FW1, 1, flows)
	testnet.Eventually(t, fwSettle, func() bool { return v2.Conntrack(t).External == flows+1 },
		"a new entry still reaches fw2 after the malformed datagrams: %s", fwCounts(t, v1, v2))

	// Shorter than a message header: malformed too.
	drops1 := malformedDrops(v2.Conntrack(t).Drops)
	sendUDP(t, l.FW1, fwSync1, []byte{0x10, 0, 0})
	testnet.Eventually(t, fwSettle, func() bool { return malformedDrops(v2.Conntrack(t).Drops) > drops1 },
		"fw2 counts a 3-byte datagram (shorter than a header) as malformed: drops %v", harness.Lazy(func() string { return fmt.Sprint(v2.Conntrack(t).Drops) }))
}

// hdr is an FTFW message header: version/type byte, flags, len, seq.
func hdr(vt, flags byte, length uint16, seq uint32) []byte {
	b := []byte{vt, flags, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], length)
	binary.BigEndian.PutUint32(b[4:], seq)
	return b
}

// malformedDrops sums the channel's syntax drop reasons.
func malformedDrops(d map[string]uint64) uint64 {
	var n uint64
	for _, k := range []string{"short", "bad_version", "bad_length", "bad_type", "bad_flags", "bad_payload", "malformed"} {
		n += d[k]
	}
	return n
}

// sendUDP sends each datagram from src (in h) to fw2's sync port.
func sendUDP(t testing.TB, h *testnet.Host, src string, dgrams ...[]byte) {
	t.Helper()
	err := h.Do(func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)}, &net.UDPAddr{IP: net.ParseIP(fwSync2), Port: fwSyncPort})
		if err != nil {
			return err
		}
		defer c.Close()
		for _, d := range dgrams {
			if _, err := c.Write(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send to the sync port: %v", err)
	}
}

func fwCounts(t testing.TB, v1, v2 *vigild) harness.Lazy {
	return func() string {
		a, b := v1.Conntrack(t), v2.Conntrack(t)
		return fmt.Sprintf("fw1 internal %d, fw2 external %d (fw1 bulks %d, fw2 resyncs sent %d)", a.Internal, b.External, a.Bulks, b.ResyncsSent)
	}
}

// ctList returns h's conntrack entries for the stream, for failures.
func ctList(t testing.TB, h *testnet.Host) string {
	out, _ := h.Command(t.Context(), "conntrack", "-L", "-p", "tcp", "--dport", fmt.Sprint(fwServerPort), "-o", "extended").CombinedOutput()
	return string(out)
}

// outRsts returns h's count of TCP resets sent, for failures.
func outRsts(t testing.TB, h *testnet.Host) string {
	out, _ := h.Command(t.Context(), "nstat", "-az", "TcpOutRsts").CombinedOutput()
	f := strings.Fields(string(out))
	for i, w := range f {
		if w == "TcpOutRsts" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return "?"
}

// nftDrops returns the forward chain's drop counter in h, for failures.
func nftDrops(t testing.TB, h *testnet.Host) string {
	out, _ := h.Command(t.Context(), "nft", "list", "chain", "inet", "fwtest", "forward").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "dropped") {
			return strings.TrimSpace(line)
		}
	}
	return "?"
}

// BenchmarkFirewallTakeover: the firewall pair with n replicated
// connections besides one live TCP stream; fw1's inside and outside links
// are cut. The same lab runs vigild; vigild with warm_standby, whose
// backup writes fw1's flows into its kernel as they arrive and at the
// takeover only what changed since (so the stream's entry is in fw2's
// kernel before the cut, and ready-ms is the VIP's); and Debian's
// keepalived + conntrackd wired by a primary-backup notify script (see
// fwLegacy). Reported, from the cut:
//
//   - ready-ms: until fw2 has both the outside VIP and the stream's
//     conntrack entry: the VIP polled over netlink every 0.2 ms or so,
//     then the entry with conntrack -G (its tuple, not a dump of the
//     table); an entry found at the first look counts from the VIP's
//     time, one found later from that look's (a few ms apart);
//   - stream-gap-ms: until the first byte through fw2 reaches the server
//     (set by TCP's retransmission backoff: about 0.2, 0.6, 1.4 s after
//     the cut);
//   - broken: 1 when the stream failed (reset), 0 when it survived;
//   - for vigild (both) also commit-ms, how long its VIPs waited for the
//     commit, commit-total-ms, the whole commit, and
//     ready-after-master-down-ms, ready counted from the Master_Down
//     deadline in fw2's takeover timeline rather than from the cut (the
//     cut falls anywhere within an advert interval, 0.2 s, after fw1's
//     last advert, so ready-ms moves by that much from run to run);
//   - fw1-rss-MB and fw2-rss-MB: the peak resident size (VmHWM) of each
//     box's sync daemon, vigild (its two processes, the daemon and its
//     sync worker, summed) or conntrackd, once fw2 holds the flows
//     and before the cut; for keepalived + conntrackd also
//     fw1-keepalived-rss-MB and fw2-keepalived-rss-MB, keepalived's
//     two processes summed (its parent and its VRRP process; its
//     checker process is not started without a virtual_server), as
//     vigild's are. vigild is built as its package ships it, static
//     (fwBenchVigild), unless VIGILD_BINARY names a built vigild;
//   - fw2-rss-after-MB: the resident size (VmRSS) of fw2's sync daemon
//     fwAfterRSS after ready, once the takeover's commit, flush and bulk
//     are over;
//   - fw2-box-after-MB: at the same moment, the memory of all of fw2's
//     processes (vigild's two; keepalived's two and conntrackd) with
//     every page counted once (testnet.GroupsUniqueKB): a page of a
//     program that two of them map counts once, where the sums above
//     count it in each.
//
// Master_Down_Interval at advert_int 0.2 s is about 0.7 s. flows=1 checks
// the reference harness: keepalived + conntrackd keep a lone stream alive,
// so a break with more flows is the race
// between their GARP and the commit. Run with -benchtime=1x, for example
// go test -run '^$' -bench 'FirewallTakeover/.*/flows=100000' -benchtime 1x ./cmd/vigild
func BenchmarkFirewallTakeover(b *testing.B) {
	vig := fwBenchVigild(b)
	for _, sys := range []string{fwVigild, fwVigildWarm, fwLegacySys} {
		for _, n := range []int{1, 10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/flows=%d", sys, n), func(b *testing.B) {
				var sum fwTakeover
				for range b.N {
					r := fwTakeoverOnce(b, b, n, sys, vig)
					sum.ready += r.ready
					sum.gap += r.gap
					sum.broken += r.broken
					sum.commit.InLoop += r.commit.InLoop
					sum.commit.Duration += r.commit.Duration
					sum.afterDue += r.afterDue
					for i := range sum.rssKB {
						sum.rssKB[i] += r.rssKB[i]
					}
					sum.afterRSSKB += r.afterRSSKB
					sum.afterBoxKB += r.afterBoxKB
				}
				ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / 1e6 }
				mb := func(kb int64) float64 { return float64(kb) / float64(b.N) / 1024 }
				b.ReportMetric(ms(sum.ready), "ready-ms")
				b.ReportMetric(ms(sum.gap), "stream-gap-ms")
				b.ReportMetric(float64(sum.broken)/float64(b.N), "broken")
				b.ReportMetric(mb(sum.rssKB[0]), "fw1-rss-MB")
				b.ReportMetric(mb(sum.rssKB[1]), "fw2-rss-MB")
				b.ReportMetric(mb(sum.afterRSSKB), "fw2-rss-after-MB")
				b.ReportMetric(mb(sum.afterBoxKB), "fw2-box-after-MB")
				if sys != fwLegacySys {
					b.ReportMetric(ms(sum.commit.InLoop), "commit-ms")
					b.ReportMetric(ms(sum.commit.Duration), "commit-total-ms")
					b.ReportMetric(ms(sum.afterDue), "ready-after-master-down-ms")
				} else {
					b.ReportMetric(mb(sum.rssKB[2]), "fw1-keepalived-rss-MB")
					b.ReportMetric(mb(sum.rssKB[3]), "fw2-keepalived-rss-MB")
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// TestFirewallTakeoverBenchPath runs BenchmarkFirewallTakeover's path
// once with one flow for each system, so that the benchmark cannot rot
// between its runs: the takeover happens and every figure is read.
func TestFirewallTakeoverBenchPath(t *testing.T) {
	vig := fwBenchVigild(t)
	for _, sys := range []string{fwVigild, fwVigildWarm, fwLegacySys} {
		t.Run(sys, func(t *testing.T) {
			r := fwTakeoverOnce(t, noTimer{}, 1, sys, vig)
			if r.ready <= 0 {
				t.Errorf("ready %v", r.ready)
			}
			n := 2
			if sys == fwLegacySys {
				n = 4
			}
			if sys != fwLegacySys && (r.afterDue <= 0 || r.afterDue > r.ready) {
				t.Errorf("ready %v after the Master_Down deadline, %v after the cut", r.afterDue, r.ready)
			}
			for i, kb := range r.rssKB[:n] {
				if kb < 1024 {
					t.Errorf("peak RSS %d of %v: %d kB", i, r.rssKB[:n], kb)
				}
			}
			if r.afterRSSKB < 1024 {
				t.Errorf("fw2's RSS after the takeover: %d kB", r.afterRSSKB)
			}
			if r.afterBoxKB < 1024 {
				t.Errorf("fw2's pages counted once after the takeover: %d kB", r.afterBoxKB)
			}
			if sys != fwLegacySys && !r.released {
				t.Errorf("fw2 did not log %s within %v of ready", fwReleasedLog, fwAfterRSS)
			}
		})
	}
}

type fwTakeover struct {
	ready, gap time.Duration
	broken     int
	commit     ctl.CTTakeover
	// afterDue (vigild only): from the Master_Down deadline of fw2's
	// takeover (its timeline's due time) to ready.
	afterDue time.Duration
	// rssKB: the peak RSS of fw1's and fw2's sync daemon (vigild or
	// conntrackd), then of fw1's and fw2's keepalived (legacy only).
	rssKB [4]int64
	// afterRSSKB: the resident size of fw2's sync daemon fwAfterRSS after
	// ready, and afterBoxKB all of fw2's processes' pages counted once;
	// released (vigild only): fw2 had logged then that it gave the
	// takeover's memory back.
	afterRSSKB, afterBoxKB int64
	released               bool
}

// fwAfterRSS is when, after ready, the new master's resident size is
// read: after its commit, the flush of its external cache and its bulk to
// the peer (vigild gives the heap's free pages back a second after a
// takeover).
const fwAfterRSS = 5 * time.Second

// benchTimer is the part of *testing.B that fwTakeoverOnce needs besides
// testing.TB: TestFirewallTakeoverBenchPath runs it with timers that do
// nothing.
type benchTimer interface {
	StartTimer()
	StopTimer()
}

type noTimer struct{}

func (noTimer) StartTimer() {}
func (noTimer) StopTimer()  {}

// The systems BenchmarkFirewallTakeover compares: vigild, vigild whose
// backup is a warm standby (the peer's flows written into its kernel as
// they arrive), and keepalived + conntrackd.
const (
	fwVigild     = "vigild"
	fwVigildWarm = "vigild-warm_standby"
	fwLegacySys  = "keepalived+conntrackd"
)

// fwBenchVigild is the vigild that BenchmarkFirewallTakeover runs:
// $VIGILD_BINARY when set, otherwise vigild built as its package ships it
// (static, testnet.BuildStatic) rather than this test binary, which go
// test links against libc where a C compiler is installed: that costs
// each of vigild's two processes about 1.5 MB more resident memory than
// the shipped binary, and the benchmark reads the boxes' memory.
func fwBenchVigild(t testing.TB) harness.Command {
	t.Helper()
	if os.Getenv("VIGILD_BINARY") != "" {
		return vigildCommand
	}
	return harness.Command{testnet.BuildStatic(t, "github.com/vigil-ha/vigil/cmd/vigild", "-ldflags=-s -w")}
}

func fwTakeoverOnce(b testing.TB, timer benchTimer, n int, sys string, vig harness.Command) fwTakeover {
	timer.StopTimer()
	legacy := sys == fwLegacySys
	l := newFWLab(b)
	var external func() int
	var v2 *vigild
	var pids []int // fw1's and fw2's sync daemons, then their keepalived (each its process group)
	if legacy {
		g1 := startFWLegacy(b, l.FW1, "fw1", 150, fwSync1, fwSync2)
		g2 := startFWLegacy(b, l.FW2, "fw2", 100, fwSync2, fwSync1)
		g1.ka.WaitOutput(b, "(VI_IN) Entering MASTER STATE", fwSettle)
		g2.ka.WaitOutput(b, "(VI_IN) Entering BACKUP STATE", fwSettle)
		l.SettleNeighbours(b, l.FW1)
		external = func() int { return g2.externalCount(b) }
		pids = []int{g1.ctd.Pid(), g2.ctd.Pid(), g1.ka.Pid(), g2.ka.Pid()}
	} else {
		c1, c2 := fwConf("fw1", 150, fwSync1, fwSync2, true), fwConf("fw2", 100, fwSync2, fwSync1, true)
		if sys == fwVigildWarm {
			warm := func(c string) string {
				return strings.Replace(c, "    track_group FW\n", "    track_group FW\n    warm_standby\n", 1)
			}
			c1, c2 = warm(c1), warm(c2)
		}
		var v1 *vigild
		v1, v2 = startFWPairCmd(b, l, vig, c1, c2)
		pids = []int{v1.Pid(), v2.Pid()}
		testnet.Eventually(b, fwSettle, func() bool { return v1.Conntrack(b).Established && v2.Conntrack(b).Established },
			"sync link established both ways")
		external = func() int { return v2.Conntrack(b).External }
	}
	ctLoadFlows(b, l.FW1, n, 0)
	s := startFWStream(b, l)
	testnet.Eventually(b, 4*fwSettle, func() bool { return external() >= n+1 },
		"fw2's external cache holds %d entries: %s", n+1, harness.Lazy(func() string {
			return fmt.Sprintf("%d%s", external(), fwTables(b, l))
		}))
	if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
		b.Fatal(err)
	}

	// The probe of ready-ms: fw1 holds the VIP and the stream's entry;
	// fw2 holds no VIP, and the entry before the cut only as a warm
	// standby.
	vip1, vip2 := newVIPProbe(b, l.FW1), newVIPProbe(b, l.FW2)
	if !vip1.has() || !s.entryIn(b, l.FW1) {
		b.Fatalf("fw1: VIP %v, the stream's entry %v; want both", vip1.has(), s.entryIn(b, l.FW1))
	}
	if vip2.has() {
		b.Fatal("fw2 holds the outside VIP before the cut")
	}
	if sys == fwVigildWarm {
		testnet.Eventually(b, fwSettle, func() bool { return s.entryIn(b, l.FW2) }, "the warm standby fw2 holds the stream's entry before the cut")
	} else if s.entryIn(b, l.FW2) {
		b.Fatal("fw2's table holds the stream's entry before the cut")
	}

	var r fwTakeover
	// Each daemon's processes together: vigild's daemon and its sync
	// worker, keepalived's parent and its VRRP process (conntrackd runs
	// one).
	peakKB, rssKB := testnet.GroupSumPeakKB, testnet.GroupSumRSSKB
	for i, pid := range pids {
		kb, err := peakKB(pid)
		if err != nil {
			b.Fatalf("peak RSS: %v", err)
		}
		r.rssKB[i] = kb
	}
	timer.StartTimer()
	cut := time.Now()
	l.In1.Cut(b)
	l.Out1.Cut(b)
	readyC := make(chan time.Duration, 1)
	var readyAt time.Time
	go func() {
		// The VIP first, then the entry: found at the first look, the
		// VIP's time counts (vigild writes the flows before it adds the
		// VIPs); found later, the time of the look that found it.
		for time.Since(cut) < fwSettle {
			if !vip2.has() {
				time.Sleep(200 * time.Microsecond)
				continue
			}
			readyAt = time.Now()
			for time.Since(cut) < fwSettle {
				if s.entryIn(b, l.FW2) {
					readyC <- readyAt.Sub(cut)
					return
				}
				time.Sleep(time.Millisecond)
				readyAt = time.Now()
			}
		}
		readyC <- 0
	}()
	// Bytes read right after the cut were already through fw1; anything
	// after 100 ms (the first retransmission is 200 ms away) came via fw2.
	time.Sleep(100 * time.Millisecond)
	up0 := s.up.Load()
	for time.Since(cut) < fwSettle && len(s.errors()) == 0 {
		if s.up.Load() != up0 {
			r.gap = time.Since(cut)
			break
		}
		time.Sleep(time.Millisecond)
	}
	timer.StopTimer()
	r.ready = <-readyC
	if err := s.progress(fwProgressAfterCut, fwSettle); err != nil || r.gap == 0 {
		r.broken = 1
		b.Logf("stream broken: %v", err)
	}
	if r.ready == 0 {
		b.Errorf("fw2 never had the VIP and the stream's entry")
	}
	if !legacy {
		r.commit = v2.Conntrack(b).LastTakeover
		if r.ready > 0 {
			due, ok := lastTakeoverDue(v2.Output())
			if !ok {
				b.Fatal("fw2 logged no takeover timeline")
			}
			r.afterDue = readyAt.Sub(due)
		}
	}
	if !readyAt.IsZero() {
		time.Sleep(time.Until(readyAt.Add(fwAfterRSS)))
		kb, err := rssKB(pids[1])
		if err != nil {
			b.Fatalf("fw2's RSS after the takeover: %v", err)
		}
		r.afterRSSKB = kb
		box := []int{pids[1]}
		if legacy {
			box = append(box, pids[3]) // fw2's keepalived
		}
		if r.afterBoxKB, err = testnet.GroupsUniqueKB(box...); err != nil {
			b.Fatalf("fw2's pages after the takeover: %v", err)
		}
		if !legacy {
			r.released = strings.Contains(v2.Output(), fwReleasedLog)
		}
	}
	return r
}

// fwReleasedLog is what vigild logs (-D) when it has given a takeover's
// memory back.
const fwReleasedLog = `msg="released memory" after="conntrack takeover"`

// lastTakeoverDue returns the latest Master_Down deadline of the takeover
// timelines in a vigild log (-D): the instance whose timer expired last is
// the one its sync group waited for.
func lastTakeoverDue(log string) (time.Time, bool) {
	var last time.Time
	for _, tl := range daemon.ParseLoggedTakeovers(log) {
		if tl.Due.After(last) {
			last = tl.Due
		}
	}
	return last, !last.IsZero()
}

// vipProbe asks a firewall's kernel over netlink, from inside its
// namespace, whether the outside VIP is on eth1: a fraction of a
// millisecond per question, where running ip took several.
type vipProbe struct {
	rt   *vnetlink.Handle
	eth1 vnetlink.Link
	vip  netip.Addr
}

func newVIPProbe(t testing.TB, h *testnet.Host) *vipProbe {
	t.Helper()
	p := &vipProbe{vip: netip.MustParseAddr(fwOutVIP)}
	var err error
	if p.rt, err = vnetlink.NewHandleAt(h.NsHandle()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.rt.Close)
	if p.eth1, err = p.rt.LinkByName("eth1"); err != nil {
		t.Fatal(err)
	}
	return p
}

// has reports whether the outside VIP is on eth1.
func (p *vipProbe) has() bool {
	addrs, err := p.rt.AddrList(p.eth1, unix.AF_INET)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == p.vip {
			return true
		}
	}
	return false
}

// entryIn reports whether h's conntrack table holds the stream's flow,
// asked by its original tuple (one netlink get, not a dump of the table).
func (s *fwStream) entryIn(t testing.TB, h *testnet.Host) bool {
	c := s.conns[0].LocalAddr().(*net.TCPAddr)
	err := h.Command(t.Context(), "conntrack", "-G", "-p", "tcp", "-s", c.IP.String(), "--sport", strconv.Itoa(c.Port),
		"-d", fwServer, "--dport", strconv.Itoa(fwServerPort)).Run()
	return err == nil
}

// fwTables describes, for a failure message, where the lab's connections
// are: both firewalls' conntrack tables (at most a screen each) and the
// client's and the server's neighbours, which say the firewall each sends
// to.
func fwTables(t testing.TB, l *fwLab) string {
	var sb strings.Builder
	show := func(h *testnet.Host, name string, args ...string) {
		out, err := h.Command(context.Background(), name, args...).CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 20 {
			lines = append(lines[:20], fmt.Sprintf("(%d more lines)", len(lines)-20))
		}
		fmt.Fprintf(&sb, "\n%s: %s %s (err %v):\n\t%s", h.Name(), name, strings.Join(args, " "), err, strings.Join(lines, "\n\t"))
	}
	show(l.FW1, "conntrack", "-L", "-p", "tcp")
	show(l.FW2, "conntrack", "-L", "-p", "tcp")
	show(l.Client, "ip", "neigh")
	show(l.Server, "ip", "neigh")
	return sb.String()
}
