package vrrp_test

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vigil-ha/vigil/vrrp"
)

// FuzzUnmarshal: whatever decodes re-encodes to the same bytes (the 4
// reserved bits of v3 excepted, which are written as zero), and decoding
// never panics. Seeds: every golden capture from keepalived.
func FuzzUnmarshal(f *testing.F) {
	for _, g := range goldenWant {
		gl := readGolden(f, g.file)
		f.Add(gl.raw, gl.meta.Src.Is6())
	}
	f.Add([]byte{0x31, 1, 1, 0, 0, 1, 0, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, is6 bool) {
		var p vrrp.Packet
		if err := p.UnmarshalFamily(b, is6); err != nil {
			return
		}
		enc, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", p, err)
		}
		want := bytes.Clone(b)
		if p.Version == 3 {
			want[4] &= 0x0f
		}
		if !bytes.Equal(enc, want) {
			t.Fatalf("round trip\n got %x\nwant %x", enc, want)
		}
		var q vrrp.Packet
		if err := q.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary rejects what UnmarshalFamily accepts: %v", err)
		}
		// Accept must not panic on anything decodable.
		vrrp.Accept(&q, b, vrrp.RecvMeta{Src: netip.IPv6LinkLocalAllNodes(), Dst: vrrp.GroupIPv6, TTL: 255},
			vrrp.CheckConfig{Version: 3, Addrs: p.Addrs})
	})
}

// FuzzRoundTrip: a packet built from arbitrary field values either is
// rejected by AppendBinary with a reason, or decodes back to itself with a
// correct checksum.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(3), uint8(1), uint8(51), uint8(150), uint16(100), uint8(0), uint8(0), []byte{}, []byte{192, 0, 2, 100}, false)
	f.Add(uint8(2), uint8(1), uint8(53), uint8(120), uint16(0), uint8(1), uint8(1), []byte("s3cret"), []byte{192, 0, 2, 100, 192, 0, 2, 101}, false)
	f.Add(uint8(3), uint8(1), uint8(52), uint8(0), uint16(4095), uint8(0), uint8(0), []byte{}, bytes.Repeat([]byte{0x20, 0x01, 0x0d, 0xb8}, 8), true)
	f.Fuzz(func(t *testing.T, version, typ, vrid, prio uint8, centis uint16, secs, authType uint8, auth, addrBytes []byte, is6 bool) {
		p := vrrp.Packet{Version: int(version), Type: int(typ), VRID: vrid, Priority: prio}
		if p.Version == 3 {
			p.MaxAdvertCentis = centis
		} else {
			p.AdvertIntSeconds, p.AuthType = secs, authType
			copy(p.AuthData[:], auth)
		}
		alen := 4
		if is6 {
			alen = 16
		}
		for len(addrBytes) >= alen {
			a, _ := netip.AddrFromSlice(addrBytes[:alen])
			p.Addrs = append(p.Addrs, a)
			addrBytes = addrBytes[alen:]
		}
		src, dst := netip.MustParseAddr("192.0.2.1"), vrrp.GroupIPv4
		if is6 {
			src, dst = netip.MustParseAddr("fe80::1"), vrrp.GroupIPv6
		}
		b, err := p.AppendChecksummed(nil, src, dst)
		if err != nil {
			return
		}
		var q vrrp.Packet
		if err := q.UnmarshalFamily(b, is6 && len(p.Addrs) > 0); err != nil {
			t.Fatalf("%+v encodes to %x which does not decode: %v", p, b, err)
		}
		if !vrrp.VerifyChecksum(b, src, dst) {
			t.Fatalf("checksum of %x does not verify", b)
		}
		q.Checksum = 0
		if len(p.Addrs) == 0 {
			p.Addrs = q.Addrs // nil vs empty
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip\n got %+v\nwant %+v", q, p)
		}
	})
}
