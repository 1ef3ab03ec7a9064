package testnet

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// appendPcap writes a classic pcap file: the inverse of ReadPcap, used to
// test it. nano selects nanosecond timestamps.
func appendPcap(b []byte, bo binary.AppendByteOrder, nano bool, linkType uint32, pkts []Packet) []byte {
	magic := uint32(pcapMagicMicro)
	if nano {
		magic = pcapMagicNano
	}
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)      // thiszone
	b = bo.AppendUint32(b, 0)      // sigfigs
	b = bo.AppendUint32(b, 262144) // snaplen
	b = bo.AppendUint32(b, linkType)
	for _, p := range pkts {
		frac := uint32(p.Time.Nanosecond())
		if !nano {
			frac /= 1000
		}
		b = bo.AppendUint32(b, uint32(p.Time.Unix()))
		b = bo.AppendUint32(b, frac)
		b = bo.AppendUint32(b, uint32(len(p.Data)))
		b = bo.AppendUint32(b, uint32(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b
}

// A classic pcap file as `tcpdump --time-stamp-precision=nano -w` writes it
// on x86-64 (little endian), assembled by hand field by field: one 42-byte
// ARP request on Ethernet.
var goldenNanoLE = strings.Join([]string{
	"4d3cb2a1",     // magic, nanosecond
	"0200", "0400", // version 2.4
	"00000000", "00000000", // thiszone, sigfigs
	"00000400",             // snaplen 262144
	"01000000",             // LINKTYPE_ETHERNET
	"80b3ce69",             // ts_sec 1775154048
	"15cd5b07",             // ts_nsec 123456789
	"2a000000", "2a000000", // incl_len, orig_len 42
	"ffffffffffff020000000001", // dst broadcast, src 02:00:00:00:00:01
	"0806",                     // ARP
	"0001080006040001",         // Ethernet/IPv4 request
	"020000000001c0000201",     // sender 02:..:01 192.0.2.1
	"000000000000c0000202",     // target 192.0.2.2
}, "")

func TestReadPcapGolden(t *testing.T) {
	raw, err := hex.DecodeString(goldenNanoLE)
	if err != nil {
		t.Fatal(err)
	}
	lt, pkts, err := ReadPcap(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if lt != LinkTypeEthernet || len(pkts) != 1 {
		t.Fatalf("link type %d, %d packets; want 1, 1", lt, len(pkts))
	}
	if want := time.Unix(1775154048, 123456789); !pkts[0].Time.Equal(want) {
		t.Errorf("time %v, want %v", pkts[0].Time, want)
	}
	if len(pkts[0].Data) != 42 || binary.BigEndian.Uint16(pkts[0].Data[12:14]) != 0x0806 {
		t.Errorf("data %x", pkts[0].Data)
	}
}

func TestReadPcapRoundTrip(t *testing.T) {
	pkts := []Packet{
		{Time: time.Unix(1775154048, 123456789), Data: []byte{1, 2, 3}},
		{Time: time.Unix(1775154049, 999999999), Data: bytes.Repeat([]byte{0xab}, 1500)},
		{Time: time.Unix(0, 0), Data: []byte{}},
	}
	for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			raw := appendPcap(nil, bo, nano, LinkTypeLinuxSLL, pkts)
			lt, got, err := ReadPcap(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%v nano=%v: %v", bo, nano, err)
			}
			if lt != LinkTypeLinuxSLL || len(got) != len(pkts) {
				t.Fatalf("%v nano=%v: link type %d, %d packets", bo, nano, lt, len(got))
			}
			for i := range pkts {
				want := pkts[i].Time
				if !nano {
					want = want.Truncate(time.Microsecond)
				}
				if !got[i].Time.Equal(want) || !bytes.Equal(got[i].Data, pkts[i].Data) {
					t.Errorf("%v nano=%v packet %d: %v %x, want %v %x", bo, nano, i, got[i].Time, got[i].Data, want, pkts[i].Data)
				}
			}
		}
	}
}

func TestReadPcapErrors(t *testing.T) {
	good := appendPcap(nil, binary.LittleEndian, true, LinkTypeEthernet, []Packet{
		{Time: time.Unix(1, 2), Data: []byte{1, 2, 3, 4}},
		{Time: time.Unix(3, 4), Data: []byte{5, 6, 7, 8}},
	})
	badFrac := bytes.Clone(good)
	binary.LittleEndian.PutUint32(badFrac[24+4:], 1e9)
	huge := bytes.Clone(good)
	binary.LittleEndian.PutUint32(huge[24+8:], maxPcapRecord+1)
	badVersion := bytes.Clone(good)
	badVersion[4] = 3
	for _, c := range []struct {
		name     string
		in       []byte
		wantPkts int
		wantEOF  bool
	}{
		{"empty", nil, 0, false},
		{"short header", good[:10], 0, true},
		{"pcapng", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, good[4:]...), 0, false},
		{"version", badVersion, 0, false},
		{"cut in record header", good[:24+16+4+8], 1, true},
		{"cut in record data", good[:len(good)-1], 1, true},
		{"nanoseconds out of range", badFrac, 0, false},
		{"huge record", huge, 0, false},
	} {
		_, pkts, err := ReadPcap(bytes.NewReader(c.in))
		if !errors.Is(err, ErrPcapFormat) {
			t.Errorf("%s: err = %v, want ErrPcapFormat", c.name, err)
		}
		if c.wantEOF != errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: err = %v, unexpected EOF wanted: %v", c.name, err, c.wantEOF)
		}
		if len(pkts) != c.wantPkts {
			t.Errorf("%s: %d packets before the error, want %d", c.name, len(pkts), c.wantPkts)
		}
	}
	// A header alone is a valid, empty capture.
	if _, pkts, err := ReadPcap(bytes.NewReader(good[:24])); err != nil || len(pkts) != 0 {
		t.Errorf("header only: %d packets, %v", len(pkts), err)
	}
}

// FuzzReadPcap: ReadPcap never panics, and whatever it accepts survives a
// write/read round trip unchanged.
func FuzzReadPcap(f *testing.F) {
	raw, _ := hex.DecodeString(goldenNanoLE)
	f.Add(raw)
	f.Add(appendPcap(nil, binary.BigEndian, false, 1, []Packet{{Time: time.Unix(5, 6000), Data: []byte{9}}}))
	f.Fuzz(func(t *testing.T, in []byte) {
		lt, pkts, err := ReadPcap(bytes.NewReader(in))
		if err != nil {
			return
		}
		again := appendPcap(nil, binary.LittleEndian, true, lt, pkts)
		lt2, pkts2, err := ReadPcap(bytes.NewReader(again))
		if err != nil || lt2 != lt || len(pkts2) != len(pkts) {
			t.Fatalf("round trip: %v, link type %d/%d, %d/%d packets", err, lt, lt2, len(pkts), len(pkts2))
		}
		for i := range pkts {
			if !pkts[i].Time.Equal(pkts2[i].Time) || !bytes.Equal(pkts[i].Data, pkts2[i].Data) {
				t.Fatalf("packet %d changed in the round trip", i)
			}
		}
	})
}
