package conntracksync

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgSock is sendmmsg and recvmmsg on the sync link's UDP socket, each a
// raw system call, one that the Go scheduler is not told about. That is
// safe because the socket is non-blocking (as every socket of package net
// is): the calls return at once, and a wait for data or for room happens
// in the runtime's network poller. x/net's ReadBatch and WriteBatch make
// the same calls through syscall.Syscall6, and every such call that
// finds the runtime's monitor thread (sysmon) asleep because the process
// was idle wakes it, after which the monitor polls every 20 µs until the
// process is idle again. A sync receiver goes idle between the peer's
// datagrams all the time: on ct-bench's event path (100k flows, the
// per-thread CPU of /proc/PID/task/*/schedstat) the monitor's thread took
// 27–46 of the receiver's 102–119 ms before, 14–21 of 94–105 after.
type mmsgSock struct {
	rc syscall.RawConn
	// The destination of every send, as a raw sockaddr (peer points
	// into peer4 or peer6), and the control message every send carries.
	peer4   unix.RawSockaddrInet4
	peer6   unix.RawSockaddrInet6
	peer    unsafe.Pointer
	peerLen uint32
	oob     []byte
	whdrs   []unix.Mmsghdr
	wiovs   []unix.Iovec
	// Receive's headers, buffers and source addresses.
	rhdrs []unix.Mmsghdr
	riovs []unix.Iovec
	names []unix.RawSockaddrInet6
}

// mmsgMax is the most datagrams one call sends.
const mmsgMax = 256

// newMmsgSock prepares c's batched sends to dest (zone: the interface
// index of a link-local destination, 0 otherwise) with the control
// message oob (may be nil). is6 says that c is an IPv6 socket, to which
// an IPv4 destination is given mapped.
func newMmsgSock(c *net.UDPConn, is6 bool, dest netip.AddrPort, zone uint32, oob []byte) (*mmsgSock, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	m := &mmsgSock{rc: rc, oob: oob}
	port := dest.Port()
	if a := dest.Addr(); a.Is4() && !is6 {
		m.peer4.Family = unix.AF_INET
		m.peer4.Addr = a.As4()
		m.peer4.Port = htons(port)
		m.peer, m.peerLen = unsafe.Pointer(&m.peer4), unix.SizeofSockaddrInet4
	} else {
		m.peer6.Family = unix.AF_INET6
		m.peer6.Addr = a.As16()
		m.peer6.Port = htons(port)
		m.peer6.Scope_id = zone
		m.peer, m.peerLen = unsafe.Pointer(&m.peer6), unix.SizeofSockaddrInet6
	}
	return m, nil
}

// htons returns port in network byte order, as a sockaddr holds it.
func htons(port uint16) uint16 {
	var b [2]byte
	b[0], b[1] = byte(port>>8), byte(port)
	return *(*uint16)(unsafe.Pointer(&b))
}

// send sends up to mmsgMax datagrams with one sendmmsg, waiting in the
// poller while the socket's buffer is full, and returns how many were
// sent. Like sendmmsg, it reports an error only when the first datagram
// could not be sent (n is then 0); a failure further on ends the batch
// early and is reported by the next call.
func (m *mmsgSock) send(dgrams [][]byte) (int, error) {
	n := min(len(dgrams), mmsgMax)
	if n == 0 {
		return 0, nil
	}
	if len(m.whdrs) < n {
		m.whdrs = make([]unix.Mmsghdr, mmsgMax)
		m.wiovs = make([]unix.Iovec, mmsgMax)
	}
	for i, d := range dgrams[:n] {
		h := &m.whdrs[i]
		*h = unix.Mmsghdr{}
		h.Hdr.Name = (*byte)(m.peer)
		h.Hdr.Namelen = m.peerLen
		m.wiovs[i] = unix.Iovec{}
		if len(d) > 0 {
			m.wiovs[i].Base = &d[0]
			m.wiovs[i].SetLen(len(d))
		}
		h.Hdr.Iov = &m.wiovs[i]
		h.Hdr.SetIovlen(1)
		if len(m.oob) > 0 {
			h.Hdr.Control = &m.oob[0]
			h.Hdr.SetControllen(len(m.oob))
		}
	}
	var r uintptr
	var errno unix.Errno
	err := m.rc.Write(func(fd uintptr) bool {
		r, _, errno = unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.whdrs[0])), uintptr(n), 0, 0, 0)
		return errno != unix.EAGAIN && errno != unix.EINTR
	})
	// The datagrams are the caller's: hold on to none of them.
	clear(m.wiovs[:n])
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, &net.OpError{Op: "sendmmsg", Net: "udp", Err: errno}
	}
	return int(r), nil
}

// receive reads up to len(ds) datagrams with one recvmmsg, waiting in the
// poller until there is one, and sets each slot's N and its source in
// srcs (invalid when the source is neither IPv4 nor IPv6).
func (m *mmsgSock) receive(ds []Datagram, srcs []netip.Addr) (int, error) {
	n := min(len(ds), len(srcs))
	if n == 0 {
		return 0, nil
	}
	if len(m.rhdrs) < n {
		m.rhdrs = make([]unix.Mmsghdr, n)
		m.riovs = make([]unix.Iovec, n)
		m.names = make([]unix.RawSockaddrInet6, n)
	}
	for i := range n {
		if len(ds[i].Buf) == 0 {
			return 0, fmt.Errorf("conntracksync: receive slot %d has no buffer", i)
		}
		m.riovs[i] = unix.Iovec{Base: &ds[i].Buf[0]}
		m.riovs[i].SetLen(len(ds[i].Buf))
		h := &m.rhdrs[i]
		*h = unix.Mmsghdr{}
		h.Hdr.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Hdr.Namelen = unix.SizeofSockaddrInet6
		h.Hdr.Iov = &m.riovs[i]
		h.Hdr.SetIovlen(1)
	}
	var r uintptr
	var errno unix.Errno
	err := m.rc.Read(func(fd uintptr) bool {
		r, _, errno = unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.rhdrs[0])), uintptr(n), 0, 0, 0)
		return errno != unix.EAGAIN && errno != unix.EINTR
	})
	clear(m.riovs[:n])
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, &net.OpError{Op: "recvmmsg", Net: "udp", Err: errno}
	}
	for i := range int(r) {
		ds[i].N = int(m.rhdrs[i].Len)
		srcs[i] = sockaddrAddr(&m.names[i], m.rhdrs[i].Hdr.Namelen)
	}
	return int(r), nil
}

// sockaddrAddr returns the address of a raw IPv4 or IPv6 sockaddr of
// length n, without a zone, an IPv4-mapped address unmapped; invalid for
// anything else.
func sockaddrAddr(sa *unix.RawSockaddrInet6, n uint32) netip.Addr {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}
