package daemon

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// probeWitness is the arbitration's witness probe, run on a prober
// goroutine, never on the loop: on ifname (the instance's segment,
// whatever the routes say) an ARP request for an IPv4 witness, a neighbour
// solicitation for an IPv6 one; without an interface, an ICMP echo. It
// waits up to timeout for the answer.
func probeWitness(ctx context.Context, ifname string, addr netip.Addr, timeout time.Duration) error {
	switch {
	case ifname == "":
		return probeICMP(ctx, addr, timeout)
	case addr.Unmap().Is4():
		return probeARP(ctx, ifname, addr.Unmap(), timeout)
	default:
		return probeNS(ctx, ifname, addr, timeout)
	}
}

// probeDeadline sets a probe socket's deadline to timeout from now (or
// ctx's, if sooner) and makes the end of ctx end the probe at once; the
// caller defers the returned stop.
func probeDeadline(ctx context.Context, timeout time.Duration, set func(time.Time) error) (stop func() bool, err error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := set(deadline); err != nil {
		return nil, err
	}
	return context.AfterFunc(ctx, func() { _ = set(time.Now()) }), nil
}

// probeARP asks for addr's hardware address on ifname.
func probeARP(ctx context.Context, ifname string, addr netip.Addr, timeout time.Duration) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return err
	}
	defer c.Close()
	stop, err := probeDeadline(ctx, timeout, c.SetDeadline)
	if err != nil {
		return err
	}
	defer stop()
	_, err = c.Resolve(addr)
	return err
}

// probeNS sends a neighbour solicitation for addr on ifname, from the
// interface's link-local address to addr's solicited-node group, and waits
// for a solicited neighbour advertisement of addr: the witness holds the
// address on that segment. Without a link-local address yet (DAD still
// running) it fails: a solicitation from :: would be a DAD probe.
func probeNS(ctx context.Context, ifname string, addr netip.Addr, timeout time.Duration) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	target := addr.WithZone("")
	group, err := ndp.SolicitedNodeMulticast(target)
	if err != nil {
		return err
	}
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return err
	}
	defer c.Close()
	stop, err := probeDeadline(ctx, timeout, c.SetDeadline)
	if err != nil {
		return err
	}
	defer stop()
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeNeighborAdvertisement)
	if err := c.SetICMPFilter(&f); err != nil {
		return err
	}
	ns := &ndp.NeighborSolicitation{TargetAddress: target}
	if len(ifi.HardwareAddr) > 0 {
		ns.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr}}
	}
	if err := c.WriteTo(ns, nil, group); err != nil {
		return err
	}
	for {
		m, _, _, err := c.ReadFrom()
		if err != nil {
			return err
		}
		if na, ok := m.(*ndp.NeighborAdvertisement); ok && na.Solicited && na.TargetAddress == target {
			return nil
		}
	}
}

// probeICMP sends one ICMP echo request to addr and waits up to timeout
// for the matching reply.
func probeICMP(ctx context.Context, addr netip.Addr, timeout time.Duration) error {
	network, laddr := "ip4:icmp", "0.0.0.0"
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if addr.Is6() {
		network, laddr, typ, reply, proto = "ip6:ipv6-icmp", "::", ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	c, err := icmp.ListenPacket(network, laddr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop, err := probeDeadline(ctx, timeout, c.SetDeadline)
	if err != nil {
		return err
	}
	defer stop()
	var idb [4]byte
	_, _ = rand.Read(idb[:])
	id, seq := int(binary.BigEndian.Uint16(idb[:2])), int(binary.BigEndian.Uint16(idb[2:]))
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("vigil witness")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	dst := &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	if _, err := c.WriteTo(b, dst); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		ip, ok := from.(*net.IPAddr)
		if !ok {
			continue
		}
		if src, ok := netip.AddrFromSlice(ip.IP); !ok || src.Unmap() != addr.Unmap() {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return nil
		}
	}
}
