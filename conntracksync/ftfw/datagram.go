package ftfw

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// MaxDatagram returns the largest UDP payload conntrackd builds for a link MTU:
// MTU minus the IP and UDP headers (1472 for an IPv4 link with MTU 1500).
func MaxDatagram(mtu int, ipv6 bool) int {
	if ipv6 {
		return mtu - overheadIPv6
	}
	return mtu - overheadIPv4
}

// Walk calls fn with each message of a datagram, in order, using conntrackd's stop
// rules (network.c): it stops at a message whose len is 0, smaller than the header,
// larger than the bytes left, or smaller than 16 for an ACK, NACK or RESYNC. The slice
// passed to fn is exactly one message (len bytes) and aliases dgram. Walk returns the
// number of messages passed to fn and why it stopped early (DropNone if the datagram
// was used to its end or fn returned false). Trailing bytes fewer than a header are
// ignored, like conntrackd does. The version is not checked here (a message with a
// wrong version is skipped by its own len, as conntrackd does, when fn rejects it).
func Walk(dgram []byte, fn func(msg []byte) bool) (int, DropReason) {
	n := 0
	for len(dgram) >= HeaderLen {
		l := int(binary.BigEndian.Uint16(dgram[2:]))
		if l == 0 || l < HeaderLen || l > len(dgram) {
			return n, DropLength
		}
		if Type(dgram[0]&0x0f) == TypeCtl && Flags(dgram[1]).hasRange() && l < ControlLen {
			return n, DropLength
		}
		n++
		if !fn(dgram[:l]) {
			return n, DropNone
		}
		dgram = dgram[l:]
	}
	return n, DropNone
}

// Packer builds datagrams of several messages, each at most a fixed size, the way
// conntrackd fills its send buffer. The zero value is not usable; use NewPacker.
type Packer struct {
	max   int
	buf   []byte   // all datagrams back to back
	ends  []int    // end offset of each finished datagram in buf; -1-k: ext[k] comes here
	start int      // start of the open datagram in buf
	ext   [][]byte // datagrams built elsewhere (addExternal)
	out   [][]byte // what Datagrams returned last
}

// NewPacker returns a Packer for datagrams of at most maxDatagram bytes (see
// MaxDatagram); maxDatagram must be at least ControlLen.
func NewPacker(maxDatagram int) *Packer {
	if maxDatagram < ControlLen {
		panic(fmt.Sprintf("ftfw: datagram size %d below %d", maxDatagram, ControlLen))
	}
	return &Packer{max: maxDatagram}
}

// Add appends m to the open datagram, or starts a new one when it would not fit. A
// message larger than the datagram size, or one that cannot be encoded, is an error
// and nothing is added.
func (p *Packer) Add(m *Message) error {
	return p.AddFunc(m.Len(), m.AppendBinary)
}

// AddFlow is Add for a data message of type t (seq and flags zero)
// carrying f, encoded straight from f into the datagram.
func (p *Packer) AddFlow(t Type, f *Flow) error {
	if !t.IsData() {
		return fmt.Errorf("ftfw: %v is not a data message", t)
	}
	n := HeaderLen + f.tlvLen()
	if n > p.max {
		return fmt.Errorf("ftfw: message of %d bytes in a %d-byte datagram: %w", n, p.max, ErrTooLong)
	}
	if len(p.buf)-p.start+n > p.max {
		p.Flush()
	}
	before := len(p.buf)
	b, err := appendFlowMsg(p.buf, t, n, f)
	if err != nil {
		p.buf = b[:before]
		return err
	}
	p.buf = b
	return nil
}

// AddFunc is Add for a message of known length n whose encoding appends to b.
func (p *Packer) AddFunc(n int, appendTo func(b []byte) ([]byte, error)) error {
	if n > p.max {
		return fmt.Errorf("ftfw: message of %d bytes in a %d-byte datagram: %w", n, p.max, ErrTooLong)
	}
	if len(p.buf)-p.start+n > p.max {
		p.Flush()
	}
	before := len(p.buf)
	b, err := appendTo(p.buf)
	if err != nil {
		p.buf = b[:before]
		return err
	}
	p.buf = b
	return nil
}

// Grow makes room for n more bytes of messages without a reallocation, so
// that a large batch is not copied as the buffer grows.
func (p *Packer) Grow(n int) {
	if n > 0 {
		p.buf = slices.Grow(p.buf, n)
		p.ends = slices.Grow(p.ends, n/p.max+1)
	}
}

// Fits reports whether n more bytes fit in the open datagram.
func (p *Packer) Fits(n int) bool { return len(p.buf)-p.start+n <= p.max }

// Flush closes the open datagram, if it holds anything.
func (p *Packer) Flush() {
	if len(p.buf) > p.start {
		p.ends = append(p.ends, len(p.buf))
		p.start = len(p.buf)
	}
}

// addExternal closes the open datagram and adds d, a finished datagram that stays
// where it is, after it.
func (p *Packer) addExternal(d []byte) {
	p.Flush()
	p.ends = append(p.ends, -1-len(p.ext))
	p.ext = append(p.ext, d)
}

// Datagrams flushes and returns the finished datagrams. They alias the Packer's
// buffer and stay valid until the next Reset; so does the returned slice.
func (p *Packer) Datagrams() [][]byte {
	p.Flush()
	out := slices.Grow(p.out[:0], len(p.ends))
	s := 0
	for _, e := range p.ends {
		if e < 0 {
			out = append(out, p.ext[-1-e])
			continue
		}
		out = append(out, p.buf[s:e:e])
		s = e
	}
	p.out = out
	return out
}

// Len returns the number of finished datagrams plus one if a datagram is open.
func (p *Packer) Len() int {
	if len(p.buf) > p.start {
		return len(p.ends) + 1
	}
	return len(p.ends)
}

// Reset empties the Packer, keeping its buffer. Datagrams returned before become invalid.
func (p *Packer) Reset() {
	clear(p.ext) // no chunk kept alive by a finished round
	clear(p.out)
	p.buf, p.ends, p.start, p.ext, p.out = p.buf[:0], p.ends[:0], 0, p.ext[:0], p.out[:0]
}
