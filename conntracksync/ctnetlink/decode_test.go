package ctnetlink

import (
	ct "github.com/vigil-ha/vigil/conntracksync"
	"net/netip"
	"testing"
)

// encodeDecode builds a create request for f and decodes its attributes
// back, as if the kernel had echoed them.
func encodeDecode(t testing.TB, f *ct.Flow) (ct.Flow, decoded) {
	var w nlb
	w.appendFlow(opCreate, f, f.TimeoutSec, 1, true)
	var got ct.Flow
	var d decoded
	if err := decodeFlow(w.b[nlmsgHdrLen+nfgenmsgLen:], &got, &d); err != nil {
		t.Fatalf("decode of %s: %v", f, err)
	}
	return got, d
}

func TestDecodeFlowRoundTrip(t *testing.T) {
	flows := ct.SampleFlows(300)
	r := flows[0]
	r.Orig.SrcPort, r.Master, r.Helper = 20, flows[0].Orig, "ftp"
	r.Reply = r.Orig.Invert()
	s := ct.Flow{Orig: ct.Tuple{Src: netip.MustParseAddr("2001:db8::7"), Dst: netip.MustParseAddr("2001:db8::8"), Proto: ct.ProtoSCTP, SrcPort: 5, DstPort: 6},
		SCTPState: 3, SCTPVTagOrig: 0x01020304, SCTPVTagRep: 0x05060708, Zone: 9, Labels: "\x01\x00\x00\x00\x00\x00\x00\x80",
		SeqAdjOrig:  ct.SeqAdj{CorrectionPos: 1, OffsetBefore: 2, OffsetAfter: 3},
		SeqAdjReply: ct.SeqAdj{CorrectionPos: 4, OffsetBefore: 5, OffsetAfter: 6}, Status: ct.StatusConfirmed, TimeoutSec: 50, Mark: 3}
	s.Reply = s.Orig.Invert()
	for _, f := range append(flows, r, s) {
		want := f
		// Create requests leave out the NAT status bits (the kernel sets them),
		// and carry a NATed flow's reply tuple before translation (the
		// kernel translates it from the NAT attributes).
		want.Status &^= ct.StatusSrcNAT | ct.StatusDstNAT | ct.StatusSrcNATDone | ct.StatusDstNATDone
		_, _, snat := f.SNAT()
		_, _, dnat := f.DNAT()
		if snat || dnat {
			want.Reply = f.Orig.Invert()
		}
		got, d := encodeDecode(t, &f)
		if got != want {
			t.Fatalf("round trip\n got %s\nwant %s", &got, &want)
		}
		if d.tcp != (f.Orig.Proto == ct.ProtoTCP) || d.master != f.Related() || d.helper != (f.Helper != "") {
			t.Fatalf("presence %+v for %s", d, &f)
		}
	}
}

func FuzzDecodeFlow(f *testing.F) {
	for _, fl := range ct.SampleFlows(20) {
		var w nlb
		w.appendFlow(opCreate, &fl, fl.TimeoutSec, 1, false)
		f.Add(w.b[nlmsgHdrLen+nfgenmsgLen:])
	}
	f.Add([]byte{4, 0, 1, 0})
	f.Add([]byte{8, 0, 1, 0x80, 3, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl ct.Flow
		var d decoded
		if decodeFlow(b, &fl, &d) != nil {
			return
		}
		// Whatever decodes must encode and decode to the same flow
		// (the encoder drops NAT status bits and zero marks/zones).
		if !fl.Orig.Src.Is4() && !fl.Orig.Src.Is6() || fl.Orig.Src.Is4() != fl.Orig.Dst.Is4() {
			return
		}
		if !fl.Reply.IsZero() && (fl.Reply.Src.Is4() != fl.Orig.Src.Is4() || fl.Reply.Dst.Is4() != fl.Orig.Src.Is4()) {
			return
		}
		if fl.Related() && (!fl.Master.Src.IsValid() || !fl.Master.Dst.IsValid() || fl.Master.Src.Is4() != fl.Master.Dst.Is4()) {
			return
		}
		var w nlb
		w.appendFlow(opCreate, &fl, fl.TimeoutSec, 1, false)
		var again ct.Flow
		var d2 decoded
		if err := decodeFlow(w.b[nlmsgHdrLen+nfgenmsgLen:], &again, &d2); err != nil {
			t.Fatalf("re-decode of %s: %v", &fl, err)
		}
		if again.Orig != fl.Orig || again.Zone != fl.Zone || again.Mark != fl.Mark {
			t.Fatalf("round trip\n got %s\nwant %s", &again, &fl)
		}
	})
}
