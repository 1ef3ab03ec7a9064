//go:build golden

package vrrp_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// goldenCases are the keepalived configurations whose adverts are stored
// under testdata/. keepalived runs in host b (192.0.2.2, 2001:db8::2) and
// the capture is taken on a's end of the wire.
var goldenCases = []struct {
	name  string
	conf  kaConf
	prio0 bool // also store the priority-0 advert sent on SIGTERM
}{
	{"v3-ipv4", kaConf{Version: 3, State: "MASTER", VRID: 51, Priority: 150, AdvertInt: "1",
		VIPs: []string{"192.0.2.100/24"}}, true},
	{"v3-ipv4-multi", kaConf{Version: 3, State: "MASTER", VRID: 7, Priority: 200, AdvertInt: "0.5",
		VIPs: []string{"192.0.2.100/24", "192.0.2.101/24", "192.0.2.102/24", "198.51.100.1/24"}}, false},
	{"v3-ipv6", kaConf{Version: 3, State: "MASTER", VRID: 52, Priority: 150, AdvertInt: "1",
		VIPs: []string{"2001:db8::100/64", "2001:db8::101/64"}}, true},
	{"v2-pass", kaConf{Version: 2, State: "MASTER", VRID: 53, Priority: 120, AdvertInt: "1",
		AuthPass: "s3cret", VIPs: []string{"192.0.2.100/24"}}, false},
	{"v2-noauth", kaConf{Version: 2, State: "MASTER", VRID: 54, Priority: 100, AdvertInt: "2",
		VIPs: []string{"192.0.2.100/24", "192.0.2.101/24"}}, false},
	{"v3-ipv4-unicast", kaConf{Version: 3, State: "MASTER", VRID: 55, Priority: 150, AdvertInt: "1",
		UnicastSrc: "192.0.2.2", Peers: []string{"192.0.2.1"}, VIPs: []string{"192.0.2.100/24"}}, false},
	{"v2-ah", kaConf{Version: 2, State: "BACKUP", VRID: 57, Priority: 120, AdvertInt: "1",
		AuthPass: "ah-key", AuthType: "AH", VIPs: []string{"192.0.2.100/24"}}, false},
	{"v2-ah-unicast", kaConf{Version: 2, State: "BACKUP", VRID: 58, Priority: 120, AdvertInt: "1",
		AuthPass: "ah-key12", AuthType: "AH", UnicastSrc: "192.0.2.2", Peers: []string{"192.0.2.1"},
		VIPs: []string{"192.0.2.100/24", "192.0.2.101/24"}}, false},
	{"v3-ipv6-unicast", kaConf{Version: 3, State: "MASTER", VRID: 56, Priority: 150, AdvertInt: "1",
		UnicastSrc: "2001:db8::2", Peers: []string{"2001:db8::1"}, VIPs: []string{"2001:db8::100/64"}}, false},
}

// TestCaptureGolden regenerates testdata/*.hex from Debian's keepalived.
// It is built only with the golden tag (go test -tags golden), so that
// the suite never skips it: the stored files are the
// provenance-carrying fixtures the codec tests read.
func TestCaptureGolden(t *testing.T) {
	needKeepalived(t)
	out, err := exec.Command("keepalived", "--version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t)
			capt := p.a.Capture(t, "eth0", "ip proto 112 or ip proto 51 or ip6 proto 112")
			ka := startKeepalived(t, p.b, gc.conf.text())
			ka.WaitOutput(t, "Entering MASTER STATE", 30*time.Second)
			time.Sleep(2500 * time.Millisecond)
			if err := ka.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if _, err := ka.Wait(20 * time.Second); err != nil {
				t.Fatal(err)
			}
			frames := capt.Stop(t)
			var pkts [][]byte
			for _, f := range frames {
				if len(f.Data) > 14 {
					et := binary.BigEndian.Uint16(f.Data[12:14])
					if et == 0x0800 || et == 0x86dd {
						pkts = append(pkts, f.Data[14:])
					}
				}
			}
			if len(pkts) < 2 {
				t.Fatalf("captured %d adverts, want at least 2", len(pkts))
			}
			write := func(suffix string, pkt []byte, what string) {
				var b strings.Builder
				fmt.Fprintf(&b, "# %s from Debian's keepalived: %s\n", what, version)
				fmt.Fprintf(&b, "# Captured %s with tcpdump on the peer's end of a veth pair in network\n", time.Now().UTC().Format("2006-01-02"))
				fmt.Fprintf(&b, "# namespaces by go test -tags golden -run 'TestCaptureGolden/%s' ./vrrp/\n", gc.name)
				fmt.Fprintf(&b, "# (packet_capture_linux_test.go). The whole IP packet (Ethernet header removed).\n")
				fmt.Fprintf(&b, "# keepalived runs on 192.0.2.2/24, 2001:db8::2/64 (+ link-local); peer .1/::1.\n")
				fmt.Fprintf(&b, "# keepalived.conf:\n")
				for _, l := range strings.Split(strings.TrimRight(gc.conf.text(), "\n"), "\n") {
					fmt.Fprintf(&b, "#   %s\n", l)
				}
				h := hex.EncodeToString(pkt)
				for len(h) > 0 {
					n := min(len(h), 32)
					fmt.Fprintf(&b, "%s\n", h[:n])
					h = h[n:]
				}
				path := filepath.Join("testdata", gc.name+suffix+".hex")
				writeFile(t, path, b.String())
				t.Logf("wrote %s (%d bytes)", path, len(pkt))
			}
			write("", pkts[0], "First VRRP advertisement")
			if gc.prio0 {
				write("-prio0", pkts[len(pkts)-1], "Last VRRP advertisement, sent on SIGTERM (priority 0)")
			}
		})
	}
}

// writeFile writes a recaptured golden file.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
