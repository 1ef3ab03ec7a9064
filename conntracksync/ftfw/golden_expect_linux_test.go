//go:build golden

package ftfw

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// goldenExpectFile holds conntrackd's expectation messages: see
// TestCaptureGoldenExpect.
const goldenExpectFile = "testdata/conntrackd-1.4.7-expect.hex"

// TestCaptureGoldenExpect regenerates goldenExpectFile: two conntrackd
// 1.4.7 daemons with ExpectationSync On; in fw1 an FTP control connection
// from 192.0.2.10 to 203.0.113.2:21 (both on fw1's loopback, the kernel's
// ftp helper assigned by nftables) carries PORT 192,0,2,10,195,80, and the
// helper expects the data connection to port 50000 (after a USER command:
// the helper reads a command only where it saw the previous one end). Built only with
// the golden tag (go test -tags golden).
func TestCaptureGoldenExpect(t *testing.T) {
	needBinaries(t, "conntrackd", "conntrack", "tcpdump", "nft")
	testnet.NeedConntrackHelper(t, "ftp")
	p := newPair(t)
	p.fw1.Exec(t, "ip", "addr", "add", "192.0.2.10/32", "dev", "lo")
	p.fw1.Exec(t, "ip", "addr", "add", "203.0.113.2/32", "dev", "lo")
	cmd := p.fw1.Command(t.Context(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(`table inet ftp {
	ct helper ftp-std { type "ftp" protocol tcp; }
	chain out { type filter hook output priority filter; tcp dport 21 ct helper set "ftp-std"; }
}`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	capt := p.fw2.Capture(t, "eth0", "udp port 3780")
	cfg := func(local, peer string) testnet.ConntrackdConfig {
		return testnet.ConntrackdConfig{Local: local, Peer: peer, Interface: "eth0", SocketBuffer: 1249280,
			HashSize: 16384, HashLimit: 262144, ExpectationSync: "On"}
	}
	p.fw1.Conntrackd(t, cfg(fw1Addr, fw2Addr))
	c2 := &ctd{p.fw2.Conntrackd(t, cfg(fw2Addr, fw1Addr))}
	time.Sleep(2500 * time.Millisecond)

	var ln net.Listener
	var cl net.Conn
	if err := p.fw1.Do(func() (err error) {
		if ln, err = net.Listen("tcp4", "203.0.113.2:21"); err != nil {
			return err
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 40000}}
		cl, err = d.Dial("tcp4", "203.0.113.2:21")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer cl.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fmt.Fprintf(srv, "220 ok\r\n")
	r := bufio.NewReader(cl)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	// The helper reads a command only where it saw the previous one end.
	sr := bufio.NewReader(srv)
	fmt.Fprintf(cl, "USER anonymous\r\n")
	if _, err := sr.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(cl, "PORT 192,0,2,10,195,80\r\n") // 195*256+80 = 50000
	if _, err := sr.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	ext := c2.client(t, "-e", "expect")
	exps := p.fw1.Exec(t, "conntrack", "-L", "expect")
	frames := capt.Stop(t)

	ver, _ := exec.Command("conntrackd", "-v").CombinedOutput()
	var sb strings.Builder
	fmt.Fprintf(&sb, "# FTFW datagrams between two Debian conntrackd daemons with ExpectationSync On: %s\n", strings.SplitN(strings.TrimSpace(string(ver)), "\n", 2)[0])
	fmt.Fprintf(&sb, "# Captured %s on fw2's end of a veth pair by\n", time.Now().UTC().Format("2006-01-02"))
	sb.WriteString("# go test -tags golden -run TestCaptureGoldenExpect ./conntracksync/ftfw/ (golden_expect_linux_test.go).\n")
	sb.WriteString("# fw1 198.51.100.1 and fw2 198.51.100.2. In fw1, an FTP control connection 192.0.2.10:40000 -> 203.0.113.2:21\n")
	sb.WriteString("# (ftp helper by nftables) carries PORT 192,0,2,10,195,80. fw1's kernel then had (conntrack -L expect):\n")
	for _, l := range strings.Split(strings.TrimSpace(exps), "\n") {
		sb.WriteString("#   " + l + "\n")
	}
	sb.WriteString("# fw2's external expectation cache afterwards (conntrackd -e expect):\n")
	for _, l := range strings.Split(strings.TrimSpace(ext), "\n") {
		sb.WriteString("#   " + l + "\n")
	}
	sb.WriteString("# Format: a line \"== <ms since first> <src> -> <dst>\" starts a datagram (the UDP payload); hex follows.\n")
	n := writeFrames(&sb, frames)
	if !strings.Contains(ext, "dport=50000") {
		t.Fatalf("fw2's conntrackd did not get the expectation:\n%s\nfw1 expectations:\n%s\nfw1 table:\n%s", ext, exps, p.fw1.Exec(t, "conntrack", "-L"))
	}
	if err := os.WriteFile(goldenExpectFile, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d datagrams", n)
}
