package ftfw

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// needBinaries skips (or fails under CI=true) when a binary the test runs is missing.
func needBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			msg := fmt.Sprintf("ftfw: SKIPPING: %s is not installed (this test runs Debian's conntrack-tools 1.4.7 in namespaces)", n)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg + " (CI=true: not skipping)")
			}
			t.Skip(msg)
		}
	}
}

// pair is two namespaces joined by a veth: fw1 198.51.100.1 eth0 — eth0 198.51.100.2 fw2.
type pair struct {
	lab      *testnet.Lab
	fw1, fw2 *testnet.Host
	if1, if2 *testnet.Iface
}

const (
	fw1Addr = "198.51.100.1"
	fw2Addr = "198.51.100.2"
)

func newPair(t testing.TB) *pair {
	t.Helper()
	lab := testnet.New(t)
	p := &pair{lab: lab, fw1: lab.Host("fw1"), fw2: lab.Host("fw2")}
	p.if1, p.if2 = lab.Wire(p.fw1, "eth0", p.fw2, "eth0")
	p.if1.AddAddr(t, fw1Addr+"/24")
	p.if2.AddAddr(t, fw2Addr+"/24")
	return p
}

// ctd is one conntrackd 1.4.7 with its own config, lock file, socket and log under a
// temporary directory.
type ctd struct{ *testnet.Conntrackd }

// startConntrackd runs conntrackd for FTFW over UDP on eth0 in h and waits until its
// unix socket answers.
func startConntrackd(t testing.TB, h *testnet.Host, local, peer string) *ctd {
	t.Helper()
	return &ctd{h.Conntrackd(t, testnet.ConntrackdConfig{Local: local, Peer: peer, Interface: "eth0",
		SocketBuffer: 1249280, HashSize: 16384, HashLimit: 262144})}
}

// client runs a conntrackd client command (-e, -i, -n, -c, ...) against c.
func (c *ctd) client(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.Client(t.Context(), args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}
