package conntracksync

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// The loop gives a batch's buffer back to the readers once it has handled
// it, so nothing it decodes may keep a datagram's bytes: flows (helper
// names and labels included) and expectations whose datagrams were
// overwritten right after they were received are whole in the external
// caches, with and without the warm standby's path.
func TestReceiveKeepsNoDatagramBytes(t *testing.T) {
	flows := SampleFlows(300)
	s := Flow{Orig: Tuple{Src: netip.MustParseAddr("192.0.2.7"), Dst: netip.MustParseAddr("198.51.100.7"), Proto: ProtoSCTP, SrcPort: 5, DstPort: 6},
		SCTPState: 3, SCTPVTagOrig: 0x01020304, SCTPVTagRep: 0x05060708, Zone: 9, Labels: "\x01\x00\x00\x00\x00\x00\x00\x80",
		SeqAdjOrig: SeqAdj{1, 2, 3}, SeqAdjReply: SeqAdj{4, 5, 6}, Status: StatusConfirmed, TimeoutSec: 50, Helper: "sip"}
	s.Reply = s.Orig.Invert()
	flows = append(flows, s)
	exps := []Expect{testExpect(2021, "ftp"), testExpect(2022, "sip-5061")}

	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprintf("warm=%v", warm), func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			tx := ftfw.NewChannel(ftfw.Config{}, now)
			var rxs [2]*ftfw.Channel
			var rs [2]*Replicator // 0: its datagrams overwritten after each receive; 1: kept
			for i := range rs {
				rxs[i] = ftfw.NewChannel(ftfw.Config{}, now)
				rs[i] = bulkBenchReplicator(t, 0)
				rs[i].log = slog.New(slog.DiscardHandler)
				rs[i].cfg.Expectations.On = true
				if warm {
					rs[i].warm, rs[i].warmKick = newWarmSet(), make(chan struct{}, 1)
				}
			}
			var clobbered int
			deliver := func(from *ftfw.Channel, to func([]byte)) {
				for _, d := range from.Outbox(now) {
					to(d)
				}
			}
			toBoth := func(d []byte) {
				for i, r := range rs {
					c := bytes.Clone(d)
					r.receive(rxs[i], c)
					if i == 0 {
						for j := range c {
							c[j] = 0xa5
						}
						clobbered++
					}
				}
			}
			for range 3 { // the handshake
				deliver(tx, toBoth)
				deliver(rxs[0], func(d []byte) { tx.Receive(d, now) })
			}
			for i := range flows {
				w := toWire(&flows[i], true)
				if err := tx.SendBulk(ftfw.OpUpd, &w); err != nil {
					t.Fatal(err)
				}
			}
			for i := range exps {
				x := toWireExpect(&exps[i], true)
				if err := tx.SendExpect(ftfw.OpUpd, &x); err != nil {
					t.Fatal(err)
				}
			}
			deliver(tx, toBoth)

			got, want := rs[0].external.Snapshot(), rs[1].external.Snapshot()
			if len(want) != len(flows) {
				t.Fatalf("the kept datagrams gave %d flows of %d", len(want), len(flows))
			}
			key := func(e Entry) string { return e.Flow.String() }
			sortBy := func(es []Entry) []string {
				var ks []string
				for _, e := range es {
					ks = append(ks, key(e))
				}
				slices.Sort(ks)
				return ks
			}
			if g, w := sortBy(got), sortBy(want); !slices.Equal(g, w) {
				t.Fatalf("flows received from overwritten datagrams differ:\n%v\nwant\n%v", g, w)
			}
			xg, xw := rs[0].expExternal.Snapshot(), rs[1].expExternal.Snapshot()
			if len(xw) != len(exps) || len(xg) != len(xw) {
				t.Fatalf("expectations: %d from overwritten datagrams, %d from kept ones, %d sent", len(xg), len(xw), len(exps))
			}
			xs := func(es []ExpectEntry) []string {
				var ks []string
				for _, e := range es {
					ks = append(ks, fmt.Sprintf("%+v", e.Expect))
				}
				slices.Sort(ks)
				return ks
			}
			if g, w := xs(xg), xs(xw); !slices.Equal(g, w) {
				t.Fatalf("expectations received from overwritten datagrams differ:\n%v\nwant\n%v", g, w)
			}
			if clobbered == 0 {
				t.Fatal("no datagram was overwritten")
			}
		})
	}
}

// The pool hands a given-back batch out again, and keeps neither more than
// rxPoolKeep batches nor one grown beyond rxPoolMax.
func TestRxPool(t *testing.T) {
	p := newRxPool()
	b := p.get(100)
	if cap(b.buf) != rxPoolUnit || len(b.buf) != 0 {
		t.Fatalf("a new batch: len %d, cap %d", len(b.buf), cap(b.buf))
	}
	b.buf = append(b.buf, "datagram"...)
	b.ds = append(b.ds, b.buf)
	first := &b.buf[:1][0]
	p.put(b)
	again := p.get(200)
	if &again.buf[:1][0] != first || len(again.buf) != 0 || len(again.ds) != 0 {
		t.Fatalf("the batch given back was not handed out again, emptied")
	}
	p.put(again)
	if big := p.get(rxPoolUnit + 1); &big.buf[:1][0] == first || cap(big.buf) != 2*rxPoolUnit {
		t.Fatalf("asked for %d bytes, got a batch of %d (the batch given back: %v)", rxPoolUnit+1, cap(big.buf), &big.buf[:1][0] == first)
	}
	for range rxPoolKeep + 3 {
		p.put(rxBatch{buf: make([]byte, 0, rxPoolUnit)})
	}
	if len(p) != rxPoolKeep {
		t.Fatalf("the pool keeps %d batches, want %d", len(p), rxPoolKeep)
	}
	for range rxPoolKeep {
		<-p
	}
	p.put(rxBatch{buf: make([]byte, 0, rxPoolMax+1)})
	if len(p) != 0 {
		t.Fatal("the pool kept a batch grown beyond rxPoolMax")
	}
}

// A burst that the loop handles more slowly than a reader reads it (a bulk)
// cycles through the same few batches: the reader blocks once rxQueue
// batches wait, and the pool keeps every batch the loop gives back for it.
// Each round here fills the queue until the reader blocks, then the loop
// drains it.
func TestRxBurstReusesBatches(t *testing.T) {
	p := newRxPool()
	rx := make(chan rxBatch, rxQueue)
	bufs := map[*byte]bool{}
	const rounds, size = 50, 64 << 10
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() { // the reader
		defer close(readerDone)
		for {
			b := p.get(size)
			b.buf = b.buf[:size]
			b.ds = append(b.ds, b.buf)
			select {
			case rx <- b:
			case <-stop:
				return
			}
		}
	}()
	for range rounds {
		deadline := time.Now().Add(10 * time.Second)
		for len(rx) < cap(rx) {
			if time.Now().After(deadline) {
				t.Fatal("the reader did not fill the queue")
			}
			time.Sleep(100 * time.Microsecond)
		}
		for range cap(rx) { // the loop
			b := <-rx
			bufs[&b.buf[0]] = true
			p.put(b)
		}
	}
	close(stop)
	<-readerDone
	if limit := rxQueue + 2; len(bufs) > limit {
		t.Errorf("%d batches of %d went through %d buffers, want at most %d", rounds*rxQueue, size, len(bufs), limit)
	}
}

// The readers keep the short queue only where every path's socket tells
// the room the kernel granted, and that room is enough
// (TestReceiveRoomHoldsAResendWindow measures it on real sockets); a link
// that cannot tell (the in-memory twin) keeps the deep queue.
func TestRxQueueLen(t *testing.T) {
	for _, tc := range []struct {
		rooms []int // -1: a Link that does not tell
		want  int
	}{
		{[]int{64 << 20}, rxQueue},
		{[]int{rxKernelRoom}, rxQueue},
		{[]int{rxKernelRoom - 1}, rxQueueDeep},
		{[]int{2498560}, rxQueueDeep},
		{[]int{64 << 20, 2498560}, rxQueueDeep},
		{[]int{64 << 20, -1}, rxQueueDeep},
		{[]int{-1}, rxQueueDeep},
	} {
		var s syncLink
		s.paths = make([]pathLink, len(tc.rooms))
		for i, r := range tc.rooms {
			if r < 0 {
				s.paths[i].l = sendLink{} // tells nothing
			} else {
				s.paths[i].l = roomyLink{room: r}
			}
		}
		if got := rxQueueLen(s.receiveRoom()); got != tc.want {
			t.Errorf("paths with room %v: %d batches ahead, want %d", tc.rooms, got, tc.want)
		}
	}
}

// roomyLink is a Link that tells its receive room.
type roomyLink struct {
	sendLink
	room int
}

func (l roomyLink) ReceiveRoom() int { return l.room }

// Between a bulk's rounds the loop handles only what was already waiting:
// a sender that keeps the queue full, refilling it as fast as the loop
// empties it (here each handled batch goes straight back in), cannot keep
// the bulk from going on.
func TestReceiveWaitingIsBounded(t *testing.T) {
	r := bulkBenchReplicator(t, 0)
	r.log = slog.New(slog.DiscardHandler)
	ch, _ := establishedPair(t)
	sel := newPathSelect(1, time.Now())
	rx := make(chan rxBatch, 8)
	for range cap(rx) {
		junk := bytes.Repeat([]byte{0xff}, 64) // not FTFW: the Channel drops it
		rx <- rxBatch{ds: [][]byte{junk}, buf: junk}
	}
	handled := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.receiveWaiting(ch, sel, rx, func(b rxBatch) {
			handled++
			rx <- b // the flood: the queue never empties
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the poll between a bulk's rounds did not return while the queue stayed full")
	}
	if handled != cap(rx) {
		t.Fatalf("handled %d batches, want the %d that were waiting", handled, cap(rx))
	}
}
