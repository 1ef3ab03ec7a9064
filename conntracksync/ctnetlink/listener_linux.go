package ctnetlink

import (
	"context"
	"errors"
	"fmt"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Listener keeps an internal cache equal to the kernel table: an initial
// dump, then new/update/destroy events. Changes that are not ours are
// reported to OnUpdate, from the listener's goroutine.
type Listener struct {
	log    *slog.Logger
	cache  *ct.Cache
	filter *ct.Filter
	pids   *pidSet
	// OnUpdate, when set, is called for every change of the cache that
	// did not come from our own commit.
	onUpdate func(ct.UpdateKind, *ct.Flow)
	// warm and warmGone are ListenerConfig's: the peer's flows a warm
	// standby keeps in the table.
	warm     func(*ct.Key) bool
	warmGone func(*ct.Key)
	// Scratch of handle, listener goroutine only: an event's flow would
	// otherwise escape to the heap (it goes through func values), one
	// allocation of a few hundred bytes per event.
	evFlow, evOld ct.Flow
	evDec         decoded
	// readBuffer is the event socket's receive buffer (SO_RCVBUFFORCE).
	readBuffer int
	// minRedump is the least time between two dumps.
	minRedump time.Duration
	netns     string

	sockMu sync.Mutex // guards sock
	sock   *evSock    // the current event socket, for quiet

	// redumpWanted is set by quiet and served by the receive loop; any
	// dump that starts after it was set serves it (dump clears it).
	redumpWanted atomic.Bool

	events, ownEvents, warmEvents, dumps, redumps, recvErrors, decodeErrors atomic.Uint64
	filtered                                                                [ct.NumDropReasons]atomic.Uint64
	lastErr                                                                 atomic.Value // string
}

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	Filter *ct.Filter
	// ReadBuffer is the event socket's receive buffer in bytes; 0 = 64 MiB.
	ReadBuffer int
	// MinRedump is the least time between two dumps after receive
	// errors; 0 = 1 s.
	MinRedump time.Duration
	// OnUpdate is called, from the listener's goroutine, for every change
	// of the cache not caused by our own commits. The Flow is valid only
	// during the call: copy what you keep.
	OnUpdate func(ct.UpdateKind, *ct.Flow)
	// Netns is the path of the network namespace to follow (empty: the
	// one the process runs in), such as /run/netns/NAME.
	Netns string
	// Warm and WarmGone are conntracksync.Table's (a warm standby): a
	// flow Warm names is left out of the cache, and its destruction by
	// the kernel is told to WarmGone.
	Warm     func(*ct.Key) bool
	WarmGone func(*ct.Key)
}

// NewListener returns a listener that keeps cache in step with the kernel
// of the network namespace its Run is called in.
func NewListener(log *slog.Logger, cache *ct.Cache, cfg ListenerConfig) *Listener {
	return newListener(log, cache, cfg, &pidSet{})
}

func newListener(log *slog.Logger, cache *ct.Cache, cfg ListenerConfig, pids *pidSet) *Listener {
	l := &Listener{log: log, cache: cache, filter: cfg.Filter, pids: pids, onUpdate: cfg.OnUpdate,
		warm: cfg.Warm, warmGone: cfg.WarmGone,
		readBuffer: cfg.ReadBuffer, minRedump: cfg.MinRedump, netns: cfg.Netns}
	if l.readBuffer == 0 {
		l.readBuffer = 64 << 20
	}
	if l.minRedump == 0 {
		l.minRedump = time.Second
	}
	pids.onChange(l.pidsChanged)
	return l
}

// NewCommitter opens a committer whose events this listener recognises as
// its own.
func (l *Listener) NewCommitter(workers int) (*Committer, error) {
	return newCommitter(workers, l.pids, l.netns)
}

// Stats returns a snapshot of the counters.
func (l *Listener) Stats() ct.ListenerStats {
	s := ct.ListenerStats{Events: l.events.Load(), OwnEvents: l.ownEvents.Load(), WarmEvents: l.warmEvents.Load(), Dumps: l.dumps.Load(),
		Redumps: l.redumps.Load(), RecvErrors: l.recvErrors.Load(), DecodeErrors: l.decodeErrors.Load()}
	if e, ok := l.lastErr.Load().(string); ok {
		s.LastError = e
	}
	for i := range s.Filtered {
		s.Filtered[i] = l.filtered[i].Load()
	}
	return s
}

// Run subscribes to events, dumps the table, and follows events until ctx
// ends. Any receive error (ENOBUFS when events came faster than they were
// read) makes Run subscribe a new socket, close the old one, and dump again,
// at most once per MinRedump, forever. The new socket is joined before the
// old one is closed: the kernel attaches the event extension to a new flow
// only while some socket listens (net.netfilter.nf_conntrack_events=2, the
// default), so a gap without listeners would create flows whose destruction
// is never reported. Run returns ctx's error, or the setup error when the
// very first subscription or dump fails (no permission, no ctnetlink).
func (l *Listener) Run(ctx context.Context) error { return l.run(ctx, nil) }

// run is Run with its first dump held back until readAfter, when not nil,
// is closed; the events that come meanwhile wait in the socket, and a
// receive error they cause is handled as Run says.
func (l *Listener) run(ctx context.Context, readAfter <-chan struct{}) error {
	ev, err := l.subscribe()
	if err != nil {
		return err
	}
	l.setSock(ev)
	defer func() { l.setSock(nil); ev.close() }()
	if err := ct.AwaitRead(ctx, readAfter); err != nil {
		return err
	}
	if err := l.dump(); err != nil {
		return fmt.Errorf("%w: dump: %w", errSetup, err)
	}
	backoff := l.minRedump
	for {
		lastDump := time.Now()
		err := l.receive(ctx, ev)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.recvErrors.Add(1)
		l.lastErr.Store(err.Error())
		l.log.Warn("conntrack event socket failed: subscribing and dumping again", "err", err)
		for {
			next, err := l.subscribe()
			if err == nil {
				l.setSock(next)
				ev.close()
				ev = next
				break
			}
			l.lastErr.Store(err.Error())
			l.log.Error("conntrack event socket: cannot subscribe again", "err", err, "retry", backoff)
			if !sleepCtx(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		if !sleepCtx(ctx, time.Until(lastDump.Add(l.minRedump))) {
			return ctx.Err()
		}
		for {
			err := l.dump()
			if err == nil {
				break
			}
			l.lastErr.Store(err.Error())
			l.log.Error("conntrack dump failed", "err", err, "retry", backoff)
			if !sleepCtx(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		l.redumps.Add(1)
		backoff = l.minRedump
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

var errSetup = errors.New("conntracksync: event socket setup")

// subscribe opens an event socket joined to the conntrack groups.
func (l *Listener) subscribe() (*evSock, error) {
	ev, err := openEvSockIn(l.netns, l.readBuffer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSetup, err)
	}
	l.filterOwn(ev) // before joining: no event of ours is queued unfiltered
	if err := ev.join(); err != nil {
		ev.close()
		return nil, fmt.Errorf("%w: %w", errSetup, err)
	}
	return ev, nil
}

// receive handles events until a receive error or ctx's end.
func (l *Listener) receive(ctx context.Context, ev *evSock) error {
	// One clock reading per batch of events: they were read together.
	var now time.Time
	handle := func(m nlMsg) error {
		if now.IsZero() {
			now = time.Now()
		}
		l.handle(m, now)
		return nil
	}
	for ctx.Err() == nil {
		now = time.Time{}
		err := ev.recvEvents(handle)
		if err != nil && !errors.Is(err, errRecvTimeout) {
			return fmt.Errorf("conntracksync: event receive: %w", err)
		}
		if l.redumpWanted.Swap(false) {
			if err := l.dump(); err != nil {
				return fmt.Errorf("conntracksync: dump after commit: %w", err)
			}
			l.redumps.Add(1)
		}
	}
	return ctx.Err()
}

// setSock makes s the current event socket, its filter up to date.
func (l *Listener) setSock(s *evSock) {
	l.sockMu.Lock()
	defer l.sockMu.Unlock()
	l.sock = s
	if s != nil {
		l.filterOwn(s) // the set may have changed since subscribe
	}
}

// pidsChanged rebuilds the current event socket's filter when our port
// ids change (a committer opened, or a closed one's grace over).
func (l *Listener) pidsChanged() {
	l.sockMu.Lock()
	defer l.sockMu.Unlock()
	if l.sock != nil {
		l.filterOwn(l.sock)
	}
}

// filterOwn attaches to s the kernel filter that drops the events of our
// port ids (evSock.filterPorts). When that fails the filter is detached
// rather than left with ids that may no longer be ours, and handle's own
// check alone keeps our events out, as it does for whatever the filter
// lets through.
func (l *Listener) filterOwn(s *evSock) {
	if err := s.filterPorts(l.pids.list()); err != nil {
		_ = s.filterPorts(nil)
		l.lastErr.Store(err.Error())
		l.log.Warn("conntrack event socket: cannot filter our own events in the kernel", "err", err)
	}
}

// quiet runs fn (a commit) with the event socket out of the NEW and
// UPDATE groups, and then dumps the table again to catch up.
//
// A socket in any conntrack group keeps the kernel attaching the event
// extension to new flows (so their destruction is still reported), but
// with nobody in the NEW group the kernel does not build a NEW event per
// committed flow: building and reading those events doubles the time a
// takeover commit takes. Flows that real traffic creates or changes
// meanwhile are caught by the dump that follows.
func (l *Listener) quiet(fn func()) {
	l.sockMu.Lock()
	s := l.sock
	left := s != nil && s.leave(nfnlgrpCTNew, nfnlgrpCTUpdate) == nil
	l.sockMu.Unlock()
	fn()
	if !left {
		return
	}
	l.sockMu.Lock()
	if l.sock == s {
		if err := s.join(); err != nil {
			l.log.Warn("conntrack event socket: cannot rejoin after a commit", "err", err)
		}
	}
	l.sockMu.Unlock()
	l.redumpWanted.Store(true)
}

// dump streams the kernel table into the cache and reports the difference.
// It serves a catch-up that quiet asked for before it starts (the
// start-up read after a commit that came first, most often): a commit
// that ends after this point asks again.
func (l *Listener) dump() error {
	l.redumpWanted.Store(false)
	s, err := openEvSockIn(l.netns, 0)
	if err != nil {
		return err
	}
	defer s.close()
	// Streamed into the cache: no copy of the whole table is held.
	l.cache.BeginDump()
	now := time.Now()
	err = s.dump(func(f *ct.Flow) {
		if l.warm != nil {
			if k := f.Key(); l.warm(&k) {
				return // the peer's, kept warm: swept from the cache if there
			}
		}
		if r := l.filter.Check(f); r != ct.DropNone {
			l.filtered[r].Add(1)
			return
		}
		if l.cache.Put(*f, now) && l.onUpdate != nil {
			l.onUpdate(ct.UpdateChange, f)
		}
	})
	if err != nil {
		return err
	}
	l.dumps.Add(1)
	removed := l.cache.Sweep()
	if l.onUpdate != nil {
		for i := range removed {
			l.onUpdate(ct.UpdateDelete, &removed[i])
		}
	}
	return nil
}

func (l *Listener) handle(m nlMsg, now time.Time) {
	l.events.Add(1)
	// Events of our own commits are skipped before decoding: the commit
	// itself puts what it wrote into the internal cache (Replicator.Commit),
	// and a takeover commit should not compete with 100k decodes. The
	// socket's kernel filter drops them before they get here; this check
	// catches what it lets through (a datagram of several messages, an
	// event queued before the filter knew the port id).
	if l.pids.has(m.pid) {
		l.ownEvents.Add(1)
		return
	}
	f, d := &l.evFlow, &l.evDec
	*f, *d = ct.Flow{}, decoded{}
	typ := m.typ
	if typ>>8 != subsysCT || len(m.data) < nfgenmsgLen || decodeFlow(m.data[nfgenmsgLen:], f, d) != nil {
		l.decodeErrors.Add(1)
		return
	}
	if l.warm != nil {
		if k := f.Key(); l.warm(&k) {
			// One of the peer's flows that a warm standby keeps here:
			// not ours, never announced. Our own writes were skipped
			// above, so a DESTROY is the kernel's (an expiry).
			l.warmEvents.Add(1)
			if typ&0xff == ctMsgDelete {
				l.cache.Delete(k)
				if l.warmGone != nil {
					l.warmGone(&k)
				}
			}
			return
		}
	}
	if typ&0xff == ctMsgDelete {
		if old, ok := l.cache.Delete(f.Key()); ok && l.onUpdate != nil {
			l.evOld = old
			l.onUpdate(ct.UpdateDelete, &l.evOld)
		}
		return
	}
	if r := l.filter.Check(f); r != ct.DropNone {
		l.filtered[r].Add(1)
		return
	}
	complete := d.tcp && d.master && d.helper && d.seqadj || f.Orig.Proto != ct.ProtoTCP && f.Orig.Proto != ct.ProtoSCTP && f.Orig.Proto != ct.ProtoDCCP && d.master && d.helper && d.seqadj
	existed, changed := l.cache.PutEvent(f, now, !complete, func(f, old *ct.Flow) { mergeDecoded(f, old, d) })
	if !changed || l.onUpdate == nil {
		return
	}
	kind := ct.UpdateChange
	if !existed {
		kind = ct.UpdateNew
	}
	l.onUpdate(kind, f)
}
