package vip

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestMatchAddr(t *testing.T) {
	kaddr := func(cidr string) netlink.Addr {
		ip, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return netlink.Addr{IPNet: n}
	}
	kpeer := func(local, peer string) netlink.Addr {
		ip := net.ParseIP(local)
		_, pn, err := net.ParseCIDR(peer)
		if err != nil {
			t.Fatal(err)
		}
		pn.IP = net.ParseIP(peer[:len(peer)-3])
		return netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}, Peer: pn}
	}
	want := func(cidr string) Address { return Address{Prefix: netip.MustParsePrefix(cidr), Dev: "eth0"} }
	withPeer := func(a Address, peer string) Address { a.Peer = netip.MustParsePrefix(peer); return a }
	tests := []struct {
		name string
		k    netlink.Addr
		a    Address
		want Relation
	}{
		{"v4 same", kaddr("192.0.2.10/32"), want("192.0.2.10/32"), Same},
		{"v4 same /24", kaddr("192.0.2.10/24"), want("192.0.2.10/24"), Same},
		{"v4 other prefix length is another address", kaddr("192.0.2.10/24"), want("192.0.2.10/32"), Distinct},
		{"v4 other address", kaddr("192.0.2.11/32"), want("192.0.2.10/32"), Distinct},
		{"v4 peer same", kpeer("192.0.2.1", "192.0.2.2/32"), withPeer(want("192.0.2.1/32"), "192.0.2.2/32"), Same},
		{"v4 other peer conflicts", kpeer("192.0.2.1", "192.0.2.3/32"), withPeer(want("192.0.2.1/32"), "192.0.2.2/32"), Conflict},
		{"v4 peer vs none conflicts", kpeer("192.0.2.1", "192.0.2.2/32"), want("192.0.2.1/32"), Conflict},
		{"v6 same", kaddr("2001:db8::10/128"), want("2001:db8::10/128"), Same},
		{"v6 other prefix length conflicts", kaddr("2001:db8::10/64"), want("2001:db8::10/128"), Conflict},
		{"v6 other address", kaddr("2001:db8::11/128"), want("2001:db8::10/128"), Distinct},
		{"v4 vs v6", kaddr("2001:db8::10/128"), want("192.0.2.10/32"), Distinct},
		{"nil IPNet", netlink.Addr{}, want("192.0.2.10/32"), Distinct},
	}
	for _, tt := range tests {
		if got := matchAddr(tt.k, tt.a); got != tt.want {
			t.Errorf("%s: matchAddr = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDropAllIsRetZero(t *testing.T) {
	// BPF_RET|BPF_K with K=0: accept 0 bytes of every packet.
	if len(dropAll) != 1 || dropAll[0].Op != 0x06 || dropAll[0].K != 0 {
		t.Fatalf("dropAll = %+v", dropAll)
	}
}
