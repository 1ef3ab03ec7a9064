package vrrp_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// skipOrFail skips the test loudly, or fails it when CI=true.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: not skipping)", args...)
	}
	t.Skipf("SKIPPING: "+format, args...)
}

// pair is two hosts "a" and "b" joined by a veth pair, both ends named
// eth0: a has 192.0.2.1/24 and 2001:db8::1/64, b has .2 and ::2. Link-local
// addresses come up without DAD (testnet turns it off).
type pair struct {
	lab      *testnet.Lab
	a, b     *testnet.Host
	aIf, bIf *testnet.Iface
}

func newPair(t testing.TB) *pair {
	t.Helper()
	lab := testnet.New(t)
	p := &pair{lab: lab, a: lab.Host("a"), b: lab.Host("b")}
	p.aIf, p.bIf = lab.Wire(p.a, "eth0", p.b, "eth0")
	p.aIf.AddAddr(t, "192.0.2.1/24")
	p.aIf.AddAddr(t, "2001:db8::1/64")
	p.bIf.AddAddr(t, "192.0.2.2/24")
	p.bIf.AddAddr(t, "2001:db8::2/64")
	for _, h := range []*testnet.Host{p.a, p.b} {
		waitLinkLocal(t, h, "eth0")
	}
	return p
}

// waitLinkLocal waits until ifname in h has a usable IPv6 link-local
// address: it appears when the carrier comes up and is briefly tentative
// even with DAD off, and sending from a tentative source fails (EINVAL).
func waitLinkLocal(t testing.TB, h *testnet.Host, ifname string) {
	t.Helper()
	testnet.Eventually(t, 10*time.Second, func() bool {
		out := h.Exec(t, "ip", "-6", "addr", "show", "dev", ifname, "scope", "link")
		return strings.Contains(out, "fe80:") && !strings.Contains(out, "tentative")
	}, "%s: no usable link-local address on %s", h.Name(), ifname)
}
