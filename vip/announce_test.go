package vip

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

func TestGARPFrame(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	ip := netip.MustParseAddr("192.0.2.10")
	b, err := GARPFrame(ip, mac)
	if err != nil {
		t.Fatal(err)
	}
	// Expected bytes, field by field (RFC 826 / RFC 5227 §3, keepalived's form).
	want := "" +
		"ffffffffffff" + // Ethernet destination: broadcast
		"02005e102030" + // Ethernet source: the owner's MAC
		"0806" + // EtherType ARP
		"0001" + // hardware type Ethernet
		"0800" + // protocol type IPv4
		"06" + "04" + // hardware and protocol address lengths
		"0001" + // operation: request
		"02005e102030" + // sender hardware address
		"c000020a" + // sender protocol address 192.0.2.10
		"ffffffffffff" + // target hardware address: all ones, as keepalived
		"c000020a" // target protocol address 192.0.2.10
	if got := hex.EncodeToString(b[:len(want)/2]); got != want {
		t.Errorf("GARP frame\n got %s\nwant %s", got, want)
	}
	if len(b) < 60 {
		t.Errorf("frame is %d bytes, want at least the Ethernet minimum 60", len(b))
	}
	for _, v := range b[len(want)/2:] {
		if v != 0 {
			t.Fatalf("padding not zero: % x", b)
		}
	}
	// And it parses back with mdlayher/arp.
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	if p.Operation != arp.OperationRequest || p.SenderIP != ip || p.TargetIP != ip ||
		!bytes.Equal(p.SenderHardwareAddr, mac) || !bytes.Equal(p.TargetHardwareAddr, ethernet.Broadcast) {
		t.Errorf("parsed GARP = %+v", p)
	}
}

func TestGARPFrameRejectsIPv6(t *testing.T) {
	if _, err := GARPFrame(netip.MustParseAddr("2001:db8::1"), net.HardwareAddr{2, 0, 0, 0, 0, 1}); err == nil {
		t.Fatal("GARPFrame accepted an IPv6 address")
	}
}

func TestUnsolicitedNA(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	ip := netip.MustParseAddr("2001:db8::10")
	for _, router := range []bool{false, true} {
		b, err := ndp.MarshalMessage(UnsolicitedNA(ip, mac, router))
		if err != nil {
			t.Fatal(err)
		}
		flags := "20" // O
		if router {
			flags = "a0" // R, O
		}
		want := "" +
			"88" + "00" + "0000" + // type 136, code 0, checksum (filled by the kernel)
			flags + "000000" + // R S O + reserved; S is 0 (unsolicited)
			"20010db8000000000000000000000010" + // target address
			"02" + "01" + "02005e102030" // option 2 (target link-layer address), length 1 (8 bytes), MAC
		if got := hex.EncodeToString(b); got != want {
			t.Errorf("router=%v NA\n got %s\nwant %s", router, got, want)
		}
	}
}

func BenchmarkGARPFrame(b *testing.B) {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	ip := netip.MustParseAddr("192.0.2.10")
	for b.Loop() {
		if _, err := GARPFrame(ip, mac); err != nil {
			b.Fatal(err)
		}
	}
}
