package conntracksync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/vigil-ha/vigil/internal/nsenter"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// udpLink is one sync path's UDP socket. Unicast: bound to
// LocalAddr:Port (and to Interface with SO_BINDTODEVICE), it receives the
// peer's datagrams and sends ours to PeerAddr:Port. conntrackd sends from
// a second, unbound socket; a peer does not look at our source port.
//
// Multicast (Group set): bound to Group:Port on Interface, it joins the
// group there, sends to Group:Port from LocalAddr's interface with
// loopback off, and drops datagrams whose source is LocalAddr (our own,
// looped by another socket of ours). The peer is PeerAddr when set, else
// the first other source heard (pinned for the life of the link).
type udpLink struct {
	c     *net.UDPConn
	local netip.Addr
	mcast bool
	// from is the accepted source; invalid until pinned (multicast
	// without PeerAddr). Written and read by the reader only; pinned
	// is its copy for Peer.
	from   netip.Addr
	pinned atomic.Pointer[netip.Addr]
	// oob, on a multicast path with LocalAddr, makes every datagram go
	// out from LocalAddr (IP_PKTINFO, IPV6_PKTINFO): the kernel would pick
	// the interface's first address, link-local for an IPv6 group.
	oob []byte
	// mm is sendmmsg/recvmmsg on c; Send sends to the peer, or the
	// group, with oob.
	mm   *mmsgSock
	srcs []netip.Addr // Receive's, reused
	room int          // the receive buffer the kernel granted (SO_RCVBUF read back)
}

// OpenUDP opens the sync link's UDP socket in cfg.Netns; it is the
// Replicator's Link unless Parts says otherwise.
func OpenUDP(cfg *Config) (Link, error) {
	network := "udp4"
	p := Path{LocalAddr: cfg.LocalAddr, Group: cfg.Group}
	if p.is6() {
		network = "udp6"
	}
	bind, dest := cfg.LocalAddr, cfg.PeerAddr
	if cfg.Group.IsValid() {
		bind, dest = cfg.Group, cfg.Group
		if cfg.Group.IsLinkLocalMulticast() || cfg.Group.IsInterfaceLocalMulticast() {
			bind, dest = cfg.Group.WithZone(cfg.Interface), cfg.Group.WithZone(cfg.Interface)
		}
	}
	var room int
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if cfg.Group.IsValid() {
				// Both nodes of a test, or conntrackd beside us, may bind
				// the group's port.
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			}
			if cfg.Interface != "" {
				if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface); serr != nil {
					serr = fmt.Errorf("SO_BINDTODEVICE %s: %w", cfg.Interface, serr)
					return
				}
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.SocketBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.SocketBuffer)
			}
			// What the kernel granted: twice the request, or less without
			// CAP_NET_ADMIN (net.core.rmem_max).
			room, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, cfg.SocketBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.SocketBuffer)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	var pc net.PacketConn
	var zone uint32
	err := nsenter.Do(cfg.Netns, func() (err error) {
		if zone, err = zoneIndex(dest.Zone()); err != nil {
			return err
		}
		pc, err = lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(bind, cfg.Port).String())
		if err != nil || !cfg.Group.IsValid() {
			return err
		}
		// The interface is looked up in the namespace too.
		if err = joinGroup(pc.(*net.UDPConn), network, cfg); err != nil {
			_ = pc.Close()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("conntracksync: sync socket %s:%d: %w", bind, cfg.Port, err)
	}
	sc := &udpLink{c: pc.(*net.UDPConn), room: room,
		local: cfg.LocalAddr.Unmap(), mcast: cfg.Group.IsValid(), from: cfg.PeerAddr.Unmap()}
	if sc.mcast && sc.local.IsValid() {
		if network == "udp4" {
			sc.oob = (&ipv4.ControlMessage{Src: sc.local.AsSlice()}).Marshal()
		} else {
			sc.oob = (&ipv6.ControlMessage{Src: sc.local.AsSlice()}).Marshal()
		}
	}
	if sc.mm, err = newMmsgSock(sc.c, network == "udp6", netip.AddrPortFrom(dest, cfg.Port), zone, sc.oob); err != nil {
		_ = sc.c.Close()
		return nil, fmt.Errorf("conntracksync: sync socket %s:%d: %w", bind, cfg.Port, err)
	}
	if sc.from.IsValid() {
		sc.pinned.Store(&sc.from)
	}
	return sc, nil
}

// joinGroup joins cfg.Group on cfg.Interface, and makes c send there
// with loopback off and a TTL (hop limit) of 1: the sync link is one
// segment.
func joinGroup(c *net.UDPConn, network string, cfg *Config) error {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return err
	}
	group := &net.UDPAddr{IP: cfg.Group.AsSlice()}
	if network == "udp4" {
		p := ipv4.NewPacketConn(c)
		if err := p.JoinGroup(ifi, group); err != nil {
			return fmt.Errorf("join %s on %s: %w", cfg.Group, cfg.Interface, err)
		}
		return errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastLoopback(false), p.SetMulticastTTL(1))
	}
	p := ipv6.NewPacketConn(c)
	if err := p.JoinGroup(ifi, group); err != nil {
		return fmt.Errorf("join %s on %s: %w", cfg.Group, cfg.Interface, err)
	}
	return errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastLoopback(false), p.SetMulticastHopLimit(1))
}

// Send sends datagrams in order, many per sendmmsg. It returns how many
// could not be sent and the last error.
func (s *udpLink) Send(dgrams [][]byte) (failed int, err error) {
	for len(dgrams) > 0 {
		sent, werr := s.mm.send(dgrams)
		if werr != nil {
			// Skip the datagram that failed (counted), keep going (the
			// link went down: ENETUNREACH, ENETDOWN).
			err = werr
			failed++
			sent++
		}
		dgrams = dgrams[min(sent, len(dgrams)):]
	}
	return failed, err
}

// Receive reads up to len(ds) datagrams with one recvmmsg.
func (s *udpLink) Receive(ds []Datagram) (int, error) {
	if len(s.srcs) < len(ds) {
		s.srcs = make([]netip.Addr, len(ds))
	}
	for {
		n, err := s.mm.receive(ds, s.srcs)
		k := 0
		for i := range n {
			src := s.srcs[i]
			if s.mcast && src == s.local {
				continue // our own, looped back
			}
			if !s.from.IsValid() && s.mcast && src.IsValid() {
				s.from = src
				s.pinned.Store(&src)
			}
			if k != i {
				// Keep the slot's buffer with its datagram.
				ds[k].Buf, ds[i].Buf = ds[i].Buf, ds[k].Buf
			}
			ds[k].N = ds[i].N
			ds[k].FromPeer = src.IsValid() && src == s.from
			k++
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// zoneIndex returns the index of the interface an IPv6 zone names (a
// name, or an index in decimal), 0 for no zone.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if i, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(i), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// Peer returns the accepted source: the configured peer, or on a
// multicast path the pinned one (invalid until the first is heard).
func (s *udpLink) Peer() netip.Addr {
	if p := s.pinned.Load(); p != nil {
		return *p
	}
	return netip.Addr{}
}

func (s *udpLink) Close() error { return s.c.Close() }

// ReceiveRoom is the socket's receive buffer as the kernel granted and
// counts it (each datagram with its overhead), read back when opened.
func (s *udpLink) ReceiveRoom() int { return s.room }
