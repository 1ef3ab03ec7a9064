package vip

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/logfast"
)

// Announcer sends gratuitous ARPs and unsolicited neighbour advertisements.
// It keeps one AF_PACKET socket (for ARP) and one raw ICMPv6 socket (for NA,
// the message built by mdlayher/ndp) per interface and reuses them; when the interface behind a name changes index
// (it was deleted and created again), or a send fails, the sockets are
// closed and opened afresh on the next Announce. It also keeps open the
// interface's IPv6 forwarding sysctl (IPv6Forwarding), under the same rule.
type Announcer struct {
	log   *slog.Logger
	stats announcerCounters

	mu    sync.Mutex // mu guards the following fields
	links map[string]*linkSockets
	ctl   int // AF_INET datagram socket for interface ioctls, -1 until needed
}

type linkSockets struct {
	index int
	ifi   *net.Interface // as of the last refresh
	arp   *packet.Conn
	nd    *ipv6.PacketConn
	fwd   int // the interface's IPv6 forwarding sysctl, read-only; -1: not open
}

func (s *linkSockets) closeFwd() {
	if s.fwd >= 0 {
		_ = unix.Close(s.fwd)
		s.fwd = -1
	}
}

func (s *linkSockets) closeARP() {
	if s.arp != nil {
		_ = s.arp.Close()
		s.arp = nil
	}
}

func (s *linkSockets) closeND() {
	if s.nd != nil {
		_ = s.nd.Close()
		s.nd = nil
	}
}

// NewAnnouncer returns an Announcer with no sockets open yet.
func NewAnnouncer(log *slog.Logger) *Announcer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Announcer{log: log, links: map[string]*linkSockets{}, ctl: -1}
}

// Stats returns a snapshot of the counters.
func (a *Announcer) Stats() AnnouncerStats { return a.stats.snapshot() }

// Close closes every cached socket. The Announcer may be used again
// afterwards; it reopens what it needs.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, s := range a.links {
		s.closeARP()
		s.closeND()
		s.closeFwd()
		delete(a.links, name)
	}
	if a.ctl >= 0 {
		_ = unix.Close(a.ctl)
		a.ctl = -1
	}
	return nil
}

// dropAll is the BPF program "ret #0": accept no packet, our sockets only
// send. (bpf.RetConstant{Val: 0} assembles to exactly this.)
var dropAll = []bpf.RawInstruction{{Op: 0x06}}

// Announce sends, on interface ifname, one gratuitous ARP per IPv4 address
// and one unsolicited neighbour advertisement per IPv6 address of addrs,
// saying that mac owns it (mac nil: the interface's own address). router sets
// the NA's Router flag (set it when the box forwards IPv6). The ARP frame is
// built whole (see GARPFrame); the NA goes through the kernel's ICMPv6
// stack, to ff02::1 with hop limit 255, sourced from the VIP itself as
// keepalived does (or the kernel's choice if the VIP is not on the
// interface), with the interface's own MAC as Ethernet source. Every address
// is tried; errors are joined and name the address and interface.
// Announce must run in the namespace of ifname (see the package doc).
func (a *Announcer) Announce(ifname string, addrs []netip.Addr, mac net.HardwareAddr, router bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()

	ifi, err := a.interfaceLocked(ifname, mac == nil)
	if err != nil {
		a.stats.sendErrors.Add(uint64(len(addrs)))
		return fmt.Errorf("vip: announce on %s: %w", ifname, err)
	}
	if mac == nil {
		mac = ifi.HardwareAddr
	}
	if len(mac) != 6 {
		a.stats.sendErrors.Add(uint64(len(addrs)))
		return fmt.Errorf("vip: announce on %s: %w: hardware address %q is not Ethernet", ifname, ErrInvalid, mac)
	}
	s := a.links[ifname]

	var errs []error
	for _, ip := range addrs {
		ip = ip.Unmap()
		var err error
		switch {
		case ip.Is4():
			err = a.sendGARPLocked(s, ifi, ip, mac)
		case ip.Is6():
			err = a.sendNALocked(s, ifi, ip, mac, router)
		default:
			err = fmt.Errorf("%w: address %v", ErrInvalid, ip)
		}
		if err != nil {
			a.stats.sendErrors.Add(1)
			errs = append(errs, fmt.Errorf("vip: announce %s on %s: %w", ip, ifname, err))
		}
	}
	return errors.Join(errs...)
}

// interfaceLocked resolves ifname to its current index with one ioctl
// (SIOCGIFINDEX) and returns the cached interface description, refreshing
// it (a netlink dump) when the index changed (the interface was recreated:
// the old sockets are closed) or when nothing is cached. When fresh is set
// (the caller needs the current MAC) it reads an Ethernet interface's MAC
// with one more ioctl (SIOCGIFHWADDR) rather than a dump of every link,
// which cost a round 16–17 µs more (BenchmarkAnnounce, mac=nil).
func (a *Announcer) interfaceLocked(ifname string, fresh bool) (*net.Interface, error) {
	if a.ctl < 0 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		a.ctl = fd
	}
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return nil, fmt.Errorf("%w: interface name %q: %w", ErrInvalid, ifname, err)
	}
	if err := unix.IoctlIfreq(a.ctl, unix.SIOCGIFINDEX, ifr); err != nil {
		a.forgetLocked(ifname)
		if errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("interface %q: %w", ifname, ErrNoDevice)
		}
		return nil, fmt.Errorf("interface %q: %w", ifname, err)
	}
	index := int(ifr.Uint32())
	s := a.links[ifname]
	if s != nil && s.index != index {
		a.log.Info("vip: interface recreated, reopening announce sockets", "iface", ifname, "old_index", s.index, "index", index)
		a.forgetLocked(ifname)
		s = nil
	}
	if s != nil && fresh {
		if mac, ok := etherAddr(a.ctl, ifname); ok {
			if !bytes.Equal(mac[:], s.ifi.HardwareAddr) {
				ifi := *s.ifi
				ifi.HardwareAddr = net.HardwareAddr(bytes.Clone(mac[:]))
				s.ifi = &ifi
			}
			return s.ifi, nil
		}
	}
	if s == nil || fresh {
		ifi, err := net.InterfaceByIndex(index)
		if err != nil {
			a.forgetLocked(ifname)
			return nil, fmt.Errorf("interface %q (index %d): %w: %w", ifname, index, ErrNoDevice, err)
		}
		if s == nil {
			s = &linkSockets{index: index, fwd: -1}
			a.links[ifname] = s
		}
		s.ifi = ifi
	}
	return s.ifi, nil
}

// etherAddr reads ifname's hardware address with SIOCGIFHWADDR on the
// datagram socket ctl; ok is false unless the interface is Ethernet (the
// ioctl's address holds 14 bytes: longer ones are left to a netlink dump).
func etherAddr(ctl int, ifname string) (mac [6]byte, ok bool) {
	var r struct {
		name   [unix.IFNAMSIZ]byte
		family uint16
		data   [14]byte
		_      [8]byte // the rest of struct ifreq's union
	}
	if len(ifname) >= len(r.name) {
		return mac, false
	}
	copy(r.name[:], ifname)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(ctl), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&r))); e != 0 {
		return mac, false
	}
	if r.family != unix.ARPHRD_ETHER {
		return mac, false
	}
	copy(mac[:], r.data[:6])
	return mac, true
}

func (a *Announcer) forgetLocked(ifname string) {
	if s := a.links[ifname]; s != nil {
		s.closeARP()
		s.closeND()
		s.closeFwd()
		delete(a.links, ifname)
	}
}

// Prepare opens, ahead of the first Announce, the sockets that announcing
// addrs on ifname needs: the ARP socket for IPv4 addresses, the ICMPv6 one
// and the forwarding sysctl (IPv6Forwarding) for IPv6 addresses. Sockets
// already open are kept, so calling it again costs one ioctl; when the
// interface was deleted and created again, the old ones are closed and new
// ones opened. Nothing is sent. A failure changes nothing for Announce,
// which opens what is still missing itself.
// Prepare must run in the namespace of ifname (see the package doc).
func (a *Announcer) Prepare(ifname string, addrs []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ifi, err := a.interfaceLocked(ifname, false)
	if err != nil {
		return fmt.Errorf("vip: prepare announcing on %s: %w", ifname, err)
	}
	s := a.links[ifname]
	var errs []error
	if slices.ContainsFunc(addrs, func(ip netip.Addr) bool { return ip.Unmap().Is4() }) {
		errs = append(errs, a.openARPLocked(s, ifi))
	}
	if slices.ContainsFunc(addrs, func(ip netip.Addr) bool { return ip.Unmap().Is6() }) {
		errs = append(errs, a.openNDLocked(s))
		// The NA's Router flag is read from it (IPv6Forwarding); a
		// failure here is IPv6Forwarding's to meet again.
		_ = openFwdLocked(s, ifname)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vip: prepare announcing on %s: %w", ifname, err)
	}
	return nil
}

// openARPLocked opens s's ARP socket on ifi unless it is open.
func (a *Announcer) openARPLocked(s *linkSockets, ifi *net.Interface) error {
	if s.arp != nil {
		return nil
	}
	c, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), &packet.Config{Filter: dropAll})
	if err != nil {
		return fmt.Errorf("open ARP socket: %w", err)
	}
	s.arp = c
	a.stats.socketsOpened.Add(1)
	return nil
}

// openNDLocked opens s's ICMPv6 socket unless it is open.
func (a *Announcer) openNDLocked(s *linkSockets) error {
	if s.nd != nil {
		return nil
	}
	pc, err := openND()
	if err != nil {
		return fmt.Errorf("open ICMPv6 socket: %w", err)
	}
	s.nd = pc
	a.stats.socketsOpened.Add(1)
	return nil
}

func (a *Announcer) sendGARPLocked(s *linkSockets, ifi *net.Interface, ip netip.Addr, mac net.HardwareAddr) error {
	frame, err := GARPFrame(ip, mac)
	if err != nil {
		return err
	}
	if err := a.openARPLocked(s, ifi); err != nil {
		return err
	}
	if _, err := s.arp.WriteTo(frame, &packet.Addr{HardwareAddr: ethernet.Broadcast}); err != nil {
		s.closeARP() // reopen next time: the link may have changed under us
		return fmt.Errorf("send gratuitous ARP: %w", err)
	}
	a.stats.garps.Add(1)
	logfast.Debug(a.log, "vip: sent gratuitous ARP", "addr", ip, "iface", ifi.Name, "mac", mac.String())
	return nil
}

// openFwdLocked opens s's descriptor of ifname's IPv6 forwarding sysctl
// unless it is open.
func openFwdLocked(s *linkSockets, ifname string) error {
	if s.fwd >= 0 {
		return nil
	}
	fd, err := unix.Open("/proc/sys/net/ipv6/conf/"+ifname+"/forwarding", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	s.fwd = fd
	return nil
}

// openND opens a raw ICMPv6 socket that only sends: hop limit 255 (RFC 4861
// §7.1 has receivers drop anything else), no copy of its multicasts looped
// back to this host, the kernel fills the checksum, and a filter that
// blocks every incoming ICMPv6 type.
func openND() (*ipv6.PacketConn, error) {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, err
	}
	pc := c.IPv6PacketConn()
	var f ipv6.ICMPFilter
	f.SetAll(true)
	for _, set := range []func() error{
		func() error { return pc.SetHopLimit(ndp.HopLimit) },
		func() error { return pc.SetMulticastHopLimit(ndp.HopLimit) },
		// keepalived's NAs leave on a packet socket and come back to no
		// one; ours would be looped back to this host's own IPv6 stack,
		// which ignores them, inside the sending call.
		func() error { return pc.SetMulticastLoopback(false) },
		func() error { return pc.SetChecksum(true, 2) },
		func() error { return pc.SetICMPFilter(&f) },
	} {
		if err := set(); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return pc, nil
}

func (a *Announcer) sendNALocked(s *linkSockets, ifi *net.Interface, ip netip.Addr, mac net.HardwareAddr, router bool) error {
	b, err := ndp.MarshalMessage(UnsolicitedNA(ip, mac, router))
	if err != nil {
		return err
	}
	if err := a.openNDLocked(s); err != nil {
		return err
	}
	// No zone: the outgoing interface is IPV6_PKTINFO's index. (A zone
	// goes through a name-to-index cache that is slow to refresh and can
	// be a minute stale after the interface was recreated.)
	dst := &net.IPAddr{IP: allNodes.AsSlice()}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: ip.AsSlice(), IfIndex: ifi.Index}
	_, err = s.nd.WriteTo(b, cm, dst)
	if err != nil && !ip.IsLinkLocalUnicast() {
		// The VIP is not (yet) a usable source here: let the kernel pick
		// one of the interface's addresses.
		cm.Src = nil
		_, err = s.nd.WriteTo(b, cm, dst)
	}
	if err != nil {
		s.closeND()
		return fmt.Errorf("send neighbour advertisement: %w", err)
	}
	a.stats.nas.Add(1)
	logfast.Debug(a.log, "vip: sent unsolicited NA", "addr", ip, "iface", ifi.Name, "mac", mac.String(), "router", router)
	return nil
}

// IPv6Forwarding reports whether ifname forwards IPv6: the Router flag of
// the unsolicited NAs announcing its addresses (RFC 4861 §4.4). The value
// is read at every call from the interface's forwarding sysctl, with one
// pread(2) of a descriptor kept open per interface: 1.2 µs, where opening
// and reading the /proc file afresh for each NA round cost 10–12
// (BenchmarkIPv6Forwarding, warm). A descriptor that stopped answering (its
// interface was deleted or renamed: the kernel unregisters the sysctl) is
// closed and the name opened again once. Any failure reads as "does not
// forward". IPv6Forwarding must run in the namespace of ifname.
func (a *Announcer) IPv6Forwarding(ifname string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.interfaceLocked(ifname, false); err != nil {
		return false
	}
	s := a.links[ifname]
	for range 2 {
		if openFwdLocked(s, ifname) != nil {
			return false
		}
		var b [8]byte
		n, err := unix.Pread(s.fwd, b[:], 0)
		if err == nil {
			return strings.TrimSpace(string(b[:n])) == "1"
		}
		s.closeFwd()
	}
	return false
}
