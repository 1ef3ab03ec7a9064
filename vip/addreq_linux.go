package vip

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/nsenter"
)

// addrConn sends RTM_NEWADDR requests, a takeover's first kernel work, on
// a netlink socket of its own. The socket is blocking and outside Go's
// network poller, and the request and reply buffers are kept: the kernel
// handles an rtnetlink request inside sendto, so the acknowledgement is
// already queued when recvfrom is called, and the call costs the two
// system calls and nothing else. The netlink library's request does more
// around the same two calls: deadlines set in the poller, a getsockname,
// a 64 KiB receive buffer on the goroutine's stack (which must grow again
// after every garbage collection has shrunk it) and the reply copied to
// the heap. BenchmarkAddAddressCold keeps the difference measured: about
// 90 µs of a 190 µs addition when a collection ran since the last one.
// Every other request of the Manager still goes through the library.
type addrConn struct {
	fd  int
	seq uint32
	req []byte
	rep []byte
}

// dialAddrConn opens the socket in namespace ns (none: the calling
// thread's), with send and receive timeouts d (d ≤ 0: none).
func dialAddrConn(ns netns.NsHandle, d time.Duration) (*addrConn, error) {
	fd := -1
	err := nsenter.DoAt(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vip: address socket: %w", err)
	}
	c := &addrConn{fd: fd, req: make([]byte, 0, 128), rep: make([]byte, 4096)}
	if err := c.setup(d); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vip: address socket: %w", err)
	}
	return c, nil
}

func (c *addrConn) setup(d time.Duration) error {
	if err := unix.Bind(c.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	// An error's acknowledgement carries the request's header only, not
	// the whole request: the reply buffer never needs to be larger.
	if err := unix.SetsockoptInt(c.fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1); err != nil {
		return err
	}
	if d > 0 {
		tv := unix.NsecToTimeval(d.Nanoseconds())
		if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			return err
		}
	}
	return nil
}

func (c *addrConn) Close() error { return unix.Close(c.fd) }

// add asks the kernel to create n, exclusively (NLM_F_EXCL: EEXIST when
// the kernel holds the same address), and returns the kernel's answer as
// a unix.Errno.
func (c *addrConn) add(n *netlink.Addr) error {
	c.seq++
	c.req = appendNewAddr(c.req[:0], c.seq, n)
	for {
		err := unix.Sendto(c.fd, c.req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	for {
		m, from, err := unix.Recvfrom(c.fd, c.rep, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel answers a request
		}
		if errno, ok := ackFor(c.rep[:m], c.seq); ok {
			if errno != 0 {
				return errno
			}
			return nil
		}
		// Not our acknowledgement (a stale one of an earlier request
		// that timed out): read on.
	}
}

// ackFor reads the acknowledgement of request seq in datagram b: ok is
// false when b holds none.
func ackFor(b []byte, seq uint32) (errno unix.Errno, ok bool) {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := binary.NativeEndian.Uint32(b[0:4])
		if l < unix.NLMSG_HDRLEN || int(l) > len(b) {
			return 0, false
		}
		typ := binary.NativeEndian.Uint16(b[4:6])
		if typ == unix.NLMSG_ERROR && binary.NativeEndian.Uint32(b[8:12]) == seq && l >= unix.NLMSG_HDRLEN+4 {
			e := int32(binary.NativeEndian.Uint32(b[16:20]))
			return unix.Errno(-e), true
		}
		next := (int(l) + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if next > len(b) {
			return 0, false
		}
		b = b[next:]
	}
	return 0, false
}

// appendNewAddr appends to b the RTM_NEWADDR request (create, exclusive,
// acknowledged) for n: the same message, attribute for attribute, as the
// netlink library's AddrAdd sends for n with n.LinkIndex as the
// interface. An IPv4 broadcast of nil or 0.0.0.0 sends none; lifetimes go
// as IFA_CACHEINFO when either is set.
func appendNewAddr(b []byte, seq uint32, n *netlink.Addr) []byte {
	start := len(b)
	ip, family := n.IP.To4(), byte(unix.AF_INET)
	if ip == nil {
		ip, family = n.IP.To16(), unix.AF_INET6
	}
	mask := n.Mask
	if n.Peer != nil {
		mask = n.Peer.Mask
	}
	ones, _ := mask.Size()
	// struct nlmsghdr, its length filled in at the end.
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, unix.RTM_NEWADDR)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // port id: the kernel fills it in
	// struct ifaddrmsg: the flags that fit in its byte go there, all of
	// them in IFA_FLAGS when they do not.
	var low byte
	if n.Flags <= 0xff {
		low = byte(n.Flags)
	}
	b = append(b, family, byte(ones), low, byte(n.Scope))
	b = binary.NativeEndian.AppendUint32(b, uint32(n.LinkIndex))
	b = appendAttr(b, unix.IFA_LOCAL, ip)
	peer := ip
	if n.Peer != nil {
		if peer = n.Peer.IP.To4(); family == unix.AF_INET6 || peer == nil {
			peer = n.Peer.IP.To16()
		}
	}
	b = appendAttr(b, unix.IFA_ADDRESS, peer)
	if n.Flags > 0xff {
		b = appendAttr(b, unix.IFA_FLAGS, binary.NativeEndian.AppendUint32(nil, uint32(n.Flags)))
	}
	if family == unix.AF_INET {
		if brd := n.Broadcast.To4(); brd != nil && !brd.Equal(net.IPv4zero) {
			b = appendAttr(b, unix.IFA_BROADCAST, brd)
		}
		if n.Label != "" {
			b = appendAttr(b, unix.IFA_LABEL, append([]byte(n.Label), 0))
		}
	}
	if n.ValidLft > 0 || n.PreferedLft > 0 {
		var ci [16]byte // struct ifa_cacheinfo: preferred, valid, cstamp, tstamp
		binary.NativeEndian.PutUint32(ci[0:], uint32(n.PreferedLft))
		binary.NativeEndian.PutUint32(ci[4:], uint32(n.ValidLft))
		b = appendAttr(b, unix.IFA_CACHEINFO, ci[:])
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendAttr appends one netlink attribute (struct rtattr and its data,
// padded to 4 bytes).
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	l := unix.SizeofRtAttr + len(data)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for ; l%unix.RTA_ALIGNTO != 0; l++ {
		b = append(b, 0)
	}
	return b
}
