package testnet_test

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// twoHosts builds a and b on one switch with 192.0.2.1-2/24 and
// 2001:db8::1-2/64.
func twoHosts(t *testing.T) (*testnet.Lab, *testnet.Switch, *testnet.Iface, *testnet.Iface) {
	t.Helper()
	lab := testnet.New(t)
	sw := lab.Switch("sw")
	a, b := lab.Host("a"), lab.Host("b")
	ea, eb := sw.Attach(a, "eth0"), sw.Attach(b, "eth0")
	ea.AddAddr(t, "192.0.2.1/24")
	eb.AddAddr(t, "192.0.2.2/24")
	ea.AddAddr(t, "2001:db8::1/64")
	eb.AddAddr(t, "2001:db8::2/64")
	return lab, sw, ea, eb
}

func TestPingOverSwitch(t *testing.T) {
	_, _, ea, eb := twoHosts(t)
	a, b := ea.Host(), eb.Host()
	for _, c := range []struct {
		h  *testnet.Host
		to string
	}{{a, "192.0.2.2"}, {b, "192.0.2.1"}, {a, "2001:db8::2"}, {b, "2001:db8::1"}} {
		c.h.Exec(t, "ping", "-c", "1", "-W", "5", c.to)
	}
	_ = time.Second
}
