package ftfw

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

// The ICMP CT_NEW quoted in notes/conntrack-sync.md (a conntrackd 1.4.7 capture),
// written per field.
const noteICMP = "10 00 005c 6b026f49" + // v1 CT_NEW, flags 0, len 92, seq
	"000c 0000 c000020a cb007102" + // IPV4 192.0.2.10 -> 203.0.113.2
	"0008 0005 00000008" + // STATUS 0x8 (CONFIRMED)
	"0005 0002 01000000" + // L4PROTO 1 (ICMP)
	"0005 0016 08000000" + // ICMP_TYPE 8
	"0005 0017 00000000" + // ICMP_CODE 0
	"0006 0018 34120000" + // ICMP_ID 0x1234, little-endian quirk
	"0008 0006 0000001e" + // TIMEOUT 30
	"0008 0007 00000000" + // MARK 0
	"0010 001f 000000000000000000000000" // SYNPROXY zeros

func TestCodecNoteICMP(t *testing.T) {
	b := unhex(t, noteICMP)
	var m Message
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := Message{Type: TypeNew, Seq: 0x6b026f49, Flow: Flow{
		Src: netip.MustParseAddr("192.0.2.10"), Dst: netip.MustParseAddr("203.0.113.2"),
		Proto: ProtoICMP, Status: 8, ICMPType: 8, ICMPID: 0x1234,
		HasTimeout: true, TimeoutSecs: 30, HasMark: true, HasSynproxy: true,
	}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", m, want)
	}
	out, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, b) {
		t.Fatalf("re-encoded\n%x\nwant\n%x", out, b)
	}
	if m.Len() != len(b) {
		t.Fatalf("Len %d, want %d", m.Len(), len(b))
	}
}

func TestControlMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Message
		hex  string
	}{
		{"ack", Message{Type: TypeCtl, Flags: FlagAck, Seq: 0x01020304, From: 5, To: 9}, "1a 08 0010 01020304 00000005 00000009"},
		{"nack", Message{Type: TypeCtl, Flags: FlagNack | FlagHello, Seq: 1, From: 0xfffffffe, To: 1}, "1a 24 0010 00000001 fffffffe 00000001"},
		{"resync", Message{Type: TypeCtl, Flags: FlagResync, Seq: 7}, "1a 02 0010 00000007 00000000 00000000"},
		{"alive", Message{Type: TypeCtl, Flags: FlagAlive | FlagHelloBack, Seq: 8}, "1a 50 0008 00000008"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got, err := tc.m.AppendBinary(nil)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("AppendBinary = %x, %v; want %x", got, err, want)
			}
			var m Message
			if err := m.UnmarshalBinary(want); err != nil || !reflect.DeepEqual(m, tc.m) {
				t.Fatalf("UnmarshalBinary = %+v, %v; want %+v", m, err, tc.m)
			}
		})
	}
}

func TestUnmarshalDropReasons(t *testing.T) {
	icmp := unhex(t, noteICMP)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), icmp...)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want DropReason
	}{
		{"short", icmp[:7], DropShort},
		{"version 2", mod(func(b []byte) []byte { b[0] = 0x20; return b }), DropVersion},
		{"len past end", icmp[:40], DropLength},
		{"len < 8", mod(func(b []byte) []byte { b[3] = 4; return b }), DropLength},
		{"ack len 8", unhex(t, "1a 08 0008 00000001"), DropLength},
		{"type 7", mod(func(b []byte) []byte { b[0] = 0x17; return b }), DropType},
		{"data with ACK flag", mod(func(b []byte) []byte { b[1] = byte(FlagAck); return b }), DropFlags},
		{"attribute 33", mod(func(b []byte) []byte { b[8+3] = 33; return b }), DropPayload},
		{"IPV4 nta_len 11", mod(func(b []byte) []byte { b[8+1] = 11; return b }), DropPayload},
		{"nta_len 3", mod(func(b []byte) []byte { b[8+1] = 3; return b }), DropPayload},
		{"nta_len overrun", mod(func(b []byte) []byte { b[len(b)-16+1] = 0x20; return b }), DropPayload},
		{"helper too long", unhex(t, "10000020 00000001 0014001b 61616161 61616161 61616161 61616161 00000000"), DropPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := m.UnmarshalBinary(tc.b)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("reason %v (%v), want %v", got, err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "ftfw: ") {
				t.Fatalf("error %v is not an *Error with the package prefix", err)
			}
		})
	}
}

// allAttrs is a flow with every attribute the codec knows.
func allAttrs() Flow {
	return Flow{
		Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
		Proto: ProtoTCP, SrcPort: 40000, DstPort: 443, Status: 0x1ae, TCPState: 3,
		HasTCPWScale: true, TCPWScaleOrig: 7, TCPWScaleRep: 9,
		HasTimeout: true, TimeoutSecs: 431999, HasMark: true, Mark: 0xdeadbeef,
		MasterSrc: netip.MustParseAddr("2001:db8::1"), MasterDst: netip.MustParseAddr("2001:db8::2"),
		MasterProto: ProtoTCP, HasMasterPort: true, MasterSrcPort: 1, MasterDstPort: 21,
		SNAT: netip.MustParseAddr("2001:db8:ff::1"), DNAT: netip.MustParseAddr("2001:db8:ff::2"),
		HasSNATPort: true, SNATPort: 1024, HasDNATPort: true, DNATPort: 8080,
		HasSeqAdj: true, SeqAdj: SeqAdj{1, 2, 3, 4, 5, 6},
		Helper: "ftp", Labels: []uint32{0, 1 << 3}, HasSynproxy: true, Synproxy: Synproxy{7, 8, 9},
		HasZone: true, Zone: 42,
	}
}

func TestFlowRoundTripAllAttributes(t *testing.T) {
	for _, f := range []Flow{allAttrs(), func() Flow {
		f := allAttrs()
		f.Src, f.Dst = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1")
		f.MasterSrc, f.MasterDst = f.Src, f.Dst
		f.SNAT, f.DNAT = netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
		return f
	}(), {Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: ProtoSCTP,
		SrcPort: 1, DstPort: 2, SCTPState: 3, SCTPVTagOrig: 4, SCTPVTagRepl: 5},
		{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: ProtoDCCP,
			SrcPort: 1, DstPort: 2, DCCPState: 3, DCCPRole: 1},
		{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: ProtoICMPv6,
			ICMPType: 128, ICMPID: 0xabcd},
		{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: 47},
	} {
		m := Message{Type: TypeUpd, Seq: 99, Flow: f}
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != m.Len() || len(b)%4 != 0 {
			t.Fatalf("encoded %d bytes, Len %d", len(b), m.Len())
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip\n%+v\nwant\n%+v", got, m)
		}
		if err := f.validate(); err != nil {
			t.Fatalf("validate: %v", err)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for name, f := range map[string]Flow{
		"no address":   {Proto: ProtoUDP},
		"mixed family": {Src: v4, Dst: v6, Proto: ProtoUDP},
		"nat family":   {Src: v4, Dst: v4, SNAT: v6},
		"helper long":  {Src: v4, Dst: v4, Helper: "twelve-bytes"},
		"master mixed": {Src: v4, Dst: v4, MasterSrc: v4, MasterDst: v6},
		"labels long":  {Src: v4, Dst: v4, Labels: make([]uint32, 257)},
	} {
		if f.Labels != nil {
			f.Labels[0] = 1
		}
		m := Message{Type: TypeNew, Flow: f}
		if _, err := m.AppendBinary(nil); err == nil {
			t.Errorf("%s: AppendBinary accepted %+v", name, f)
		}
		if err := f.validate(); err == nil {
			t.Errorf("%s: validate accepted %+v", name, f)
		}
	}
}

func TestWalkStopRules(t *testing.T) {
	alive := unhex(t, "1a10 0008 00000001")
	ack := unhex(t, "1a08 0010 00000002 00000001 00000002")
	cat := func(p ...[]byte) []byte { return bytes.Join(p, nil) }
	for _, tc := range []struct {
		name   string
		dgram  []byte
		n      int
		reason DropReason
	}{
		{"two", cat(alive, ack), 2, DropNone},
		{"trailing 3 bytes ignored", cat(alive, []byte{1, 2, 3}), 1, DropNone},
		{"len 0 stops", cat(alive, unhex(t, "1a100000 00000003"), alive), 1, DropLength},
		{"len past end stops", cat(alive, unhex(t, "1a100018 00000003")), 1, DropLength},
		{"ack of 8 stops", cat(unhex(t, "1a080008 00000003"), alive), 0, DropLength},
		{"len 4 stops", cat(unhex(t, "1a100004 00000003"), alive), 0, DropLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := 0
			n, r := Walk(tc.dgram, func(m []byte) bool { got++; return true })
			if n != tc.n || got != tc.n || r != tc.reason {
				t.Fatalf("Walk = %d (%d calls), %v; want %d, %v", n, got, r, tc.n, tc.reason)
			}
		})
	}
}

func TestPackerFillsToMax(t *testing.T) {
	f := allAttrs()
	m := Message{Type: TypeNew, Flow: f}
	size := m.Len()
	max := MaxDatagram(1500, false)
	p := NewPacker(max)
	for i := range 100 {
		m.Seq = uint32(i)
		if err := p.Add(&m); err != nil {
			t.Fatal(err)
		}
	}
	perDgram := max / size
	dg := p.Datagrams()
	if want := (100 + perDgram - 1) / perDgram; len(dg) != want {
		t.Fatalf("%d datagrams, want %d", len(dg), want)
	}
	seq := uint32(0)
	for _, d := range dg {
		if len(d) > max {
			t.Fatalf("datagram of %d > %d", len(d), max)
		}
		Walk(d, func(b []byte) bool {
			var got Message
			if err := got.UnmarshalBinary(b); err != nil || got.Seq != seq {
				t.Fatalf("message %d: seq %d err %v", seq, got.Seq, err)
			}
			seq++
			return true
		})
	}
	if seq != 100 {
		t.Fatalf("walked %d messages", seq)
	}
	// A message larger than the datagram: a flow with the largest label bitmap, in a
	// packer whose datagram is smaller than that message.
	big := Message{Type: TypeDel, Flow: allAttrs()}
	big.Flow.Labels = make([]uint32, (labelsMax-4)/4)
	big.Flow.Labels[0] = 1
	p = NewPacker(big.Len() - 4)
	if err := p.Add(&big); !errors.Is(err, ErrTooLong) {
		t.Fatalf("oversized message: %v", err)
	}
}

// Packer.AddFlow writes the bytes Packer.Add writes for the same message,
// and refuses what Add refuses, leaving the datagrams as they were.
func TestPackerAddFlowMatchesAdd(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	flows := []Flow{allAttrs(), benchFlow(7), {Src: v4, Dst: v4, Proto: 47},
		{Src: v4, Dst: v6, Proto: ProtoUDP}, {Src: v4, Dst: v4, Helper: "twelve-bytes"}}
	for _, typ := range []Type{TypeNew, TypeUpd, TypeDel} {
		a, b := NewPacker(MaxDatagram(1500, true)), NewPacker(MaxDatagram(1500, true))
		for i := range flows {
			errA := a.Add(&Message{Type: typ, Flow: flows[i]})
			errB := b.AddFlow(typ, &flows[i])
			if (errA == nil) != (errB == nil) {
				t.Fatalf("%v flow %d: Add %v, AddFlow %v", typ, i, errA, errB)
			}
		}
		if got, want := b.Datagrams(), a.Datagrams(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%v: AddFlow wrote\n%x\nAdd\n%x", typ, got, want)
		}
	}
	if err := NewPacker(1500).AddFlow(TypeCtl, &flows[1]); err == nil {
		t.Fatal("AddFlow accepted a control message type")
	}
}
