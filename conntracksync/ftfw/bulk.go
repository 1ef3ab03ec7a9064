package ftfw

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// The bulk path: a whole table for the peer (after RESYNC, a new peer session or a
// takeover) is encoded once into byte chunks laid out as the datagrams it is sent in,
// without the per-Key entries of Send. Its first send stamps each message's seq and
// flags in place and hands the datagram on as it is: no copy. Every bulk message still
// gets its own seq and resend-queue item, so it is acknowledged, NACKed and
// retransmitted like any other data (a retransmission is copied into the round's
// datagrams with its new seq). A chunk is dropped as soon as all its messages are sent
// and acknowledged, so memory follows what is still unacknowledged, and no chunk is
// ever copied to grow; a later chunk of the same bulk may reuse a dropped one's memory,
// once the Outbox whose datagrams may alias it has been followed by another.
//
// A retransmission resends the bytes encoded at SendBulk time. That state can only be
// stale if the same Key went through Send afterwards; touched records those Keys while
// any chunk is held, and a bulk message older than such a Send is not sent (again): the
// newer message, reliable on its own, carries the entry.

// bulkChunkSize is the capacity of one chunk's buffer (our tunable). A message larger
// than that gets a chunk of its own size.
const bulkChunkSize = 1 << 20

// bulkChunk holds encoded bulk messages back to back (header with seq and flags zero
// until first sent), cut into datagrams: a datagram ends where the next message would
// make it longer than the Channel's MaxDatagram.
type bulkChunk struct {
	first   uint32   // ordinal of message 0 among all bulk messages of the Channel (serial)
	buf     []byte   // never grown: SendBulk starts a new chunk instead
	off     []uint32 // start of message i in buf; its length is in its header
	dgEnd   []uint32 // one past the last message of each closed datagram
	dgStart int      // where the open datagram starts in buf
	next    int      // first message never sent
	nextDg  int      // the datagram that holds message next (len(dgEnd): the open one)
	live    int      // messages in the resend queue or in the retransmit queue
}

func (b *bulkChunk) msg(i uint32) []byte {
	s := b.off[i]
	n := uint32(binary.BigEndian.Uint16(b.buf[s+2:]))
	return b.buf[s : s+n]
}

// end returns where message i ends in buf.
func (b *bulkChunk) end(i int) int {
	if i < len(b.off) {
		return int(b.off[i])
	}
	return len(b.buf)
}

// closeDatagram ends the open datagram, if it holds a message.
func (b *bulkChunk) closeDatagram() {
	if n := len(b.off); n > 0 && (len(b.dgEnd) == 0 || int(b.dgEnd[len(b.dgEnd)-1]) < n) {
		b.dgEnd = append(b.dgEnd, uint32(n))
	}
	b.dgStart = len(b.buf)
}

// bulkQueue is the Channel's bulk state.
type bulkQueue struct {
	chunks []*bulkChunk // oldest first; the last one is filled by SendBulk
	added  uint32       // bulk messages ever added (serial)
	unsent int          // messages added and never sent
	retx   []uint32     // ordinals of messages to send again, in order
	rhead  int
	// Dropped chunks whose memory a later chunk may take, while a bulk is in
	// flight: held were dropped since the last Outbox, whose datagrams may
	// still alias them; Outbox moves them to spare, which SendBulk takes
	// from. At most bulkSpareMax in all; an Outbox that finds no chunk left
	// empties both, so that an idle Channel keeps none.
	held, spare []*bulkChunk
}

// bulkSpareMax is how many dropped chunks a bulk keeps for reuse (our
// tunable): a bulk whose acknowledgements are handled as it goes out (the
// Replicator does between its rounds) then cycles through a few chunks'
// memory instead of holding fresh memory for the whole table.
const bulkSpareMax = 2

// keep offers a dropped chunk for reuse.
func (q *bulkQueue) keep(ch *bulkChunk) {
	if cap(ch.buf) == bulkChunkSize && len(q.held)+len(q.spare) < bulkSpareMax {
		q.held = append(q.held, ch)
	}
}

// released makes the chunks held until this Outbox reusable, or lets them
// all go when no bulk is in flight.
func (q *bulkQueue) released() {
	if len(q.chunks) == 0 {
		clear(q.held)
		clear(q.spare)
		q.held, q.spare = q.held[:0], q.spare[:0]
		return
	}
	q.spare = append(q.spare, q.held...)
	clear(q.held)
	q.held = q.held[:0]
}

// reuse returns a spare chunk emptied for the messages from ordinal first
// on, or nil.
func (q *bulkQueue) reuse(first uint32) *bulkChunk {
	k := len(q.spare)
	if k == 0 {
		return nil
	}
	ch := q.spare[k-1]
	q.spare[k-1] = nil
	q.spare = q.spare[:k-1]
	*ch = bulkChunk{first: first, buf: ch.buf[:0], off: ch.off[:0], dgEnd: ch.dgEnd[:0]}
	return ch
}

func (q *bulkQueue) pending() int { return q.unsent + len(q.retx) - q.rhead }

// chunk returns the chunk that holds the message of ordinal o (one that is still
// referenced, so its chunk is held).
func (q *bulkQueue) chunk(o uint32) *bulkChunk {
	base := q.chunks[0].first
	r := o - base
	i := sort.Search(len(q.chunks), func(i int) bool { return q.chunks[i].first-base > r })
	return q.chunks[i-1]
}

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
	if err := c.checkLen(n); err != nil {
		return err
	}
	q := &c.bulk
	var ch *bulkChunk
	if k := len(q.chunks); k > 0 && cap(q.chunks[k-1].buf)-len(q.chunks[k-1].buf) >= n {
		ch = q.chunks[k-1]
	} else {
		if k > 0 {
			q.chunks[k-1].closeDatagram()
		}
		if n <= bulkChunkSize {
			ch = q.reuse(q.added)
		}
		if ch == nil {
			size := max(bulkChunkSize, n)
			// Each message costs about one offset per 64 bytes and one datagram
			// end per MaxDatagram bytes.
			ch = &bulkChunk{first: q.added, buf: make([]byte, 0, size),
				off: make([]uint32, 0, size/64), dgEnd: make([]uint32, 0, size/c.cfg.MaxDatagram+1)}
		}
		q.chunks = append(q.chunks, ch)
	}
	start := len(ch.buf)
	if start-ch.dgStart+n > c.cfg.MaxDatagram {
		ch.closeDatagram()
	}
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
func (c *Channel) touch(k mapKey) {
	if len(c.bulk.chunks) == 0 {
		return
	}
	if c.touched == nil {
		c.touched = make(map[mapKey]uint32)
	}
	c.touched[k] = c.bulk.added
}

// superseded reports whether message i of ch was followed by a Send of its Key.
func (c *Channel) superseded(ch *bulkChunk, i uint32) bool {
	if len(c.touched) == 0 {
		return false
	}
	var m Message
	if m.UnmarshalBinary(ch.msg(i)) != nil {
		return false
	}
	fk := m.Flow.Key()
	after, ok := c.touched[fk.mapKey()]
	return ok && seqBefore(ch.first+i, after)
}

// bulkReleased drops one live bulk message (acknowledged or superseded), and its chunk
// when that was the chunk's last.
func (c *Channel) bulkReleased(o uint32) {
	ch := c.bulk.chunk(o)
	ch.live--
	if ch.live == 0 && ch.next == len(ch.off) {
		c.bulkMaybeDrop()
	}
}

// bulkMaybeDrop frees the chunks whose messages are all sent and acknowledged.
func (c *Channel) bulkMaybeDrop() {
	q := &c.bulk
	j := 0
	for _, ch := range q.chunks {
		if ch.live == 0 && ch.next == len(ch.off) {
			q.keep(ch)
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

// outboxBulk sends bulk retransmissions (copied into the open datagram), then new bulk
// messages (their datagrams as they lie in the chunks), while the resend queue has
// room. It returns how many it sent.
func (c *Channel) outboxBulk(flags Flags) int {
	q := &c.bulk
	p := c.packer
	data := 0
	for q.rhead < len(q.retx) && c.rsLive < c.cfg.ResendQueueSize {
		o := q.retx[q.rhead]
		q.rhead++
		ch := q.chunk(o)
		ch.live--
		if c.superseded(ch, o-ch.first) {
			continue
		}
		c.rs.push(rsItem{seq: c.packMsg(ch.msg(o-ch.first), flags), ref: o, kind: rsBulk})
		c.rsLive++
		ch.live++
		data++
	}
	if q.rhead == len(q.retx) {
		q.retx, q.rhead = q.retx[:0], 0
	}
	ci := 0 // the first chunk that may hold unsent messages
	for q.unsent > 0 && c.rsLive < c.cfg.ResendQueueSize {
		for q.chunks[ci].next == len(q.chunks[ci].off) {
			ci++
		}
		ch := q.chunks[ci]
		if ch.nextDg == len(ch.dgEnd) {
			ch.closeDatagram() // what SendBulk adds later goes into a datagram of its own
		}
		// The rest of the datagram that holds ch.next, as far as the queue has room.
		from := ch.next
		to := min(int(ch.dgEnd[ch.nextDg]), from+c.cfg.ResendQueueSize-c.rsLive)
		if len(c.touched) > 0 {
			// Some Keys went through Send since the bulk began: each message is
			// looked at, and those that survive are copied.
			for i := from; i < to; i++ {
				if c.superseded(ch, uint32(i)) {
					continue
				}
				c.rs.push(rsItem{seq: c.packMsg(ch.msg(uint32(i)), flags), ref: ch.first + uint32(i), kind: rsBulk})
				c.rsLive++
				ch.live++
				data++
			}
		} else {
			for i := from; i < to; i++ {
				stampMsg(ch.buf[ch.off[i]:], flags, c.seq)
				c.rs.push(rsItem{seq: c.seq, ref: ch.first + uint32(i), kind: rsBulk})
				c.seq++
			}
			p.addExternal(ch.buf[ch.off[from]:ch.end(to):ch.end(to)])
			n := to - from
			c.rsLive += n
			ch.live += n
			data += n
		}
		q.unsent -= to - from
		ch.next = to
		if to == int(ch.dgEnd[ch.nextDg]) {
			ch.nextDg++
		}
	}
	c.bulkMaybeDrop()
	return data
}
