package ftfw

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// ftpExpect is the expectation the kernel's FTP helper makes for an active-mode data
// connection: the server (198.51.100.2, port 20 unknown: any source port) to the
// client's PORT address and port.
func ftpExpect() Expect {
	a := netip.MustParseAddr
	return Expect{
		Master: ExpTuple{Src: a("192.0.2.10"), Dst: a("198.51.100.2"), Proto: ProtoTCP, HasPorts: true,
			SrcPort: 40000, DstPort: 21},
		Tuple: ExpTuple{Src: a("198.51.100.2"), Dst: a("192.0.2.10"), Proto: ProtoTCP, HasPorts: true,
			SrcPort: 0, DstPort: 50001},
		Mask: ExpTuple{Src: a("255.255.255.255"), Dst: a("255.255.255.255"), Proto: ProtoTCP, HasPorts: true,
			SrcPort: 0, DstPort: 0xffff},
		HasTimeout: true, TimeoutSecs: 297,
		HasFlags: true,
		Helper:   "ftp",
	}
}

// The expectation message, field by field from network.h's NTA_EXP_* numbers and
// build.c's order (master, expected, mask tuples; TIMEOUT, FLAGS, CLASS; NAT; names).
// Ports are raw network-order pairs, unlike the conntrack NAT ports.
func TestExpectWire(t *testing.T) {
	want := unhex(t, `
		13 00 00 94 00 00 00 07
		00 0c 00 00 c0 00 02 0a c6 33 64 02 | 00 05 00 02 06 00 00 00 | 00 08 00 03 9c 40 00 15
		00 0c 00 04 c6 33 64 02 c0 00 02 0a | 00 05 00 06 06 00 00 00 | 00 08 00 07 00 00 c3 51
		00 0c 00 08 ff ff ff ff ff ff ff ff | 00 05 00 0a 06 00 00 00 | 00 08 00 0b 00 00 ff ff
		00 08 00 0c 00 00 01 29 | 00 08 00 0d 00 00 00 00 | 00 08 00 13 66 74 70 00`)
	m := Message{Type: TypeExpNew, Seq: 7, Exp: ftpExpect()}
	got, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	// len: 8 + 3*(12+8+8) + 3*8 + 8 = 124 = 0x7c
	want[3] = byte(len(want))
	if !bytes.Equal(got, want) || m.Len() != len(want) {
		t.Fatalf("encoded (Len %d)\n%x\nwant\n%x", m.Len(), got, want)
	}
	var back Message
	if err := back.UnmarshalBinary(got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("decoded %+v\nwant %+v", back, m)
	}
}

// Every optional attribute, IPv6 tuples and NAT, round trip.
func TestExpectRoundTripAll(t *testing.T) {
	a := netip.MustParseAddr
	x := ftpExpect()
	x.Master.Src, x.Master.Dst = a("2001:db8::10"), a("2001:db8:1::2")
	x.Tuple.Src, x.Tuple.Dst = a("2001:db8:1::2"), a("2001:db8::10")
	x.Mask.Src, x.Mask.Dst = a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	x.HasClass, x.Class = true, 1
	x.Flags = 4
	x.HasNAT, x.NATDir = true, 1
	x.NATTuple = ExpTuple{Src: a("203.0.113.1"), Dst: a("203.0.113.9"), Proto: ProtoTCP, HasPorts: true, SrcPort: 1, DstPort: 2}
	x.Helper, x.Fn = "sip", "nat-follow"
	for _, op := range []Type{TypeExpNew, TypeExpUpd, TypeExpDel} {
		m := Message{Type: op, Seq: 9, Flags: FlagHelloBack, Exp: x}
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != m.Len() {
			t.Fatalf("Len %d, encoded %d", m.Len(), len(b))
		}
		var back Message
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("decoded %+v\nwant %+v", back, m)
		}
	}
	// A UDP-less master protocol (ICMP) carries no ports, as conntrackd builds it.
	if ExpHasPorts(ProtoICMP) || !ExpHasPorts(ProtoUDP) || ExpHasPorts(ProtoUDPLite) {
		t.Fatal("ExpHasPorts")
	}
}

// conntrackd's receive checks on expectation attributes (parse.c msg2exp): exact
// lengths, the names' maximum, unknown numbers; and a usable expectation.
func TestExpectRejects(t *testing.T) {
	good, _ := (&Message{Type: TypeExpNew, Exp: ftpExpect()}).AppendBinary(nil)
	patch := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want DropReason
	}{
		{"master ipv4 short", patch(8, 0, 0x0b), DropPayload},
		{"unknown attribute 21", patch(8+2, 0, 21), DropPayload},
		{"overrun", patch(8, 0, 0xf0), DropPayload},
		{"long helper", append(patch(3, byte(len(good)+20)), 0, 20, 0, 19, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p'), DropPayload},
		{"bad flags", patch(1, byte(FlagAck)), DropFlags},
		{"no master", func() []byte {
			m := Message{Type: TypeExpNew, Exp: ftpExpect()}
			b, _ := m.AppendBinary(nil)
			// turn MASTER_IPV4 into MASK_IPV4 (the mask then comes twice)
			b[8+3] = expMaskIPv4
			return b
		}(), DropFlow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := m.UnmarshalBinary(tc.b)
			var e *Error
			if !errors.As(err, &e) || e.Reason != tc.want {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	for _, x := range []Expect{
		{},
		func() Expect { x := ftpExpect(); x.Helper = "twelve-bytes"; return x }(),
		func() Expect { x := ftpExpect(); x.Tuple.Dst = netip.MustParseAddr("2001:db8::1"); return x }(),
		func() Expect { x := ftpExpect(); x.HasNAT = true; return x }(),
	} {
		m := Message{Type: TypeExpNew, Exp: x}
		if _, err := m.AppendBinary(nil); err == nil {
			t.Errorf("encoded %+v", x)
		}
	}
}

// FuzzExpect: whatever decodes re-encodes to bytes that decode to the same thing.
func FuzzExpect(f *testing.F) {
	for _, op := range []Type{TypeExpNew, TypeExpDel} {
		b, _ := (&Message{Type: op, Exp: ftpExpect()}).AppendBinary(nil)
		f.Add(b)
	}
	for _, d := range readGolden(f, "testdata/conntrackd-1.4.7-expect.hex") {
		Walk(d.data, func(b []byte) bool { f.Add(append([]byte(nil), b...)); return true })
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if m.UnmarshalBinary(b) != nil || !m.Type.IsExpect() {
			return
		}
		b2, err := m.AppendBinary(nil)
		if err != nil {
			return // decodable but not encodable (a partial NAT group, mixed families)
		}
		var m2 Message
		if err := m2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n%x", err, b2)
		}
		b3, err := m2.AppendBinary(nil)
		if err != nil || !bytes.Equal(b2, b3) || len(b2) != m.Len() {
			t.Fatalf("not stable: %v\n%x\n%x", err, b2, b3)
		}
	})
}

// TestGoldenExpectConntrackd: conntrackd's EXP_NEW for the FTP expectation of
// the capture (golden_expect_linux_test.go) decodes to what fw1's kernel
// held, and re-encodes byte for byte; so do the capture's other messages.
func TestGoldenExpectConntrackd(t *testing.T) {
	a := netip.MustParseAddr
	want := Expect{
		Master: ExpTuple{Src: a("192.0.2.10"), Dst: a("203.0.113.2"), Proto: ProtoTCP, HasPorts: true, SrcPort: 40000, DstPort: 21},
		Tuple:  ExpTuple{Src: a("203.0.113.2"), Dst: a("192.0.2.10"), Proto: ProtoTCP, HasPorts: true, DstPort: 50000},
		Mask: ExpTuple{Src: a("255.255.255.255"), Dst: a("255.255.255.255"), Proto: ProtoTCP, HasPorts: true,
			DstPort: 0xffff},
		HasTimeout: true, HasFlags: true, HasClass: true, Helper: "ftp",
	}
	n := 0
	for _, d := range readGolden(t, "testdata/conntrackd-1.4.7-expect.hex") {
		Walk(d.data, func(b []byte) bool {
			var m Message
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatalf("%s: %v\n%x", d.label, err, b)
			}
			out, err := m.AppendBinary(nil)
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("%s: re-encoded %v\n%x\nwant\n%x", d.label, err, out, b)
			}
			if !m.Type.IsExpect() {
				return true
			}
			n++
			got := m.Exp
			if got.TimeoutSecs < 290 || got.TimeoutSecs > 300 {
				t.Errorf("%s: timeout %d, want the ftp helper's 300 s less a few", d.label, got.TimeoutSecs)
			}
			got.TimeoutSecs = 0
			if got != want || m.Type != TypeExpNew {
				t.Errorf("%s: %v\n%+v\nwant\n%+v", d.label, m.Type, got, want)
			}
			return true
		})
	}
	if n == 0 {
		t.Fatal("no expectation message in the capture")
	}
}
