package vrrptest_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
	addrC = netip.MustParseAddr("192.0.2.3")
)

func adv(vrid uint8) *vrrp.Packet {
	return &vrrp.Packet{Version: 3, Type: 1, VRID: vrid, Priority: 100, MaxAdvertCentis: 100}
}

// drain reads everything c has queued now (in a synctest bubble, after
// synctest.Wait) and returns the VRIDs in arrival order.
func drain(t *testing.T, c *vrrptest.Conn) []uint8 {
	t.Helper()
	var got []uint8
	for {
		c.SetReadDeadline(time.Now().Add(time.Nanosecond))
		buf := make([]byte, vrrp.MaxMessageLen)
		n, m, err := c.ReadFrom(buf)
		if os.IsTimeout(err) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		var p vrrp.Packet
		if err := p.UnmarshalFamily(buf[:n], m.Src.Is6()); err != nil || !vrrp.VerifyChecksum(buf[:n], m.Src, m.Dst) || m.TTL != vrrp.TTL {
			t.Fatalf("twin delivered %x with %+v: %v", buf[:n], m, err)
		}
		got = append(got, p.VRID)
	}
}

// TestMulticastAndUnicast: a group advert reaches every other conn of the
// family, not the sender nor conns of the other family; a unicast one only
// its addressee.
func TestMulticastAndUnicast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := vrrptest.NewWire(vrrptest.WireOptions{})
		a, b, c := w.Conn(addrA), w.Conn(addrB), w.Conn(addrC)
		v6 := w.Conn(netip.MustParseAddr("fe80::1"))
		if err := a.WriteTo(adv(1), vrrp.GroupIPv4); err != nil {
			t.Fatal(err)
		}
		if err := a.WriteTo(adv(2), addrC); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := drain(t, a); len(got) != 0 {
			t.Errorf("sender got %v", got)
		}
		if got := drain(t, b); len(got) != 1 || got[0] != 1 {
			t.Errorf("b got %v, want [1]", got)
		}
		if got := drain(t, c); len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Errorf("c got %v, want [1 2]", got)
		}
		if got := drain(t, v6); len(got) != 0 {
			t.Errorf("IPv6 conn got %v", got)
		}
		if a.IfIndex() == b.IfIndex() {
			t.Errorf("conns share ifindex %d", a.IfIndex())
		}
	})
}

// run sends n adverts (VRID = i % 256) from a to the group one millisecond
// apart and returns what b received, and the wire's counters.
func run(t *testing.T, opts vrrptest.WireOptions, n int) ([]uint8, vrrptest.Stats) {
	var got []uint8
	var st vrrptest.Stats
	synctest.Test(t, func(t *testing.T) {
		w := vrrptest.NewWire(opts)
		a, b := w.Conn(addrA), w.Conn(addrB)
		for i := range n {
			if err := a.WriteTo(adv(uint8(i)), vrrp.GroupIPv4); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got, st = drain(t, b), w.Stats()
	})
	return got, st
}

func equal(a, b []uint8) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLossIsSeeded: the loss rate is about what was asked, the same seed
// loses the same packets, another seed others.
func TestLossIsSeeded(t *testing.T) {
	opts := vrrptest.WireOptions{Seed: 7, Loss: 0.3}
	got1, st := run(t, opts, 200)
	if st.Sent != 200 || st.Lost+st.Delivered != 200 || st.Lost < 30 || st.Lost > 90 {
		t.Errorf("stats %+v for 30%% loss of 200", st)
	}
	if len(got1) != st.Delivered {
		t.Errorf("received %d, delivered %d", len(got1), st.Delivered)
	}
	got2, _ := run(t, opts, 200)
	if !equal(got1, got2) {
		t.Errorf("same seed, different losses")
	}
	opts.Seed = 8
	got3, _ := run(t, opts, 200)
	if equal(got1, got3) {
		t.Errorf("different seeds, same losses")
	}
}

// TestDelayAndReorder: copies arrive after Delay, in order without
// Reorder; with Reorder some are overtaken, and none are lost.
func TestDelayAndReorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := vrrptest.NewWire(vrrptest.WireOptions{Delay: 10 * time.Millisecond})
		a, b := w.Conn(addrA), w.Conn(addrB)
		start := time.Now()
		a.WriteTo(adv(1), vrrp.GroupIPv4)
		buf := make([]byte, 100)
		if _, _, err := b.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("arrived after %v, want the 10ms delay", d)
		}
	})
	inOrder, _ := run(t, vrrptest.WireOptions{Seed: 3, Delay: 5 * time.Millisecond, Jitter: 500 * time.Microsecond}, 100)
	for i := range inOrder {
		if inOrder[i] != uint8(i) {
			t.Fatalf("without reorder, arrival %d is %d", i, inOrder[i])
		}
	}
	got, st := run(t, vrrptest.WireOptions{Seed: 3, Delay: 5 * time.Millisecond, Reorder: 0.2}, 100)
	if len(got) != 100 || st.Reordered == 0 {
		t.Fatalf("got %d copies, %d reordered", len(got), st.Reordered)
	}
	sorted := true
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			sorted = false
		}
	}
	if sorted {
		t.Errorf("Reorder 0.2 left every copy in order")
	}
	again, _ := run(t, vrrptest.WireOptions{Seed: 3, Delay: 5 * time.Millisecond, Reorder: 0.2}, 100)
	if !equal(got, again) {
		t.Errorf("same seed, different order")
	}
}

// TestIsolateCloseDeadline: an isolated conn neither sends nor receives;
// Close unblocks a reader with net.ErrClosed; a deadline set while a read
// is blocked ends it.
func TestIsolateCloseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := vrrptest.NewWire(vrrptest.WireOptions{})
		a, b := w.Conn(addrA), w.Conn(addrB)
		b.SetIsolated(true)
		a.WriteTo(adv(1), vrrp.GroupIPv4)
		b.WriteTo(adv(2), vrrp.GroupIPv4)
		synctest.Wait()
		if got := append(drain(t, a), drain(t, b)...); len(got) != 0 {
			t.Errorf("isolated traffic got through: %v", got)
		}
		b.SetIsolated(false)
		a.WriteTo(adv(3), vrrp.GroupIPv4)
		synctest.Wait()
		if got := drain(t, b); len(got) != 1 {
			t.Errorf("after rejoin got %v", got)
		}

		errc := make(chan error, 1)
		b.SetReadDeadline(time.Time{})
		go func() { _, _, err := b.ReadFrom(make([]byte, 10)); errc <- err }()
		synctest.Wait()
		b.SetReadDeadline(time.Now().Add(time.Second))
		if err := <-errc; !os.IsTimeout(err) {
			t.Errorf("deadline: %v", err)
		}
		a.SetReadDeadline(time.Time{})
		go func() { _, _, err := a.ReadFrom(make([]byte, 10)); errc <- err }()
		synctest.Wait()
		a.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
		if err := a.WriteTo(adv(1), vrrp.GroupIPv4); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteTo after Close: %v", err)
		}
		if n := w.Inject([]byte{1}, vrrp.RecvMeta{Src: addrC, Dst: vrrp.GroupIPv4, TTL: 1}); n != 1 {
			t.Errorf("Inject reached %d open conns, want 1", n)
		}
	})
}

// TestReadBatch: the twin's ReadBatch returns what is delivered, in order,
// at most len(ms) at a time, and blocks (here until its deadline) when
// nothing is.
func TestReadBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := vrrptest.NewWire(vrrptest.WireOptions{})
		a, b := w.Conn(addrA), w.Conn(addrB)
		for vrid := range uint8(5) {
			if err := a.WriteTo(adv(vrid+1), vrrp.GroupIPv4); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		ms := make([]vrrp.Message, 3)
		for i := range ms {
			ms[i].Buf = make([]byte, vrrp.MaxMessageLen)
		}
		var got []uint8
		for _, want := range []int{3, 2} {
			n, err := vrrp.ReadBatch(b, ms)
			if err != nil || n != want {
				t.Fatalf("ReadBatch = %d, %v; want %d", n, err, want)
			}
			for _, m := range ms[:n] {
				vrid, _ := vrrp.PeekVRID(m.Buf[:m.N])
				got = append(got, vrid)
				if m.Meta.Src != addrA || m.Meta.TTL != vrrp.TTL {
					t.Errorf("meta %+v, want from %v with TTL 255", m.Meta, addrA)
				}
			}
		}
		if want := []uint8{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
			t.Errorf("VRIDs %v, want %v", got, want)
		}
		b.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := vrrp.ReadBatch(b, ms); !os.IsTimeout(err) {
			t.Errorf("empty queue: %v, want a timeout", err)
		}
	})
}
