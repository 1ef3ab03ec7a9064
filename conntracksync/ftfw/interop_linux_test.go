package ftfw

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// Interop with Debian's conntrackd 1.4.7 at the datagram level: conntrackd in fw1 with
// real kernel entries, our Channel (harness) in fw2 with a table of its own. Both
// directions at once.

// kernelFlows loads n TCP entries into h's conntrack table with `conntrack -R` and
// returns their keys.
func kernelFlows(t testing.TB, h *testnet.Host, n int) map[Key]bool {
	t.Helper()
	var sb strings.Builder
	keys := map[Key]bool{}
	for i := range n {
		src := fmt.Sprintf("192.0.2.%d", 10+i%200)
		sport := 10000 + i/200
		fmt.Fprintf(&sb, "-I -p tcp -s %s -d 203.0.113.2 --sport %d --dport 80 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED\n", src, sport)
		f := Flow{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr("203.0.113.2"), Proto: ProtoTCP, SrcPort: uint16(sport), DstPort: 80}
		keys[f.Key()] = true
	}
	file := filepath.Join(t.TempDir(), "flows")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Exec(t, "conntrack", "-R", file)
	return keys
}

// harnessFlows are n UDP entries that exist only in the harness's table.
func harnessFlows(n int) []Flow {
	out := make([]Flow, n)
	for i := range out {
		out[i] = Flow{Src: netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i%200)}), Dst: netip.MustParseAddr("192.0.2.53"),
			Proto: ProtoUDP, SrcPort: uint16(20000 + i/200), DstPort: 53, Status: 0x0e,
			HasTimeout: true, TimeoutSecs: 180, HasMark: true, Mark: uint32(i)}
	}
	return out
}

// externalKeys parses `conntrackd -e` output into keys (TCP/UDP lines).
func externalKeys(t testing.TB, out string) map[Key]bool {
	keys := map[Key]bool{}
	for _, line := range strings.Split(out, "\n") {
		var f Flow
		seen := map[string]bool{}
		for _, fld := range strings.Fields(line) {
			k, v, ok := strings.Cut(fld, "=")
			if !ok || seen[k] {
				continue // the first tuple is the original one
			}
			seen[k] = true
			switch k {
			case "src":
				f.Src, _ = netip.ParseAddr(v)
			case "dst":
				f.Dst, _ = netip.ParseAddr(v)
			case "sport":
				fmt.Sscan(v, &f.SrcPort)
			case "dport":
				fmt.Sscan(v, &f.DstPort)
			}
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || !f.Src.IsValid() {
			continue
		}
		fmt.Sscan(fields[1], &f.Proto)
		keys[f.Key()] = true
	}
	return keys
}

func missingKeys(want, got map[Key]bool) int {
	n := 0
	for k := range want {
		if !got[k] {
			n++
		}
	}
	return n
}

func TestInteropConntrackd(t *testing.T) {
	needBinaries(t, "conntrackd", "conntrack")
	for _, loss := range interopLosses() {
		t.Run(fmt.Sprintf("loss%d", loss), func(t *testing.T) {
			const n = 10000
			p := newPair(t)
			if loss > 0 {
				// From before the first HELLO: the handshake itself is lossy.
				p.fw2.DropRandom(t, "eth0", loss, testnet.Both)
			}
			cd := startConntrackd(t, p.fw1, fw1Addr, fw2Addr)
			hs := startHarness(t, p.fw2, fw2Addr, fw1Addr)
			// Load both sides at once, during the handshake.
			hs.add(harnessFlows(n))
			want := kernelFlows(t, p.fw1, n)
			wantExt := map[Key]bool{}
			for _, f := range harnessFlows(n) {
				wantExt[f.Key()] = true
			}

			// conntrackd -> vigil: our external cache holds every kernel entry of fw1.
			t0 := time.Now()
			waitHarnessCache(t, hs, cd, want, "initial sync")
			t.Logf("conntrackd -> vigil: %d entries in %v", n, time.Since(t0))
			c, st, _ := hs.snapshot()
			for k, f := range c {
				if f.TCPState != 3 || f.Status&0x0e != 0x0e || !f.HasTimeout || f.TimeoutSecs > 600 || f.TimeoutSecs < 500 {
					t.Fatalf("entry %v arrived as %+v", k, f)
				}
			}
			t.Logf("vigil received %d entries; stats %+v", len(c), st)

			// vigil -> conntrackd: fw1's external cache holds our table.
			var ext map[Key]bool
			testnet.Eventually(t, 60*time.Second, func() bool {
				ext = externalKeys(t, cd.client(t, "-e"))
				return len(ext) == len(wantExt) && missingKeys(wantExt, ext) == 0
			}, "conntrackd's external cache never matched vigil's %d entries", n)
			t.Logf("vigil -> conntrackd: %d entries after %v", n, time.Since(t0))
			t0 = time.Now()

			// Restart conntrackd without operator action: it comes back empty, says
			// HELLO, and we send it a bulk; we ask it for its table (RESYNC).
			if err := cd.Proc.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			cd.Proc.Wait(10 * time.Second)
			hs.do(func() { // forget what we hold from it, to see the resync refill it
				hs.mu.Lock()
				hs.cache = map[Key]Flow{}
				hs.mu.Unlock()
			})
			cd = startConntrackd(t, p.fw1, fw1Addr, fw2Addr)
			testnet.Eventually(t, 60*time.Second, func() bool {
				ext = externalKeys(t, cd.client(t, "-e"))
				return len(ext) == len(wantExt) && missingKeys(wantExt, ext) == 0
			}, "restarted conntrackd's external cache never matched vigil's %d entries", n)
			t.Logf("restarted conntrackd refilled from vigil in %v", time.Since(t0))
			waitHarnessCache(t, hs, cd, want, "after conntrackd's restart")
			t.Logf("vigil refilled from restarted conntrackd in %v", time.Since(t0))
			_, st, evs := hs.snapshot()
			if st.PeerRestarts == 0 {
				t.Errorf("no peer restart seen; events %v", evs)
			}
			if loss > 0 && st.Gaps == 0 && st.Retransmits == 0 {
				t.Errorf("%d %% loss but no gap and no retransmission: the lossy path was not exercised", loss)
			}
			t.Logf("after restart: stats %+v", st)
		})
	}
}

// waitHarnessCache waits until the harness's cache holds exactly want, and explains
// where entries are missing if it does not.
func waitHarnessCache(t *testing.T, hs *harness, cd *ctd, want map[Key]bool, phase string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, st, evs := hs.snapshot()
		got := map[Key]bool{}
		for k := range c {
			got[k] = true
		}
		if len(got) == len(want) && missingKeys(want, got) == 0 {
			return
		}
		if time.Now().After(deadline) {
			internal := externalKeys(t, cd.client(t, "-i"))
			t.Fatalf("%s: vigil's cache never matched fw1's %d kernel entries: has %d, missing %d; conntrackd's internal cache has %d (missing %d)\nstats %+v\nevents %v\nconntrackd -s:\n%s",
				phase, len(want), len(got), missingKeys(want, got), len(internal), missingKeys(want, internal), st, evs, cd.client(t, "-s"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// interopLosses are the loss percentages TestInteropConntrackd runs; FTFW_INTEROP_LOSS
// (comma-separated) overrides them for experiments.
func interopLosses() []int {
	v := os.Getenv("FTFW_INTEROP_LOSS")
	if v == "" {
		return []int{0, 10}
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		var n int
		fmt.Sscan(s, &n)
		out = append(out, n)
	}
	return out
}

// TestVigilToVigilOverUDP is the simulation's claim on real sockets: two Channels in
// two namespaces, each replicating its own table, 20 % loss both ways from the first
// HELLO, then one side restarts (empty cache, new seq) and is refilled without help.
func TestVigilToVigilOverUDP(t *testing.T) {
	const n = 5000
	p := newPair(t)
	p.fw2.DropRandom(t, "eth0", 20, testnet.Both)
	a := startHarness(t, p.fw1, fw1Addr, fw2Addr)
	b := startHarness(t, p.fw2, fw2Addr, fw1Addr)
	fa := harnessFlows(n)
	fb := make([]Flow, n)
	for i := range fb {
		fb[i] = fa[i]
		fb[i].Src = netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i%200)})
	}
	a.add(fa)
	b.add(fb)
	converged := func(hs *harness, want []Flow) func() bool {
		return func() bool {
			c, _, _ := hs.snapshot()
			if len(c) != len(want) {
				return false
			}
			for _, f := range want {
				if g, ok := c[f.Key()]; !ok || g.Mark != f.Mark {
					return false
				}
			}
			return true
		}
	}
	t0 := time.Now()
	testnet.Eventually(t, 60*time.Second, converged(b, fa), "fw2 never got fw1's %d entries", n)
	testnet.Eventually(t, 60*time.Second, converged(a, fb), "fw1 never got fw2's %d entries", n)
	_, sa, _ := a.snapshot()
	t.Logf("both ways converged in %v; fw1 stats %+v", time.Since(t0), sa)
	if sa.Retransmits == 0 {
		t.Errorf("20 %% loss and no retransmission: the lossy path was not exercised")
	}

	// Restart fw2's daemon: its table stays (the kernel), its cache is gone.
	b.stop()
	t0 = time.Now()
	b = startHarness(t, p.fw2, fw2Addr, fw1Addr)
	b.add(fb)
	testnet.Eventually(t, 60*time.Second, converged(b, fa), "restarted fw2 never got fw1's %d entries back", n)
	testnet.Eventually(t, 60*time.Second, converged(a, fb), "fw1 lost fw2's entries across fw2's restart")
	_, sa, _ = a.snapshot()
	if sa.PeerRestarts == 0 {
		t.Errorf("fw1 did not see fw2 restart: %+v", sa)
	}
	t.Logf("restarted peer refilled in %v", time.Since(t0))
}
