package vrrp_test

import (
	"net/netip"
	"testing"

	"github.com/vigil-ha/vigil/vrrp"
)

// TestConnUnicastTTL: adverts to a unicast peer leave with
// ConnOptions.UnicastTTL (keepalived's unicast_ttl) as the IPv4 TTL /
// IPv6 hop limit, read by the peer's raw socket from the IPv4 header and
// the IPV6_HOPLIMIT control message; multicast adverts of a Conn with a
// unicast TTL still leave with 255, and a TTL outside 1..255 is refused.
func TestConnUnicastTTL(t *testing.T) {
	for _, fam := range []struct {
		name     string
		is6      bool
		peer     netip.Addr
		listenFn func(string, vrrp.ConnOptions) (vrrp.Conn, error)
	}{
		{"ipv4", false, netip.MustParseAddr("192.0.2.2"), vrrp.ListenIPv4},
		{"ipv6", true, netip.MustParseAddr("2001:db8::2"), vrrp.ListenIPv6},
	} {
		t.Run(fam.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t)
			group := vrrp.GroupIPv4
			if fam.is6 {
				group = vrrp.GroupIPv6
			}
			b := listenIn(t, p.b, fam.is6, vrrp.ConnOptions{})
			for _, ttl := range []int{7, 1, 255} {
				a := listenIn(t, p.a, fam.is6, vrrp.ConnOptions{NoJoin: true, UnicastTTL: ttl})
				if err := a.WriteTo(advert(9, 100), fam.peer); err != nil {
					t.Fatal(err)
				}
				_, m := readOne(t, b)
				if m.TTL != ttl || m.Dst != fam.peer {
					t.Errorf("unicast TTL %d: received %+v", ttl, m)
				}
				a.Close()
			}
			a := listenIn(t, p.a, fam.is6, vrrp.ConnOptions{UnicastTTL: 7})
			if err := a.WriteTo(advert(9, 100), group); err != nil {
				t.Fatal(err)
			}
			if _, m := readOne(t, b); m.TTL != vrrp.TTL || m.Dst != group {
				t.Errorf("multicast from a Conn with unicast TTL 7: received %+v, want TTL %d", m, vrrp.TTL)
			}
			if err := a.WriteTo(advert(9, 100), fam.peer); err != nil {
				t.Fatal(err)
			}
			if _, m := readOne(t, b); m.TTL != 7 {
				t.Errorf("unicast from the multicast Conn: received %+v, want TTL 7", m)
			}
			err := p.a.Do(func() error {
				for _, ttl := range []int{-1, 256} {
					if c, err := fam.listenFn("eth0", vrrp.ConnOptions{UnicastTTL: ttl}); err == nil {
						c.Close()
						t.Errorf("listen with unicast TTL %d succeeded", ttl)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
