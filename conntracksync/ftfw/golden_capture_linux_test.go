//go:build golden

package ftfw

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// goldenFlows are created with `conntrack -I` in fw1 (then one update and one delete)
// while conntrackd replicates them to fw2. golden_test.go checks every decoded field
// against the same list.
var goldenCommands = [][]string{
	{"-I", "-p", "tcp", "-s", "192.0.2.10", "-d", "203.0.113.2", "--sport", "10000", "--dport", "80", "--state", "ESTABLISHED", "-t", "120", "-u", "SEEN_REPLY,ASSURED"},
	{"-I", "-p", "udp", "-s", "192.0.2.11", "-d", "203.0.113.3", "--sport", "5353", "--dport", "53", "-t", "30", "-m", "7"},
	{"-I", "-p", "icmp", "-s", "192.0.2.10", "-d", "203.0.113.2", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "4660", "-t", "30"},
	{"-I", "-p", "tcp", "-s", "2001:db8::10", "-d", "2001:db8:1::2", "--sport", "40000", "--dport", "443", "--state", "ESTABLISHED", "-t", "300", "-u", "SEEN_REPLY,ASSURED"},
	{"-I", "-p", "tcp", "-s", "192.0.2.20", "-d", "203.0.113.2", "--sport", "20000", "--dport", "80", "--state", "ESTABLISHED", "-t", "120", "-u", "SEEN_REPLY,ASSURED", "--src-nat", "198.51.100.77:30000"},
	{"-I", "-p", "tcp", "-s", "192.0.2.21", "-d", "203.0.113.2", "--sport", "20001", "--dport", "8080", "--state", "ESTABLISHED", "-t", "120", "-u", "SEEN_REPLY,ASSURED", "--dst-nat", "192.0.2.99:80"},
	{"-I", "-p", "udp", "-s", "192.0.2.22", "-d", "203.0.113.4", "--sport", "1234", "--dport", "4321", "-t", "60", "-w", "5"},
	{"-I", "-p", "icmpv6", "-s", "2001:db8::10", "-d", "2001:db8:1::2", "--icmpv6-type", "128", "--icmpv6-code", "0", "--icmpv6-id", "4660", "-t", "30"},
	{"-I", "-p", "sctp", "-s", "192.0.2.23", "-d", "203.0.113.5", "--sport", "3868", "--dport", "3868", "--state", "ESTABLISHED", "-t", "200", "--orig-vtag", "305419896", "--reply-vtag", "2271560481"},
	{"sleep"},
	{"-U", "-p", "udp", "-s", "192.0.2.11", "-d", "203.0.113.3", "--sport", "5353", "--dport", "53", "-m", "9"},
	{"-D", "-p", "udp", "-s", "192.0.2.22", "-d", "203.0.113.4", "--sport", "1234", "--dport", "4321", "-w", "5"},
}

// TestCaptureGolden regenerates testdata/conntrackd-1.4.7.hex from two Debian
// conntrackd 1.4.7 daemons syncing over FTFW/UDP in namespaces. It is built only
// with the golden tag (go test -tags golden); the stored file is what the codec tests read.
func TestCaptureGolden(t *testing.T) {
	needBinaries(t, "conntrackd", "conntrack", "tcpdump")
	p := newPair(t)
	capt := p.fw2.Capture(t, "eth0", "udp port 3780")
	start := time.Now()
	c1 := startConntrackd(t, p.fw1, fw1Addr, fw2Addr)
	c2 := startConntrackd(t, p.fw2, fw2Addr, fw1Addr)
	time.Sleep(2500 * time.Millisecond) // HELLO / HELLO_BACK and a few ALIVEs
	for _, args := range goldenCommands {
		if args[0] == "sleep" {
			time.Sleep(1500 * time.Millisecond)
			continue
		}
		p.fw1.Exec(t, "conntrack", args...)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	ext := c2.client(t, "-e")
	c2.client(t, "-n") // fw2 asks fw1 for a bulk resync
	time.Sleep(1500 * time.Millisecond)
	// Restart fw2: its new HELLO and seq.
	if err := c2.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	c2.Proc.Wait(10 * time.Second)
	startConntrackd(t, p.fw2, fw2Addr, fw1Addr)
	time.Sleep(2500 * time.Millisecond)
	frames := capt.Stop(t)
	_ = c1

	ver, _ := exec.Command("conntrackd", "-v").CombinedOutput()
	var sb strings.Builder
	fmt.Fprintf(&sb, "# FTFW datagrams between two Debian conntrackd daemons: %s", strings.SplitN(strings.TrimSpace(string(ver)), "\n", 2)[0])
	fmt.Fprintf(&sb, "\n# Captured %s with tcpdump on fw2's end of a veth pair in network namespaces by\n", start.UTC().Format("2006-01-02"))
	sb.WriteString("# go test -tags golden -run TestCaptureGolden ./conntracksync/ftfw/ (golden_capture_linux_test.go).\n")
	sb.WriteString("# fw1 198.51.100.1 and fw2 198.51.100.2, FTFW over UDP port 3780, Checksum on, ACKWindowSize 300.\n")
	sb.WriteString("# Sequence: both daemons start (HELLO), then in fw1:\n")
	for _, args := range goldenCommands {
		if args[0] == "sleep" {
			sb.WriteString("#   (1.5 s pause)\n")
			continue
		}
		fmt.Fprintf(&sb, "#   conntrack %s\n", strings.Join(args, " "))
	}
	sb.WriteString("# then `conntrackd -n` on fw2 (RESYNC and fw1's bulk), then fw2 is restarted.\n")
	sb.WriteString("# fw2's external cache afterwards (conntrackd -e):\n")
	for _, l := range strings.Split(strings.TrimSpace(ext), "\n") {
		sb.WriteString("#   " + l + "\n")
	}
	sb.WriteString("# Format: a line \"== <ms since first> <src> -> <dst>\" starts a datagram (the UDP payload); hex follows.\n")
	n := writeFrames(&sb, frames)
	if n < 20 {
		t.Fatalf("captured only %d datagrams", n)
	}
	if err := os.WriteFile("testdata/conntrackd-1.4.7.hex", []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d datagrams", n)
}

// writeFrames appends the UDP payloads of frames (IPv4 over Ethernet) to sb
// as the golden files hold them: a "== <ms> <src> -> <dst>" line, then the
// payload's messages in hex, 16 bytes a line. It returns how many it wrote.
func writeFrames(sb *strings.Builder, frames []testnet.Packet) int {
	var t0 time.Time
	n := 0
	for _, f := range frames {
		d := f.Data
		if len(d) < 14+20+8 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
			continue
		}
		ip := d[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != 17 || len(ip) < ihl+8 {
			continue
		}
		udp := ip[ihl:]
		payload := udp[8:binary.BigEndian.Uint16(udp[4:])]
		if t0.IsZero() {
			t0 = f.Time
		}
		fmt.Fprintf(sb, "== %d %d.%d.%d.%d:%d -> %d.%d.%d.%d:%d\n", f.Time.Sub(t0).Milliseconds(),
			ip[12], ip[13], ip[14], ip[15], binary.BigEndian.Uint16(udp), ip[16], ip[17], ip[18], ip[19], binary.BigEndian.Uint16(udp[2:]))
		Walk(payload, func(m []byte) bool {
			for i := 0; i < len(m); i += 16 {
				sb.WriteString(hex.EncodeToString(m[i:min(i+16, len(m))]) + "\n")
			}
			return true
		})
		n++
	}
	return n
}
