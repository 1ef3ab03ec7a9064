// Package vrrptest is the in-memory twin of vrrp.Conn: a Wire joins any
// number of Conns as if they sat on one Ethernet segment, with seeded
// loss, delay, jitter and reordering, and lets tests inject raw bytes.
//
// Owns: only its in-memory wire. Must not: open sockets or touch the
// kernel. It runs on the time package's clock, so inside a testing/synctest
// bubble (create the Wire inside the bubble) delays take no real time.
//
// Semantics follow vrrp.Conn's contract: WriteTo encodes the packet with
// the checksum for the conn's address and the destination; a multicast
// destination reaches every other Conn of the same family (our own
// multicast is not looped back), a unicast one the Conn with that address.
// Every copy arrives with TTL 255 (a unicast one: the sender's
// SetUnicastTTL) and the receiver's IfIndex. AH Conns
// (ConnAH) form a second network on the same wire, as IP protocol 51
// does: whole IPv4 datagrams, sent with WriteDatagram, reach only them.
//
// Concurrency: all methods are safe for concurrent use. The random source
// is drawn under one mutex, in WriteTo call order, so a given seed and
// call order give the same losses and delays. Deliveries to one Conn are
// in due-time order (ties in send order).
package vrrptest

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

var (
	_ vrrp.Conn           = (*Conn)(nil)
	_ vrrp.DatagramWriter = (*Conn)(nil)
	_ vrrp.BatchReader    = (*Conn)(nil)
)

// QueueLen is how many undelivered packets a Conn holds (its socket
// buffer); more are counted as Overflow and dropped.
const QueueLen = 1024

// WireOptions are a Wire's faults. The zero value is a perfect wire.
type WireOptions struct {
	Seed    uint64        // seed of the random source (PCG)
	Loss    float64       // probability that one copy (per receiver) is lost
	Delay   time.Duration // one-way delay of every copy
	Jitter  time.Duration // extra delay, uniform in [0, Jitter)
	Reorder float64       // probability that a copy is held back ReorderDelay more, so later ones overtake it
	// ReorderDelay is the extra delay of a reordered copy; zero means
	// 2×Delay + 1ms.
	ReorderDelay time.Duration
}

// Stats counts what a Wire did with the copies it was given.
type Stats struct {
	Sent      int // WriteTo calls that reached the wire
	Delivered int // copies queued to a receiver
	Lost      int // copies lost to Loss or isolation
	Overflow  int // copies dropped because a receiver's queue was full
	Reordered int // copies held back by Reorder
}

// Wire is an in-memory segment. Create it with NewWire.
type Wire struct {
	mu sync.Mutex
	// mu guards the following fields.
	opts  WireOptions
	rng   *rand.Rand
	conns []*Conn
	next  int // next ifindex
	seq   uint64
	stats Stats
}

// NewWire returns an empty wire with the given faults.
func NewWire(opts WireOptions) *Wire {
	return &Wire{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), next: 1}
}

// SetOptions changes the faults for copies sent from now on; the random
// source keeps its state.
func (w *Wire) SetOptions(opts WireOptions) {
	w.mu.Lock()
	defer w.mu.Unlock()
	opts.Seed = w.opts.Seed
	w.opts = opts
}

// Stats returns the counters so far.
func (w *Wire) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Conn attaches a new Conn whose source address is addr (no zone). Each
// Conn gets its own IfIndex, starting at 1.
func (w *Wire) Conn(addr netip.Addr) *Conn { return w.conn(addr, false) }

// ConnAH is Conn for VRRPv2 under AH (vrrp.ConnOptions.AH): it carries
// whole IPv4 datagrams, sent with WriteDatagram, to the other AH Conns
// only, as an IP protocol 51 socket would; its WriteTo refuses.
func (w *Wire) ConnAH(addr netip.Addr) *Conn { return w.conn(addr, true) }

func (w *Wire) conn(addr netip.Addr, ah bool) *Conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := &Conn{
		w:       w,
		ah:      ah,
		addr:    addr.WithZone(""),
		ifindex: w.next,
		in:      make(chan delivery, QueueLen),
		closed:  make(chan struct{}),
		dlWake:  make(chan struct{}),
	}
	w.next++
	w.conns = append(w.conns, c)
	return c
}

// Inject delivers raw (a VRRP message, checksum as given) to the Conns
// that m.Dst reaches, except the one whose address is m.Src, at once and
// with m's TTL and source: the twin of a test's raw socket. It bypasses
// the faults and reports how many Conns got it. A raw that is an IPv4
// datagram of protocol 51 goes to the AH Conns instead.
func (w *Wire) Inject(raw []byte, m vrrp.RecvMeta) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	_, _, ah := vrrp.SplitAH(raw)
	for _, r := range w.receiversLocked(m.Src, m.Dst, ah) {
		mm := m
		mm.IfIndex = r.ifindex
		if r.pushLocked(delivery{data: append([]byte(nil), raw...), meta: mm}) {
			n++
		}
	}
	return n
}

// receiversLocked lists the Conns a packet from src to dst reaches.
func (w *Wire) receiversLocked(src, dst netip.Addr, ah bool) []*Conn {
	var rs []*Conn
	for _, r := range w.conns {
		if r.isClosed() || r.ah != ah || r.addr.Is6() != dst.Is6() || r.addr == src.WithZone("") {
			continue
		}
		if dst.IsMulticast() || r.addr == dst.WithZone("") {
			rs = append(rs, r)
		}
	}
	return rs
}

func (w *Wire) send(from *Conn, raw []byte, dst netip.Addr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Sent++
	for _, r := range w.receiversLocked(from.addr, dst, from.ah) {
		if from.isolated || r.isolated || w.opts.Loss > 0 && w.rng.Float64() < w.opts.Loss {
			w.stats.Lost++
			continue
		}
		d := w.opts.Delay
		if w.opts.Jitter > 0 {
			d += time.Duration(w.rng.Int64N(int64(w.opts.Jitter)))
		}
		if w.opts.Reorder > 0 && w.rng.Float64() < w.opts.Reorder {
			extra := w.opts.ReorderDelay
			if extra == 0 {
				extra = 2*w.opts.Delay + time.Millisecond
			}
			d += extra
			w.stats.Reordered++
		}
		ttl := vrrp.TTL
		if !dst.IsMulticast() && from.unicastTTL != 0 {
			ttl = from.unicastTTL
		}
		dl := delivery{
			data: append([]byte(nil), raw...),
			meta: vrrp.RecvMeta{Src: from.addr, Dst: dst.WithZone(""), TTL: ttl, IfIndex: r.ifindex},
		}
		if d <= 0 {
			if r.pushLocked(dl) {
				w.stats.Delivered++
			}
			continue
		}
		w.seq++
		dl.due, dl.seq = time.Now().Add(d), w.seq
		heap.Push(&r.pending, dl)
		time.AfterFunc(d, func() { w.flush(r) })
	}
}

// flush moves r's pending copies that are due into its queue, in due
// order.
func (w *Wire) flush(r *Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for r.pending.Len() > 0 && !r.pending[0].due.After(now) {
		dl := heap.Pop(&r.pending).(delivery)
		if r.pushLocked(dl) {
			w.stats.Delivered++
		}
	}
}

type delivery struct {
	data []byte
	meta vrrp.RecvMeta
	due  time.Time
	seq  uint64
}

// pendingHeap orders deliveries by due time, then send order.
type pendingHeap []delivery

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(delivery)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Conn is one endpoint on a Wire; it implements vrrp.Conn.
type Conn struct {
	w       *Wire
	ah      bool // carries whole AH datagrams (ConnAH)
	addr    netip.Addr
	ifindex int
	in      chan delivery
	closed  chan struct{}

	// Guarded by w.mu:
	pending    pendingHeap
	isolated   bool
	closeDone  bool
	unicastTTL int // 0: vrrp.TTL

	dlMu     sync.Mutex
	deadline time.Time     // guarded by dlMu
	dlWake   chan struct{} // guarded by dlMu; closed and replaced when the deadline changes
}

// pushLocked queues d for the reader; w.mu is held.
func (c *Conn) pushLocked(d delivery) bool {
	if c.closeDone {
		return false
	}
	select {
	case c.in <- d:
		return true
	default:
		c.w.stats.Overflow++
		return false
	}
}

func (c *Conn) isClosed() bool { return c.closeDone }

// IfIndex returns the interface index this Conn reports on receive.
func (c *Conn) IfIndex() int { return c.ifindex }

// SetIsolated cuts the Conn off the wire silently (true) or rejoins it
// (false): while isolated, copies to and from it are lost. Copies already
// in flight still arrive.
func (c *Conn) SetIsolated(isolated bool) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.isolated = isolated
}

// SetUnicastTTL sets the TTL / hop limit that copies sent to a unicast
// destination arrive with (vrrp.ConnOptions.UnicastTTL); 0 means
// vrrp.TTL. Multicast copies keep vrrp.TTL.
func (c *Conn) SetUnicastTTL(ttl int) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.unicastTTL = ttl
}

// LocalAddr returns the address the Conn sends from.
func (c *Conn) LocalAddr() netip.Addr { return c.addr }

// WriteTo encodes p with the checksum for LocalAddr → dst and puts it on
// the wire.
func (c *Conn) WriteTo(p *vrrp.Packet, dst netip.Addr) error {
	if c.ah {
		return fmt.Errorf("vrrptest: write to %v: an AH conn sends whole datagrams (WriteDatagram)", dst)
	}
	if dst.Is6() != c.addr.Is6() {
		return fmt.Errorf("vrrptest: write to %v: wrong address family for this conn", dst)
	}
	select {
	case <-c.closed:
		return fmt.Errorf("vrrptest: write to %v: %w", dst, net.ErrClosed)
	default:
	}
	b, err := p.AppendChecksummed(nil, c.addr, dst)
	if err != nil {
		return err
	}
	c.w.send(c, b, dst)
	return nil
}

// WriteDatagram puts d, a whole IPv4 datagram, on the wire for the other
// AH Conns; it refuses on a Conn made by Conn.
func (c *Conn) WriteDatagram(d []byte, dst netip.Addr) error {
	if !c.ah || !dst.Is4() {
		return fmt.Errorf("vrrptest: write datagram to %v: not an IPv4 AH conn", dst)
	}
	select {
	case <-c.closed:
		return fmt.Errorf("vrrptest: write to %v: %w", dst, net.ErrClosed)
	default:
	}
	c.w.send(c, d, dst)
	return nil
}

// ReadFrom returns the next delivered copy, truncated to len(b).
func (c *Conn) ReadFrom(b []byte) (int, vrrp.RecvMeta, error) {
	for {
		c.dlMu.Lock()
		dl, wake := c.deadline, c.dlWake
		c.dlMu.Unlock()
		var timer *time.Timer
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, vrrp.RecvMeta{}, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			timeout = timer.C
		}
		n, m, err, again := c.wait(b, wake, timeout)
		if timer != nil {
			timer.Stop()
		}
		if !again {
			return n, m, err
		}
	}
}

// ReadBatch is vrrp.BatchReader's: it blocks as ReadFrom does for the
// first copy, then takes those already delivered behind it, up to len(ms).
func (c *Conn) ReadBatch(ms []vrrp.Message) (int, error) {
	if len(ms) == 0 {
		return 0, errors.New("vrrptest: read into an empty batch")
	}
	n, m, err := c.ReadFrom(ms[0].Buf)
	if err != nil {
		return 0, err
	}
	ms[0].N, ms[0].Meta = n, m
	for i := 1; i < len(ms); i++ {
		select {
		case d := <-c.in:
			ms[i].N, ms[i].Meta = copy(ms[i].Buf, d.data), d.meta
		default:
			return i, nil
		}
	}
	return len(ms), nil
}

// wait blocks for one delivery, Close, a deadline change (again) or the
// deadline.
func (c *Conn) wait(b []byte, wake <-chan struct{}, timeout <-chan time.Time) (n int, m vrrp.RecvMeta, err error, again bool) {
	select {
	case <-c.closed:
		return 0, vrrp.RecvMeta{}, net.ErrClosed, false
	case d := <-c.in:
		return copy(b, d.data), d.meta, nil, false
	case <-wake:
		return 0, vrrp.RecvMeta{}, nil, true
	case <-timeout:
		return 0, vrrp.RecvMeta{}, os.ErrDeadlineExceeded, false
	}
}

// SetReadDeadline sets the time after which a blocked or future ReadFrom
// returns os.ErrDeadlineExceeded; zero means none.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.deadline = t
	close(c.dlWake)
	c.dlWake = make(chan struct{})
	return nil
}

// Close detaches the Conn and unblocks ReadFrom; it is idempotent.
func (c *Conn) Close() error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if !c.closeDone {
		c.closeDone = true
		close(c.closed)
	}
	return nil
}
