package twin

import (
	"math/rand/v2"
	"net"
	"sync"

	ct "github.com/vigil-ha/vigil/conntracksync"
)

// wireQueue is how many datagrams an end holds unread before the wire
// drops more, as a full socket buffer does.
const wireQueue = 8192

// Wire links two ends, 0 and 1; see the package comment. Safe for
// concurrent use.
type Wire struct {
	mu      sync.Mutex
	rng     *rand.Rand
	loss    float64
	ends    [2]*end // the open end of each side, nil when closed
	sent    [2]uint64
	dropped [2]uint64
}

// NewWire returns a wire without loss whose drops follow seed.
func NewWire(seed uint64) *Wire {
	return &Wire{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// SetLoss makes the wire drop each datagram with probability p.
func (w *Wire) SetLoss(p float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loss = p
}

// Counts returns how many datagrams side sent and how many of those the
// wire dropped (loss, a closed or full far end).
func (w *Wire) Counts(side int) (sent, dropped uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent[side], w.dropped[side]
}

// Opener returns the LinkOpener of side (0 or 1): each open replaces the
// side's end, as a restarted node's new socket does.
func (w *Wire) Opener(side int) ct.LinkOpener {
	return func(*ct.Config) (ct.Link, error) {
		e := &end{w: w, side: side, inbox: make(chan []byte, wireQueue), closed: make(chan struct{})}
		w.mu.Lock()
		w.ends[side] = e
		w.mu.Unlock()
		return e, nil
	}
}

// end is one side's open Link.
type end struct {
	w      *Wire
	side   int
	inbox  chan []byte
	closed chan struct{}
	once   sync.Once
}

func (e *end) Send(dgrams [][]byte) (failed int, err error) {
	w := e.w
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-e.closed:
		return len(dgrams), net.ErrClosed
	default:
	}
	for _, d := range dgrams {
		w.sent[e.side]++
		peer := w.ends[1-e.side]
		if peer == nil || (w.loss > 0 && w.rng.Float64() < w.loss) {
			w.dropped[e.side]++
			continue
		}
		select {
		case peer.inbox <- append([]byte(nil), d...):
		default:
			w.dropped[e.side]++
		}
	}
	return 0, nil
}

func (e *end) Receive(ds []ct.Datagram) (int, error) {
	var d []byte
	select {
	case d = <-e.inbox:
	case <-e.closed:
		return 0, net.ErrClosed
	}
	n := 0
	for {
		ds[n].N = copy(ds[n].Buf, d)
		ds[n].FromPeer = true
		n++
		if n == len(ds) {
			return n, nil
		}
		select {
		case d = <-e.inbox:
		default:
			return n, nil
		}
	}
}

func (e *end) Close() error {
	e.once.Do(func() {
		close(e.closed)
		e.w.mu.Lock()
		if e.w.ends[e.side] == e {
			e.w.ends[e.side] = nil
		}
		e.w.mu.Unlock()
	})
	return nil
}
