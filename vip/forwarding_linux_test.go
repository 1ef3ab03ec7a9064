package vip_test

import (
	"testing"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

// TestIPv6Forwarding: the R flag of our NAs follows the interface's
// forwarding sysctl, read inside the namespace.
func TestIPv6Forwarding(t *testing.T) {
	lab := testnet.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	lab.Wire(a, "eth0", b, "eth0")
	for _, want := range []bool{false, true, false} {
		v := "0"
		if want {
			v = "1"
		}
		a.Sysctl(t, "net.ipv6.conf.eth0.forwarding", v)
		var got bool
		if err := a.Do(func() error { got = vip.IPv6Forwarding("eth0"); return nil }); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("forwarding=%s: IPv6Forwarding = %v", v, got)
		}
	}
}
