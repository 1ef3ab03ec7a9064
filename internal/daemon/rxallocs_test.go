package daemon

import (
	"net/netip"
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

// TestHandleRxAllocs: a reader's turn with an advert it read (demultiplex
// by VRID, check, count, restart a backup's Master_Down timer, the end of
// the turn) allocates nothing, and a dropped advert is still counted.
func TestHandleRxAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
		synctest.Wait()
		src, dst := netip.MustParseAddr("192.0.2.9"), vrrp.GroupIPv4
		good, err := (&vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200, MaxAdvertCentis: 100,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.254")}}).AppendChecksummed(nil, src, dst)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), good...)
		bad[len(bad)-1] ^= 1 // the checksum no longer matches
		meta := vrrp.RecvMeta{Src: src, Dst: dst, TTL: 255, IfIndex: 1}
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
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
		synctest.Wait()
		src, dst := netip.MustParseAddr("192.0.2.9"), vrrp.GroupIPv4
		good, err := (&vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200, MaxAdvertCentis: 100,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.254")}}).AppendChecksummed(nil, src, dst)
		if err != nil {
			t.Fatal(err)
		}
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
			b.msgs[0].Meta = vrrp.RecvMeta{Src: src, Dst: dst, TTL: 255, IfIndex: 1}
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
