package vip_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

// syncBuffer is a bytes.Buffer for a logger shared with other goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// TestLogsMACColonHex: the log lines that name a MAC address (gratuitous
// ARP, unsolicited NA, VMAC creation) write it as aa:bb:cc:dd:ee:ff. A
// net.HardwareAddr handed to slog as it is came out as its raw bytes
// (mac="\x02\x00^\x00\x00\n").
func TestLogsMACColonHex(t *testing.T) {
	l := testnet.New(t)
	sw := l.Switch("sw")
	h := l.Host("r")
	sw.Attach(h, "eth0").AddAddr(t, "192.0.2.1/24")
	h.Exec(t, "ip", "link", "add", "va0", "type", "veth", "peer", "name", "va1")
	h.Exec(t, "ip", "link", "set", "va0", "up")
	h.Exec(t, "ip", "link", "set", "va1", "up")
	h.Exec(t, "ip", "addr", "add", "2001:db8::10/128", "dev", "va0", "nodad")

	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ann := vip.NewAnnouncer(log)
	defer ann.Close()
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0, 0, 0x0a}
	vips := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	if err := h.Do(func() error { return ann.Announce("va0", vips, mac, false) }); err != nil {
		t.Fatalf("Announce: %v", err)
	}

	m, err := vip.NewManagerAt(log, h.NsHandle())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.EnsureVMAC(ctx(t), vip.VMAC{Name: "vrrp.51", Parent: "eth0", VRID: 51}); err != nil {
		t.Fatalf("EnsureVMAC: %v", err)
	}

	for _, c := range []struct{ msg, mac string }{
		{"vip: sent gratuitous ARP", "02:00:5e:00:00:0a"},
		{"vip: sent unsolicited NA", "02:00:5e:00:00:0a"},
		{"vip: created VMAC", "00:00:5e:00:01:33"},
	} {
		ls := buf.lines(c.msg)
		if len(ls) == 0 {
			t.Errorf("no %q line logged", c.msg)
		}
		for _, line := range ls {
			if !strings.Contains(line, " mac="+c.mac) {
				t.Errorf("%q line does not say mac=%s: %s", c.msg, c.mac, line)
			}
		}
	}
}
