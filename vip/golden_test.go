package vip

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/mdlayher/ndp"
)

// readGolden reads testdata's "name:" + hex blocks.
func readGolden(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	var name string
	var buf strings.Builder
	flush := func() {
		if name == "" {
			return
		}
		b, err := hex.DecodeString(buf.String())
		if err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		out[name] = b
		name = ""
		buf.Reset()
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			flush()
		case strings.HasSuffix(line, ":"):
			flush()
			name = strings.TrimSuffix(line, ":")
		default:
			buf.WriteString(line)
		}
	}
	flush()
	return out
}

// TestGoldenKeepalived compares our announcements with the ones Debian's
// keepalived 2.2.7 sent for the same addresses and MAC (testdata provenance
// in the file).
func TestGoldenKeepalived(t *testing.T) {
	g := readGolden(t, "testdata/keepalived-2.2.7-announce.txt")
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	vip4, vip6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")

	// GARP: the same 42 bytes; ours is padded to the Ethernet minimum
	// with zeros (a NIC would pad keepalived's too).
	ours, err := GARPFrame(vip4, mac)
	if err != nil {
		t.Fatal(err)
	}
	theirs := g["garp"]
	if len(theirs) != 42 || !bytes.Equal(ours[:42], theirs) {
		t.Errorf("GARP differs from keepalived's:\n ours   %x\n theirs %x", ours[:min(42, len(ours))], theirs)
	}
	if !bytes.Equal(ours[42:], make([]byte, len(ours)-42)) {
		t.Errorf("GARP padding not zero: %x", ours[42:])
	}

	// NA: keepalived's IPv6 header carries what our socket asks the kernel
	// for (source = the VIP, ff02::1, hop limit 255), and its ICMPv6 body,
	// checksum included, is what mdlayher/ndp makes of UnsolicitedNA.
	na := g["na"]
	if len(na) < 54 {
		t.Fatalf("golden NA too short: %d", len(na))
	}
	ip6 := na[14:54]
	src, _ := netip.AddrFromSlice(ip6[8:24])
	dst, _ := netip.AddrFromSlice(ip6[24:40])
	if ip6[7] != ndp.HopLimit || src != vip6 || dst != allNodes || !bytes.Equal(na[0:6], []byte{0x33, 0x33, 0, 0, 0, 1}) {
		t.Errorf("golden NA header: hop %d %v -> %v eth %x", ip6[7], src, dst, na[0:6])
	}
	body, err := ndp.MarshalMessageChecksum(UnsolicitedNA(vip6, mac, false), src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, na[54:]) {
		t.Errorf("NA body differs from keepalived's:\n ours   %x\n theirs %x", body, na[54:])
	}
}
