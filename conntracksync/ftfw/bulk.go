package ftfw

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// The bulk path: a whole table for the peer (after RESYNC, a new peer session or a
// takeover) is encoded once into byte chunks and sent from there, without the per-Key
// entries of Send. Every bulk message still gets its own seq and resend-queue item, so
// it is acknowledged, NACKed and retransmitted like any other data. A chunk is dropped
// as soon as all its messages are sent and acknowledged, so memory follows what is
// still unacknowledged, and no chunk is ever copied to grow.
//
// A retransmission resends the bytes encoded at SendBulk time. That state can only be
// stale if the same Key went through Send afterwards; touched records those Keys while
// any chunk is held, and a bulk message older than such a Send is not sent (again): the
// newer message, reliable on its own, carries the entry.

// bulkChunkSize is the capacity of one chunk's buffer (our tunable). A message larger
// than that gets a chunk of its own size.
const bulkChunkSize = 1 << 20

// bulkChunk holds encoded bulk messages (header with seq and flags zero, then the
// TLVs) back to back.
type bulkChunk struct {
	first uint64 // ordinal of message 0 among all bulk messages of the Channel
	buf   []byte
	off   []uint32 // start of message i in buf; its length is in its header
	next  int      // first message never sent
	live  int      // messages in the resend queue or in the retransmit queue
}

func (b *bulkChunk) msg(i uint32) []byte {
	s := b.off[i]
	n := uint32(binary.BigEndian.Uint16(b.buf[s+2:]))
	return b.buf[s : s+n]
}

// bulkRef names one bulk message.
type bulkRef struct {
	c *bulkChunk
	i uint32
}

// bulkQueue is the Channel's bulk state.
type bulkQueue struct {
	chunks []*bulkChunk // oldest first; the last one is filled by SendBulk
	added  uint64       // bulk messages ever added
	unsent int          // messages added and never sent
	retx   []bulkRef    // messages to send again, in order
	rhead  int
}

func (q *bulkQueue) pending() int { return q.unsent + len(q.retx) - q.rhead }

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
	q := &c.bulk
	var ch *bulkChunk
	if k := len(q.chunks); k > 0 && cap(q.chunks[k-1].buf)-len(q.chunks[k-1].buf) >= n {
		ch = q.chunks[k-1]
	} else {
		ch = &bulkChunk{first: q.added, buf: make([]byte, 0, max(bulkChunkSize, n))}
		q.chunks = append(q.chunks, ch)
	}
	start := len(ch.buf)
	b, err := appendFlowMsg(ch.buf, op.msgType(), n, f)
	if err != nil {
		ch.buf = b[:start]
		c.stats.EncodeErrors++
		c.bulkMaybeDrop()
		return err
	}
	ch.buf = b
	ch.off = append(ch.off, uint32(start))
	q.added++
	q.unsent++
	return nil
}

// appendFlowMsg appends a data message of type t carrying f, seq and flags
// zero, whose length n (HeaderLen + f.tlvLen()) the caller has checked.
// On error b's first len(b) bytes are unchanged, the rest is garbage.
func appendFlowMsg(b []byte, t Type, n int, f *Flow) ([]byte, error) {
	start := len(b)
	b = append(b, Version<<4|byte(t)&0x0f, 0, byte(n>>8), byte(n), 0, 0, 0, 0)
	b, err := f.appendTLVs(b)
	if err == nil && len(b)-start != n {
		err = fmt.Errorf("ftfw: encoded %d bytes, expected %d", len(b)-start, n)
	}
	return b, err
}

// touch records that Send queued k after the bulk messages added so far.
func (c *Channel) touch(k Key) {
	if len(c.bulk.chunks) == 0 {
		return
	}
	if c.touched == nil {
		c.touched = make(map[Key]uint64)
	}
	c.touched[k] = c.bulk.added
}

// superseded reports whether bulk message r was followed by a Send of its Key.
func (c *Channel) superseded(r bulkRef) bool {
	if len(c.touched) == 0 {
		return false
	}
	var m Message
	if m.UnmarshalBinary(r.c.msg(r.i)) != nil {
		return false
	}
	after, ok := c.touched[m.Flow.Key()]
	return ok && after > r.c.first+uint64(r.i)
}

// bulkReleased drops one live bulk message of ch (acknowledged or superseded).
func (c *Channel) bulkReleased(ch *bulkChunk) {
	ch.live--
	c.bulkMaybeDrop()
}

// bulkMaybeDrop frees the chunks whose messages are all sent and acknowledged.
func (c *Channel) bulkMaybeDrop() {
	q := &c.bulk
	j := 0
	for _, ch := range q.chunks {
		if ch.live == 0 && ch.next == len(ch.off) {
			continue
		}
		q.chunks[j] = ch
		j++
	}
	clear(q.chunks[j:])
	q.chunks = q.chunks[:j]
	if j == 0 {
		clear(c.touched)
	}
}

// outboxBulk packs bulk retransmissions, then new bulk messages, while the resend
// queue has room. It returns how many it packed.
func (c *Channel) outboxBulk(flags Flags) int {
	q := &c.bulk
	p := c.packer
	data := 0
	ci := 0 // the first chunk that may hold unsent messages
	// Room for the whole round at once: no copying of a resend queue that grows by
	// a hundred thousand items.
	c.rs = slices.Grow(c.rs, min(q.pending(), c.cfg.ResendQueueSize-c.rsLive))
	for q.pending() > 0 && c.rsLive < c.cfg.ResendQueueSize {
		var r bulkRef
		if q.rhead < len(q.retx) {
			r = q.retx[q.rhead]
			q.retx[q.rhead] = bulkRef{}
			q.rhead++
			r.c.live--
		} else {
			for q.chunks[ci].next == len(q.chunks[ci].off) {
				ci++
			}
			ch := q.chunks[ci]
			r = bulkRef{c: ch, i: uint32(ch.next)}
			ch.next++
			q.unsent--
		}
		if c.superseded(r) {
			continue
		}
		m := r.c.msg(r.i)
		if !p.Fits(len(m)) {
			p.Flush()
		}
		start := len(p.buf)
		p.buf = append(p.buf, m...)
		p.buf[start+1] = byte(flags)
		binary.BigEndian.PutUint32(p.buf[start+4:], c.seq)
		c.rs = append(c.rs, rsItem{seq: c.seq, bulk: r.c, bulkIdx: r.i})
		c.seq++
		c.rsLive++
		r.c.live++
		data++
	}
	if q.rhead == len(q.retx) {
		q.retx, q.rhead = q.retx[:0], 0
	}
	c.bulkMaybeDrop()
	return data
}
