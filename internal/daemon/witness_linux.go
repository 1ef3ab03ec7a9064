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

// probeConn is a probe's socket.
type probeConn interface {
	Close() error
	SetDeadline(time.Time) error
}

// withProbeConn opens a probe's socket, sets its deadline to timeout from
// now (or ctx's, if sooner), makes the end of ctx end the probe at once,
// runs probe on it and closes it.
func withProbeConn[C probeConn](ctx context.Context, timeout time.Duration, open func() (C, error), probe func(C) error) error {
	c, err := open()
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	return probe(c)
}

// probeARP asks for addr's hardware address on ifname.
func probeARP(ctx context.Context, ifname string, addr netip.Addr, timeout time.Duration) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	return withProbeConn(ctx, timeout, func() (*arp.Client, error) { return arp.Dial(ifi) }, func(c *arp.Client) error {
		_, err := c.Resolve(addr)
		return err
	})
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
	open := func() (*ndp.Conn, error) {
		c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
		return c, err
	}
	return withProbeConn(ctx, timeout, open, func(c *ndp.Conn) error { return solicit(c, ifi, target, group) })
}

// solicit sends the solicitation for target to group on c and reads until
// the solicited advertisement of target or c's deadline.
func solicit(c *ndp.Conn, ifi *net.Interface, target, group netip.Addr) error {
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
	open := func() (*icmp.PacketConn, error) { return icmp.ListenPacket(network, laddr) }
	return withProbeConn(ctx, timeout, open, func(c *icmp.PacketConn) error { return echo(c, addr, typ, reply, proto) })
}

// echo sends one echo request of type typ to addr on c and reads until the
// matching reply or c's deadline.
func echo(c *icmp.PacketConn, addr netip.Addr, typ, reply icmp.Type, proto int) error {
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
