package ftfw

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// checkIndex verifies that every live flow entry is found by its Key, through its
// hash's chain, and that the chains hold nothing else.
func checkIndex(t *testing.T, c *Channel) {
	t.Helper()
	live := 0
	for p := range c.ents {
		for j := range c.ents[p] {
			e := &c.ents[p][j]
			if e.refs == 0 || e.exp {
				continue
			}
			live++
			i := uint32(p*entPage + j)
			if got, _, ok := c.findEntry(&e.key, c.hashKey(&e.key)); !ok || got != i {
				t.Fatalf("entry %d is not found by its Key (found %d, %v)", i, got, ok)
			}
		}
	}
	chained := 0
	for _, first := range c.entries {
		heads, n := 0, 0
		for j := first; j != 0; j = c.ent(j - 1).next {
			if n++; n > len(c.ents)*entPage {
				t.Fatal("a chain runs in a circle")
			}
			if c.ent(j - 1).head {
				heads++
			}
		}
		chained += n
		if heads != 1 || !c.ent(first-1).head {
			t.Fatalf("a chain with %d entries marked first, its first marked %v", heads, c.ent(first-1).head)
		}
	}
	if chained != live {
		t.Fatalf("%d entries in the chains, %d live flow entries", chained, live)
	}
}

// The entries of flows are found by their Key's hash, with Keys that hash alike
// chained. A Channel whose hash makes most Keys collide (three chains for all) must
// behave exactly as one with the real hash: the same datagrams, byte for byte, through
// updates that collapse, acknowledgements, retransmissions, expectations and messages
// longer than an entry's slot, and the same state at the end, with nothing left in
// the chains.
func TestCollidingKeysBehaveAlike(t *testing.T) {
	a, peer := established(t, Config{})
	b, _ := established(t, Config{})
	b.testHash = func(k mapKey) uint64 { return uint64(k[35] % 3) }

	rng := rand.New(rand.NewPCG(7, 14))
	flows := make([]Flow, 200)
	for i := range flows {
		f := Flow{Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 7)}), Dst: netip.MustParseAddr("198.51.100.9"),
			Proto: ProtoTCP, SrcPort: uint16(40000 + i), DstPort: uint16(i), TCPState: 3, HasTimeout: true, TimeoutSecs: 300}
		if i%10 == 0 {
			// Longer than an entry's slot.
			f.Src, f.Dst = netip.MustParseAddr("2001:db8::1"), netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
			f.SNAT, f.DNAT = netip.MustParseAddr("2001:db8::ff"), netip.MustParseAddr("2001:db8::fe")
			f.Helper, f.Labels = "sip", []uint32{1, 2, 3, 4}
		}
		flows[i] = f
	}
	now := t0
	var sent uint32 // the seq after the last data message sent
	long := 0
	both := func(do func(c *Channel) [][]byte) {
		t.Helper()
		da, db := do(a), do(b)
		if len(da) != len(db) {
			t.Fatalf("%d datagrams against %d", len(da), len(db))
		}
		for i := range da {
			if !bytes.Equal(da[i], db[i]) {
				t.Fatalf("datagram %d differs:\n%x\n%x", i, da[i], db[i])
			}
		}
		for _, m := range msgs(t, da) {
			if m.Type.IsData() {
				sent = m.Seq + 1
				if m.Len() > entMsgSlot {
					long++
				}
			}
		}
	}
	first := uint32(1000)
	for step := range 20000 {
		switch r := rng.IntN(100); {
		case r < 60:
			f := flows[rng.IntN(len(flows))]
			f.Mark = uint32(rng.IntN(4))
			op := Op(rng.IntN(3))
			both(func(c *Channel) [][]byte {
				if err := c.Send(op, &f); err != nil {
					t.Fatal(err)
				}
				return nil
			})
		case r < 63:
			x := ftpExpect()
			x.Tuple.DstPort = uint16(50000 + rng.IntN(5))
			op := Op(rng.IntN(3))
			both(func(c *Channel) [][]byte {
				if err := c.SendExpect(op, &x); err != nil {
					t.Fatal(err)
				}
				return nil
			})
		case r < 78:
			now = now.Add(time.Millisecond)
			both(func(c *Channel) [][]byte { return c.Outbox(now) })
		case r < 97 && sent != first:
			// The peer acknowledges a stretch from the oldest unacknowledged seq,
			// or asks for it again (it is then sent again with new seqs).
			flag := FlagAck
			if r >= 93 {
				flag = FlagNack
			}
			to := first + uint32(rng.IntN(int(sent-first)))
			m := enc(t, ctl(flag, peer, first, to))
			peer++
			both(func(c *Channel) [][]byte { c.Receive(m, now); return nil })
			first = to + 1
		default:
			now = now.Add(50 * time.Millisecond)
			both(func(c *Channel) [][]byte { return c.Outbox(now) })
		}
		if step%100 == 0 {
			checkIndex(t, a)
			checkIndex(t, b)
		}
	}
	// Everything sent, then acknowledged.
	for range 10 {
		now = now.Add(time.Millisecond)
		both(func(c *Channel) [][]byte { return c.Outbox(now) })
		if sent != first {
			m := enc(t, ctl(FlagAck, peer, first, sent-1))
			peer++
			both(func(c *Channel) [][]byte { c.Receive(m, now); return nil })
			first = sent
		}
	}
	sa, sb := a.Stats(), b.Stats()
	if sa != sb {
		t.Fatalf("stats differ:\n%+v\n%+v", sa, sb)
	}
	if sb.Unacked != 0 || sb.Queued != 0 || sb.Retransmits == 0 {
		t.Fatalf("%d unacked, %d queued, %d retransmissions at the end; want 0, 0 and some", sb.Unacked, sb.Queued, sb.Retransmits)
	}
	if long == 0 {
		t.Fatal("no message longer than an entry's slot was sent")
	}
	for _, c := range []*Channel{a, b} {
		checkIndex(t, c)
		if len(c.entries) != 0 || len(c.expEntries) != 0 || len(c.expKeys) != 0 || len(c.bigMsgs) != 0 {
			t.Fatalf("left in the index: %d chains, %d expectations (%d keys), %d long messages",
				len(c.entries), len(c.expEntries), len(c.expKeys), len(c.bigMsgs))
		}
	}
	if len(b.entries) > 3 {
		t.Fatalf("the colliding hash made %d chains", len(b.entries))
	}
}
