package vip

import (
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// allNodes is the destination of unsolicited neighbour advertisements
// (RFC 4861 §7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// GARPFrame returns the gratuitous ARP keepalived sends for ip: an Ethernet
// broadcast from mac carrying an ARP request whose sender and target
// protocol addresses are both ip, sender hardware address mac and target
// hardware address ff:ff:ff:ff:ff:ff.
func GARPFrame(ip netip.Addr, mac net.HardwareAddr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      mac,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     pb,
	}
	return f.MarshalBinary()
}

// UnsolicitedNA returns the neighbour advertisement announcing that mac now
// owns ip: Solicited=0, Override=1, Router=router, one Target Link-Layer
// Address option (RFC 4861 §4.4, §7.2.6).
func UnsolicitedNA(ip netip.Addr, mac net.HardwareAddr, router bool) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{
		Router:        router,
		Solicited:     false,
		Override:      true,
		TargetAddress: ip,
		Options: []ndp.Option{
			&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac},
		},
	}
}
