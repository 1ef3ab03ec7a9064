package daemon

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

func TestSettleQuiet(t *testing.T) {
	if q := settleQuiet(nil); q != minSettleQuiet {
		t.Errorf("no instance: quiet %v, want %v", q, minSettleQuiet)
	}
	if q := settleQuiet([]time.Duration{340 * time.Millisecond}); q != minSettleQuiet {
		t.Errorf("advert_int 0.1 s: quiet %v, want at least %v", q, minSettleQuiet)
	}
	if q := settleQuiet([]time.Duration{time.Second, 3414 * time.Millisecond, 2 * time.Second}); q != 3414*time.Millisecond {
		t.Errorf("quiet %v, want the longest Master_Down_Interval 3.414s", q)
	}
}

// TestSettleCore: nothing is due before the start; each change moves the
// deadline to quiet after it; a busy start-up looks again quiet later;
// it settles once, and a change after that does nothing.
func TestSettleCore(t *testing.T) {
	s := newSettle()
	s.quiet = time.Second
	t0 := time.Unix(1000, 0)
	if _, ok := s.deadline(); ok {
		t.Fatal("a deadline before the start")
	}
	if s.check(t0.Add(time.Hour), false) {
		t.Fatal("settled before the start")
	}
	s.changed(t0)
	s.changed(t0.Add(300 * time.Millisecond)) // a transition
	if at, ok := s.deadline(); !ok || !at.Equal(t0.Add(1300*time.Millisecond)) {
		t.Fatalf("deadline %v %v, want 1.3 s after the start", at, ok)
	}
	if s.check(t0.Add(1299*time.Millisecond), false) {
		t.Fatal("settled before quiet had passed since the last transition")
	}
	if s.check(t0.Add(1300*time.Millisecond), true) {
		t.Fatal("settled while start-up was busy")
	}
	if at, _ := s.deadline(); !at.Equal(t0.Add(2300 * time.Millisecond)) {
		t.Fatalf("busy: looks again at %v, want quiet later", at)
	}
	select {
	case <-s.done:
		t.Fatal("done closed before settling")
	default:
	}
	if !s.check(t0.Add(2300*time.Millisecond), false) {
		t.Fatal("not settled when quiet and idle")
	}
	select {
	case <-s.done:
	default:
		t.Fatal("done not closed")
	}
	s.changed(t0.Add(3 * time.Second)) // a failover
	if _, ok := s.deadline(); ok {
		t.Error("a deadline after settling")
	}
	if s.check(t0.Add(time.Hour), false) {
		t.Error("settled twice")
	}
}

// TestLoopSettled: a lone instance starts as BACKUP, becomes MASTER at
// Master_Down_Interval D (3 s + 106/256 s), sends its first GARP rounds
// then and the delayed ones 5 s later (garp_master_delay). Start-up
// settles quiet (D) after the last transition, and again quiet later
// while a round waits: at 3·D, not before.
func TestLoopSettled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		start := time.Now()
		n := startNode(t, wire, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		down := 3*time.Second + time.Duration(256-150)*time.Second/256
		settled := func() bool {
			select {
			case <-n.d.Settled():
				return true
			default:
				return false
			}
		}
		sleepUntil(start, down+time.Millisecond)
		if n.state("VI_1") != "MASTER" || settled() {
			t.Fatalf("at Master_Down_Interval: %s, settled %v; want MASTER, not settled", n.state("VI_1"), settled())
		}
		sleepUntil(start, 2*down+time.Millisecond)
		if settled() {
			t.Fatal("settled while the delayed GARP rounds waited")
		}
		sleepUntil(start, 3*down-time.Millisecond)
		if settled() {
			t.Fatal("settled before quiet had passed again")
		}
		sleepUntil(start, 3*down+time.Millisecond)
		if !settled() {
			t.Fatal("start-up did not settle")
		}
	})
}
