package ftfw

import (
	"encoding/binary"
	"time"
)

// The receiving half of a Channel: the sequence window, ACK/NACK generation, the
// peer session and HELLO handling.

// Receive processes one datagram from the peer at now.
func (c *Channel) Receive(dgram []byte, now time.Time) {
	c.now = now
	if len(dgram) < HeaderLen {
		c.stats.Drops[DropShort]++ // Walk would stop silently
		return
	}
	_, reason := Walk(dgram, func(b []byte) bool {
		c.receiveMsg(b, now)
		return true
	})
	if reason != DropNone {
		c.stats.Drops[reason]++
	}
}

func (c *Channel) receiveMsg(b []byte, now time.Time) {
	if v := b[0] >> 4; v != Version {
		c.stats.Drops[DropVersion]++
		return
	}
	typ, flags, _, seq, _ := Header(b)
	c.stats.MsgsReceived++

	newSession := false
	if flags&FlagHello != 0 {
		c.helloBackDue = true
		c.helloBackSticky = true
		if !c.session || c.peerEstablished || seqBefore(seq, c.expected) {
			newSession = true
		}
	} else if !c.session {
		newSession = true // first message ever: accept it, like conntrackd
	}
	if newSession {
		c.startSession(seq, flags&FlagHello != 0, now)
	} else {
		switch d := int32(seq - c.expected); {
		case d < 0:
			c.stats.Drops[DropStale]++
			return
		case d > 0:
			c.gap(seq, now)
		}
	}
	if flags&FlagHello == 0 {
		c.peerEstablished = true
		c.helloBackSticky = false
	}
	c.accept(seq, typ.IsData() || typ.IsExpect() || (typ == TypeCtl && flags&FlagResync != 0), now)

	if flags&FlagHelloBack != 0 && !c.established {
		c.established = true
		c.events = append(c.events, Event{Kind: EventEstablished, Seq: seq})
	}

	switch {
	case typ == TypeCtl:
		c.receiveCtl(b, flags, now)
	case typ.IsData():
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			c.stats.Drops[ReasonOf(err)]++
			return
		}
		if !m.Flow.Src.IsValid() {
			c.stats.Drops[DropFlow]++
			return
		}
		c.stats.DataReceived++
		c.updates = append(c.updates, Update{Op: Op(typ), Flow: m.Flow})
	case typ.IsExpect():
		c.stats.ExpectSkipped++
	default:
		c.stats.Drops[DropType]++
	}
}

func (c *Channel) startSession(seq uint32, hello bool, now time.Time) {
	restart := c.session
	c.session = true
	c.peerEstablished = !hello
	c.expected = seq
	c.ackFrom = seq
	c.pending = 0
	c.ctlPending = false
	c.ackAt = time.Time{}
	c.haveLastAck = false
	c.holes = c.holes[:0]
	c.nackAt = time.Time{}
	c.ctl = c.ctl[:0]
	c.stats.PeerSessions++
	if restart {
		c.stats.PeerRestarts++
	}
	// The peer holds nothing of what it has not acknowledged: send it again.
	for i := c.rsHead; i < len(c.rs); i++ {
		it := &c.rs[i]
		if !it.done {
			c.requeue(it)
		}
	}
	c.compactRS()
	if !c.cfg.NoResyncOnSession {
		c.resyncPending = true
	}
	c.events = append(c.events, Event{Kind: EventPeerSession, Restart: restart, Seq: seq})
}

// gap handles a message later than expected: acknowledge what we have (never across
// the gap), NACK the gap (retried on a timer) and open a new window at seq.
func (c *Channel) gap(seq uint32, now time.Time) {
	c.stats.Gaps++
	if c.pending > 0 || c.ctlPending {
		c.queueAck(c.ackFrom, c.expected-1)
	}
	from, to := c.expected, seq-1
	c.ctl = append(c.ctl, Message{Type: TypeCtl, Flags: FlagNack, From: from, To: to})
	if n := len(c.holes); n > 0 && c.holes[n-1].to+1 == from {
		c.holes[n-1].to = to // adjacent gaps: one range
		c.holes[n-1].left = c.cfg.NackRetries
	} else {
		if n >= maxHoles {
			c.holes[1].from = c.holes[0].from // merge the oldest two: never forget a gap
			c.holes[1].left = max(c.holes[0].left, c.holes[1].left)
			c.holes = append(c.holes[:0], c.holes[1:]...)
		}
		c.holes = append(c.holes, hole{from: from, to: to, left: c.cfg.NackRetries})
	}
	if c.nackAt.IsZero() {
		c.nackGap = c.cfg.NackRetry
		c.nackAt = now.Add(c.nackGap)
	}
	c.ackFrom = seq
	c.pending = 0
	c.ctlPending = false
	c.ackAt = time.Time{}
}

// accept moves the window past seq. Only data and RESYNC make an ACK due soon; control
// messages are acknowledged with them or on the ALIVE timer (so that ACKs are not
// acknowledged back and forth).
func (c *Channel) accept(seq uint32, data bool, now time.Time) {
	c.expected = seq + 1
	if !data {
		c.ctlPending = true
		return
	}
	c.pending++
	if c.pending == 1 {
		c.ackAt = now.Add(c.cfg.AckDelay)
	}
	if c.pending >= c.cfg.ACKWindow {
		c.queueAck(c.ackFrom, seq)
	}
}

func (c *Channel) queueAck(from, to uint32) {
	c.ctl = append(c.ctl, Message{Type: TypeCtl, Flags: FlagAck, From: from, To: to})
	c.lastAck = [2]uint32{from, to}
	c.haveLastAck = true
	c.ackFrom = to + 1
	c.pending = 0
	c.ctlPending = false
	c.ackAt = time.Time{}
}

func (c *Channel) receiveCtl(b []byte, flags Flags, now time.Time) {
	if flags.hasRange() {
		if len(b) < ControlLen {
			c.stats.Drops[DropLength]++
			return
		}
		from, to := binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:])
		switch {
		case flags&FlagAck != 0:
			c.stats.AcksReceived++
			c.ackRange(from, to, now)
		case flags&FlagNack != 0:
			c.stats.NacksReceived++
			c.nackRange(from, to)
		case flags&FlagResync != 0:
			c.stats.ResyncsRcv++
			c.events = append(c.events, Event{Kind: EventResyncRequested})
		}
	}
	if flags&FlagAlive != 0 {
		// A probe: acknowledge now what we hold, or repeat the last ACK in case it was lost.
		if c.pending > 0 || c.ctlPending {
			c.queueAck(c.ackFrom, c.expected-1)
		} else if c.haveLastAck {
			c.ctl = append(c.ctl, Message{Type: TypeCtl, Flags: FlagAck, From: c.lastAck[0], To: c.lastAck[1]})
		}
	}
}

// inRange reports from <= s <= to in serial arithmetic.
func inRange(s, from, to uint32) bool { return s-from <= to-from }
