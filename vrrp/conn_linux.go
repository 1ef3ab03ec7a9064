package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ListenIPv4 opens a Conn for VRRP over IPv4 on the interface ifname: a raw
// IP protocol 112 socket bound to the device (SO_BINDTODEVICE, so
// instances on other interfaces never see this traffic), member of
// 224.0.0.18 (or opts.Group) on that interface unless opts.NoJoin,
// multicast TTL 255, unicast TTL opts.UnicastTTL (default 255),
// multicast loopback off. The source of
// sent adverts is opts.Src or PrimaryAddr(ifname, false), fixed for the
// Conn's life.
//
// With opts.AH the socket is one of IP protocol 51 instead (VRRPv2 under
// an Authentication Header) with IP_HDRINCL: ReadFrom returns whole
// datagrams, WriteTo refuses, and WriteDatagram sends datagrams built by
// AH.Append, whose TTL and identification it keeps.
//
// The socket lives in the network namespace of the calling thread: call it
// on a locked OS thread switched into the namespace to use another one.
func ListenIPv4(ifname string, opts ConnOptions) (Conn, error) {
	return listen(ifname, false, opts)
}

// ListenIPv6 is ListenIPv4 for IPv6: group ff02::12, hop limit 255, source
// opts.Src or the interface's link-local address (PrimaryAddr(ifname,
// true)). Received hop limit, destination and interface come from
// IPV6_HOPLIMIT / IPV6_PKTINFO control messages. The kernel does not check
// the checksum (IPV6_CHECKSUM stays off) so that Accept can count bad ones.
func ListenIPv6(ifname string, opts ConnOptions) (Conn, error) {
	return listen(ifname, true, opts)
}

// PrimaryAddr returns the address adverts on ifname are sent from by
// default: for IPv4 the interface's first primary (not secondary) address,
// for IPv6 its first link-local address that is not tentative (or, if all
// are, the first tentative one: sending from it fails until duplicate
// address detection ends). The result carries no zone.
func PrimaryAddr(ifname string, is6 bool, notFrom ...netip.Addr) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrp: primary address of %s: %w", ifname, err)
	}
	return primaryAddr(ifi, is6, notFrom)
}

// Address flags (linux/if_addr.h).
const (
	ifaFlagSecondary = 0x01
	ifaFlagDadFailed = 0x08
	ifaFlagTentative = 0x40
	ifaFlags         = 8 // IFA_FLAGS attribute: 32-bit flags
)

func primaryAddr(ifi *net.Interface, is6 bool, notFrom []netip.Addr) (netip.Addr, error) {
	fam, what := unix.AF_INET, "IPv4 address"
	if is6 {
		fam, what = unix.AF_INET6, "IPv6 link-local address"
	}
	fail := func(err error) (netip.Addr, error) {
		return netip.Addr{}, fmt.Errorf("vrrp: primary address of %s: %w", ifi.Name, err)
	}
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, fam)
	if err != nil {
		return fail(err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return fail(err)
	}
	var fallback netip.Addr
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ifam := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		if int(ifam.Index) != ifi.Index || int(ifam.Family) != fam {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return fail(err)
		}
		flags := uint32(ifam.Flags)
		var addr, local netip.Addr
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFA_ADDRESS:
				addr, _ = netip.AddrFromSlice(a.Value)
			case syscall.IFA_LOCAL:
				local, _ = netip.AddrFromSlice(a.Value)
			case ifaFlags:
				if len(a.Value) >= 4 {
					flags = binary.NativeEndian.Uint32(a.Value)
				}
			}
		}
		if local.IsValid() { // IPv4: IFA_LOCAL is ours, IFA_ADDRESS the peer on point-to-point links
			addr = local
		}
		switch {
		case !addr.IsValid(), slices.Contains(notFrom, addr):
		case !is6:
			if flags&ifaFlagSecondary == 0 {
				return addr, nil
			}
		case !addr.IsLinkLocalUnicast() || flags&ifaFlagDadFailed != 0:
		case flags&ifaFlagTentative == 0:
			return addr, nil
		case !fallback.IsValid():
			fallback = addr
		}
	}
	if fallback.IsValid() {
		return fallback, nil
	}
	return fail(fmt.Errorf("no %s", what))
}

var (
	_ Conn           = (*linuxConn)(nil)
	_ DatagramWriter = (*linuxConn)(nil)
	_ BatchReader    = (*linuxConn)(nil)
)

// linuxConn is the raw-socket Conn.
type linuxConn struct {
	is6     bool
	ah      bool // IP protocol 51 with IP_HDRINCL: whole datagrams both ways
	ifindex int
	src     netip.Addr
	ipc     *net.IPConn
	oob     []byte // send control message: IP(V6)_PKTINFO with src and ifindex

	rmu  sync.Mutex // rmu guards roob and the receive state below (ReadFrom is meant for one goroutine)
	roob []byte
	// The receive state: recvmsg(2) through the socket's RawConn with a
	// header, name and function built once, so that a read allocates
	// nothing (ReadMsgIP allocates the sender's address every time).
	rc    syscall.RawConn
	rmsg  unix.Msghdr
	riov  unix.Iovec
	rname [unix.SizeofSockaddrInet6]byte
	rn    int
	rerr  error
	rfn   func(fd uintptr) bool
	// The batch receive state (ReadBatch): one header, name and control
	// buffer per message, made on the first batch read.
	bmsgs  []mmsghdr
	biovs  []unix.Iovec
	bnames [][unix.SizeofSockaddrInet6]byte
	boob   []byte // len(bmsgs) control buffers of len(roob) each
	bwant  int    // messages asked for by the current recvmmsg
	bn     int
	berr   error
	bfn    func(fd uintptr) bool

	wmu  sync.Mutex // wmu guards wbuf and the send state below
	wbuf []byte
	// The send state: sendmsg(2) through rc, built once like the receive
	// state, so that a send allocates nothing either.
	wmsg  unix.Msghdr
	wiov  unix.Iovec
	wname [unix.SizeofSockaddrInet6]byte
	// sfd is the socket adverts are sent on: a second raw socket of the
	// same options that receives nothing (a filter drops every packet)
	// and is not in Go's network poller, so that a send does not wake
	// the poller (see newSendSocket). -1 once closed.
	sfd int

	closeOnce sync.Once
	closeErr  error
}

func listen(ifname string, is6 bool, opts ConnOptions) (_ Conn, err error) {
	fam, network, wildcard := "ipv4", "ip4:112", "0.0.0.0"
	if is6 {
		fam, network, wildcard = "ipv6", "ip6:112", "::"
	}
	if opts.AH {
		fam, network = "ipv4 AH", "ip4:51"
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("vrrp: listen %s on %s: %w", fam, ifname, err)
		}
	}()
	if opts.AH && is6 {
		return nil, errors.New("AH is for IPv4 (VRRPv2) only")
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	src := opts.Src.WithZone("")
	if !src.IsValid() {
		if src, err = primaryAddr(ifi, is6, opts.NotFrom); err != nil {
			return nil, err
		}
	} else if src.Is6() != is6 || src.Is4In6() {
		return nil, fmt.Errorf("source %v is not an %s address", src, fam)
	}
	group := opts.Group
	if !group.IsValid() {
		group = GroupIPv4
		if is6 {
			group = GroupIPv6
		}
	}
	if !group.IsMulticast() || group.Is6() != is6 {
		return nil, fmt.Errorf("group %v is not an %s multicast address", group, fam)
	}
	ttl := opts.UnicastTTL
	if ttl == 0 {
		ttl = TTL
	}
	if ttl < 1 || ttl > TTL {
		return nil, fmt.Errorf("unicast TTL %d is outside 1..%d", ttl, TTL)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = setupSocket(int(fd), ifi, is6, group, !opts.NoJoin, ttl)
			if serr == nil && opts.AH {
				if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
					serr = fmt.Errorf("IP_HDRINCL: %w", err)
				}
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, wildcard)
	if err != nil {
		return nil, err
	}
	c := &linuxConn{
		is6:     is6,
		ah:      opts.AH,
		ifindex: ifi.Index,
		src:     src,
		ipc:     pc.(*net.IPConn),
		wbuf:    make([]byte, 0, MaxMessageLen),
	}
	if c.rc, err = c.ipc.SyscallConn(); err != nil {
		pc.Close()
		return nil, err
	}
	c.rfn, c.bfn = c.recvmsg, c.recvmmsg
	if c.sfd, err = newSendSocket(ifi, is6, group, ttl, opts.AH); err != nil {
		pc.Close()
		return nil, err
	}
	if is6 {
		var pi [20]byte // struct in6_pktinfo
		a := src.As16()
		copy(pi[:16], a[:])
		binary.NativeEndian.PutUint32(pi[16:], uint32(ifi.Index))
		c.oob = cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pi[:])
		c.roob = make([]byte, 2*unix.CmsgSpace(20)+2*unix.CmsgSpace(4)+2*unix.CmsgSpace(timespecLen))
	} else {
		c.roob = make([]byte, 2*unix.CmsgSpace(timespecLen))
		var pi [12]byte // struct in_pktinfo: ifindex, spec_dst (our source), addr
		binary.NativeEndian.PutUint32(pi[:4], uint32(ifi.Index))
		a := src.As4()
		copy(pi[4:8], a[:])
		c.oob = cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, pi[:])
	}
	return c, nil
}

// setupSocket sets the options of a new raw socket before it is bound;
// ttl is the unicast TTL / hop limit.
func setupSocket(fd int, ifi *net.Interface, is6 bool, group netip.Addr, join bool, ttl int) error {
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name); err != nil {
		return fmt.Errorf("SO_BINDTODEVICE: %w", err)
	}
	type opt struct {
		name       string
		level, opt int
		val        int
	}
	var opts []opt
	if is6 {
		opts = []opt{
			{"IPV6_MULTICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, TTL},
			{"IPV6_UNICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl},
			{"IPV6_MULTICAST_LOOP", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0},
			{"IPV6_MULTICAST_IF", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifi.Index},
			{"IPV6_RECVPKTINFO", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1},
			{"IPV6_RECVHOPLIMIT", unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1},
			{"SO_TIMESTAMPNS", unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1},
		}
	} else {
		opts = []opt{
			{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, TTL},
			{"IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, ttl},
			{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0},
			{"SO_TIMESTAMPNS", unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1},
		}
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	if is6 {
		if join {
			mreq := &unix.IPv6Mreq{Multiaddr: group.As16(), Interface: uint32(ifi.Index)}
			if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq); err != nil {
				return fmt.Errorf("join %v: %w", group, err)
			}
		}
		return nil
	}
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)}); err != nil {
		return fmt.Errorf("IP_MULTICAST_IF: %w", err)
	}
	if join {
		mreq := &unix.IPMreqn{Multiaddr: group.As4(), Ifindex: int32(ifi.Index)}
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return fmt.Errorf("join %v: %w", group, err)
		}
	}
	return nil
}

// cmsg encodes one control message.
func cmsg(level, typ int, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = int32(level)
	h.Type = int32(typ)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func (c *linuxConn) LocalAddr() netip.Addr { return c.src }

func (c *linuxConn) SetReadDeadline(t time.Time) error { return c.ipc.SetReadDeadline(t) }

func (c *linuxConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.ipc.Close()
		// Under wmu: a send in progress finishes on the socket before its
		// number can be reused.
		c.wmu.Lock()
		unix.Close(c.sfd)
		c.sfd = -1
		c.wmu.Unlock()
	})
	return c.closeErr
}

func (c *linuxConn) WriteTo(p *Packet, dst netip.Addr) error {
	if c.ah {
		return fmt.Errorf("vrrp: write to %v: an AH conn sends whole datagrams (WriteDatagram)", dst)
	}
	dst = dst.WithZone("")
	if dst.Is6() != c.is6 || dst.Is4In6() {
		return fmt.Errorf("vrrp: write to %v: wrong address family for this conn", dst)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := p.AppendChecksummed(c.wbuf[:0], c.src, dst)
	if err != nil {
		return err
	}
	c.wbuf = b[:0]
	if err := c.send(b, c.oob, dst); err != nil {
		return fmt.Errorf("vrrp: write to %v: %w", dst, err)
	}
	return nil
}

// newSendSocket opens the socket a Conn sends on: a raw socket with the
// options of the receiving one (device, multicast interface and TTL,
// unicast TTL, no multicast loopback; IP_HDRINCL for AH), whose receive
// queue a filter keeps empty. The receiving socket is in Go's network
// poller, registered for writability too, edge-triggered: every advert
// sent on it made the kernel signal room again when the packet left,
// and that woke a thread blocked in the poller once per advert (an
// epoll_pwait for each sendmsg in strace). This socket is never
// registered, so a send wakes nothing.
func newSendSocket(ifi *net.Interface, is6 bool, group netip.Addr, ttl int, ah bool) (int, error) {
	domain, proto := unix.AF_INET, IPProto
	if is6 {
		domain = unix.AF_INET6
	}
	if ah {
		proto = unix.IPPROTO_AH
	}
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("send socket: %w", err)
	}
	fail := func(err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("send socket: %w", err)
	}
	// A classic BPF program of one instruction: return 0 (keep no byte).
	drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &drop[0]}); err != nil {
		return fail(fmt.Errorf("SO_ATTACH_FILTER: %w", err))
	}
	if err := setupSocket(fd, ifi, is6, group, false, ttl); err != nil {
		return fail(err)
	}
	if ah {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return fail(fmt.Errorf("IP_HDRINCL: %w", err))
		}
	}
	// Packets queued before the filter was attached.
	var b [1]byte
	for {
		if _, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	return fd, nil
}

// sendFullWait bounds how long a send waits for room in the socket's
// buffer before it fails with EAGAIN.
const sendFullWait = 10 * time.Millisecond

// sendmsg makes one non-blocking sendmsg(2) of c.wmsg on the send socket;
// when its buffer is full it waits up to sendFullWait for room and tries
// once more. c.wmu must be held.
//
// The socket calls here never block (MSG_DONTWAIT), so they are made as
// raw system calls, which the Go scheduler does not track: a send on a
// veth or bridge runs the receiver's network stack inside the call, long
// enough that the runtime would otherwise hand the thread's P to another
// thread (a futex wake-up and a poll of the network) on many adverts.
func (c *linuxConn) sendmsg() error {
	if c.sfd < 0 {
		return net.ErrClosed
	}
	for try := 0; ; try++ {
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(c.sfd), uintptr(unsafe.Pointer(&c.wmsg)), unix.MSG_DONTWAIT)
		switch {
		case e == 0:
			return nil
		case e == unix.EINTR && try < 3:
		case e == unix.EAGAIN && try == 0:
			pfd := []unix.PollFd{{Fd: int32(c.sfd), Events: unix.POLLOUT}}
			unix.Poll(pfd, int(sendFullWait/time.Millisecond))
		default:
			return os.NewSyscallError("sendmsg", e)
		}
	}
}

// send sends d with the control messages oob (may be empty) to dst, an
// address of the conn's family. c.wmu must be held.
func (c *linuxConn) send(d, oob []byte, dst netip.Addr) error {
	if len(d) == 0 {
		return errors.New("empty datagram")
	}
	c.wname = [len(c.wname)]byte{}
	if c.is6 {
		// struct sockaddr_in6: family, port, flow information, address.
		binary.NativeEndian.PutUint16(c.wname[:2], unix.AF_INET6)
		a := dst.As16()
		copy(c.wname[8:24], a[:])
		c.wmsg.Namelen = unix.SizeofSockaddrInet6
	} else {
		// struct sockaddr_in: family, port, address.
		binary.NativeEndian.PutUint16(c.wname[:2], unix.AF_INET)
		a := dst.As4()
		copy(c.wname[4:8], a[:])
		c.wmsg.Namelen = unix.SizeofSockaddrInet4
	}
	c.wmsg.Name = &c.wname[0]
	c.wiov.Base = &d[0]
	c.wiov.SetLen(len(d))
	c.wmsg.Iov = &c.wiov
	c.wmsg.Iovlen = 1
	c.wmsg.Control = nil
	c.wmsg.SetControllen(0)
	if len(oob) > 0 {
		c.wmsg.Control = &oob[0]
		c.wmsg.SetControllen(len(oob))
	}
	err := c.sendmsg()
	c.wiov.Base, c.wmsg.Control = nil, nil // the caller's again
	return err
}

// WriteDatagram sends d, a whole IPv4 datagram built by AH.Append, to dst
// on an AH conn. The kernel fills in nothing but the header checksum and
// total length, which Append has already set.
func (c *linuxConn) WriteDatagram(d []byte, dst netip.Addr) error {
	dst = dst.WithZone("")
	if !c.ah || !dst.Is4() {
		return fmt.Errorf("vrrp: write datagram to %v: not an IPv4 AH conn", dst)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.send(d, nil, dst); err != nil {
		return fmt.Errorf("vrrp: write to %v: %w", dst, err)
	}
	return nil
}

func (c *linuxConn) ReadFrom(b []byte) (int, RecvMeta, error) {
	if c.is6 {
		return c.read6(b)
	}
	return c.read4(b)
}

// recvmsg is the RawConn read function: one non-blocking recvmsg(2)
// with c.rmsg, its result left in c.rn and c.rerr. It asks to be called
// again when nothing is queued (the poller waits for the socket).
func (c *linuxConn) recvmsg(fd uintptr) bool {
	n, done, err := rawRecv(unix.SYS_RECVMSG, fd, unsafe.Pointer(&c.rmsg), unix.MSG_DONTWAIT, 0)
	c.rn, c.rerr = n, err
	return done
}

// rawRecv makes one receive system call, trap (recvmsg or recvmmsg), on
// fd with the header msg and the arguments a3, a4 that follow it. It
// returns the call's result or its error, and done = false when nothing
// was queued (the caller asks the poller to wait).
func rawRecv(trap, fd uintptr, msg unsafe.Pointer, a3, a4 uintptr) (n int, done bool, err error) {
	r, _, e := unix.RawSyscall6(trap, fd, uintptr(msg), a3, a4, 0, 0)
	switch e {
	case 0:
		return int(r), true, nil
	case unix.EAGAIN, unix.EINTR:
		return 0, false, nil
	default:
		return 0, true, e
	}
}

// recv reads one datagram into b and its control messages into c.roob;
// it returns the lengths of both. c.rmu must be held.
func (c *linuxConn) recv(b []byte) (n, oobn int, err error) {
	if len(b) == 0 {
		return 0, 0, errors.New("vrrp: read into an empty buffer")
	}
	c.riov.Base = &b[0]
	c.riov.SetLen(len(b))
	c.rmsg.Name = &c.rname[0]
	c.rmsg.Namelen = uint32(len(c.rname))
	c.rmsg.Iov = &c.riov
	c.rmsg.Iovlen = 1
	c.rmsg.Control = &c.roob[0]
	c.rmsg.SetControllen(len(c.roob))
	c.rmsg.Flags = 0
	if err := c.rc.Read(c.rfn); err != nil {
		return 0, 0, err
	}
	c.riov.Base = nil // b is the caller's again
	if c.rerr != nil {
		return 0, 0, &net.OpError{Op: "read", Net: "ip", Err: os.NewSyscallError("recvmsg", c.rerr)}
	}
	return c.rn, int(c.rmsg.Controllen), nil
}

// read4 reads a whole IPv4 datagram (raw IPv4 sockets deliver the header)
// and takes TTL and addresses from the header.
func (c *linuxConn) read4(b []byte) (int, RecvMeta, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		n, oobn, err := c.recv(b)
		if err != nil {
			return 0, RecvMeta{}, err
		}
		if n, m, ok := c.datagram4(b, n, c.roob[:oobn]); ok {
			return n, m, nil
		}
	}
}

// datagram4 turns the n bytes of an IPv4 datagram read into b, with its
// control messages oob, into what ReadFrom returns (the VRRP message moved
// to the front of b, or with AH the whole datagram); !ok for a datagram
// without a valid IPv4 header (which an ip4 socket never delivers).
func (c *linuxConn) datagram4(b []byte, n int, oob []byte) (int, RecvMeta, bool) {
	if n < 20 || b[0]>>4 != 4 {
		return 0, RecvMeta{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || ihl > n {
		return 0, RecvMeta{}, false
	}
	if total >= ihl && total < n {
		n = total
	}
	m := RecvMeta{
		Src:     netip.AddrFrom4([4]byte(b[12:16])),
		Dst:     netip.AddrFrom4([4]byte(b[16:20])),
		TTL:     int(b[8]),
		IfIndex: c.ifindex,
	}
	parseCmsgs(oob, &m)
	if c.ah {
		return n, m, true
	}
	return copy(b, b[ihl:n]), m, true
}

func (c *linuxConn) read6(b []byte) (int, RecvMeta, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	n, oobn, err := c.recv(b)
	if err != nil {
		return 0, RecvMeta{}, err
	}
	return n, meta6(c.rname[:min(int(c.rmsg.Namelen), len(c.rname))], c.roob[:oobn], c.ifindex), nil
}

// meta6 is the metadata of an IPv6 datagram from its sender's address
// name and its control messages oob.
func meta6(name, oob []byte, ifindex int) RecvMeta {
	m := RecvMeta{TTL: -1, IfIndex: ifindex}
	// struct sockaddr_in6: family, port, flow information, address.
	if len(name) >= 24 && binary.NativeEndian.Uint16(name[:2]) == unix.AF_INET6 {
		m.Src = netip.AddrFrom16([16]byte(name[8:24]))
	}
	parseCmsgs(oob, &m)
	return m
}

// mmsghdr is struct mmsghdr: a message header and the length received.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// maxBatch bounds the messages of one ReadBatch.
const maxBatch = 64

// recvmmsg is the RawConn read function of ReadBatch: one non-blocking
// recvmmsg(2) of c.bmsgs[:c.bwant], its result left in c.bn and c.berr.
func (c *linuxConn) recvmmsg(fd uintptr) bool {
	n, done, err := rawRecv(unix.SYS_RECVMMSG, fd, unsafe.Pointer(&c.bmsgs[0]), uintptr(c.bwant), unix.MSG_DONTWAIT)
	c.bn, c.berr = n, err
	return done
}

// ReadBatch reads what is queued, up to len(ms) (at most 64) adverts, in
// one recvmmsg(2) call; see BatchReader.
func (c *linuxConn) ReadBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, errors.New("vrrp: read into an empty batch")
	}
	ms = ms[:min(len(ms), maxBatch)]
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.bmsgs == nil {
		c.bmsgs = make([]mmsghdr, maxBatch)
		c.biovs = make([]unix.Iovec, maxBatch)
		c.bnames = make([][unix.SizeofSockaddrInet6]byte, maxBatch)
		c.boob = make([]byte, maxBatch*len(c.roob))
	}
	ol := len(c.roob)
	for i := range ms {
		if len(ms[i].Buf) == 0 {
			return 0, errors.New("vrrp: read into an empty buffer")
		}
		h := &c.bmsgs[i].hdr
		c.biovs[i].Base = &ms[i].Buf[0]
		c.biovs[i].SetLen(len(ms[i].Buf))
		h.Name = &c.bnames[i][0]
		h.Namelen = uint32(len(c.bnames[i]))
		h.Iov = &c.biovs[i]
		h.Iovlen = 1
		h.Control = &c.boob[i*ol]
		h.SetControllen(ol)
		h.Flags = 0
	}
	for {
		c.bwant = len(ms)
		err := c.rc.Read(c.bfn)
		for i := range ms {
			c.biovs[i].Base = nil // the caller's again
		}
		if err != nil {
			return 0, err
		}
		if c.berr != nil {
			return 0, &net.OpError{Op: "read", Net: "ip", Err: os.NewSyscallError("recvmmsg", c.berr)}
		}
		out := 0
		for i := range c.bn {
			h := &c.bmsgs[i].hdr
			b, n := ms[i].Buf, int(c.bmsgs[i].len)
			oob := c.boob[i*ol : i*ol+min(int(h.Controllen), ol)]
			var m RecvMeta
			if c.is6 {
				m = meta6(c.bnames[i][:min(int(h.Namelen), len(c.bnames[i]))], oob, c.ifindex)
			} else {
				var ok bool
				if n, m, ok = c.datagram4(b, n, oob); !ok {
					continue
				}
			}
			if out != i {
				copy(ms[out].Buf, b[:n])
			}
			ms[out].N, ms[out].Meta = n, m
			out++
		}
		if out > 0 {
			return out, nil
		}
		for i := range ms { // every datagram was malformed: read again
			c.biovs[i].Base = &ms[i].Buf[0]
		}
	}
}

// timespecLen is the size of the SO_TIMESTAMPNS payload, a struct timespec.
const timespecLen = int(unsafe.Sizeof(unix.Timespec{}))

// parseCmsgs fills m from the received control messages: the destination
// and interface (IPV6_PKTINFO), the hop limit (IPV6_HOPLIMIT) and the
// kernel's receive time (SO_TIMESTAMPNS). Malformed ones are skipped.
func parseCmsgs(oob []byte, m *RecvMeta) {
	hl := unix.CmsgLen(0)
	for len(oob) >= hl {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hl || l > len(oob) {
			break
		}
		data := oob[hl:l]
		switch {
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= 20:
			m.Dst = netip.AddrFrom16([16]byte(data[:16]))
			m.IfIndex = int(binary.NativeEndian.Uint32(data[16:20]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			m.TTL = int(int32(binary.NativeEndian.Uint32(data[:4])))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= timespecLen:
			var ts unix.Timespec
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&ts)), timespecLen), data)
			m.At = time.Unix(ts.Unix())
		}
		sp := unix.CmsgSpace(l - hl)
		if sp > len(oob) {
			break
		}
		oob = oob[sp:]
	}
}
