package ftfw

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Op is what a delivered or sent update does to the receiver's external cache.
type Op uint8

// Update operations, mapped to CT_NEW / CT_UPD / CT_DEL.
const (
	OpNew Op = iota // create or replace the entry
	OpUpd           // create or update the entry
	OpDel           // remove the entry
)

func (o Op) String() string {
	switch o {
	case OpNew:
		return "new"
	case OpUpd:
		return "upd"
	case OpDel:
		return "del"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

func (o Op) msgType() Type { return Type(o) }

// Update is one entry change delivered by the peer, in the peer's order.
type Update struct {
	Op   Op
	Flow Flow
}

// EventKind says what a channel Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventEstablished: the peer answered our HELLO; queued data now flows.
	EventEstablished EventKind = iota + 1
	// EventPeerSession: the peer started a new session (first contact, or a restart
	// when Restart is set). It holds nothing we sent before: the caller should Send its
	// whole internal cache (a bulk). Unacknowledged data has already been queued again.
	EventPeerSession
	// EventResyncRequested: the peer sent RESYNC; the caller should Send its whole
	// internal cache.
	EventResyncRequested
)

func (k EventKind) String() string {
	switch k {
	case EventEstablished:
		return "established"
	case EventPeerSession:
		return "peer-session"
	case EventResyncRequested:
		return "resync-requested"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is something the owner of a Channel must act on or log.
type Event struct {
	Kind    EventKind
	Restart bool   // EventPeerSession: a session existed before (the peer restarted)
	Seq     uint32 // the peer's seq that caused the event
}

// Config tunes a Channel. Zero fields take the documented defaults.
type Config struct {
	// MaxDatagram is the largest datagram built (default MaxDatagram(1500, false) = 1472).
	MaxDatagram int
	// ACKWindow: the receiver acknowledges at the latest after this many in-order
	// messages (conntrackd ACKWindowSize, default 300).
	ACKWindow int
	// ResendQueueSize bounds the messages sent but not yet acknowledged (default
	// 131072). When it is full, new data waits in the transmit queue; nothing is dropped.
	ResendQueueSize int
	// AliveInterval: an ALIVE is sent when nothing was sent for this long (default 1 s,
	// conntrackd's ALIVE_INT).
	AliveInterval time.Duration
	// ProbeDelay: after sending data, an ALIVE probe follows this long after the last
	// data while anything is unacknowledged, doubling up to AliveInterval (default 100 ms).
	ProbeDelay time.Duration
	// AckDelay: the receiver acknowledges this long after the first unacknowledged
	// message at the latest (default 20 ms).
	AckDelay time.Duration
	// NackRetry and NackRetries: a NACK is repeated NackRetries more times, first
	// NackRetry after the gap, then at doubling intervals of at most 2 s (default
	// 200 ms, 8: the last repeat goes out about 11 s after the gap). All repeats go out
	// in one round; more than 32 gaps are repeated as one NACK spanning them all.
	NackRetry   time.Duration
	NackRetries int
	// RetransmitAfter: a message still unacknowledged this long after the peer
	// acknowledged a later one is sent again (default 1.5 s: longer than conntrackd's
	// 1-s ALIVE, after which a lost ACK of its own is NACKed and resent).
	RetransmitAfter time.Duration
	// HelloInterval: HELLO is repeated this often until HELLO_BACK (default 250 ms).
	HelloInterval time.Duration
	// InitialSeq is the first sequence number (0: the Unix time of now, like conntrackd).
	InitialSeq uint32
	// NoResyncOnSession disables sending RESYNC when a peer session starts.
	NoResyncOnSession bool
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MaxDatagram <= 0 {
		c.MaxDatagram = MaxDatagram(1500, false)
	}
	if c.ACKWindow <= 0 {
		c.ACKWindow = 300
	}
	if c.ResendQueueSize <= 0 {
		c.ResendQueueSize = 131072
	}
	def(&c.AliveInterval, time.Second)
	def(&c.ProbeDelay, 100*time.Millisecond)
	def(&c.AckDelay, 20*time.Millisecond)
	def(&c.NackRetry, 200*time.Millisecond)
	if c.NackRetries <= 0 {
		c.NackRetries = 8
	}
	def(&c.RetransmitAfter, 1500*time.Millisecond)
	def(&c.HelloInterval, 250*time.Millisecond)
}

// NumDropReasons sizes Stats.Drops.
const NumDropReasons = int(dropReasonCount)

// Stats are a Channel's counters and gauges.
type Stats struct {
	MsgsSent, DataSent, Retransmits         uint64
	AcksSent, NacksSent, AlivesSent         uint64
	ResyncsSent                             uint64
	MsgsReceived, DataReceived              uint64
	AcksReceived, NacksReceived, ResyncsRcv uint64
	ExpectSkipped                           uint64 // expectation messages parsed and skipped
	Gaps                                    uint64 // sequence gaps seen from the peer
	PeerSessions, PeerRestarts              uint64
	EncodeErrors                            uint64 // entries that could not be encoded (dropped)
	Drops                                   [NumDropReasons]uint64
	Queued                                  int  // entries waiting to be sent
	Unacked                                 int  // messages in the resend queue
	Established                             bool // our HELLO was answered
}

type entry struct {
	key    Key
	op     Op
	flow   Flow
	queued bool
	refs   int // 1 for the transmit queue + 1 per resend-queue item
}

type rsItem struct {
	seq     uint32
	e       *entry // nil: a RESYNC request
	done    bool
	suspect time.Time // when the peer acknowledged a later seq
}

type hole struct {
	from, to uint32
	left     int
}

// Our tunables for repeated NACKs: at most maxHoles gaps are tracked (beyond that the
// oldest two merge, so no gap is ever forgotten), more than maxNackMsgs are repeated as
// one spanning NACK, and the repeat interval stops doubling at maxNackGap.
const (
	maxHoles    = 1024
	maxNackMsgs = 32
	maxNackGap  = 2 * time.Second
)

// seqBefore reports a < b in serial arithmetic.
func seqBefore(a, b uint32) bool { return int32(a-b) < 0 }

// Channel is one side of an FTFW session with one peer: a sans-I/O state machine. Feed
// it the peer's datagrams (Receive), the local changes (Send) and the time (Tick);
// send what Outbox returns; apply Updates to the external cache; act on Events. Wake up
// at Deadline. Not safe for concurrent use.
type Channel struct {
	cfg Config
	now time.Time
	seq uint32 // next seq to use

	// sender
	established   bool
	entries       map[Key]*entry
	free          []*entry
	txq           []*entry
	txHead        int
	rs            []rsItem
	rsHead        int
	rsLive        int
	resyncPending bool
	lastSend      time.Time
	probeAt       time.Time
	probeGap      time.Duration
	helloAt       time.Time
	wantAlive     bool
	wantProbe     bool

	// receiver
	session         bool
	peerEstablished bool
	expected        uint32
	ackFrom         uint32
	pending         int  // data (and RESYNC) messages accepted since the last ACK
	ctlPending      bool // control messages accepted since the last ACK
	ackAt           time.Time
	lastAck         [2]uint32
	haveLastAck     bool
	helloBackDue    bool      // answer a HELLO now (an ALIVE if nothing else goes out)
	helloBackSticky bool      // set HELLO_BACK on every message until the peer stops saying HELLO
	ctl             []Message // ACK / NACK to send
	holes           []hole    // gaps whose NACK is repeated, all together at nackAt
	nackAt          time.Time
	nackGap         time.Duration

	packer  *Packer
	updates []Update
	events  []Event
	stats   Stats
}

// NewChannel returns a Channel that starts its HELLO handshake at now.
func NewChannel(cfg Config, now time.Time) *Channel {
	cfg.setDefaults()
	c := &Channel{cfg: cfg, now: now, entries: make(map[Key]*entry), packer: NewPacker(cfg.MaxDatagram)}
	c.seq = cfg.InitialSeq
	if c.seq == 0 {
		c.seq = uint32(now.Unix())
	}
	c.helloAt = now
	c.lastSend = now
	return c
}

// Send queues an update of one entry for the peer. Updates of the same Key that have
// not been sent yet collapse into the latest (like conntrackd's tx queue); the message
// is built from the latest Op and Flow when it is sent or re-sent. f is copied (its
// Labels slice is shared: do not modify it afterwards). Send fails only for a flow
// that cannot be encoded.
func (c *Channel) Send(op Op, f *Flow) error {
	if err := f.validate(); err != nil {
		return err
	}
	k := f.Key()
	e := c.entries[k]
	if e == nil {
		if n := len(c.free); n > 0 {
			e = c.free[n-1]
			c.free = c.free[:n-1]
		} else {
			e = new(entry)
		}
		e.key = k
		c.entries[k] = e
	}
	e.op, e.flow = op, *f
	c.queue(e)
	return nil
}

func (c *Channel) queue(e *entry) {
	if !e.queued {
		e.queued = true
		e.refs++
		c.txq = append(c.txq, e)
	}
}

func (c *Channel) release(e *entry) {
	e.refs--
	if e.refs == 0 {
		delete(c.entries, e.key)
		*e = entry{}
		c.free = append(c.free, e)
	}
}

// RequestResync asks the peer for its whole table (a RESYNC control message, sent
// reliably once the session is established).
func (c *Channel) RequestResync() { c.resyncPending = true }

// Established reports whether the peer answered our HELLO.
func (c *Channel) Established() bool { return c.established }

// Updates returns the updates delivered since the last call, in the peer's order. The
// slice is reused by the next Receive.
func (c *Channel) Updates() []Update {
	u := c.updates
	c.updates = c.updates[:0]
	return u
}

// Events returns the events since the last call. The slice is reused.
func (c *Channel) Events() []Event {
	e := c.events
	c.events = c.events[:0]
	return e
}

// Stats returns the counters.
func (c *Channel) Stats() Stats {
	s := c.stats
	s.Queued = len(c.txq) - c.txHead
	s.Unacked = c.rsLive
	s.Established = c.established
	return s
}

// Receive processes one datagram from the peer at now.
func (c *Channel) Receive(dgram []byte, now time.Time) {
	c.now = now
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

func (c *Channel) ackRange(from, to uint32, now time.Time) {
	if seqBefore(to, from) {
		return
	}
	for i := c.rsHead; i < len(c.rs); i++ {
		it := &c.rs[i]
		if seqBefore(to, it.seq) {
			break
		}
		if it.done {
			continue
		}
		if inRange(it.seq, from, to) {
			it.done = true
			c.rsLive--
			if it.e != nil {
				c.release(it.e)
			}
		} else if it.suspect.IsZero() {
			it.suspect = now // the peer has a later message but not this one
		}
	}
	c.compactRS()
}

func (c *Channel) nackRange(from, to uint32) {
	if seqBefore(to, from) {
		return
	}
	for i := c.rsHead; i < len(c.rs); i++ {
		it := &c.rs[i]
		if seqBefore(to, it.seq) {
			break
		}
		if !it.done && inRange(it.seq, from, to) {
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
	if it.e == nil {
		c.resyncPending = true
		return
	}
	if it.e.queued {
		c.release(it.e)
		return
	}
	it.e.queued = true
	c.txq = append(c.txq, it.e)
}

func (c *Channel) compactRS() {
	for c.rsHead < len(c.rs) && c.rs[c.rsHead].done {
		c.rs[c.rsHead] = rsItem{}
		c.rsHead++
	}
	if c.rsHead == len(c.rs) {
		c.rs, c.rsHead = c.rs[:0], 0
	} else if c.rsHead > 1024 && c.rsHead > len(c.rs)/2 {
		n := copy(c.rs, c.rs[c.rsHead:])
		c.rs, c.rsHead = c.rs[:n], 0
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
	for i := c.rsHead; i < len(c.rs); i++ {
		it := &c.rs[i]
		if it.suspect.IsZero() {
			if !it.done {
				break // items after the first unsuspected one were never passed by an ACK
			}
			continue
		}
		if !it.done && !now.Before(it.suspect.Add(c.cfg.RetransmitAfter)) {
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
	for i := c.rsHead; i < len(c.rs); i++ {
		it := &c.rs[i]
		if it.done {
			continue
		}
		if it.suspect.IsZero() {
			break
		}
		early(it.suspect.Add(c.cfg.RetransmitAfter))
	}
	return d
}

func (c *Channel) ready() bool {
	if len(c.ctl) > 0 || c.helloBackDue || c.wantAlive || c.wantProbe {
		return true
	}
	return c.established && c.rsLive < c.cfg.ResendQueueSize && (c.resyncPending || c.txHead < len(c.txq))
}

// Outbox runs the timers at now and returns the datagrams to send to the peer, in
// order. They alias internal buffers, valid until the next Outbox call.
func (c *Channel) Outbox(now time.Time) [][]byte {
	c.Tick(now)
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
		c.rs = append(c.rs, rsItem{seq: m.Seq})
		c.rsLive++
		c.stats.ResyncsSent++
		sent++
	}
	data := 0
	if c.established {
		for c.txHead < len(c.txq) && c.rsLive < c.cfg.ResendQueueSize {
			e := c.txq[c.txHead]
			c.txq[c.txHead] = nil
			c.txHead++
			e.queued = false
			flags := Flags(0)
			if helloBack {
				flags |= FlagHelloBack
			}
			seq := c.seq
			n := HeaderLen + e.flow.tlvLen()
			if !p.Fits(n) {
				p.Flush()
			}
			start := len(p.buf)
			b := append(p.buf, Version<<4|byte(e.op.msgType()), byte(flags), byte(n>>8), byte(n), 0, 0, 0, 0)
			binary.BigEndian.PutUint32(b[start+4:], seq)
			b, err := e.flow.appendTLVs(b)
			if err != nil || n > p.max {
				p.buf = b[:start]
				c.stats.EncodeErrors++
				c.release(e)
				continue
			}
			p.buf = b
			c.seq++
			c.rs = append(c.rs, rsItem{seq: seq, e: e})
			c.rsLive++
			data++
		}
		if c.txHead == len(c.txq) {
			c.txq, c.txHead = c.txq[:0], 0
		}
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
