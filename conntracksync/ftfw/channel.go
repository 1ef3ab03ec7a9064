package ftfw

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/maphash"
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

// Update is one entry change delivered by the peer, in the peer's order: a conntrack
// entry (Flow), or an expectation when Exp is not nil (EXP_NEW / EXP_UPD / EXP_DEL).
type Update struct {
	Op   Op
	Flow Flow
	Exp  *Expect
}

// EventKind says what a channel Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventEstablished: the peer answered our HELLO; queued data now flows.
	EventEstablished EventKind = iota + 1
	// EventPeerSession: the peer started a new session (first contact, or a restart
	// when Restart is set). It holds nothing we sent before: unacknowledged data has
	// already been queued again, and a bulk is requested (EventSendBulk follows when
	// the bulk gate opens).
	EventPeerSession
	// EventResyncRequested: the peer sent RESYNC. A bulk is requested (EventSendBulk
	// follows when the bulk gate opens). Informational: do not send a bulk for it.
	EventResyncRequested
	// EventSendBulk: the caller must now queue its whole internal cache with SendBulk
	// (a bulk). Emitted by Outbox/Tick when a bulk was requested (by the peer or by
	// RequestBulk), no bulk is in flight and the minimum interval has passed; any
	// number of requests made meanwhile are served by this one bulk.
	EventSendBulk
)

func (k EventKind) String() string {
	switch k {
	case EventEstablished:
		return "established"
	case EventPeerSession:
		return "peer-session"
	case EventResyncRequested:
		return "resync-requested"
	case EventSendBulk:
		return "send-bulk"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is something the owner of a Channel must act on or log.
type Event struct {
	Kind    EventKind
	Restart bool   // EventPeerSession: a session existed before (the peer restarted)
	Seq     uint32 // the peer's seq that caused the event
	// Requests is, for EventSendBulk, how many bulk requests this bulk serves.
	Requests uint64
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
	// InitialSeq is the first sequence number (0: random, from crypto/rand; conntrackd
	// starts at the Unix time, which an attacker can guess, and accepts any first seq).
	InitialSeq uint32
	// MinBulkInterval is the least time between the starts of two bulks requested by
	// the peer (RESYNC, new session) (default 1 s). Whatever it is, at most one bulk is
	// in flight, and requests arriving meanwhile make at most one more bulk after it.
	MinBulkInterval time.Duration
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
	def(&c.MinBulkInterval, time.Second)
}

// NumDropReasons sizes Stats.Drops.
const NumDropReasons = int(dropReasonCount)

// Stats are a Channel's counters and gauges.
type Stats struct {
	MsgsSent       uint64 `json:"msgs_sent"`
	DataSent       uint64 `json:"data_sent"`
	Retransmits    uint64 `json:"retransmits"`
	AcksSent       uint64 `json:"acks_sent"`
	NacksSent      uint64 `json:"nacks_sent"`
	AlivesSent     uint64 `json:"alives_sent"`
	ResyncsSent    uint64 `json:"resyncs_sent"`
	MsgsReceived   uint64 `json:"msgs_received"`
	DataReceived   uint64 `json:"data_received"`
	AcksReceived   uint64 `json:"acks_received"`
	NacksReceived  uint64 `json:"nacks_received"`
	ResyncsRcv     uint64 `json:"resyncs_received"`
	ExpectReceived uint64 `json:"expect_received"` // expectation messages delivered
	Gaps           uint64 `json:"gaps"`            // sequence gaps seen from the peer
	PeerSessions   uint64 `json:"peer_sessions"`
	PeerRestarts   uint64 `json:"peer_restarts"`
	// SessionHoldoffs counts HELLOs not taken for a new peer session because one
	// started less than a second before (a HELLO flood restarts at most one per second).
	SessionHoldoffs uint64 `json:"session_holdoffs"`
	// Desyncs counts the times the receiver left a sequence window that the peer's
	// messages no longer follow (after a forged or lost jump) and took up the peer's
	// stream again, asking for a RESYNC.
	Desyncs uint64 `json:"desyncs"`
	// BulkRequests counts bulk requests (RESYNC, new sessions, RequestBulk);
	// BulksStarted the EventSendBulk emitted for them.
	BulkRequests uint64 `json:"bulk_requests"`
	BulksStarted uint64 `json:"bulks_started"`
	EncodeErrors uint64 `json:"encode_errors"` // entries that could not be encoded (dropped)
	// PeerNext is the seq expected next from the peer (valid once a session exists).
	PeerNext uint32 `json:"peer_next"`
	// BulkWaiting: a bulk was requested and waits for the one in flight or for
	// MinBulkInterval (EventSendBulk follows).
	BulkWaiting bool                   `json:"bulk_waiting"`
	Drops       [NumDropReasons]uint64 `json:"drops"`  // by DropReason (index)
	Queued      int                    `json:"queued"` // entries waiting to be sent
	// ResyncPending: a RESYNC request (ours, or one being sent again after
	// its loss) waits to be sent.
	ResyncPending bool `json:"resync_pending"`
	Unacked       int  `json:"unacked"`     // messages in the resend queue
	Established   bool `json:"established"` // our HELLO was answered
}

// entry is the latest update of one Key (or ExpKey) queued with Send or SendExpect:
// its message, encoded once when queued (header with seq and flags zero), and how many
// queues hold it. Entries live in the pages of Channel.ents and are named by their
// index there (ent), so the resend queue holds no pointers. 60 bytes: the message
// lies beside it, in the entry's slot of its page's arena (or in Channel.bigMsgs when
// it is longer than the slot).
type entry struct {
	key    mapKey // a flow's key; zero for an expectation's entry
	next   uint32 // 1 + the index of the next entry in key's chain (Channel.entries); 0: none
	refs   int32  // 1 for the transmit queue + 1 per resend-queue item
	n      uint16 // the message's length
	queued bool
	exp    bool // an expectation's entry, keyed by Channel.expKeys
	head   bool // first in its chain: Channel.entries names it
}

// What a resend-queue item holds.
const (
	rsResync uint8 = iota // our RESYNC request
	rsEntry               // ref: an index in Channel.ents
	rsBulk                // ref: a bulk message's ordinal (bulk.go)
)

// rsItem is one message sent and not yet acknowledged: 24 bytes and no pointers, so
// that a resend queue of a hundred thousand items costs 2.4 MB and nothing for the
// garbage collector to scan.
type rsItem struct {
	seq     uint32
	ref     uint32
	suspect int64 // 1 + nanoseconds from the Channel's epoch to when the peer acknowledged a later seq; 0: not yet
	kind    uint8
	done    bool
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
	cfg      Config
	now      time.Time
	seq      uint32 // next seq to use
	firstSeq uint32 // the oldest seq an ACK or NACK may name (see validRange)

	// sender
	established   bool
	epoch         time.Time // NewChannel's now: the origin of rsItem.suspect
	seed          maphash.Seed
	testHash      func(mapKey) uint64 // set by a test: replaces hashKey's hash, to make Keys collide
	entries       map[uint64]uint32   // a Key's hash -> 1 + the index in ents of its chain's first entry
	expEntries    map[ExpKey]uint32   // index in ents
	expKeys       map[uint32]ExpKey   // an expectation's entry (by index) -> its key
	ents          [][]entry           // pages of entPage entries: never copied to grow
	arenas        [][]byte            // each page's message slots, entMsgSlot bytes per entry
	bigMsgs       map[uint32][]byte   // the messages longer than a slot, by entry index
	entFree       []uint32            // free indices of ents
	txq           []uint32            // indices in ents
	txHead        int
	rs            rsQueue
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
	sessionAt       time.Time // when the current peer session started
	lastInOrder     time.Time // when a message with the expected seq last arrived
	alt             [altSlots]altStream
	rxDgrams        uint64 // datagrams received, to tell datagrams apart in alt
	suspectBefore   uint32 // every live rs item before this seq is suspect (see ackRange)
	haveSuspect     bool
	gate            bulkGate

	bulk    bulkQueue
	touched map[mapKey]uint32 // Keys sent after the bulk message of ordinal value-1 was added (bulk.go)

	packer    *Packer
	enc       []byte // Send's encoding scratch
	updates   []Update
	events    []Event
	eventsOut []Event // returned by the last Events call
	stats     Stats
}

// NewChannel returns a Channel that starts its HELLO handshake at now.
func NewChannel(cfg Config, now time.Time) *Channel {
	cfg.setDefaults()
	c := &Channel{cfg: cfg, now: now, epoch: now, seed: maphash.MakeSeed(), packer: NewPacker(cfg.MaxDatagram)}
	c.resetIndex()
	c.seq = cfg.InitialSeq
	for c.seq == 0 {
		var b [4]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		c.seq = binary.BigEndian.Uint32(b[:])
	}
	c.firstSeq = c.seq
	c.gate.minInterval = cfg.MinBulkInterval
	c.helloAt = now
	c.lastSend = now
	return c
}

// Send queues an update of one entry for the peer. Updates of the same Key that have
// not been sent yet collapse into the latest (like conntrackd's tx queue); a
// retransmission sends the latest update of the Key. The message is encoded now, so f
// is not retained. Send fails only for a flow that cannot be encoded (counted in
// Stats.EncodeErrors); the Key's earlier update, if any, then stays as it was.
func (c *Channel) Send(op Op, f *Flow) error {
	if err := f.validate(); err != nil {
		c.stats.EncodeErrors++
		return err
	}
	n := HeaderLen + f.tlvLen()
	if err := c.checkLen(n); err != nil {
		return err
	}
	b, err := appendFlowMsg(c.enc[:0], op.msgType(), n, f)
	if err = c.encoded(b, err); err != nil {
		return err
	}
	fk := f.Key()
	k := fk.mapKey()
	h := c.hashKey(&k)
	i, first, had := c.findEntry(&k, h)
	if !had {
		i = c.newEntry()
		e := c.ent(i)
		e.key, e.next, e.head = k, first, true
		if first != 0 {
			c.ent(first - 1).head = false
		}
		c.entries[h] = i + 1
	}
	c.setMsg(i, b)
	c.touch(k)
	return nil
}

// The flows' entries are found by their Key's hash, not by the Key itself: a map slot
// of 16 bytes rather than 48. Entries whose Keys hash alike (the hash is seeded per
// Channel, so a collision is chance, not something a flow's addresses can arrange)
// are chained through entry.next.

// hashKey is the Channel's hash of a Key.
func (c *Channel) hashKey(k *mapKey) uint64 {
	if c.testHash != nil {
		return c.testHash(*k)
	}
	return maphash.Bytes(c.seed, k[:])
}

// findEntry returns the entry of Key k, whose hash is h, and the chain of h (1 + the
// index of its first entry; 0: none).
func (c *Channel) findEntry(k *mapKey, h uint64) (i, first uint32, ok bool) {
	first = c.entries[h]
	for j := first; j != 0; {
		e := c.ent(j - 1)
		if e.key == *k {
			return j - 1, first, true
		}
		j = e.next
	}
	return 0, first, false
}

// unlinkEntry takes flow entry i out of its Key's chain.
func (c *Channel) unlinkEntry(i uint32) {
	e := c.ent(i)
	h := c.hashKey(&e.key)
	if e.head {
		if e.next == 0 {
			delete(c.entries, h)
		} else {
			c.entries[h] = e.next
			c.ent(e.next - 1).head = true
		}
		return
	}
	for j := c.entries[h]; j != 0; {
		p := c.ent(j - 1)
		if p.next == i+1 {
			p.next = e.next
			return
		}
		j = p.next
	}
}

// resetIndex gives the maps of entries new, empty tables.
func (c *Channel) resetIndex() {
	c.entries, c.expEntries, c.expKeys = make(map[uint64]uint32), make(map[ExpKey]uint32), make(map[uint32]ExpKey)
	c.bigMsgs = nil
}

// SendExpect queues an update of one expectation for the peer (EXP_NEW, EXP_UPD or
// EXP_DEL for OpNew, OpUpd, OpDel), collapsing with unsent updates of the same ExpKey
// like Send. x is not retained. It fails only for an expectation that cannot be
// encoded.
func (c *Channel) SendExpect(op Op, x *Expect) error {
	if err := x.validate(); err != nil {
		c.stats.EncodeErrors++
		return err
	}
	m := Message{Type: TypeExpNew + Type(op), Exp: *x}
	if err := c.checkLen(m.Len()); err != nil {
		return err
	}
	b, err := m.AppendBinary(c.enc[:0])
	if err = c.encoded(b, err); err != nil {
		return err
	}
	k := x.Key()
	i, had := c.expEntries[k]
	if !had {
		i = c.newEntry()
		c.ent(i).exp = true
		c.expEntries[k] = i
		c.expKeys[i] = k
	}
	c.setMsg(i, b)
	return nil
}

// checkLen refuses (and counts) a message of n bytes that no datagram can carry.
func (c *Channel) checkLen(n int) error {
	if n > c.cfg.MaxDatagram || n > 0xffff {
		c.stats.EncodeErrors++
		return fmt.Errorf("ftfw: message of %d bytes in a %d-byte datagram: %w", n, c.cfg.MaxDatagram, ErrTooLong)
	}
	return nil
}

// encoded takes back c.enc, into which b was encoded (encoded aside, so that a failure
// leaves a Key's earlier message as it was), and counts a failure.
func (c *Channel) encoded(b []byte, err error) error {
	c.enc = b[:0]
	if err != nil {
		c.stats.EncodeErrors++
	}
	return err
}

// setMsg makes the message b entry i's and queues the entry.
func (c *Channel) setMsg(i uint32, b []byte) {
	e := c.ent(i)
	e.n = uint16(len(b)) // checkLen holds it to 16 bits
	if len(b) <= entMsgSlot {
		copy(c.slot(i), b) // a longer buffer it had in bigMsgs stays there for reuse
	} else {
		if c.bigMsgs == nil {
			c.bigMsgs = make(map[uint32][]byte)
		}
		c.bigMsgs[i] = append(c.bigMsgs[i][:0], b...)
	}
	c.queue(i)
}

// slot returns entry i's message slot in its page's arena.
func (c *Channel) slot(i uint32) []byte {
	j := int(i%entPage) * entMsgSlot
	return c.arenas[i/entPage][j : j+entMsgSlot : j+entMsgSlot]
}

// msg returns entry i's message.
func (c *Channel) msg(i uint32) []byte {
	n := int(c.ent(i).n)
	if n > entMsgSlot {
		return c.bigMsgs[i][:n]
	}
	return c.slot(i)[:n]
}

// newEntry returns the index of an unused entry, its message buffer kept from its last
// use.
func (c *Channel) newEntry() uint32 {
	if n := len(c.entFree); n > 0 {
		i := c.entFree[n-1]
		c.entFree = c.entFree[:n-1]
		return i
	}
	i := uint32(len(c.ents) * entPage)
	// Each entry's message lies in its slot of the page's arena (a larger one in
	// bigMsgs): no allocation per entry.
	c.ents = append(c.ents, make([]entry, entPage))
	c.arenas = append(c.arenas, make([]byte, entPage*entMsgSlot))
	for j := uint32(entPage - 1); j > 0; j-- {
		c.entFree = append(c.entFree, i+j)
	}
	return i
}

// ent returns entry i.
func (c *Channel) ent(i uint32) *entry { return &c.ents[i/entPage][i%entPage] }

// freeEntry returns entry i to the free list. When no entry is in use any more, a large
// table is given back to the garbage collector: memory follows what is in flight, not
// the largest burst the Channel ever had.
func (c *Channel) freeEntry(i uint32) {
	*c.ent(i) = entry{}
	if c.bigMsgs != nil {
		delete(c.bigMsgs, i)
	}
	c.entFree = append(c.entFree, i)
	if len(c.entFree) == len(c.ents)*entPage && len(c.ents) > entKeepPages {
		// The maps too: a Go map never gives back the room it grew to.
		c.ents, c.arenas, c.entFree = nil, nil, nil
		c.resetIndex()
	}
}

// Our tunables: entries come in pages of entPage, and a Channel keeps entKeepPages
// pages for reuse once all its entries are free. An entry's message takes a slot of
// entMsgSlot bytes in its page when it fits (an IPv4 TCP flow with NAT takes 100).
const (
	entPage      = 512
	entKeepPages = 2
	entMsgSlot   = 128
)

func (c *Channel) queue(i uint32) {
	if e := c.ent(i); !e.queued {
		e.queued = true
		e.refs++
		c.txq = append(c.txq, i)
	}
}

func (c *Channel) release(i uint32) {
	e := c.ent(i)
	e.refs--
	if e.refs == 0 {
		if e.exp {
			delete(c.expEntries, c.expKeys[i])
			delete(c.expKeys, i)
		} else {
			c.unlinkEntry(i)
		}
		c.freeEntry(i)
	}
}

// RequestResync asks the peer for its whole table (a RESYNC control message, sent
// reliably once the session is established).
func (c *Channel) RequestResync() { c.resyncPending = true }

// RequestBulk asks for a bulk to the peer on our own account (a takeover): an
// EventSendBulk follows as soon as no bulk is in flight, without waiting for
// MinBulkInterval.
func (c *Channel) RequestBulk() {
	c.stats.BulkRequests++
	c.gate.request(true)
}

// requestBulk records a bulk asked for by the peer.
func (c *Channel) requestBulk() {
	c.stats.BulkRequests++
	c.gate.request(false)
}

// bulkInFlight reports whether a bulk's messages are still queued or unacknowledged.
func (c *Channel) bulkInFlight() bool { return len(c.bulk.chunks) > 0 }

// Established reports whether the peer answered our HELLO.
func (c *Channel) Established() bool { return c.established }

// Updates returns the updates delivered since the last call, in the peer's order. The
// slice is reused by the next Receive.
func (c *Channel) Updates() []Update {
	u := c.updates
	c.updates = c.updates[:0]
	return u
}

// Events returns the events since the last call. The slice stays valid until the next
// call, so the caller may drive the Channel (SendBulk, Outbox) while it iterates.
func (c *Channel) Events() []Event {
	c.events, c.eventsOut = c.eventsOut[:0], c.events
	return c.eventsOut
}

// Stats returns the counters.
func (c *Channel) Stats() Stats {
	s := c.stats
	s.Queued = len(c.txq) - c.txHead + c.bulk.pending()
	s.Unacked = c.rsLive
	s.ResyncPending = c.resyncPending
	s.Established = c.established
	s.PeerNext = c.expected
	s.BulkWaiting = c.gate.want
	return s
}
