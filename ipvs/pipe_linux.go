package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// pipe is a generic netlink socket that sends many requests in one write
// and matches the replies to them by sequence number: the kernel handles
// every message of a write in turn, acknowledging each (NLM_F_ACK) or
// answering a dump with its parts and NLMSG_DONE, and goes on after a
// failed one. A table of 1,000 services x 10 destinations is then a few
// hundred system calls instead of 11,000 request/ack round trips.
//
// The window of outstanding requests is bounded so that their replies
// always fit in the socket's receive buffer (an overflow would lose
// acks, and with them the knowledge of what was done).
type pipe struct {
	fd     int
	family uint16
	seq    uint32
	out    []byte // the write being built
	in     []byte // the receive buffers of a dump, recvSize each
	acks   []byte // the receive buffers of acks, ackSize each
	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	msgs   [][]byte
	// window bounds the requests in one write: an ack takes at most
	// ackCost bytes of receive buffer.
	window int
}

const (
	recvSize = 32 << 10 // the largest dump part the kernel builds for us
	// dumpSlots is how many dump parts one read takes: reading a part
	// makes the kernel build the next one (or NLMSG_DONE) at once, so a
	// dump of one part is one write and one read.
	dumpSlots = 2
	ackCost   = 2 << 10
	// ackSize is the room for one ack: the header, the error and the
	// request's header (NETLINK_CAP_ACK), or the request itself without
	// it.
	ackSize = 1 << 10
	// wantRcvBuf is asked for with SO_RCVBUFFORCE (root); without it the
	// windows follow the buffer the socket has.
	wantRcvBuf = 1 << 20
	maxWindow  = 256
	// replyTimeout bounds a wait for the kernel's reply, so that a lost
	// reply fails the batch instead of hanging the daemon.
	replyTimeout = 30
)

// request is one netlink request of a batch and, once run, its outcome.
type request struct {
	cmd  uint8
	dump bool
	data []byte // the attributes after the generic netlink header
	// err is the kernel's answer (an *netlink.OpError wrapping the errno)
	// or the failure of the exchange.
	err error
	// parts are a dump's messages, the attributes after their generic
	// netlink header (copies).
	parts [][]byte
	done  bool
}

func newPipe(family uint16) (*pipe, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("ipvs: netlink socket: %w", err)
	}
	p := &pipe{fd: fd, family: family, in: make([]byte, dumpSlots*recvSize), out: make([]byte, 0, 64<<10)}
	fail := func(what string, err error) (*pipe, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("ipvs: netlink socket: %s: %w", what, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("bind", err)
	}
	// Error acks without the request echoed back; best effort.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, wantRcvBuf)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: replyTimeout}); err != nil {
		return fail("SO_RCVTIMEO", err)
	}
	rcv, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return fail("SO_RCVBUF", err)
	}
	p.window = min(max(rcv/ackCost, dumpSlots), maxWindow)
	p.acks = make([]byte, p.window*ackSize)
	p.hdrs = make([]unix.Mmsghdr, p.window)
	p.iovs = make([]unix.Iovec, p.window)
	for i := range p.hdrs {
		p.hdrs[i].Hdr.Iov = &p.iovs[i]
		p.hdrs[i].Hdr.SetIovlen(1)
	}
	return p, nil
}

func (p *pipe) close() error { return unix.Close(p.fd) }

// run sends the requests, a window at a time, and waits for every reply.
// A dump goes alone: the kernel runs one dump at a time per socket and
// refuses a second one (EBUSY) until the first has ended, which takes a
// read by us even for a dump of one message. When the exchange itself
// fails, the requests without an answer get that error.
func (p *pipe) run(reqs []*request) {
	for len(reqs) > 0 {
		n := 1
		if !reqs[0].dump {
			for n < len(reqs) && n < p.window && !reqs[n].dump {
				n++
			}
		}
		win := reqs[:n]
		if err := p.exchange(win); err != nil {
			for _, r := range win {
				if !r.done {
					r.err, r.done = err, true
				}
			}
		}
		reqs = reqs[n:]
	}
}

// exchange writes win in one message batch and reads until each request
// is answered.
func (p *pipe) exchange(win []*request) error {
	base := p.seq + 1
	p.out = p.out[:0]
	for _, r := range win {
		p.seq++
		flags := uint16(unix.NLM_F_REQUEST | unix.NLM_F_ACK)
		if r.dump {
			flags = unix.NLM_F_REQUEST | unix.NLM_F_DUMP
		}
		start := len(p.out)
		p.out = binary.NativeEndian.AppendUint32(p.out, 0) // length, below
		p.out = binary.NativeEndian.AppendUint16(p.out, p.family)
		p.out = binary.NativeEndian.AppendUint16(p.out, flags)
		p.out = binary.NativeEndian.AppendUint32(p.out, p.seq)
		p.out = binary.NativeEndian.AppendUint32(p.out, 0) // port: the kernel's
		p.out = append(p.out, r.cmd, genlVersion, 0, 0)
		p.out = append(p.out, r.data...)
		binary.NativeEndian.PutUint32(p.out[start:], uint32(len(p.out)-start))
		p.out = pad(p.out)
	}
	if err := unix.Sendto(p.fd, p.out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return &netlink.OpError{Op: "send", Err: err}
	}
	left := len(win)
	for left > 0 {
		msgs, err := p.recv(win[0].dump, left)
		if err != nil {
			return &netlink.OpError{Op: "receive", Err: err}
		}
		for _, b := range msgs {
			for len(b) >= unix.NLMSG_HDRLEN {
				l := int(binary.NativeEndian.Uint32(b))
				typ := binary.NativeEndian.Uint16(b[4:])
				seq := binary.NativeEndian.Uint32(b[8:])
				if l < unix.NLMSG_HDRLEN || l > len(b) {
					return &netlink.OpError{Op: "receive", Err: fmt.Errorf("malformed message of %d bytes", l)}
				}
				body := b[unix.NLMSG_HDRLEN:l]
				b = b[min(nlAlign(l), len(b)):]
				i := int(seq - base)
				if seq-base >= uint32(len(win)) || win[i].done {
					continue // not ours (a stale reply)
				}
				r := win[i]
				switch typ {
				case unix.NLMSG_ERROR, unix.NLMSG_DONE:
					if len(body) >= 4 {
						if e := int32(binary.NativeEndian.Uint32(body)); e != 0 {
							r.err = &netlink.OpError{Op: "receive", Err: syscall.Errno(-e)}
						}
					}
					r.done = true
					left--
				default:
					if r.dump && len(body) >= 4 {
						r.parts = append(r.parts, append([]byte(nil), body[4:]...))
					}
				}
			}
		}
	}
	return nil
}

// recv reads what the kernel has queued with one recvmmsg(2): for a dump
// up to dumpSlots parts of up to recvSize bytes, for acks up to most
// datagrams of ackSize.
func (p *pipe) recv(dump bool, most int) ([][]byte, error) {
	for {
		var n int
		var err error
		if dump {
			for i := range dumpSlots {
				p.iovs[i].Base = &p.in[i*recvSize]
				p.iovs[i].SetLen(recvSize)
			}
			n, err = p.recvmmsg(dumpSlots)
		} else {
			most = min(most, len(p.hdrs))
			for i := range most {
				p.iovs[i].Base = &p.acks[i*ackSize]
				p.iovs[i].SetLen(ackSize)
			}
			n, err = p.recvmmsg(most)
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			return nil, fmt.Errorf("no reply in %d s: %w", replyTimeout, err)
		}
		if err != nil {
			return nil, err
		}
		p.msgs = p.msgs[:0]
		for i := range n {
			h := &p.hdrs[i]
			if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
				return nil, fmt.Errorf("a reply longer than %d bytes", h.Hdr.Iov.Len)
			}
			p.msgs = append(p.msgs, unsafe.Slice(h.Hdr.Iov.Base, h.Len))
		}
		return p.msgs, nil
	}
}

// recvmmsg receives up to n datagrams into p.hdrs, waiting for the first
// only (the kernel queues every reply to a write before the write
// returns).
func (p *pipe) recvmmsg(n int) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(p.fd), uintptr(unsafe.Pointer(&p.hdrs[0])), uintptr(n),
		unix.MSG_WAITFORONE, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// attrs appends netlink attributes to a buffer, without allocating beyond
// the buffer's growth.
type attrs []byte

func (a attrs) put(typ uint16, v []byte) attrs {
	a = binary.NativeEndian.AppendUint16(a, uint16(4+len(v)))
	a = binary.NativeEndian.AppendUint16(a, typ)
	a = append(a, v...)
	return pad(a)
}

// str appends a NUL-terminated string.
func (a attrs) str(typ uint16, s string) attrs {
	a = binary.NativeEndian.AppendUint16(a, uint16(4+len(s)+1))
	a = binary.NativeEndian.AppendUint16(a, typ)
	a = append(append(a, s...), 0)
	return pad(a)
}

func (a attrs) u8(typ uint16, v uint8) attrs { return a.put(typ, []byte{v}) }

func (a attrs) u16(typ uint16, v uint16) attrs {
	return a.put(typ, binary.NativeEndian.AppendUint16(make([]byte, 0, 2), v))
}

func (a attrs) u32(typ uint16, v uint32) attrs {
	return a.put(typ, binary.NativeEndian.AppendUint32(make([]byte, 0, 4), v))
}

func (a attrs) be16(typ uint16, v uint16) attrs {
	return a.put(typ, binary.BigEndian.AppendUint16(make([]byte, 0, 2), v))
}

// nest appends attribute typ holding what f appends.
func (a attrs) nest(typ uint16, f func(attrs) attrs) attrs {
	start := len(a)
	a = binary.NativeEndian.AppendUint32(a, 0)
	a = f(a)
	binary.NativeEndian.PutUint16(a[start:], uint16(len(a)-start))
	binary.NativeEndian.PutUint16(a[start+2:], typ)
	return a
}
