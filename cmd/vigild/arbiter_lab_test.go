package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
)

// The arbitration over the sync link (conntrack_sync's heartbeat), on the
// firewall pair (firewall_lab_test.go): fw1 (150) is master of sync group
// FW {VI_IN, VI_OUT}, fw2 (100) backup, advert_int 0.2 s.

// arbFWConf is fwConf with a keyed conntrack_sync block, the heartbeat
// every 0.1 s, and the extra lines (witness ...) in the block.
func arbFWConf(t testing.TB, name string, prio int, local, peer, key, extra string) string {
	t.Helper()
	c := strings.Replace(fwConf(name, prio, local, peer, true), "    track_group FW\n",
		"    track_group FW\n    auth_key_file "+key+"\n    heartbeat_interval 0.1\n"+extra, 1)
	if !strings.Contains(c, "auth_key_file") {
		t.Fatalf("no auth_key_file in the configuration:\n%s", c)
	}
	return c
}

// startArbPair starts vigild on both firewalls with the arbitration and
// waits for fw1 MASTER, fw2 BACKUP and the views agreeing.
func startArbPair(t testing.TB, l *fwLab, extra string) (v1, v2 *vigild) {
	t.Helper()
	return startArbPairEach(t, l, extra, extra)
}

// startArbPairEach is startArbPair with each firewall's own extra lines.
func startArbPairEach(t testing.TB, l *fwLab, extra1, extra2 string) (v1, v2 *vigild) {
	t.Helper()
	key := filepath.Join(t.TempDir(), "sync.key")
	if err := os.WriteFile(key, []byte(testSyncKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v1, v2 = startFWPairConf(t, l, arbFWConf(t, "fw1", 150, fwSync1, fwSync2, key, extra1), arbFWConf(t, "fw2", 100, fwSync2, fwSync1, key, extra2))
	for _, v := range []*vigild{v1, v2} {
		testnet.Eventually(t, fwSettle, func() bool { a := v.MustStatus(t).Arbiter; return a != nil && a.Mode == "agreed" },
			"%s: the arbiter's views agree", v.Host.Name())
	}
	return v1, v2
}

// dropAdverts drops VRRP (IP protocol 112) in both directions at fw1's two
// switch ports: fw1's adverts reach no one and fw2's do not reach fw1,
// while every link keeps its carrier and everything else passes.
func dropAdverts(t testing.TB, l *fwLab) []*testnet.Rule {
	t.Helper()
	var rs []*testnet.Rule
	for _, i := range []*testnet.Iface{l.In1, l.Out1} {
		p := i.Peer()
		rs = append(rs, p.Host().DropRandomMatch(t, p.Name(), 100, testnet.Both, "ip protocol vrrp"))
	}
	return rs
}

// sampleMasters samples both nodes' mastership every 100 ms for d and
// counts the samples with two masters and with none.
func sampleMasters(d time.Duration, master1, master2 func() bool) (dual, none, n int) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		m1, m2 := master1(), master2()
		n++
		switch {
		case m1 && m2:
			dual++
		case !m1 && !m2:
			none++
		}
	}
	return dual, none, n
}

// hasVIP reports whether h holds addr on dev: the keepalived side's state.
func hasVIP(t testing.TB, h *testnet.Host, dev, addr string) bool {
	t.Helper()
	return strings.Contains(h.Exec(t, "ip", "-4", "-o", "addr", "show", "dev", dev), " "+addr+"/")
}

// TestFirewallArbiterAdvertsLost: VRRP adverts dropped between the
// firewalls on the LAN bridges while the sync link is up. vigild with the
// arbitration keeps exactly one master for the whole outage (both nodes
// sampled every 100 ms) and reports the split; Debian's keepalived on the
// same topology with the same drop goes dual-master. When the adverts come
// back, one master remains and it re-announces once. The counts are taken
// from the drop on: a node that started first may have been master for a
// moment at start, a split of its own.
func TestFirewallArbiterAdvertsLost(t *testing.T) {
	const outage = 6 * time.Second
	var vigilDual, kaDual, vigilN, kaN int
	t.Run("vigild", func(t *testing.T) {
		l := newFWLab(t)
		v1, v2 := startArbPair(t, l, "")
		master := func(v *vigild) func() bool {
			return func() bool {
				s := v.MustStatus(t)
				for _, in := range s.Instances {
					if in.State == "MASTER" {
						return true
					}
				}
				return false
			}
		}
		b1, b2 := v1.MustStatus(t).Arbiter, v2.MustStatus(t).Arbiter
		rules := dropAdverts(t, l)
		var dual, none int
		dual, none, vigilN = sampleMasters(outage, master(v1), master(v2))
		vigilDual = dual
		s1, s2 := v1.MustStatus(t).Arbiter, v2.MustStatus(t).Arbiter
		if dual != 0 || none != 0 {
			t.Errorf("during the outage: %d of %d samples dual-master, %d without a master", dual, vigilN, none)
		}
		if !s1.Split || !s2.Split || s1.Splits-b1.Splits != 1 || s2.Splits-b2.Splits != 1 || !s2.Held || s2.Rule != "incumbent" {
			t.Errorf("status during the outage (before it: %d and %d splits): fw1 %+v\nfw2 %+v", b1.Splits, b2.Splits, s1, s2)
		}
		if v := v1.Instance(t, "VI_IN"); v.State != "MASTER" {
			t.Errorf("fw1 VI_IN %s during the outage", v.State)
		}
		v2.WaitOutput(t, "arbiter: split", fwSettle)
		for _, r := range rules {
			r.Remove(t)
		}
		for _, v := range []*vigild{v1, v2} {
			testnet.Eventually(t, fwSettle, func() bool { return v.MustStatus(t).Arbiter.Mode == "agreed" },
				"%s: the split heals", v.Host.Name())
		}
		v1.WaitOutput(t, "arbiter: split healed", fwSettle)
		time.Sleep(time.Second)
		s1, s2 = v1.MustStatus(t).Arbiter, v2.MustStatus(t).Arbiter
		// One re-announce per master of the group: VI_IN and VI_OUT.
		if s1.Reannounces-b1.Reannounces != 2 || s2.Reannounces-b2.Reannounces != 0 || s1.Split || s2.Split {
			t.Errorf("after the heal (before the drop: %d and %d re-announces): fw1 %+v\nfw2 %+v", b1.Reannounces, b2.Reannounces, s1, s2)
		}
		for _, in := range []string{"VI_IN", "VI_OUT"} {
			if a, b := v1.Instance(t, in), v2.Instance(t, in); a.State != "MASTER" || b.State != "BACKUP" {
				t.Errorf("after the heal: %s fw1 %s fw2 %s", in, a.State, b.State)
			}
		}
	})
	t.Run("keepalived", func(t *testing.T) {
		testnet.NeedRoot(t, "keepalived")
		l := newFWLab(t)
		k1 := l.FW1.Keepalived(t, fwConf("fw1", 150, "", "", false), "-P")
		k2 := l.FW2.Keepalived(t, fwConf("fw2", 100, "", "", false), "-P")
		k1.WaitOutput(t, "(VI_IN) Entering MASTER STATE", fwSettle)
		k2.WaitOutput(t, "(VI_IN) Entering BACKUP STATE", fwSettle)
		dropAdverts(t, l)
		var dual int
		dual, _, kaN = sampleMasters(outage, func() bool { return hasVIP(t, l.FW1, "eth0", fwInVIP) }, func() bool { return hasVIP(t, l.FW2, "eth0", fwInVIP) })
		kaDual = dual
		if dual == 0 {
			t.Errorf("keepalived never went dual-master in %d samples: the drop does not cut the adverts, the vigild run proves nothing", kaN)
		}
	})
	t.Logf("adverts dropped for %s: vigild dual-master in %d of %d samples, keepalived 2.2.7 in %d of %d", outage, vigilDual, vigilN, kaDual, kaN)
}

// TestFirewallArbiterBlackHole: fw1's inside port black-holed on the
// switch (nftables drops every frame, the link stays up) with the client as
// VI_IN's witness: fw1 cannot reach it, fw2 can, so fw1 hands the group
// over and fw2 takes it, and a TCP stream through the VIPs survives (the
// pair replicates conntrack). Without the arbitration (no witness, no
// key), the same black hole leaves fw2 BACKUP: VI_OUT still hears fw1.
// Debian's keepalived with conntrackd, in the same lab under the same
// black hole, is logged beside it: who holds each VIP every 100 ms, its
// transitions, and whether the stream lives.
func TestFirewallArbiterBlackHole(t *testing.T) {
	t.Run("witness", func(t *testing.T) {
		l := newFWLab(t)
		v1, v2 := startArbPair(t, l, "    witness VI_IN "+fwClient+"\n")
		testnet.Eventually(t, fwSettle, func() bool { return v1.Conntrack(t).Established && v2.Conntrack(t).Established },
			"sync link established both ways")
		s := startFWStream(t, l)
		if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
			t.Fatalf("before the black hole: %v", err)
		}
		testnet.Eventually(t, fwSettle, func() bool { return v2.Conntrack(t).External >= 1 }, "fw2 holds the stream's entry")
		l.In1.Isolate(t)
		for _, in := range []string{"VI_IN", "VI_OUT"} {
			v2.WaitState(t, in, "MASTER")
			v1.WaitState(t, in, "BACKUP")
		}
		if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
			t.Fatalf("after fw2 took over: %v", err)
		}
		a1 := v1.MustStatus(t).Arbiter
		if a1.Yields < 1 || !a1.Held || a1.Rule != "health" || len(a1.Witnesses) != 1 || a1.Witnesses[0].Up {
			t.Errorf("fw1's arbiter: %+v", a1)
		}
		// fw1 stays BACKUP while its segment is the less healthy.
		time.Sleep(2 * time.Second)
		if v := v1.Instance(t, "VI_IN"); v.State != "BACKUP" {
			t.Errorf("fw1 VI_IN went %s while black-holed", v.State)
		}
		t.Logf("black hole: fw2 took over, stream verified %d bytes up, %d down", s.up.Load(), s.down.Load())
	})
	t.Run("no arbitration", func(t *testing.T) {
		l := newFWLab(t)
		v1, v2 := startFWPair(t, l, true)
		if v1.MustStatus(t).Arbiter != nil {
			t.Fatal("arbitration runs without auth_key_file")
		}
		l.In1.Isolate(t)
		time.Sleep(4 * time.Second) // more than 5 Master_Down_Intervals
		if v := v2.Instance(t, "VI_OUT"); v.State != "BACKUP" {
			t.Fatalf("fw2 VI_OUT %s without arbitration: the witness run would prove nothing", v.State)
		}
	})
	t.Run("keepalived", func(t *testing.T) {
		l := newFWLab(t)
		g1, g2 := startArbLegacyPair(t, l)
		s := startFWStream(t, l)
		if err := s.progress(fwProgressAfterCut, fwSettle); err != nil {
			t.Fatalf("before the black hole: %v", err)
		}
		testnet.Eventually(t, fwSettle, func() bool { return g2.externalCount(t) >= 1 }, "fw2's conntrackd holds the stream's entry")
		mark1, mark2 := len(g1.ka.Output()), len(g2.ka.Output())
		l.In1.Isolate(t)
		// The outside segment is tallied in the same 100 ms samples.
		var outDual, outFW2, inFW1, inFW2 int
		inDual, inNone, n := sampleMasters(kaBlackHoleSample,
			func() bool {
				m := hasVIP(t, l.FW1, "eth0", fwInVIP)
				if m {
					inFW1++
				}
				return m
			},
			func() bool {
				o1, o2 := hasVIP(t, l.FW1, "eth1", fwOutVIP), hasVIP(t, l.FW2, "eth1", fwOutVIP)
				if o2 {
					outFW2++
				}
				if o1 && o2 {
					outDual++
				}
				m := hasVIP(t, l.FW2, "eth0", fwInVIP)
				if m {
					inFW2++
				}
				return m
			})
		perr := s.progress(fwProgressAfterCut, kaBlackHoleSample)
		tr1, tr2 := kaTransitions(g1.ka, mark1), kaTransitions(g2.ka, mark2)
		t.Logf("keepalived: inside segment over %d samples: dual master in %d, fw2 holds the VIP in %d, no master in %d", n, inDual, inFW2, inNone)
		t.Logf("keepalived: outside segment over %d samples: dual master in %d, fw2 holds the VIP in %d", n, outDual, outFW2)
		t.Logf("keepalived: transitions after the black hole: fw1 %d %q, fw2 %d %q", len(tr1), tr1, len(tr2), tr2)
		if perr != nil {
			t.Logf("keepalived: the TCP stream through the VIPs is broken: %v", perr)
		} else {
			t.Logf("keepalived: the TCP stream through the VIPs survived (%d bytes up, %d down)", s.up.Load(), s.down.Load())
		}
		// Stable: fw1's link is up and it hears nothing on the inside, so
		// keepalived keeps it master there for the whole black hole.
		if inFW1 != n {
			t.Errorf("keepalived fw1 gave up the inside VIP in %d of %d samples: it cannot see the black hole", n-inFW1, n)
		}
		if len(tr1) != 0 {
			t.Errorf("keepalived fw1 moved while black-holed: %q", tr1)
		}
	})
}

// kaBlackHoleSample is how long the keepalived side of the black hole is
// sampled, and then how long its stream is given to move.
const kaBlackHoleSample = 3 * time.Second

// startArbLegacyPair starts the reference on both firewalls (keepalived
// with conntrackd, fwLegacy) and waits for fw1 MASTER and fw2 BACKUP.
func startArbLegacyPair(t testing.TB, l *fwLab) (g1, g2 *fwLegacy) {
	t.Helper()
	g1 = startFWLegacy(t, l.FW1, "fw1", 150, fwSync1, fwSync2)
	g2 = startFWLegacy(t, l.FW2, "fw2", 100, fwSync2, fwSync1)
	for _, in := range []string{"VI_IN", "VI_OUT"} {
		g1.ka.WaitOutput(t, "("+in+") Entering MASTER STATE", fwSettle)
		g2.ka.WaitOutput(t, "("+in+") Entering BACKUP STATE", fwSettle)
	}
	l.SettleNeighbours(t, l.FW1)
	return g1, g2
}

// kaTransitions returns keepalived's "Entering ... STATE" log lines after
// the first mark bytes of its output, each trimmed to "(VI_X) STATE".
func kaTransitions(p *testnet.Proc, mark int) []string {
	var tr []string
	for _, line := range strings.Split(p.Output()[mark:], "\n") {
		i := strings.Index(line, ") Entering ")
		j := strings.LastIndex(line[:max(i, 0)], "(")
		if i < 0 || j < 0 {
			continue
		}
		tr = append(tr, line[j:i+1]+" "+strings.TrimSuffix(strings.TrimSpace(line[i+len(") Entering "):]), " STATE"))
	}
	return tr
}

// TestFirewallArbiterSyncCut: the sync link cut alone (adverts flow): no
// transition on either node, a warning in both logs, the mode says so.
// Debian's keepalived with conntrackd under the same cut is logged beside
// it: its transitions (keepalived does not watch the sync link).
func TestFirewallArbiterSyncCut(t *testing.T) {
	t.Run("vigild", testArbiterSyncCutVigild)
	t.Run("keepalived", func(t *testing.T) {
		l := newFWLab(t)
		g1, g2 := startArbLegacyPair(t, l)
		mark1, mark2 := len(g1.ka.Output()), len(g2.ka.Output())
		l.Sync1.Isolate(t)
		time.Sleep(3 * time.Second)
		tr1, tr2 := kaTransitions(g1.ka, mark1), kaTransitions(g2.ka, mark2)
		t.Logf("keepalived: transitions in 3s after the sync link was cut: fw1 %d %q, fw2 %d %q", len(tr1), tr1, len(tr2), tr2)
		in1, in2 := hasVIP(t, l.FW1, "eth0", fwInVIP), hasVIP(t, l.FW2, "eth0", fwInVIP)
		// The master's delayed gratuitous ARPs (vrrp_garp_master_delay)
		// may land after the mark: they are not about the cut.
		other := func(p *testnet.Proc, mark int) []string {
			var o []string
			for _, line := range strings.Split(strings.TrimSpace(p.Output()[mark:]), "\n") {
				if line != "" && !strings.Contains(line, "gratuitous ARP") {
					o = append(o, line)
				}
			}
			return o
		}
		t.Logf("keepalived: after the cut fw1 holds the inside VIP %v, fw2 %v; other keepalived log lines: fw1 %q, fw2 %q",
			in1, in2, other(g1.ka, mark1), other(g2.ka, mark2))
		if len(tr1)+len(tr2) != 0 || !in1 || in2 {
			t.Errorf("keepalived moved on a cut it cannot see: fw1 %q, fw2 %q", tr1, tr2)
		}
	})
}

func testArbiterSyncCutVigild(t *testing.T) {
	l := newFWLab(t)
	v1, v2 := startArbPair(t, l, "")
	before := map[string]uint64{}
	count := func(v *vigild) uint64 {
		var n uint64
		for _, in := range v.MustStatus(t).Instances {
			n += in.Transitions
		}
		return n
	}
	before["fw1"], before["fw2"] = count(v1), count(v2)
	l.Sync1.Isolate(t)
	for _, v := range []*vigild{v1, v2} {
		v.WaitOutput(t, "arbiter: heartbeat from the peer lost", fwSettle)
		testnet.Eventually(t, fwSettle, func() bool { return v.MustStatus(t).Arbiter.Mode == "heartbeat_lost" },
			"%s: heartbeat_lost", v.Host.Name())
	}
	time.Sleep(3 * time.Second)
	for name, v := range map[string]*vigild{"fw1": v1, "fw2": v2} {
		if n := count(v); n != before[name] {
			t.Errorf("%s: %d transitions after the sync link was cut", name, n-before[name])
		}
		var a *ctl.ArbiterStatus = v.MustStatus(t).Arbiter
		if a.Held || a.HeartbeatLosts != 1 {
			t.Errorf("%s: %+v", name, a)
		}
	}
	for _, in := range []string{"VI_IN", "VI_OUT"} {
		if a, b := v1.Instance(t, in), v2.Instance(t, in); a.State != "MASTER" || b.State != "BACKUP" {
			t.Errorf("%s: fw1 %s fw2 %s", in, a.State, b.State)
		}
	}
}

// TestFirewallArbiterBackupPath: the sync link (sync0) cut while a backup
// sync path runs over the outside LAN (eth1): the heartbeat keeps going
// over the backup path, so the arbiter never reports heartbeat_lost and
// nothing moves; then the VRRP adverts are dropped on both LANs too, and
// there is still exactly one master (both nodes sampled every 100 ms).
// Without the backup path the same cut loses the heartbeat, and the
// dropped adverts then make both nodes MASTER: the test can fail.
func TestFirewallArbiterBackupPath(t *testing.T) {
	const outage = 5 * time.Second
	lanPath := func(local, peer string) string {
		return "    path lan {\n        interface eth1\n        local_address " + local + "\n        peer_address " + peer + "\n    }\n"
	}
	transitions := func(v *vigild) uint64 {
		var n uint64
		for _, in := range v.MustStatus(t).Instances {
			n += in.Transitions
		}
		return n
	}
	master := func(v *vigild) bool {
		for _, in := range v.MustStatus(t).Instances {
			if in.State == "MASTER" {
				return true
			}
		}
		return false
	}
	for _, backup := range []bool{true, false} {
		name := "backup path"
		if !backup {
			name = "no backup path"
		}
		t.Run(name, func(t *testing.T) {
			l := newFWLab(t)
			var v1, v2 *vigild
			if backup {
				v1, v2 = startArbPairEach(t, l, lanPath("203.0.113.1", "203.0.113.2"), lanPath("203.0.113.2", "203.0.113.1"))
			} else {
				v1, v2 = startArbPair(t, l, "")
			}
			before1, before2 := transitions(v1), transitions(v2)
			l.Sync1.Isolate(t)
			if !backup {
				for _, v := range []*vigild{v1, v2} {
					testnet.Eventually(t, fwSettle, func() bool { return v.MustStatus(t).Arbiter.Mode == "heartbeat_lost" },
						"%s: heartbeat_lost without a backup path", v.Host.Name())
				}
			} else {
				// Four heartbeat intervals, at least 1 s, is the dead time.
				time.Sleep(3 * time.Second)
				for _, v := range []*vigild{v1, v2} {
					a := v.MustStatus(t).Arbiter
					if a.Mode != "agreed" || a.HeartbeatLosts != 0 {
						t.Errorf("%s after the sync link was cut, with a backup path: mode %s, %d heartbeat losses", v.Host.Name(), a.Mode, a.HeartbeatLosts)
					}
				}
				if n1, n2 := transitions(v1), transitions(v2); n1 != before1 || n2 != before2 {
					t.Errorf("transitions after the sync link was cut: fw1 %d, fw2 %d", n1-before1, n2-before2)
				}
			}
			dropAdverts(t, l)
			dual, none, n := sampleMasters(outage, func() bool { return master(v1) }, func() bool { return master(v2) })
			t.Logf("sync link cut and adverts dropped for %s: %d of %d samples dual-master, %d without a master", outage, dual, n, none)
			if backup {
				if dual != 0 || none != 0 {
					t.Errorf("with the backup path: %d of %d samples dual-master, %d without a master", dual, n, none)
				}
				for _, v := range []*vigild{v1, v2} {
					if a := v.MustStatus(t).Arbiter; a.HeartbeatLosts != 0 || !a.Split {
						t.Errorf("%s's arbiter with the backup path: %+v", v.Host.Name(), a)
					}
				}
				for _, in := range []string{"VI_IN", "VI_OUT"} {
					if a, b := v1.Instance(t, in), v2.Instance(t, in); a.State != "MASTER" || b.State != "BACKUP" {
						t.Errorf("%s: fw1 %s fw2 %s", in, a.State, b.State)
					}
				}
				for _, v := range []*vigild{v1, v2} {
					if out := v.Output(); strings.Contains(out, "heartbeat from the peer lost") || strings.Contains(out, "does not run over") {
						t.Errorf("%s's log:\n%s", v.Host.Name(), out)
					}
				}
			} else if dual == 0 {
				t.Errorf("without a backup path the nodes never went dual-master in %d samples: the run with one proves nothing", n)
			}
		})
	}
}
