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
	c.rxDgrams++
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
		if !c.session || c.peerEstablished || seqBefore(seq, c.expected) {
			newSession = true
		}
		if newSession && c.session && now.Before(c.sessionAt.Add(sessionHoldoff)) {
			// Too soon after the last session start: not answered, so a real
			// restarted peer keeps saying HELLO and is taken after the holdoff.
			newSession = false
			c.stats.SessionHoldoffs++
		} else {
			c.helloBackDue = true
			c.helloBackSticky = true
		}
	} else if !c.session {
		newSession = true // first message ever: accept it, like conntrackd
	}
	if newSession {
		c.startSession(seq, flags&FlagHello != 0, now)
	} else {
		switch d := int32(seq - c.expected); {
		case d == 0:
			c.lastInOrder = now
		case d > 0 && d <= maxDirectGap:
			c.gap(seq, now)
		default:
			a := c.outOfWindow(seq, now)
			switch {
			case a.n >= 2 && d > 0 && d <= maxSeqJump:
				// A large gap that the next datagram continues: real loss.
				c.alt = [altSlots]altStream{}
				c.gap(seq, now)
			case a.n >= 2 && now.Sub(c.lastInOrder) >= altQuiet:
				c.desync(seq, now)
			case d < 0:
				c.stats.Drops[DropStale]++
				return
			default:
				c.stats.Drops[DropSeqJump]++
				return
			}
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
		c.receiveCtl(b, flags, seq, now)
	case typ.IsData():
		// Decoded in place, into the next update (Message.UnmarshalBinary's checks:
		// Walk has checked the length, and the version is checked above).
		if flags&^(FlagHello|FlagHelloBack) != 0 {
			c.stats.Drops[DropFlags]++
			return
		}
		c.updates = append(c.updates, Update{Op: Op(typ)})
		u := &c.updates[len(c.updates)-1]
		if err := u.Flow.parseTLVs(b[HeaderLen:]); err != nil || !u.Flow.Src.IsValid() {
			c.updates = c.updates[:len(c.updates)-1]
			if err != nil {
				c.stats.Drops[ReasonOf(err)]++
			} else {
				c.stats.Drops[DropFlow]++
			}
			return
		}
		c.stats.DataReceived++
	case typ.IsExpect():
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			c.stats.Drops[ReasonOf(err)]++
			return
		}
		c.stats.ExpectReceived++
		x := m.Exp
		c.updates = append(c.updates, Update{Op: Op(typ - TypeExpNew), Exp: &x})
	default:
		c.stats.Drops[DropType]++
	}
}

func (c *Channel) startSession(seq uint32, hello bool, now time.Time) {
	restart := c.session
	c.session = true
	c.peerEstablished = !hello
	c.restartWindow(seq, now)
	c.ctl = c.ctl[:0]
	c.sessionAt = now
	c.stats.PeerSessions++
	if restart {
		c.stats.PeerRestarts++
	}
	// The peer holds nothing of what it has not acknowledged: send it again.
	for i := 0; i < c.rs.len(); i++ {
		it := c.rs.at(i)
		if !it.done {
			c.requeue(it)
		}
	}
	c.compactRS()
	if !c.cfg.NoResyncOnSession {
		c.resyncPending = true
	}
	c.requestBulk()
	c.events = append(c.events, Event{Kind: EventPeerSession, Restart: restart, Seq: seq})
}

// The receive window and its recovery. conntrackd accepts any seq after the expected
// one as a gap and drops every earlier one, so one forged message with a seq ahead of
// the peer's makes it drop the real peer's messages as late until the peer restarts.
// Here one message may open a gap of at most maxDirectGap. Messages outside that
// (late, or further ahead) are watched as streams (consecutive seqs): a stream ahead
// by at most maxSeqJump that a second datagram continues is real loss and opens the
// gap; any other stream seen in two or more datagrams while no message arrived in
// order for altQuiet is the peer's, and the receiver takes it up again (desync). What
// was dropped meanwhile is asked for with a RESYNC; a vigil peer also resends it,
// since our later ACKs pass it. Gaps opened by forged messages do not count as
// messages in order, so forged hits cannot hold off the desync.
const (
	// maxDirectGap is the largest gap one message opens (our tunable: 240 full
	// datagrams of bulk lost in a row; a larger real gap waits for one more
	// datagram). A blind forger hits it once in about a million tries.
	maxDirectGap = 4096
	// maxSeqJump is the largest gap a stream of two datagrams opens (our tunable:
	// the default resend queue size; a real gap larger than that means the peer's
	// whole queue was lost, which the desync path repairs).
	maxSeqJump = 1 << 17
	// altSlots streams outside the window are watched; altSlack is how far a
	// message may skip ahead and still continue one (losses on the way).
	altSlots = 4
	altSlack = 1024
	// altQuiet: no message may have arrived in order for this long before another
	// stream takes over (twice the ALIVE interval, so an idle peer's lost ALIVE does
	// not count as silence).
	altQuiet = 2 * time.Second
	// sessionHoldoff: a HELLO less than this after the last session start does not
	// start another one (a HELLO flood costs one session and one bulk per second).
	sessionHoldoff = time.Second
)

// altStream is a run of consecutive messages seen outside the window.
type altStream struct {
	next  uint32 // seq that continues it
	n     int    // datagrams that carried it
	dgram uint64 // the last of those datagrams
	last  time.Time
}

// outOfWindow records a message outside the window in the stream it continues (or a
// new one) and returns that stream.
func (c *Channel) outOfWindow(seq uint32, now time.Time) *altStream {
	var s *altStream
	for i := range c.alt {
		a := &c.alt[i]
		if a.n > 0 && seq-a.next <= altSlack && now.Sub(a.last) <= altQuiet {
			s = a
			break
		}
	}
	if s == nil {
		// A new stream takes a free slot, else the one seen in fewest datagrams,
		// the newest of those: a stream that keeps coming stays, random forgeries
		// churn among themselves.
		s = &c.alt[0]
		for i := range c.alt {
			a := &c.alt[i]
			if a.n == 0 || now.Sub(a.last) > altQuiet {
				s = a
				break
			}
			if a.n < s.n || (a.n == s.n && a.last.After(s.last)) {
				s = a
			}
		}
		*s = altStream{}
	}
	if s.n == 0 || s.dgram != c.rxDgrams {
		s.n++
		s.dgram = c.rxDgrams
	}
	s.next, s.last = seq+1, now
	return s
}

// desync makes seq the expected message: the window restarts there, as if the peer
// had started a session, except that nothing of ours is resent (the peer did not
// restart). A RESYNC asks for what was dropped meanwhile.
func (c *Channel) desync(seq uint32, now time.Time) {
	c.stats.Desyncs++
	c.restartWindow(seq, now)
	if !c.cfg.NoResyncOnSession {
		c.resyncPending = true
	}
}

// restartWindow makes seq the next expected message, forgetting everything
// the old receive window had pending (acks, holes, out-of-window streams):
// for a new peer session and for a desync alike.
func (c *Channel) restartWindow(seq uint32, now time.Time) {
	c.expected = seq
	c.ackFrom = seq
	c.pending = 0
	c.ctlPending = false
	c.ackAt = time.Time{}
	c.haveLastAck = false
	c.holes = c.holes[:0]
	c.nackAt = time.Time{}
	c.lastInOrder = now
	c.alt = [altSlots]altStream{}
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

func (c *Channel) receiveCtl(b []byte, flags Flags, seq uint32, now time.Time) {
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
			c.requestBulk()
			c.events = append(c.events, Event{Kind: EventResyncRequested, Seq: seq})
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
