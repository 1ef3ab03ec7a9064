package ipvslab

import (
	"fmt"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// Addresses of the lab.
const (
	// VIP is the virtual services' address.
	VIP = "203.0.113.100"
	// Gateway is the real servers' default route, the directors' back
	// address (VRRP-held with two directors).
	Gateway = "198.51.100.1"
	// ClientAddr is the client's address on the front switch.
	ClientAddr = "203.0.113.10"
)

// IPv6 addresses of the lab (Options.IPv6), laid out as the IPv4 ones:
// the VIP in the front prefix, the gateway in the back prefix.
const (
	VIP6        = "2001:db8:1::100"
	Gateway6    = "2001:db8:2::1"
	ClientAddr6 = "2001:db8:1::10"
)

// DirectorFront6 returns director i's own front IPv6 address.
func DirectorFront6(i int) string { return fmt.Sprintf("2001:db8:1::%d", 2+i) }

// DirectorBack6 returns director i's own back IPv6 address.
func DirectorBack6(i int) string { return fmt.Sprintf("2001:db8:2::%d", 2+i) }

// RealAddr6 returns real server j's IPv6 address.
func RealAddr6(j int) string { return fmt.Sprintf("2001:db8:2::%d", 11+j) }

// DirectorFront returns director i's own front address (i from 0).
func DirectorFront(i int) string { return fmt.Sprintf("203.0.113.%d", 2+i) }

// DirectorBack returns director i's own back address (i from 0).
func DirectorBack(i int) string { return fmt.Sprintf("198.51.100.%d", 2+i) }

// RealAddr returns real server j's address (j from 0).
func RealAddr(j int) string { return fmt.Sprintf("198.51.100.%d", 11+j) }

// Lab is the client, the directors and the real servers of one test.
type Lab struct {
	*testnet.Lab
	Client    *testnet.Host
	Directors []*testnet.Host // interfaces "front" and "back"
	Reals     []*Real
}

// Options shape a Lab.
type Options struct {
	// Directors is 1 or 2. With 1 the director holds VIP and Gateway
	// itself; with 2 the daemons' VRRP must add them.
	Directors int
	// Reals is the number of real servers.
	Reals int
	// IPv6 adds the IPv6 addresses beside the IPv4 ones: directors
	// forward IPv6 too, real servers route through Gateway6, and a single
	// director holds VIP6 and Gateway6.
	IPv6 bool
}

// New builds the lab. Directors forward (ip_forward=1); real servers hold
// the VIP on lo with arp_ignore=1 / arp_announce=2 and tunl0 up, and route
// through Gateway.
func New(t testing.TB, o Options) *Lab {
	t.Helper()
	if o.Directors < 1 || o.Directors > 2 {
		t.Fatalf("ipvslab: %d directors, want 1 or 2", o.Directors)
	}
	l := &Lab{Lab: testnet.New(t)}
	front, back := l.Switch("front"), l.Switch("back")

	l.Client = l.Host("client")
	ce := front.Attach(l.Client, "eth0")
	ce.AddAddr(t, ClientAddr+"/24")
	if o.IPv6 {
		ce.AddAddr(t, ClientAddr6+"/64")
	}

	for i := range o.Directors {
		d := l.Host(fmt.Sprintf("dir%d", i))
		f := front.Attach(d, "front")
		f.AddAddr(t, DirectorFront(i)+"/24")
		b := back.Attach(d, "back")
		b.AddAddr(t, DirectorBack(i)+"/24")
		d.Sysctl(t, "net.ipv4.ip_forward", "1")
		if o.Directors == 1 {
			f.AddAddr(t, VIP+"/32")
			b.AddAddr(t, Gateway+"/24")
		}
		if o.IPv6 {
			f.AddAddr(t, DirectorFront6(i)+"/64")
			b.AddAddr(t, DirectorBack6(i)+"/64")
			d.Sysctl(t, "net.ipv6.conf.all.forwarding", "1")
			if o.Directors == 1 {
				f.AddAddr(t, VIP6+"/128")
				b.AddAddr(t, Gateway6+"/64")
			}
		}
		l.Directors = append(l.Directors, d)
	}

	for j := range o.Reals {
		name := fmt.Sprintf("rs%d", j+1)
		h := l.Host(name)
		re := back.Attach(h, "eth0")
		re.AddAddr(t, RealAddr(j)+"/24")
		h.Exec(t, "ip", "route", "add", "default", "via", Gateway)
		if o.IPv6 {
			re.AddAddr(t, RealAddr6(j)+"/64")
			h.Exec(t, "ip", "-6", "route", "add", "default", "via", Gateway6)
		}
		h.Sysctl(t, "net.ipv4.conf.all.arp_ignore", "1")
		h.Sysctl(t, "net.ipv4.conf.all.arp_announce", "2")
		h.Exec(t, "ip", "addr", "add", VIP+"/32", "dev", "lo")
		// tunl0 exists in every namespace once ipip is loaded (the VM
		// loads it at boot); TUN services need it up to decapsulate.
		h.Exec(t, "ip", "link", "set", "tunl0", "up")
		h.Sysctl(t, "net.ipv4.conf.tunl0.rp_filter", "0")
		h.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0")
		l.Reals = append(l.Reals, &Real{Host: h, Name: name, Addr: RealAddr(j)})
	}
	return l
}
