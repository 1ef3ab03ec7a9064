package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// rxOnLoop runs f on n's loop, with the instance named VI_1 and its socket,
// and waits for it.
func rxOnLoop(t *testing.T, n *node, f func(inst *instance, c *conn)) {
	t.Helper()
	done := make(chan struct{})
	n.d.reqs <- func(time.Time) {
		defer close(done)
		for _, inst := range n.d.instances {
			if inst.cfg.Name == "VI_1" {
				f(inst, inst.conn)
				return
			}
		}
		t.Error("no VI_1")
	}
	<-done
}

// rxSrc is where the adverts of this file's tests come from: a master of
// pairConf's VI_1 on the IPv4 group; rxMeta is how a reader receives one.
var (
	rxSrc  = netip.MustParseAddr("192.0.2.9")
	rxMeta = vrrp.RecvMeta{Src: rxSrc, Dst: vrrp.GroupIPv4, TTL: 255, IfIndex: 1}
)

// pairAdvert is an advert for pairConf's VI_1 (VRID 51, its one address)
// from rxSrc to the IPv4 group, with p's priority and interval.
func pairAdvert(t testing.TB, p vrrp.Packet) []byte {
	t.Helper()
	p.Version, p.Type, p.VRID = 3, vrrp.TypeAdvertisement, 51
	p.Addrs = []netip.Addr{netip.MustParseAddr("192.0.2.254")}
	raw, err := p.AppendChecksummed(nil, rxSrc, vrrp.GroupIPv4)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// startPairBackup starts pairConf's node at priority 100, a backup of
// rxSrc's adverts, on a wire of its own.
func startPairBackup(t testing.TB) *node {
	t.Helper()
	return startNode(t, vrrptest.NewWire(vrrptest.WireOptions{}), "192.0.2.2", "fe80::2", prio(pairConf, "100"))
}

// TestHandleRxAllocs: a reader's turn with an advert it read (demultiplex
// by VRID, check, count, restart a backup's Master_Down timer, the end of
// the turn) allocates nothing, and a dropped advert is still counted.
func TestHandleRxAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startPairBackup(t)
		synctest.Wait()
		good := pairAdvert(t, vrrp.Packet{Priority: 200, MaxAdvertCentis: 100})
		bad := append([]byte(nil), good...)
		bad[len(bad)-1] ^= 1 // the checksum no longer matches
		meta := rxMeta
		var inst *instance
		var c *conn
		rxOnLoop(t, n, func(i *instance, cn *conn) { inst, c = i, cn })
		b := &rxBatch{conn: c, msgs: [rxBatchLen]vrrp.Message{{Buf: make([]byte, vrrp.MaxMessageLen)}}}
		for _, cs := range []struct {
			name   string
			raw    []byte
			reason vrrp.DropReason
		}{{"accepted", good, vrrp.DropNone}, {"bad checksum", bad, vrrp.DropChecksum}} {
			var before uint64
			rxOnLoop(t, n, func(*instance, *conn) { before = inst.rx[cs.reason] })
			const runs = 100
			// A reader's whole turn, as runReader takes it after a read.
			allocs := testing.AllocsPerRun(runs, func() {
				b.n, b.msgs[0].N, b.msgs[0].Meta, b.at[0] = 1, copy(b.msgs[0].Buf, cs.raw), meta, time.Now()
				if !n.d.rxTurn(b) {
					t.Fatal("rxTurn: the loop has ended")
				}
			})
			rxOnLoop(t, n, func(*instance, *conn) {
				if got := inst.rx[cs.reason] - before; got != runs+1 {
					t.Errorf("%s: counted %d, want %d", cs.name, got, runs+1)
				}
			})
			if allocs != 0 {
				t.Errorf("%s: %v allocations per advert handled, want 0", cs.name, allocs)
			}
		}
		rxOnLoop(t, n, func(*instance, *conn) {
			if st := inst.m.State(); st != vrrp.StateBackup {
				t.Errorf("state %v, want BACKUP", st)
			}
		})
	})
}

// TestTimerTurnHandlesReadAdvertsFirst: an advert a reader has read (its
// batch published, the reader waiting for the loop's state) that arrived
// before the backup's Master_Down deadline is handled by a timer's turn
// that runs after the deadline before it fires anything: the backup stays
// BACKUP. Without the timer turn's drain it takes over from a master
// whose advert was already read.
func TestTimerTurnHandlesReadAdvertsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startPairBackup(t)
		synctest.Wait()
		good := pairAdvert(t, vrrp.Packet{Priority: 200, MaxAdvertCentis: 100})
		var inst *instance
		var c *conn
		rxOnLoop(t, n, func(i *instance, cn *conn) { inst, c = i, cn })
		n.d.turn(func(time.Time) {
			due, ok := inst.m.Deadline()
			if !ok || inst.m.State() != vrrp.StateBackup {
				t.Errorf("VI_1 %v with deadline %v, want BACKUP with one", inst.m.State(), ok)
				return // not Fatal: the turn must let the state go
			}
			b := &rxBatch{conn: c, n: 1, msgs: [rxBatchLen]vrrp.Message{{Buf: make([]byte, vrrp.MaxMessageLen)}}}
			b.msgs[0].N = copy(b.msgs[0].Buf, good)
			b.msgs[0].Meta = rxMeta
			b.at[0] = due.Add(-time.Millisecond) // arrived before the deadline
			n.d.rxq.push(b)                      // read; its reader waits for the state
			late := due.Add(time.Millisecond)
			n.d.timerTurn(late, late)
			if st := inst.m.State(); st != vrrp.StateBackup {
				t.Errorf("after a timer turn past the deadline with the master's advert read: %v, want BACKUP", st)
			}
		})
	})
}

// BenchmarkRxTurn50 is a backup's reader's turn with one advert, as a
// reader takes it after each read, with 50 instances on the socket (the
// advert cost's benchmark shape): the demultiplexing, the checks, the
// machine, and the end of the turn. Real time, the wire's twins; an
// advert for each instance in turn, from a master of priority 200.
func BenchmarkRxTurn50(b *testing.B) { benchRxTurn(b, false) }

// BenchmarkRxTurn50Cold is BenchmarkRxTurn50 with the CPU's caches
// flushed of the loop's state before each turn (8 MiB written between
// them, outside the turn-ns metric), as a backup finds them when the
// next advert comes: the kernel's work and 49 other instances' adverts
// lie between two adverts of one instance. turn-ns is the turn alone.
func BenchmarkRxTurn50Cold(b *testing.B) { benchRxTurn(b, true) }

func benchRxTurn(b *testing.B, cold bool) {
	const count = 50
	var conf strings.Builder
	for i := 1; i <= count; i++ {
		fmt.Fprintf(&conf, "vrrp_instance VI_%d {\n interface eth0\n virtual_router_id %d\n priority 100\n advert_int 1\n version 3\n"+
			" virtual_ipaddress {\n  192.0.2.%d/24\n }\n}\n", i, i, 100+i)
	}
	wire := vrrptest.NewWire(vrrptest.WireOptions{})
	n := startNode(b, wire, "192.0.2.2", "fe80::2", conf.String())
	src, dst := netip.MustParseAddr("192.0.2.9"), vrrp.GroupIPv4
	var raws [count][]byte
	for i := range raws {
		p := &vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: uint8(i + 1), Priority: 200, MaxAdvertCentis: 100,
			Addrs: []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(101 + i)})}}
		raw, err := p.AppendChecksummed(nil, src, dst)
		if err != nil {
			b.Fatal(err)
		}
		raws[i] = raw
	}
	var c *conn
	done := make(chan struct{})
	n.d.reqs <- func(time.Time) {
		defer close(done)
		c = n.d.instances[0].conn
	}
	<-done
	batch := &rxBatch{conn: c, n: 1, msgs: [rxBatchLen]vrrp.Message{{Buf: make([]byte, vrrp.MaxMessageLen)}}}
	batch.msgs[0].Meta = vrrp.RecvMeta{Src: src, Dst: dst, TTL: 255, IfIndex: 1}
	// Every instance hears its master before the benchmark starts.
	for i := range raws {
		batch.n, batch.msgs[0].N, batch.at[0] = 1, copy(batch.msgs[0].Buf, raws[i]), time.Now()
		n.d.rxTurn(batch)
	}
	var flush []byte
	if cold {
		flush = make([]byte, 8<<20)
	}
	var turns time.Duration
	i, iters := 0, 0
	for b.Loop() {
		for j := 0; j < len(flush); j += 64 {
			flush[j]++
		}
		batch.n, batch.msgs[0].N, batch.at[0] = 1, copy(batch.msgs[0].Buf, raws[i]), time.Now()
		start := time.Now()
		if !n.d.rxTurn(batch) {
			b.Fatal("rxTurn: the loop has ended")
		}
		turns += time.Since(start)
		iters++
		if i++; i == count {
			i = 0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(turns.Nanoseconds())/float64(iters), "turn-ns")
	done = make(chan struct{})
	n.d.reqs <- func(time.Time) {
		defer close(done)
		for _, inst := range n.d.instances {
			if st, heard := inst.m.State(), inst.rx[vrrp.DropNone]; st != vrrp.StateBackup || heard == 0 {
				b.Errorf("%s: %v with %d adverts accepted, want BACKUP with every one", inst.cfg.Name, st, heard)
			}
		}
	}
	<-done
}

// TestQuietAdvertsSkipTheScan: a backup's reader's turn whose adverts only
// restart Master_Down timers later ends without looking for the next
// deadline (the timer, armed sooner, wakes in time), and an advert that
// moves a deadline earlier still arms the timer for it: a master's shorter
// advert interval, learnt from its advert, and its priority-0 advert each
// make the backup take over when the new deadline falls, not at the old.
func TestQuietAdvertsSkipTheScan(t *testing.T) {
	for _, cs := range []struct {
		name  string
		p     vrrp.Packet
		after time.Duration // the takeover, after this advert
	}{
		// Master_Down_Interval at advert_int 0.1 s, priority 100:
		// 3 × 0.1 s + (256-100) × 0.1 s / 256.
		{"shorter interval", vrrp.Packet{Priority: 200, MaxAdvertCentis: 10}, 300*time.Millisecond + 156*100*time.Millisecond/256},
		// Skew_Time at advert_int 1 s, priority 100.
		{"priority 0", vrrp.Packet{Priority: 0, MaxAdvertCentis: 100}, 156 * time.Second / 256},
	} {
		t.Run(cs.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := startPairBackup(t)
				time.Sleep(time.Second) // started, a backup
				synctest.Wait()
				advert := func(p vrrp.Packet) []byte { return pairAdvert(t, p) }
				var c *conn
				rxOnLoop(t, n, func(_ *instance, cn *conn) { c = cn })
				b := &rxBatch{conn: c, n: 1, msgs: [rxBatchLen]vrrp.Message{{Buf: make([]byte, vrrp.MaxMessageLen)}}}
				b.msgs[0].Meta = rxMeta
				rx := func(raw []byte) uint64 {
					b.msgs[0].N, b.at[0] = copy(b.msgs[0].Buf, raw), time.Now()
					n.d.rxTurn(b)
					n.d.turnMu.Lock() // a turn of its own would scan at its end
					defer n.d.turnMu.Unlock()
					return n.d.scans
				}
				master := advert(vrrp.Packet{Priority: 200, MaxAdvertCentis: 100})
				// The scans so far are start-up's turns'. Each advert from
				// the master moves the backup's deadline later, past the
				// one the timer is armed for (start-up's, 3.6 s ahead).
				first := rx(master)
				if first == 0 {
					t.Fatal("no scan counted")
				}
				for range 10 {
					time.Sleep(100 * time.Millisecond)
					synctest.Wait()
					if got := rx(master); got != first {
						t.Fatalf("a quiet advert's turn looked for the next deadline (%d scans, %d before)", got, first)
					}
				}
				// The state is read under the loop's lock, not in a turn:
				// a turn's end would find the new deadline for the timer.
				state := func() vrrp.State {
					n.d.turnMu.Lock()
					defer n.d.turnMu.Unlock()
					return n.d.instances[0].m.State()
				}
				if st := state(); st != vrrp.StateBackup {
					t.Fatalf("hearing the master: %v, want BACKUP", st)
				}
				at := time.Now()
				rx(advert(cs.p))
				sleepUntil(at, cs.after-time.Millisecond)
				if st := state(); st != vrrp.StateBackup {
					t.Fatalf("%v after the advert: %v, want BACKUP", cs.after-time.Millisecond, st)
				}
				sleepUntil(at, cs.after+time.Millisecond)
				if st := state(); st != vrrp.StateMaster {
					t.Fatalf("%v after the advert: %v, want MASTER (the deadline it moved earlier)", cs.after+time.Millisecond, st)
				}
			})
		})
	}
}
