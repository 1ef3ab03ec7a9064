package ftfw

import (
	"encoding/binary"
	"fmt"
)

// The bulk path: a whole table for the peer (after RESYNC, a new peer session or a
// takeover) is encoded once into one byte arena and sent from there, without the
// per-Key entries of Send. Every bulk message still gets its own seq and resend-queue
// item, so it is acknowledged, NACKed and retransmitted like any other data.
//
// A retransmission resends the bytes encoded at SendBulk time. That state can only be
// stale if the same Key went through Send afterwards; touched records those Keys while
// the arena is in use, and a bulk message older than such a Send is not sent (again):
// the newer message, reliable on its own, carries the entry.

// bulkArena holds the encoded bulk messages (header with seq and flags zero, then the
// TLVs) back to back. It is emptied once every message has been sent and acknowledged.
type bulkArena struct {
	buf  []byte
	off  []uint32 // start of message i in buf; its length is in its header
	next int      // first message never sent
	live int      // messages in the resend queue or in retx
	retx []int32  // messages to send again, in order
}

func (a *bulkArena) msg(i int32) []byte {
	s := a.off[i]
	n := uint32(binary.BigEndian.Uint16(a.buf[s+2:]))
	return a.buf[s : s+n]
}

func (a *bulkArena) pending() int { return len(a.off) - a.next + len(a.retx) }

// SendBulk queues one entry of a bulk for the peer. Unlike Send, it does not collapse
// with other updates of the same Key: the message is encoded now, from f, and sent
// after what Send queued before it. A later Send of the same Key wins: the bulk message
// is then skipped if it has not gone out yet, and never retransmitted. Fails only for a
// flow that cannot be encoded (counted in Stats.EncodeErrors).
func (c *Channel) SendBulk(op Op, f *Flow) error {
	if err := f.validate(); err != nil {
		c.stats.EncodeErrors++
		return err
	}
	n := HeaderLen + f.tlvLen()
	if n > c.cfg.MaxDatagram {
		c.stats.EncodeErrors++
		return fmt.Errorf("ftfw: message of %d bytes in a %d-byte datagram: %w", n, c.cfg.MaxDatagram, ErrTooLong)
	}
	a := &c.bulk
	start := len(a.buf)
	b := append(a.buf, Version<<4|byte(op.msgType()), 0, byte(n>>8), byte(n), 0, 0, 0, 0)
	b, err := f.appendTLVs(b)
	if err == nil && len(b)-start != n {
		err = fmt.Errorf("ftfw: encoded %d bytes, expected %d", len(b)-start, n)
	}
	if err != nil {
		a.buf = b[:start]
		c.stats.EncodeErrors++
		return err
	}
	a.buf = b
	a.off = append(a.off, uint32(start))
	return nil
}

// touch records that Send queued k after the bulk messages added so far.
func (c *Channel) touch(k Key) {
	if len(c.bulk.off) == 0 {
		return
	}
	if c.touched == nil {
		c.touched = make(map[Key]int32)
	}
	c.touched[k] = int32(len(c.bulk.off))
}

// superseded reports whether bulk message i was followed by a Send of its Key.
func (c *Channel) superseded(i int32) bool {
	if len(c.touched) == 0 {
		return false
	}
	var m Message
	if m.UnmarshalBinary(c.bulk.msg(i)) != nil {
		return false
	}
	after, ok := c.touched[m.Flow.Key()]
	return ok && after > i
}

// bulkReleased drops one live bulk message and empties the arena when it was the last.
func (c *Channel) bulkReleased() {
	a := &c.bulk
	a.live--
	c.bulkMaybeEmpty()
}

func (c *Channel) bulkMaybeEmpty() {
	a := &c.bulk
	if a.live == 0 && a.next == len(a.off) && len(a.retx) == 0 && len(a.off) > 0 {
		a.buf, a.off, a.next, a.retx = a.buf[:0], a.off[:0], 0, a.retx[:0]
		clear(c.touched)
	}
}

// outboxBulk packs bulk retransmissions, then new bulk messages, while the resend
// queue has room. It returns how many it packed.
func (c *Channel) outboxBulk(flags Flags) int {
	a := &c.bulk
	p := c.packer
	data := 0
	for a.pending() > 0 && c.rsLive < c.cfg.ResendQueueSize {
		var i int32
		if len(a.retx) > 0 {
			i = a.retx[0]
			a.retx = a.retx[1:]
			a.live--
		} else {
			i = int32(a.next)
			a.next++
		}
		if c.superseded(i) {
			continue
		}
		m := a.msg(i)
		if !p.Fits(len(m)) {
			p.Flush()
		}
		start := len(p.buf)
		p.buf = append(p.buf, m...)
		p.buf[start+1] = byte(flags)
		binary.BigEndian.PutUint32(p.buf[start+4:], c.seq)
		c.rs = append(c.rs, rsItem{seq: c.seq, bulk: i + 1})
		c.seq++
		c.rsLive++
		a.live++
		data++
	}
	if len(a.retx) == 0 {
		a.retx = a.retx[:0:0]
	}
	c.bulkMaybeEmpty()
	return data
}
