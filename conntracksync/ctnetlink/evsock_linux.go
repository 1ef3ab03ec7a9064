package ctnetlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/nsenter"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Netfilter multicast groups (enum nfnetlink_groups) and the dump request.
const (
	nfnlgrpCTNew     = 1
	nfnlgrpCTUpdate  = 2
	nfnlgrpCTDestroy = 3
	ctMsgGet         = 1
	nlmFDump         = 0x300
	evRecvTimeout    = 250 * time.Millisecond
)

// evSock is a raw NETLINK_NETFILTER socket for the conntrack event groups
// and for streaming dumps. Compared with mdlayher/netlink's Receive (a
// peek, then a read into a fresh page per call), it reads into one reused
// buffer, and it can set SO_RCVBUFFORCE beyond net.core.rmem_max.
//
// The socket is non-blocking and its reads wait in the runtime's network
// poller, as a net.Conn's do, rather than in a blocking recvmmsg: a
// goroutine parked there holds no scheduler P, where a thread blocked in
// the kernel keeps its P until the runtime's monitor thread (sysmon)
// takes it back, and the monitor polls every 20 µs for as long as it
// keeps finding such a P. The recvmmsg itself is a raw system call, which
// cannot block on this socket: an ordinary one wakes the monitor whenever
// the process was idle. On ct-bench's event path (100k flows) the
// monitor's thread took 47 of the sender's 348 ms before, 9–15 of 264–302
// with these reads and the sync link's calls (mmsgSock) made so.
type evSock struct {
	fd int
	f  *os.File        // owns fd
	rc syscall.RawConn // f's, for reads that wait in the poller
	// buf takes a dump's datagrams (recv); slots, iovs and hdrs are the
	// recvmmsg slots for events (recvEvents): one message per datagram on
	// a netlink multicast socket, so batching the reads saves a syscall
	// per event. Each is made at its first use: a socket only dumps or
	// only follows events, and the other's memory would stay live for
	// as long as the socket (an event socket lives as long as the node).
	buf   []byte
	slots [][]byte
	iovs  []unix.Iovec
	hdrs  []unix.Mmsghdr
}

// evSlotSize bounds an event's datagram. A conntrack event carries at
// most the three tuples, counters, timestamps, a helper's name, sequence
// adjustments, labels and a security context's string: a few hundred
// bytes (372 for a flow with all but the last three, TestEventFitsSlot).
// A larger one would arrive truncated, which fails the receive: the
// Listener then subscribes and dumps the table again.
const (
	evSlots    = 64
	evSlotSize = 4096
	evBufSize  = 1 << 17
)

func openEvSock(rcvbuf int) (*evSock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, err
	}
	// os.NewFile registers a non-blocking descriptor with the poller.
	f := os.NewFile(uintptr(fd), "netlink-netfilter")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s := &evSock{fd: fd, f: f, rc: rc}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		s.close()
		return nil, err
	}
	if rcvbuf > 0 {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
				s.close()
				return nil, fmt.Errorf("receive buffer: %w", err)
			}
		}
	}
	return s, nil
}

// openEvSockIn is openEvSock inside the network namespace at netns ("" =
// the process's).
func openEvSockIn(netns string, rcvbuf int) (*evSock, error) {
	var s *evSock
	err := nsenter.Do(netns, func() (err error) {
		s, err = openEvSock(rcvbuf)
		return err
	})
	return s, err
}

func (s *evSock) join() error {
	return s.joinGroups(nfnlgrpCTNew, nfnlgrpCTUpdate, nfnlgrpCTDestroy)
}

// joinGroups joins the given multicast groups.
func (s *evSock) joinGroups(groups ...int) error {
	for _, g := range groups {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			return fmt.Errorf("join group %d: %w", g, err)
		}
	}
	return nil
}

// leave drops the given groups.
func (s *evSock) leave(groups ...int) error {
	for _, g := range groups {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_NETLINK, unix.NETLINK_DROP_MEMBERSHIP, g); err != nil {
			return err
		}
	}
	return nil
}

func (s *evSock) close() { _ = s.f.Close() }

// filterPorts attaches the kernel filter that drops the events of the
// sockets with port ids pids (portFilter), replacing the one attached
// before; with no ids it detaches the filter. The kernel swaps filters
// atomically: no event passes between two programs unfiltered.
func (s *evSock) filterPorts(pids []uint32) error {
	prog := portFilter(pids, binary.NativeEndian)
	if prog == nil {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("SO_DETACH_FILTER: %w", err)
		}
		return nil
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("event filter: %w", err)
	}
	f := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := unix.SetsockoptSockFprog(s.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}); err != nil {
		return fmt.Errorf("SO_ATTACH_FILTER: %w", err)
	}
	return nil
}

var errRecvTimeout = errors.New("receive timeout")

// recvEvents reads up to evSlots datagrams with one recvmmsg (waiting for
// the first only) and calls fn for each netlink message in them. It
// returns errRecvTimeout when nothing arrived for evRecvTimeout.
func (s *evSock) recvEvents(fn func(nlMsg) error) error {
	if s.slots == nil {
		s.makeSlots(evSlotSize)
	}
	for i := range s.hdrs {
		s.hdrs[i].Len = 0
		s.hdrs[i].Hdr.Flags = 0
	}
	var r uintptr
	var errno unix.Errno
	err := s.read(func(fd uintptr) bool {
		r, _, errno = unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[0])),
			uintptr(len(s.hdrs)), unix.MSG_WAITFORONE, 0, 0)
		return errno != unix.EAGAIN && errno != unix.EINTR
	})
	runtime.KeepAlive(s)
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	for i := range int(r) {
		if s.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			return fmt.Errorf("event larger than %d bytes", len(s.slots[i]))
		}
		if err := parseMessages(s.slots[i][:s.hdrs[i].Len], fn); err != nil {
			return err
		}
	}
	return nil
}

// makeSlots makes recvEvents' slots, of size bytes each.
func (s *evSock) makeSlots(size int) {
	s.slots = make([][]byte, evSlots)
	s.iovs = make([]unix.Iovec, evSlots)
	s.hdrs = make([]unix.Mmsghdr, evSlots)
	for i := range s.slots {
		s.slots[i] = make([]byte, size)
		s.iovs[i].Base = &s.slots[i][0]
		s.iovs[i].SetLen(size)
		s.hdrs[i].Hdr.Iov = &s.iovs[i]
		s.hdrs[i].Hdr.SetIovlen(1)
	}
}

// recv reads one datagram and calls fn for each netlink message in it.
// It returns errRecvTimeout when nothing arrived for evRecvTimeout.
func (s *evSock) recv(fn func(nlMsg) error) error {
	if s.buf == nil {
		s.buf = make([]byte, evBufSize)
	}
	var n int
	var rerr error
	err := s.read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), s.buf)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	if err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	return parseMessages(s.buf[:n], fn)
}

// read calls try (one non-blocking read on the socket, reporting whether
// it is done) until it is, waiting in the poller while the socket has
// nothing, for at most evRecvTimeout (then errRecvTimeout).
func (s *evSock) read(try func(fd uintptr) bool) error {
	if err := s.f.SetReadDeadline(time.Now().Add(evRecvTimeout)); err != nil {
		return err
	}
	err := s.rc.Read(try)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errRecvTimeout
	}
	return err
}

// nlMsg is one netlink message of a received datagram: its type, the
// port id the kernel stamped on it (that of the socket whose request
// caused an event, 0 for events caused by packets), and its payload, which
// points into the receive buffer and is valid during the callback only.
type nlMsg struct {
	typ  uint16
	pid  uint32
	data []byte
}

// parseMessages calls fn for each netlink message in b.
func parseMessages(b []byte, fn func(nlMsg) error) error {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			return fmt.Errorf("netlink message length %d of %d bytes", l, len(b))
		}
		m := nlMsg{
			typ:  binary.NativeEndian.Uint16(b[4:]),
			pid:  binary.NativeEndian.Uint32(b[12:]),
			data: b[nlmsgHdrLen:l],
		}
		if err := fn(m); err != nil {
			return err
		}
		adv := (l + 3) &^ 3
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return nil
}

var errDumpDone = errors.New("dump done")

// dump streams the whole conntrack table (IPv4 and IPv6) to fn, decoding
// each entry as it arrives instead of holding every message first; the
// Flow fn is given is valid during the call only.
func (s *evSock) dump(fn func(*ct.Flow)) error {
	// One flow decoded into at a time: fn gets it for the call only, and
	// a dump of a million flows allocates none.
	var f ct.Flow
	var d decoded
	return s.dumpSub(subsysCT, func(data []byte) error {
		f, d = ct.Flow{}, decoded{}
		if err := decodeFlow(data, &f, &d); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		fn(&f)
		return nil
	})
}

// dumpSub streams a whole table of an nfnetlink subsystem (conntrack or
// expectations, IPv4 and IPv6) to fn, which gets each message's payload
// after the nfgenmsg header.
func (s *evSock) dumpSub(subsys uint8, fn func(data []byte) error) error {
	var w nlb
	start := w.headerSub(subsys, ctMsgGet, nlmFRequest|nlmFDump, 1, 0)
	w.msgEnd(start)
	if _, err := unix.Write(s.fd, w.b); err != nil {
		return err
	}
	for {
		err := s.recv(func(m nlMsg) error {
			switch m.typ {
			case nlmsgDone:
				return errDumpDone
			case nlmsgError:
				if len(m.data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.data)); e != 0 {
						return fmt.Errorf("dump: %w", unix.Errno(-e))
					}
				}
				return nil
			}
			if len(m.data) < nfgenmsgLen {
				return errDecode
			}
			return fn(m.data[nfgenmsgLen:])
		})
		switch {
		case errors.Is(err, errDumpDone):
			return nil
		case errors.Is(err, errRecvTimeout):
			return errors.New("dump: no answer")
		case err != nil:
			return err
		}
	}
}
