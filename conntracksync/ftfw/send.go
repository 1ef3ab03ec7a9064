package ftfw

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The sending half of a Channel: the resend queue, timers and building the outbox.

// maxRangeScan bounds the resend-queue items one ACK or NACK visits (our tunable; at
// least twice the ACK window). A legitimate ACK spans one window; a NACK larger than
// this is served in parts by its repeats and by the inferred-loss timer, so a forged
// message can never make one Receive walk the whole queue.
const maxRangeScan = 8192

func (c *Channel) rangeScan() int { return max(maxRangeScan, 2*c.cfg.ACKWindow) }

// validRange checks an ACK or NACK range against the seqs we have sent in this
// Channel's life (firstSeq .. seq-1, at most 2^31 back). A peer acknowledges or NACKs
// only what we sent: a range that ends at a seq we never sent, or whose from is after
// its to, is forged (or an answer to a forged message) and is dropped, so that an ACK
// of seqs never sent cannot free unacknowledged data. A from before firstSeq (a peer
// that still counts from our previous run) is moved up to firstSeq. It returns the
// range to use and whether it is valid.
func (c *Channel) validRange(from, to uint32) (uint32, bool) {
	if seqBefore(to, from) {
		return 0, false
	}
	if c.seq-c.firstSeq > 1<<31 {
		c.firstSeq = c.seq - 1<<31
	}
	last, span := c.seq-1, c.seq-c.firstSeq // span: how many seqs we sent
	if last-to >= span {
		return 0, false
	}
	if last-from >= span || seqBefore(from, c.firstSeq) {
		from = c.firstSeq
	}
	return from, true
}

// rsIndex returns the index of the first resend-queue item whose seq is not before s
// (the items are in increasing seq order).
func (c *Channel) rsIndex(s uint32) int {
	lo, hi := 0, c.rs.len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if seqBefore(c.rs.at(m).seq, s) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (c *Channel) ackRange(from, to uint32, now time.Time) {
	from, ok := c.validRange(from, to)
	if !ok {
		c.stats.Drops[DropRange]++
		return
	}
	// Every live item before from is now suspect: the peer has a later message but
	// not this one. Items before suspectBefore already are, so each item is visited
	// once for this however many ACKs arrive.
	end := c.rsIndex(from)
	start := 0
	if c.haveSuspect {
		start = max(start, c.rsIndex(c.suspectBefore))
	}
	mark := max(int64(now.Sub(c.epoch))+1, 1)
	for i := start; i < end; i++ {
		if it := c.rs.at(i); !it.done && it.suspect == 0 {
			it.suspect = mark
		}
	}
	if !c.haveSuspect || seqBefore(c.suspectBefore, from) {
		c.suspectBefore, c.haveSuspect = from, true
	}
	for i, n := end, c.rangeScan(); i < c.rs.len() && n > 0; i, n = i+1, n-1 {
		it := c.rs.at(i)
		if seqBefore(to, it.seq) {
			break
		}
		if it.done {
			continue
		}
		it.done = true
		c.rsLive--
		switch it.kind {
		case rsEntry:
			c.release(it.ref)
		case rsBulk:
			c.bulkReleased(it.ref)
		}
	}
	c.compactRS()
}

func (c *Channel) nackRange(from, to uint32) {
	from, ok := c.validRange(from, to)
	if !ok {
		c.stats.Drops[DropRange]++
		return
	}
	for i, n := c.rsIndex(from), c.rangeScan(); i < c.rs.len() && n > 0; i, n = i+1, n-1 {
		it := c.rs.at(i)
		if seqBefore(to, it.seq) {
			break
		}
		if !it.done {
			c.requeue(it)
		}
	}
	c.compactRS()
}

// requeue takes an item out of the resend queue and queues its content again.
func (c *Channel) requeue(it *rsItem) {
	it.done = true
	c.rsLive--
	c.stats.Retransmits++
	switch it.kind {
	case rsBulk:
		c.bulk.retx = append(c.bulk.retx, it.ref)
		return
	case rsResync:
		c.resyncPending = true
		return
	}
	if e := c.ent(it.ref); e.queued {
		c.release(it.ref)
	} else {
		e.queued = true
		c.txq = append(c.txq, it.ref)
	}
}

// suspectAt is when the peer first acknowledged a seq after it's (it.suspect != 0).
func (c *Channel) suspectAt(it *rsItem) time.Time {
	return c.epoch.Add(time.Duration(it.suspect - 1))
}

// compactRS drops the done items at the resend queue's front. An empty queue keeps one
// segment, and its spare segments too while bulk messages wait to be sent.
func (c *Channel) compactRS() {
	for c.rs.len() > 0 && c.rs.at(0).done {
		c.rs.popFront()
	}
	if c.rs.len() == 0 && c.bulk.pending() == 0 {
		c.rs.trim()
	}
}

// Tick runs the timers at now. Outbox calls it; call it alone only to observe state.
func (c *Channel) Tick(now time.Time) {
	c.now = now
	if !c.established && !now.Before(c.helloAt) {
		c.wantAlive = true
		c.helloAt = now.Add(c.cfg.HelloInterval)
	}
	if !now.Before(c.lastSend.Add(c.cfg.AliveInterval)) {
		c.wantAlive = true
		if c.session && (c.pending > 0 || c.ctlPending) {
			c.queueAck(c.ackFrom, c.expected-1) // like conntrackd: ACK instead of ALIVE
		}
	}
	if c.rsLive > 0 && !c.probeAt.IsZero() && !now.Before(c.probeAt) {
		c.wantProbe = true
		c.probeGap = min(2*c.probeGap, c.cfg.AliveInterval)
		c.probeAt = now.Add(c.probeGap)
	}
	if c.pending > 0 && !c.ackAt.IsZero() && !now.Before(c.ackAt) {
		c.queueAck(c.ackFrom, c.expected-1)
	}
	// All repeated NACKs go out in the same round (one datagram, one contiguous run of
	// our seqs), so losing them opens one gap at the peer, not one per hole: NACKs of
	// NACKs cannot snowball.
	if len(c.holes) > 0 && !now.Before(c.nackAt) {
		if len(c.holes) > maxNackMsgs {
			// One range over all gaps: the sender resends what it still holds in it,
			// which is the gaps plus at most what our lost ACKs did not free.
			c.ctl = append(c.ctl, Message{Type: TypeCtl, Flags: FlagNack, From: c.holes[0].from, To: c.holes[len(c.holes)-1].to})
		}
		j := 0
		for _, h := range c.holes {
			if len(c.holes) <= maxNackMsgs {
				c.ctl = append(c.ctl, Message{Type: TypeCtl, Flags: FlagNack, From: h.from, To: h.to})
			}
			h.left--
			if h.left > 0 {
				c.holes[j] = h
				j++
			}
		}
		c.holes = c.holes[:j]
		c.nackGap = min(2*c.nackGap, maxNackGap)
		c.nackAt = now.Add(c.nackGap)
	}
	if len(c.holes) == 0 {
		c.nackAt = time.Time{}
	}
	if ok, n := c.gate.start(now, c.bulkInFlight()); ok {
		c.stats.BulksStarted++
		c.events = append(c.events, Event{Kind: EventSendBulk, Requests: n})
	}
	for i := 0; i < c.rs.len(); i++ {
		it := c.rs.at(i)
		if it.suspect == 0 {
			if !it.done {
				break // items after the first unsuspected one were never passed by an ACK
			}
			continue
		}
		if !it.done && !now.Before(c.suspectAt(it).Add(c.cfg.RetransmitAfter)) {
			c.requeue(it)
		}
	}
	c.compactRS()
}

// Deadline returns when Tick/Outbox must run next. A time not after the last call's
// now means output is ready.
func (c *Channel) Deadline() time.Time {
	if c.ready() {
		return c.now
	}
	d := c.lastSend.Add(c.cfg.AliveInterval)
	early := func(t time.Time) {
		if !t.IsZero() && t.Before(d) {
			d = t
		}
	}
	if !c.established {
		early(c.helloAt)
	}
	if c.rsLive > 0 {
		early(c.probeAt)
	}
	if c.pending > 0 {
		early(c.ackAt)
	}
	if len(c.holes) > 0 {
		early(c.nackAt)
	}
	early(c.gate.deadline(c.bulkInFlight()))
	for i := 0; i < c.rs.len(); i++ {
		it := c.rs.at(i)
		if it.done {
			continue
		}
		if it.suspect == 0 {
			break
		}
		early(c.suspectAt(it).Add(c.cfg.RetransmitAfter))
	}
	return d
}

func (c *Channel) ready() bool {
	if len(c.ctl) > 0 || c.helloBackDue || c.wantAlive || c.wantProbe || c.gate.ready(c.now, c.bulkInFlight()) {
		return true
	}
	return c.established && c.rsLive < c.cfg.ResendQueueSize && (c.resyncPending || c.txHead < len(c.txq) || c.bulk.pending() > 0)
}

// Outbox runs the timers at now and returns the datagrams to send to the peer, in
// order. They alias internal buffers, valid until the next Outbox call.
func (c *Channel) Outbox(now time.Time) [][]byte {
	c.Tick(now)
	c.bulk.released() // the last Outbox's datagrams are the caller's no more
	p := c.packer
	p.Reset()
	sent := 0
	// HELLO_BACK goes on every message of this round, so that losing one datagram
	// does not lose the answer (conntrackd sets it on one message only).
	helloBack := c.helloBackDue || c.helloBackSticky
	for i := range c.ctl {
		m := &c.ctl[i]
		c.stamp(m, now)
		c.mustAdd(m)
		sent++
		if m.Flags&FlagAck != 0 {
			c.stats.AcksSent++
		} else {
			c.stats.NacksSent++
		}
	}
	c.ctl = c.ctl[:0]
	if c.established && c.resyncPending && c.rsLive < c.cfg.ResendQueueSize {
		c.resyncPending = false
		m := Message{Type: TypeCtl, Flags: FlagResync}
		c.stamp(&m, now)
		c.mustAdd(&m)
		c.rs.push(rsItem{seq: m.Seq, kind: rsResync})
		c.rsLive++
		c.stats.ResyncsSent++
		sent++
	}
	data := 0
	if c.established {
		flags := Flags(0)
		if helloBack {
			flags |= FlagHelloBack
		}
		for c.txHead < len(c.txq) && c.rsLive < c.cfg.ResendQueueSize {
			i := c.txq[c.txHead]
			c.txHead++
			e := c.ent(i)
			e.queued = false
			c.rs.push(rsItem{seq: c.packMsg(c.msg(i), flags), ref: i, kind: rsEntry})
			c.rsLive++
			data++
		}
		if c.txHead == len(c.txq) {
			c.txq, c.txHead = c.txq[:0], 0
		}
		data += c.outboxBulk(flags)
	}
	sent += data
	c.stats.DataSent += uint64(data)
	if data > 0 {
		c.probeGap = c.cfg.ProbeDelay
		c.probeAt = now.Add(c.probeGap)
		c.wantProbe = false
	}
	if c.wantProbe || (c.helloBackDue && sent == 0) || (c.wantAlive && sent == 0) {
		m := Message{Type: TypeCtl, Flags: FlagAlive}
		c.stamp(&m, now)
		c.mustAdd(&m)
		c.stats.AlivesSent++
		sent++
	}
	c.wantAlive, c.wantProbe, c.helloBackDue = false, false, false
	if c.rsLive == 0 {
		c.probeAt = time.Time{}
	}
	if sent == 0 {
		return nil
	}
	c.stats.MsgsSent += uint64(sent)
	c.lastSend = now
	return p.Datagrams()
}

// packMsg copies the encoded data message m into the open datagram with the next seq
// and flags, and returns the seq.
func (c *Channel) packMsg(m []byte, flags Flags) uint32 {
	p := c.packer
	if !p.Fits(len(m)) {
		p.Flush()
	}
	start := len(p.buf)
	p.buf = append(p.buf, m...)
	seq := c.seq
	c.seq++
	stampMsg(p.buf[start:], flags, seq)
	return seq
}

// stampMsg sets the flags and seq in the header of the encoded message m.
func stampMsg(m []byte, flags Flags, seq uint32) {
	m[1] = byte(flags)
	binary.BigEndian.PutUint32(m[4:], seq)
}

// stamp gives m the next seq and the handshake flags.
func (c *Channel) stamp(m *Message, now time.Time) {
	m.Seq = c.seq
	c.seq++
	if !c.established {
		m.Flags |= FlagHello
		c.helloAt = now.Add(c.cfg.HelloInterval)
	}
	if c.helloBackDue || c.helloBackSticky {
		m.Flags |= FlagHelloBack
	}
}

func (c *Channel) mustAdd(m *Message) {
	if err := c.packer.Add(m); err != nil {
		panic("ftfw: control message does not fit: " + err.Error())
	}
}

// validate reports whether f can be encoded, without encoding it.
func (f *Flow) validate() error {
	if !(f.Src.Is4() && f.Dst.Is4()) && !(f.Src.Is6() && f.Dst.Is6() && !f.Src.Is4In6() && !f.Dst.Is4In6()) {
		return fmt.Errorf("ftfw: flow %v -> %v: addresses must be both IPv4 or both IPv6", f.Src, f.Dst)
	}
	if f.MasterSrc.IsValid() && (!f.MasterDst.IsValid() || f.MasterSrc.Is4() != f.MasterDst.Is4()) {
		return fmt.Errorf("ftfw: master %v -> %v: mixed or missing address family", f.MasterSrc, f.MasterDst)
	}
	for _, a := range [2]netip.Addr{f.SNAT, f.DNAT} {
		if a.IsValid() && a.Is4() != f.Src.Is4() {
			return fmt.Errorf("ftfw: NAT address %v does not match the flow's family", a)
		}
	}
	if len(f.Helper)+5 > helperNameMax || strings.IndexByte(f.Helper, 0) >= 0 {
		return fmt.Errorf("ftfw: helper name %q: at most %d bytes, no NUL", f.Helper, helperNameMax-5)
	}
	if 4+4*len(f.Labels) > labelsMax {
		return fmt.Errorf("ftfw: %d label words, at most %d", len(f.Labels), (labelsMax-4)/4)
	}
	return nil
}
