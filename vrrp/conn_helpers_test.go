package vrrp_test

import (
	"os"
	"testing"

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

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pair is two hosts "a" and "b" joined by a veth pair, both ends named
// eth0: a has 192.0.2.1/24 and 2001:db8::1/64, b has .2 and ::2. Link-local
// addresses come up without DAD (testnet turns it off).
type pair struct {
	lab      *testnet.Lab
	a, b     *testnet.Host
	aIf, bIf *testnet.Iface
}

func newPair(t *testing.T) *pair {
	t.Helper()
	lab := testnet.New(t)
	p := &pair{lab: lab, a: lab.Host("a"), b: lab.Host("b")}
	p.aIf, p.bIf = lab.Wire(p.a, "eth0", p.b, "eth0")
	p.aIf.AddAddr(t, "192.0.2.1/24")
	p.aIf.AddAddr(t, "2001:db8::1/64")
	p.bIf.AddAddr(t, "192.0.2.2/24")
	p.bIf.AddAddr(t, "2001:db8::2/64")
	return p
}
