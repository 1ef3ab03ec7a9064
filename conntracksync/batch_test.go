package conntracksync

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// wireVariants returns the wire forms of sample flows and of flows that
// are plain IPv4 in some ways and not in others: IPv4-mapped addresses,
// NAT to an IPv6 address, a master, a helper, labels, a zero and a
// non-zero sequence adjustment, SCTP and DCCP state, a zone, no ports.
func wireVariants() []ftfw.Flow {
	var out []ftfw.Flow
	for _, f := range SampleFlows(600) {
		out = append(out, toWire(&f, true), toWire(&f, false))
	}
	base := toWire(&SampleFlows(1)[0], true)
	mapped := func(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }
	v6 := netip.MustParseAddr("2001:db8::9")
	for _, change := range []func(w *ftfw.Flow){
		func(w *ftfw.Flow) { w.Src, w.Dst = mapped(w.Src), mapped(w.Dst) },
		func(w *ftfw.Flow) { w.SNAT = mapped(netip.MustParseAddr("203.0.113.1")) },
		func(w *ftfw.Flow) { w.SNAT = v6 },
		func(w *ftfw.Flow) { w.DNAT = v6 },
		func(w *ftfw.Flow) {
			w.DNAT, w.HasDNATPort, w.DNATPort = netip.MustParseAddr("203.0.113.50"), true, 8080
		},
		func(w *ftfw.Flow) { w.HasSNATPort, w.SNATPort = true, 10001 },
		func(w *ftfw.Flow) {
			w.MasterSrc, w.MasterDst, w.MasterProto = w.Src, w.Dst, ProtoTCP
		},
		func(w *ftfw.Flow) { w.Helper = "ftp" },
		func(w *ftfw.Flow) { w.Labels = []uint32{0, 0} },
		func(w *ftfw.Flow) { w.Labels = []uint32{0, 4} },
		func(w *ftfw.Flow) { w.HasSeqAdj = true },
		func(w *ftfw.Flow) { w.HasSeqAdj, w.SeqAdj.ReplOffsetAfter = true, 7 },
		func(w *ftfw.Flow) { w.SCTPState = 3 },
		func(w *ftfw.Flow) { w.SCTPVTagOrig = 1 },
		func(w *ftfw.Flow) { w.SCTPVTagRepl = 1 },
		func(w *ftfw.Flow) { w.DCCPState, w.DCCPRole = 1, 1 },
		func(w *ftfw.Flow) { w.HasZone, w.Zone = true, 9 },
		func(w *ftfw.Flow) { w.HasZone, w.Zone = false, 9 },
		func(w *ftfw.Flow) { w.HasTimeout, w.TimeoutSecs = false, 77 },
		func(w *ftfw.Flow) { w.HasMark, w.Mark = true, 0x10 },
		func(w *ftfw.Flow) { w.TCPWScaleOrig, w.TCPWScaleRep = 7, 9 },
		func(w *ftfw.Flow) { w.Proto, w.HasDNATPort, w.DNATPort = ProtoGRE, true, 5 },
		func(w *ftfw.Flow) {
			w.Proto, w.SrcPort, w.DstPort, w.ICMPType, w.ICMPCode, w.ICMPID = ProtoICMP, 0, 0, 8, 0, 42
		},
	} {
		w := base
		change(&w)
		out = append(out, w)
	}
	return out
}

// fromWire4 gives what pack4 gives for fromWire's conversion of the same
// wire flow: the same key and record for a plain IPv4 flow, false for
// every other.
func TestFromWire4MatchesPack4(t *testing.T) {
	var four, other int
	for _, w := range wireVariants() {
		f := fromWire(&w)
		f.ensureReply()
		wk, wr, wok := pack4(&f)
		k, r, ok := fromWire4(&w)
		if ok != wok || k != wk || r != wr {
			t.Fatalf("wire flow %+v:\n got %v %x %+v\nwant %v %x %+v", w, ok, k, r, wok, wk, wr)
		}
		if ok {
			four++
		} else {
			other++
		}
	}
	if four < 100 || other < 100 {
		t.Fatalf("%d plain IPv4 flows and %d others: the test needs many of both", four, other)
	}
}

// batchOps returns a batch of updates in which keys repeat: a put and a
// delete of one key, a delete and a put, a flow that changes kind (plain
// IPv4, then with a helper, then plain again), and expectations between
// them.
func batchOps(rng *rand.Rand, flows []Flow, n int) []ftfw.Update {
	ups := make([]ftfw.Update, 0, n)
	x := &ftfw.Expect{}
	for range n {
		f := flows[rng.IntN(len(flows))]
		switch rng.IntN(6) {
		case 0:
			ups = append(ups, ftfw.Update{Op: ftfw.OpDel, Flow: toWire(&f, true)})
		case 1:
			f.Helper = "ftp"
			ups = append(ups, ftfw.Update{Op: ftfw.OpUpd, Flow: toWire(&f, true)})
		case 2:
			ups = append(ups, ftfw.Update{Op: ftfw.OpUpd, Exp: x})
		default:
			f.Mark = uint32(rng.IntN(4))
			ups = append(ups, ftfw.Update{Op: ftfw.OpNew, Flow: toWire(&f, true)})
		}
	}
	return ups
}

func sortedSnapshot(c *Cache) []Entry {
	s := c.Snapshot()
	slices.SortFunc(s, func(a, b Entry) int {
		ka, kb := a.Flow.Key(), b.Flow.Key()
		ca, cb := keyOf(&ka), keyOf(&kb)
		return slices.Compare(ca[:], cb[:])
	})
	return s
}

// Apply and applyWire act as the batch's flows put and deleted one at a
// time, in the batch's order, whatever the kinds of the flows and however
// often a key repeats in the batch (they pack the whole batch before
// writing the map).
func TestApplyBatchesInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	flows := SampleFlows(40) // few keys: every batch repeats some
	now := time.Unix(1_700_000_000, 0)
	one, apply, wire := NewCache(), NewCache(), NewCache()
	for round := range 300 {
		ups := batchOps(rng, flows, 1+rng.IntN(60))
		at := now.Add(time.Duration(round) * time.Second)
		var batch []Flow
		var del []bool
		for _, u := range ups {
			if u.Exp != nil {
				continue
			}
			f := fromWire(&u.Flow)
			batch, del = append(batch, f), append(del, u.Op == ftfw.OpDel)
			if u.Op == ftfw.OpDel {
				one.Delete(f.Key())
			} else {
				one.Put(f, at)
			}
		}
		apply.Apply(batch, del, at)
		wire.applyWire(ups, at)
		want := sortedSnapshot(one)
		if got := sortedSnapshot(apply); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: Apply holds %d flows, one at a time %d:\n%v\n%v", round, len(got), len(want), got, want)
		}
		if got := sortedSnapshot(wire); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: applyWire holds %d flows, one at a time %d:\n%v\n%v", round, len(got), len(want), got, want)
		}
	}
	if one.Len() == 0 {
		t.Fatal("the batches left nothing: the test checks nothing")
	}
}

// FuzzFromWire4: for any flow a peer's datagram decodes to, the receiver's
// direct packing of a plain IPv4 flow (fromWire4) gives what packing its
// Flow does (pack4 of fromWire), and neither panics.
func FuzzFromWire4(f *testing.F) {
	for _, w := range wireVariants()[:40] {
		m := ftfw.Message{Type: ftfw.TypeUpd, Seq: 1, Flow: w}
		if b, err := m.AppendBinary(nil); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ftfw.Message
		if m.UnmarshalBinary(b) != nil || m.Type > ftfw.TypeDel {
			return
		}
		fl := fromWire(&m.Flow)
		fl.ensureReply()
		wk, wr, wok := pack4(&fl)
		k, r, ok := fromWire4(&m.Flow)
		if ok != wok || k != wk || r != wr {
			t.Fatalf("wire flow %+v:\n got %v %x %+v\nwant %v %x %+v", m.Flow, ok, k, r, wok, wk, wr)
		}
	})
}
