package conntracksync

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/internal/ratelog"
)

type localUpdate struct {
	op   ftfw.Op
	flow ftfw.Flow
	exp  *Expect // an expectation instead of flow
}

// Replicator owns the internal and external caches, the FTFW channel with
// the peer, and uses the kernel side and the sync link it is given (Parts).
// Build it with New, run it with Run; Commit, FlushExternal, SendBulk,
// RequestResync, Stats and Dump are safe to call from any goroutine at any
// time.
type Replicator struct {
	log      *slog.Logger
	cfg      Config
	internal *Cache
	external *Cache
	kernel   Kernel
	openLink LinkOpener
	watch    LinkWatcher
	key      *AuthKey // nil: plain FTFW
	// The expectations' caches and kernel side. expKernel is set when the
	// Kernel can follow expectations (required with cfg.Expectations.On):
	// it is followed even without expectation sync, because the kernel
	// side reads the master of each new expectation again (a NAT helper's
	// sequence adjustment, which the kernel reports by no event, is
	// replicated with the flow); its expectations are then not sent.
	expInternal *ExpectCache
	expExternal *ExpectCache
	expKernel   ExpectKernel
	// The warm standby (warm.go), with Config.WarmStandby: warm is nil
	// without it.
	warm     *warmSet // guarded by warmMu
	warmMu   sync.Mutex
	warmKick chan struct{}
	// master: the node holds MASTER (SetMaster).
	master atomic.Bool
	// bulkPoll, set by Run for its loop, handles the peer's datagrams that
	// wait for the loop, between a bulk's rounds: the acknowledgements free
	// the bulk's chunks for its next ones. Loop goroutine only.
	bulkPoll func()
	// bulkDue: the Channel asked for a bulk (EventSendBulk); the loop sends
	// it at its top, never inside the handling of an event or a datagram,
	// so that a bulk's bulkPoll cannot start another. Loop goroutine only.
	bulkDue       bool
	warmKernel    WarmKernel
	moving        bool        // guarded by warmMu: the peer's flows are moving into the internal cache
	bulkAfterMove bool        // guarded by warmMu: a bulk waits for that move
	warmLogAt     time.Time   // the writer's last log of refused writes; its goroutine only
	warmBuf       warmBuffers // guarded by commitMu: the background writes' reused buffers

	// The warm standby's hold (warm.go): holding from a start without
	// MASTER until the peer's table is in. Loop goroutine only.
	holding bool

	// The start-up read (startread.go): readAfter is Table.ReadAfter until
	// the loop closes it (nil since); runAt, when Run began; establishedAt,
	// when the loop first saw the session established; peerDataAt, when the
	// last of the peer's updates came. Loop goroutine only.
	readAfter     chan struct{}
	runAt         time.Time
	establishedAt time.Time
	peerDataAt    time.Time

	rxFlows []Flow    // scratch for receive, loop goroutine only
	rxDel   []bool    // scratch for receive, loop goroutine only
	conn    *syncLink // set by Run, used by its loop goroutine only

	updates    chan localUpdate
	wake       chan struct{}
	wantResync atomic.Bool
	wantBulk   atomic.Bool
	running    atomic.Bool

	commitMu sync.Mutex     // one commit at a time; Run's end waits for it to release the kernel side
	bg       sync.WaitGroup // a commit's internal-cache update; waited by the next Commit and by Run

	mu          sync.Mutex // guards the fields below
	chStats     ftfw.Stats
	backlogFrom time.Time
	bulks       uint64
	sendErrors  uint64
	foreign     uint64
	authDrops   [numAuthVerdicts]uint64
	commits     uint64
	lastCommit  CommitStats
	paths       []PathStats
	switches    uint64
	expFiltered uint64
	expRefused  uint64
	expCommit   ExpectCommitStats
	expTotals   ExpectStats // Committed, NoMaster, CommitFailed
}

// Parts are the Replicator's I/O: the kernel side and the sync link.
type Parts struct {
	// Kernel is the local table: ctnetlink.ForReplicator on a real
	// system, an in-memory twin in tests. Required.
	Kernel Kernel
	// Link opens the sync link, once per path (Config.SyncPaths) with
	// that path's settings; nil: OpenUDP.
	Link LinkOpener
	// Links watches the paths' interfaces when there are several; nil:
	// WatchLinks.
	Links LinkWatcher
}

// LinkWatcher reports the state of the interfaces named in ifaces, in the
// network namespace at netns ("" = ours): report is called for each at
// start when it exists, then at every change, until ctx ends. Several
// paths fail over on it; it returns ctx's error or why it cannot watch.
type LinkWatcher func(ctx context.Context, netns string, ifaces []string, report func(name string, up bool)) error

// New validates cfg, reads the key of AuthKeyFile, and builds a replicator
// on parts; it opens nothing until Run. Without a key it warns, once, that
// the sync channel is unauthenticated.
func New(log *slog.Logger, cfg Config, parts Parts) (*Replicator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if parts.Kernel == nil {
		return nil, fmt.Errorf("%w: no kernel side", ErrConfig)
	}
	r := &Replicator{log: log, cfg: c, internal: NewCache(), external: NewCache(),
		kernel: parts.Kernel, openLink: parts.Link, watch: parts.Links,
		expInternal: NewExpectCache(), expExternal: NewExpectCache(),
		updates: make(chan localUpdate, localQueue), wake: make(chan struct{}, 1)}
	if r.openLink == nil {
		r.openLink = OpenUDP
	}
	if r.watch == nil {
		r.watch = WatchLinks
	}
	for i := range c.Paths {
		p := &c.Paths[i]
		r.paths = append(r.paths, PathStats{Name: p.Name, Interface: p.Interface, Up: true, Active: i == 0})
		if p.LocalAddr.IsValid() {
			r.paths[i].Local = p.LocalAddr.String()
		}
		if p.PeerAddr.IsValid() {
			r.paths[i].Peer = p.PeerAddr.String()
		}
		if p.Multicast() {
			r.paths[i].Group = p.Group.String()
			if !p.PeerAddr.IsValid() {
				log.Warn(fmt.Sprintf("conntrack sync: path %s: multicast without peer_address: the first source heard on %s that is not ours is taken as the peer for the rest of the run; set peer_address to accept only it", p.Name, p.Group),
					"path", p.Name)
			}
		}
	}
	ek, ok := parts.Kernel.(ExpectKernel)
	if c.Expectations.On && !ok {
		return nil, fmt.Errorf("%w: expectation sync needs a kernel side that follows and commits expectations", ErrConfig)
	}
	if ok {
		r.expKernel = ek
	}
	if c.WarmStandby {
		wk, ok := parts.Kernel.(WarmKernel)
		if !ok {
			return nil, fmt.Errorf("%w: warm standby needs a kernel side that writes flows as they arrive", ErrConfig)
		}
		r.warmKernel, r.warm, r.warmKick = wk, newWarmSet(), make(chan struct{}, 1)
	}
	if c.AuthKeyFile != "" {
		k, err := ReadAuthKeyFile(c.AuthKeyFile)
		if err != nil {
			return nil, err
		}
		r.key = &k
	} else {
		from := c.PeerAddr.String()
		if !c.PeerAddr.IsValid() {
			from = "the multicast group"
		}
		when := "which is committed at takeover"
		if c.WarmStandby {
			// A warm standby writes what it receives into its kernel at
			// once: an injected state opens the backup's stateful
			// ruleset now, not only after a takeover.
			when = "which this warm standby writes into its kernel as it arrives"
		}
		log.Warn(fmt.Sprintf("conntrack sync: the sync channel is unauthenticated: anyone who can send datagrams from %s can inject connection state, %s; set auth_key_file on both nodes (vigil peers only)", from, when),
			"peer", from)
	}
	return r, nil
}

// onLocal runs on the kernel side's Follow goroutine: it hands a kernel change to the
// loop. It blocks when the loop is behind, which in turn lets the event
// socket overflow and triggers a re-dump: nothing is lost, only delayed.
func (r *Replicator) onLocal(k UpdateKind, f *Flow) {
	u := localUpdate{op: ftfw.OpUpd, flow: toWire(f, r.cfg.CommitTimeout == 0)}
	switch k {
	case UpdateNew:
		u.op = ftfw.OpNew
	case UpdateDelete:
		u.op = ftfw.OpDel
	}
	if !r.running.Load() {
		return // no peer session yet: the first Run's bulk covers it
	}
	r.updates <- u
}

// onLocalExpect runs on the kernel side's FollowExpect goroutine: it hands
// a change of a local expectation whose helper is listed to the loop.
func (r *Replicator) onLocalExpect(k UpdateKind, x *Expect) {
	if !r.cfg.Expectations.On {
		return
	}
	if !r.cfg.Expectations.Allows(x.Helper) {
		r.mu.Lock()
		r.expFiltered++
		r.mu.Unlock()
		return
	}
	c := toWireExpect(x, r.cfg.CommitTimeout == 0)
	u := localUpdate{op: ftfw.OpNew, exp: &c}
	if k == UpdateDelete {
		u.op = ftfw.OpDel
	}
	if !r.running.Load() {
		return
	}
	r.updates <- u
}

// Run opens the sync link, follows the kernel, and talks to the peer
// until ctx ends; it then stops its goroutines and waits for them. It
// returns ctx's error, or a setup error (link, kernel side).
func (r *Replicator) Run(ctx context.Context) error {
	conn, err := r.dial()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		_ = conn.close()
		r.running.Store(false)
		r.commitMu.Lock()
		r.kernel.Release()
		r.bg.Wait()
		r.commitMu.Unlock()
		// Unblock a Follow stuck handing over an update.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for {
			select {
			case <-r.updates:
				continue
			case <-done:
			}
			break
		}
		// Nothing stale for a later Run: it starts with a bulk anyway.
		for len(r.updates) > 0 {
			<-r.updates
		}
		r.conn = nil
	}()

	r.conn = conn
	rx, pool := make(chan rxBatch, rxQueueLen(conn.receiveRoom())), newRxPool()
	for i := range conn.paths {
		wg.Go(func() { r.runReader(ctx, conn, i, rx, pool) })
	}
	links := make(chan linkState, 16)
	if len(conn.paths) > 1 {
		wg.Go(func() { r.runLinkWatch(ctx, links) })
	}
	r.running.Store(true)
	lerr := make(chan error, 2)
	readAfter := make(chan struct{})
	r.readAfter = readAfter
	r.runAt, r.establishedAt, r.peerDataAt = time.Now(), time.Time{}, time.Time{}
	table := Table{Cache: r.internal, Filter: &r.cfg.Filter, OnUpdate: r.onLocal, ReadAfter: readAfter}
	if r.warm != nil {
		table.Warm, table.WarmGone = r.isWarm, r.warmGone
		wg.Go(func() { r.runWarm(ctx) })
	}
	wg.Go(func() {
		lerr <- r.kernel.Follow(ctx, table)
	})
	if r.expKernel != nil {
		wg.Go(func() {
			err := r.expKernel.FollowExpect(ctx, ExpectTable{Cache: r.expInternal, OnUpdate: r.onLocalExpect, ReadAfter: readAfter})
			if r.cfg.Expectations.On || ctx.Err() != nil {
				lerr <- err
				return
			}
			// Without expectation sync, following them only helps the flows.
			r.log.Warn("conntrack sync: cannot follow the kernel's expectations: NAT helpers' sequence adjustments (FTP behind NAT) are not replicated", "err", err)
		})
	}

	now := time.Now()
	maxDatagram := ftfw.MaxDatagram(r.cfg.MTU, r.cfg.anyIPv6())
	if r.key != nil {
		maxDatagram -= AuthOverhead
	}
	ch := ftfw.NewChannel(ftfw.Config{
		MaxDatagram:     maxDatagram,
		ACKWindow:       r.cfg.AckWindow,
		ResendQueueSize: r.cfg.ResendQueue,
	}, now)
	sel := newPathSelect(len(conn.paths), now)
	// Between a bulk's rounds (flushAsync) the loop handles what the peer
	// sent meanwhile, in the order it came, as it would after the bulk: a
	// bulk starts only at the loop's top (bulkDue), never inside the
	// handling of a batch, and one the Channel asks for meanwhile (its
	// acknowledgements can leave no bulk message in flight for a moment)
	// waits for the loop's top.
	r.bulkPoll = func() { r.receiveWaiting(ch, sel, rx, pool.put) }
	defer func() { r.bulkPoll = nil }()
	var lastReason pathReason
	r.holding = r.warm != nil && !r.master.Load()
	if r.warm != nil {
		r.warmMu.Lock()
		r.warm.st.Holding = r.holding
		r.warmMu.Unlock()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// Local updates are held for up to coalesceDelay (or until a few
	// datagrams' worth are queued), so that a trickle of kernel events
	// still fills datagrams instead of sending one message per sendmmsg.
	var holdUntil time.Time
	held := 0
	for {
		now = time.Now()
		if r.wantResync.Swap(false) {
			ch.RequestResync()
		}
		if r.wantBulk.Swap(false) && !r.holding {
			ch.RequestBulk() // EventSendBulk follows once no bulk is in flight
		}
		if r.readAfter != nil && r.startReadDue(ch, now) {
			close(r.readAfter)
			r.readAfter = nil
			r.log.Info("conntrack sync: reading the kernel's connection table", "peers", r.external.Len(), "master", r.master.Load())
		}
		if r.holding && r.holdEnds(ch, now) {
			r.endHold(ch)
		}
		if a, why := sel.choose(now); why != pathKeep {
			r.switchPath(conn, a, why, lastReason)
			lastReason = why
		}
		holding := held > 0 && held < coalesceMax && now.Before(holdUntil)
		if !holding {
			held = 0
			r.flush(ch, now)
		}
		r.handleEvents(ch)
		for r.bulkDue {
			r.bulkDue = false
			r.bulk(ch)
		}
		r.snapshot(ch, conn, sel, now)
		if holding {
			timer.Reset(holdUntil.Sub(now))
		} else {
			next := ch.Deadline()
			if d := sel.deadline(now); !d.IsZero() && d.Before(next) {
				next = d
			}
			if t := now.Add(startTick); (r.holding || r.readAfter != nil) && t.Before(next) {
				next = t
			}
			timer.Reset(max(0, next.Sub(now)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lerr:
			if ctx.Err() == nil {
				return err
			}
			return ctx.Err()
		case b := <-rx:
			r.receiveBatch(ch, sel, b)
			pool.put(b)
			// And what waited behind it, then the loop's top again (its
			// sends and timers), however fast more comes.
			r.receiveWaiting(ch, sel, rx, pool.put)
		case l := <-links:
			sel.setUp(l.path, l.up)
		case u := <-r.updates:
			if held == 0 {
				holdUntil = time.Now().Add(coalesceDelay)
			}
			r.send(ch, u)
			held++
			for range 4096 {
				select {
				case u := <-r.updates:
					r.send(ch, u)
					held++
					continue
				default:
				}
				break
			}
		case <-r.wake:
		case <-timer.C:
		}
	}
}

func (r *Replicator) send(ch *ftfw.Channel, u localUpdate) {
	if u.exp != nil {
		if err := ch.SendExpect(u.op, u.exp); err != nil {
			r.log.Warn("conntrack sync: expectation not encodable", "err", err)
		}
		return
	}
	if u.op != ftfw.OpDel && r.withhold(&u.flow) {
		r.countWithheld(1)
		return
	}
	if err := ch.Send(u.op, &u.flow); err != nil {
		r.log.Warn("conntrack sync: flow not encodable", "err", err)
	}
}

// rxBatch is a batch of the peer's datagrams read on one path: ds are
// slices of buf.
type rxBatch struct {
	path int
	ds   [][]byte
	buf  []byte
}

// rxPool recycles the batches' memory between the readers and the loop.
// The loop gives a batch back once it has handled it: nothing it decodes
// keeps a datagram's bytes (the updates and the caches hold copies;
// TestReceiveKeepsNoDatagramBytes), so a burst such as a bulk of 100k
// flows (about 6 MB of datagrams) cycles through a few buffers instead of
// allocating a copy of every batch. At most rxPoolKeep wait here, and a
// buffer grown beyond rxPoolMax is left to the collector.
type rxPool chan rxBatch

// Where the sync socket's receive buffer, as the kernel granted it
// (ReceiveRoom), is at least rxKernelRoom, the readers read at most rxQueue
// batches ahead of the loop; beyond that the peer's datagrams wait in that
// buffer, where they already are: a reader running far ahead of a busy
// loop (a bulk) only copied them into fresh memory, up to 3.5 MB at 100k
// flows and 13 MB at 1M, which the loop then read no sooner. That room
// (a SocketBuffer of 16 MiB, doubled; the default is 32 MiB) holds,
// unread, the datagrams of 1,472 bytes of a peer's full resend queue sent
// over a veth: 131,072 messages of IPv4 TCP flows with NAT (100 bytes
// each), about 9,400 datagrams (TestReceiveRoomHoldsAResendWindow). A
// smaller buffer (conntrackd.conf's RcvSocketBuffer is often about 1 MB:
// 1,084 such datagrams there), or a link that cannot tell, keeps the readers up to
// rxQueueDeep batches ahead, as they always were. The pool keeps room for
// the short queue, the batch each reader fills and the one the loop
// handles.
const (
	rxKernelRoom = 32 << 20 // as SO_RCVBUF reads back: a request of 16 MiB, doubled
	rxQueue      = 8
	rxQueueDeep  = 256
	rxPoolKeep   = rxQueue + 4
	rxPoolMax    = 128 << 10
	rxPoolUnit   = 4 << 10 // a new buffer's capacity is a multiple of it
)

func newRxPool() rxPool { return make(rxPool, rxPoolKeep) }

// rxQueueLen is how many batches the readers may read ahead of the loop
// when the sync link's sockets hold room bytes (0: unknown).
func rxQueueLen(room int) int {
	if room >= rxKernelRoom {
		return rxQueue
	}
	return rxQueueDeep
}

// receiveRoomer is a Link that tells its ReceiveRoom (the UDP link).
type receiveRoomer interface{ ReceiveRoom() int }

// receiveRoom is the least receive buffer of the link's paths, 0 when a
// path's Link cannot tell.
func (s *syncLink) receiveRoom() int {
	least := 0
	for i := range s.paths {
		r, ok := s.paths[i].l.(receiveRoomer)
		if !ok {
			return 0
		}
		if n := r.ReceiveRoom(); i == 0 || n < least {
			least = n
		}
	}
	return least
}

// get returns a batch with room for n bytes: a recycled one if there is
// one big enough.
func (p rxPool) get(n int) rxBatch {
	var b rxBatch
	select {
	case b = <-p:
	default:
	}
	if cap(b.buf) < n {
		b.buf = make([]byte, 0, (n+rxPoolUnit-1)/rxPoolUnit*rxPoolUnit)
	}
	b.buf, b.ds = b.buf[:0], b.ds[:0]
	return b
}

// put gives a handled batch back.
func (p rxPool) put(b rxBatch) {
	if cap(b.buf) > rxPoolMax {
		return
	}
	select {
	case p <- b:
	default:
	}
}

// linkState is a path's interface going up or down.
type linkState struct {
	path int
	up   bool
}

// receiveWaiting handles the batches already waiting in rx when it is
// called, and no more, giving each to done once handled: a peer (or
// anyone on the sync segment) that keeps rx full cannot hold the loop,
// or a bulk between its rounds, for longer than one queue's worth of
// batches (TestReceiveWaitingIsBounded).
func (r *Replicator) receiveWaiting(ch *ftfw.Channel, sel *pathSelect, rx chan rxBatch, done func(rxBatch)) {
	for range len(rx) {
		b := <-rx // only the loop takes from rx
		r.receiveBatch(ch, sel, b)
		done(b)
	}
}

func (r *Replicator) receiveBatch(ch *ftfw.Channel, sel *pathSelect, b rxBatch) {
	sel.heardFrom(b.path, time.Now())
	for _, d := range b.ds {
		r.receive(ch, d)
	}
}

// switchPath makes path a the one we send on, and logs why (a probe
// repeated during one silence only at debug level).
func (r *Replicator) switchPath(conn *syncLink, a int, why, last pathReason) {
	from := conn.paths[conn.active.Load()].name
	conn.active.Store(int32(a))
	r.mu.Lock()
	r.switches++
	r.mu.Unlock()
	lvl := slog.LevelInfo
	if why == pathProbe && last == pathProbe {
		lvl = slog.LevelDebug
	}
	r.log.Log(context.Background(), lvl, "conntrack sync: sync path switched", "from", from, "to", conn.paths[a].name, "reason", why.String())
}

// runLinkWatch reports the paths' interfaces going up and down to the
// loop. A watcher that fails is retried after a pause; meanwhile the
// paths keep their last state. Stopped by Run.
func (r *Replicator) runLinkWatch(ctx context.Context, out chan<- linkState) {
	byName := map[string][]int{}
	var names []string
	for i, p := range r.cfg.Paths {
		if p.Interface != "" {
			if _, ok := byName[p.Interface]; !ok {
				names = append(names, p.Interface)
			}
			byName[p.Interface] = append(byName[p.Interface], i)
		}
	}
	if len(names) == 0 {
		return
	}
	for {
		err := r.watch(ctx, r.cfg.Netns, names, func(name string, up bool) {
			for _, i := range byName[name] {
				select {
				case out <- linkState{path: i, up: up}:
				case <-ctx.Done():
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("conntrack sync: watching the sync paths' links", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (r *Replicator) receive(ch *ftfw.Channel, d []byte) {
	now := time.Now()
	ch.Receive(d, now)
	ups := ch.Updates()
	if len(ups) > 0 {
		r.peerDataAt = now
	}
	switch {
	case len(ups) == 0:
	case r.warm == nil:
		// The flows go straight from the wire into the cache.
		for i := range ups {
			if x := ups[i].Exp; x != nil {
				r.receiveExpect(ups[i].Op, x, now)
			}
		}
		r.external.applyWire(ups, now)
	default:
		// The warm standby's dirty set needs the flows too.
		r.rxFlows, r.rxDel = r.rxFlows[:0], r.rxDel[:0]
		for i := range ups {
			if x := ups[i].Exp; x != nil {
				r.receiveExpect(ups[i].Op, x, now)
				continue
			}
			r.rxFlows = append(r.rxFlows, fromWire(&ups[i].Flow))
			r.rxDel = append(r.rxDel, ups[i].Op == ftfw.OpDel)
		}
		r.external.Apply(r.rxFlows, r.rxDel, now)
		r.warmChanged(r.rxFlows, now)
		if len(r.rxFlows) > 0 {
			r.retractPeers(r.rxFlows)
		}
	}
	r.handleEvents(ch)
}

// receiveExpect applies one of the peer's expectation updates to the
// external cache, if expectation sync is on and lists its helper (a node
// commits only what it is configured to replicate).
func (r *Replicator) receiveExpect(op ftfw.Op, x *Expect, now time.Time) {
	if !r.cfg.Expectations.Allows(x.Helper) {
		r.mu.Lock()
		r.expRefused++
		r.mu.Unlock()
		return
	}
	if op == ftfw.OpDel {
		r.expExternal.Delete(x)
		return
	}
	fromWireExpect(x)
	r.expExternal.Put(x, now)
}

func (r *Replicator) handleEvents(ch *ftfw.Channel) {
	for _, ev := range ch.Events() {
		switch ev.Kind {
		case ftfw.EventEstablished:
			r.log.Info("conntrack sync: peer answered", "seq", ev.Seq)
		case ftfw.EventPeerSession:
			// At most one a second (the channel's HELLO holdoff).
			r.log.Info("conntrack sync: new peer session", "restart", ev.Restart, "seq", ev.Seq)
		case ftfw.EventSendBulk:
			// Peer sessions, RESYNCs (counted, not logged: anyone can forge
			// them) and takeovers ask for bulks; the channel's gate starts
			// one at a time, peer-requested ones at least a second apart.
			r.log.Info("conntrack sync: sending the whole internal cache", "requests", ev.Requests)
			r.bulkDue = true
		}
	}
}

// localQueue is how many kernel changes wait for the loop (our tunable).
// Each is a 312-byte localUpdate, and a burst touches every slot: 2048 are
// 640 kB of resident memory (8192 were 2.5 MB). A full queue only makes the
// kernel side wait (onLocal).
const localQueue = 2048

// Coalescing of local updates (see Run): the longest an update waits, and
// how many updates end the wait at once.
const (
	coalesceDelay = time.Millisecond
	coalesceMax   = 256
)

// flush sends what the channel has ready.
func (r *Replicator) flush(ch *ftfw.Channel, now time.Time) {
	out := ch.Outbox(now)
	if len(out) == 0 || r.conn == nil {
		return
	}
	r.sendFailed(r.conn.send(out))
}

// bulkFlushEvery is how many entries a bulk queues between sends, so that
// the peer works on the first datagrams while we encode the rest.
const bulkFlushEvery = 8192

// bulk queues the whole internal cache for the peer. Its sends run on a
// goroutine of their own (bulkSend) while the loop encodes the next
// bulkFlushEvery entries: the kernel's send path, most of a bulk's time
// on the sender, and the encoding take turns on two CPUs instead of one.
func (r *Replicator) bulk(ch *ftfw.Channel) {
	if r.holding {
		return // endHold asks for one
	}
	sendTimeout := r.cfg.CommitTimeout == 0
	var bad, n, withheld int
	var bs bulkSend
	r.internal.rangeWire(sendTimeout, func(w *ftfw.Flow) {
		if r.withhold(w) {
			withheld++
			return
		}
		if ch.SendBulk(ftfw.OpUpd, w) != nil {
			bad++
		}
		if n++; n%bulkFlushEvery == 0 {
			r.flushAsync(ch, &bs)
		}
	})
	r.sendDone(&bs)
	r.countWithheld(withheld)
	if bad > 0 {
		r.log.Warn("conntrack sync: flows not encodable", "count", bad)
	}
	// Then the expectations, as conntrackd does after its conntrack cache.
	if r.cfg.Expectations.On {
		for _, e := range r.expInternal.Snapshot() {
			if !r.cfg.Expectations.Allows(e.Expect.Helper) {
				continue
			}
			x := toWireExpect(&e.Expect, sendTimeout)
			if err := ch.SendExpect(ftfw.OpUpd, &x); err != nil {
				r.log.Warn("conntrack sync: expectation not encodable", "err", err)
			}
		}
	}
	r.mu.Lock()
	r.bulks++
	r.mu.Unlock()
}

// bulkSend is the one send of a bulk that may be in flight: the datagrams
// of one Outbox, sent by a goroutine of its own. The datagrams alias the
// Channel's buffers until its next Outbox, so the next Outbox waits for
// the send (flushAsync): one batch in the kernel while the loop encodes
// the next, never more, and in the Channel's order.
type bulkSend struct {
	done chan bulkSent
	busy bool // a send is in flight
}

// bulkSent is how a bulk's send ended.
type bulkSent struct {
	failed int
	err    error
}

// flushAsync waits for the bulk's send in flight, then starts sending what
// the channel has ready, without waiting for it, and meanwhile handles what
// the peer sent (bulkPoll): its acknowledgements let the next rounds reuse
// the chunks of the acknowledged ones.
func (r *Replicator) flushAsync(ch *ftfw.Channel, bs *bulkSend) {
	r.sendDone(bs)
	out := ch.Outbox(time.Now())
	if len(out) > 0 && r.conn != nil {
		if bs.done == nil {
			bs.done = make(chan bulkSent, 1)
		}
		conn, done := r.conn, bs.done
		bs.busy = true
		go func() {
			failed, err := conn.send(out)
			done <- bulkSent{failed, err}
		}()
	}
	if r.bulkPoll != nil {
		r.bulkPoll()
	}
}

// sendDone waits for the bulk's send in flight, if any, and counts what it
// could not send.
func (r *Replicator) sendDone(bs *bulkSend) {
	if !bs.busy {
		return
	}
	res := <-bs.done
	bs.busy = false
	r.sendFailed(res.failed, res.err)
}

// sendFailed counts datagrams a send could not send.
func (r *Replicator) sendFailed(failed int, err error) {
	if failed == 0 {
		return
	}
	r.mu.Lock()
	r.sendErrors += uint64(failed)
	r.mu.Unlock()
	r.log.Debug("conntrack sync: send", "err", err, "failed", failed)
}

// bulkBytesPerEntry is what BulkDatagrams reserves per flow: a TCP flow
// with NAT, mark and timeout and its share of a datagram's slack.
const bulkBytesPerEntry = 96

// BulkDatagrams encodes the internal cache as the datagrams of a bulk
// (sequence numbers and flags zero), without queueing or sending
// anything: a benchmark's way to tell the encoding's cost from the link's
// and the receiver's. Safe from any goroutine.
func (r *Replicator) BulkDatagrams() [][]byte {
	maxDatagram := ftfw.MaxDatagram(r.cfg.MTU, r.cfg.anyIPv6())
	if r.key != nil {
		maxDatagram -= AuthOverhead
	}
	p := ftfw.NewPacker(maxDatagram)
	p.Grow(r.internal.Len() * bulkBytesPerEntry)
	sendTimeout := r.cfg.CommitTimeout == 0
	r.internal.rangeWire(sendTimeout, func(w *ftfw.Flow) {
		_ = p.AddFlow(ftfw.TypeUpd, w) // a flow the bulk could not encode is left out there too
	})
	p.Flush()
	return p.Datagrams()
}

func (r *Replicator) snapshot(ch *ftfw.Channel, conn *syncLink, sel *pathSelect, now time.Time) {
	s := ch.Stats()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.chStats = s
	for i := range r.paths {
		p, cp := &r.paths[i], &conn.paths[i]
		p.Up, p.Active, p.LastHeard = sel.up[i], i == sel.active, sel.heard[i]
		p.In, p.Out = cp.in.Load(), cp.out.Load()
		if pp, ok := cp.l.(interface{ Peer() netip.Addr }); ok {
			if a := pp.Peer(); a.IsValid() {
				p.Peer = a.String()
			}
		}
	}
	switch {
	case s.Queued+s.Unacked == 0:
		r.backlogFrom = time.Time{}
	case r.backlogFrom.IsZero():
		r.backlogFrom = now
	}
}

// runReader reads path's datagrams, many per Receive, until the link
// closes, and hands each batch to the loop. Stopped by Run.
func (r *Replicator) runReader(ctx context.Context, conn *syncLink, path int, rx chan<- rxBatch, pool rxPool) {
	pl := &conn.paths[path]
	const batch, size = 64, 9216
	ds := make([]Datagram, batch)
	for i := range ds {
		ds[i].Buf = make([]byte, size)
	}
	// A link error that repeats (ENOBUFS under a flood, a vanished
	// interface) is logged once per reason and window, then summarised,
	// and the reader pauses briefly instead of spinning.
	errLog := ratelog.New(ratelog.Config{})
	for {
		n, err := pl.l.Receive(ds)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			now := time.Now()
			for _, sum := range errLog.Expire(now) {
				r.log.Warn("conntrack sync: " + sum.String())
			}
			if errLog.Event(ratelog.Key{What: "receive errors", Subject: "the sync socket of path " + pl.name, Reason: err.Error()}, now) {
				r.log.Warn("conntrack sync: receive", "path", pl.name, "err", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		total, foreign, refused := 0, 0, 0
		var verdicts [numAuthVerdicts]int
		for _, d := range ds[:n] {
			total += d.N
		}
		// One buffer for the batch, the loop's to read until it gives it
		// back to the pool.
		b := pool.get(total)
		buf, out := b.buf, b.ds
		for _, d := range ds[:n] {
			if !d.FromPeer {
				foreign++
				continue
			}
			p, v := conn.open(d.Buf[:d.N])
			if v != authOK {
				verdicts[v]++
				refused++
				continue
			}
			start := len(buf)
			buf = append(buf, p...)
			out = append(out, buf[start:len(buf):len(buf)])
		}
		if foreign+refused > 0 {
			r.mu.Lock()
			r.foreign += uint64(foreign)
			for v, k := range verdicts {
				r.authDrops[v] += uint64(k)
			}
			r.mu.Unlock()
		}
		if len(out) == 0 {
			pool.put(b)
			continue
		}
		pl.in.Add(uint64(len(out)))
		select {
		case rx <- rxBatch{path: path, ds: out, buf: buf}:
		case <-ctx.Done():
			return
		}
	}
}

// Commit writes the external cache into the kernel and returns when it is
// there (masters before related flows; EEXIST updates in place). Per-flow
// refusals are counted in the stats, not returned. The committed flows
// are in the internal cache when Commit returns.
func (r *Replicator) Commit(ctx context.Context) (CommitStats, error) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.bg.Wait() // the previous commit's internal-cache update
	now := time.Now()
	commit := r.commitAll
	if r.warm != nil {
		commit = r.commitWarm
	}
	st, done, err := commit(ctx, now)
	if done {
		return st, err // the kernel side could not start (no sockets): nothing written
	}
	// The expectations after their masters: the kernel links each to its
	// master flow, which must be there.
	var xst ExpectCommitStats
	var xerr error
	if r.cfg.Expectations.On && ctx.Err() == nil {
		xst, xerr = r.commitExpect(ctx, now)
	}
	r.mu.Lock()
	r.commits++
	r.lastCommit = st
	r.expCommit = xst
	r.expTotals.Committed += uint64(xst.Committed)
	r.expTotals.NoMaster += uint64(xst.NoMaster)
	r.expTotals.CommitFailed += uint64(xst.Failed)
	r.mu.Unlock()
	r.log.Info("conntrack sync: committed the external cache", "entries", st.Entries, "created", st.Created,
		"updated", st.Updated, "replaced", st.Replaced, "failed", st.Failed, "warm", st.Warm, "took", st.Duration, "err", err,
		"expectations", xst.Entries, "expectations_committed", xst.Committed,
		"expectations_no_master", xst.NoMaster, "expectations_failed", xst.Failed)
	if err == nil {
		err = xerr
	}
	return st, err
}

// commitAll writes the whole external cache (Commit without a warm
// standby); done is set when the kernel side could not start.
//
// The cache is read in chunks (Cache.Chunks) through commitBuffers
// reused buffers of commitChunk entries, on a goroutine of its own, while
// the kernel side writes the chunk before; and what the kernel now holds
// goes into the internal cache (not announced: the peer sent it), with
// the timeout it was given, so that after a takeover a peer's resync gets
// it, on a third goroutine, chunk by chunk. Commit returns once the last
// chunk is in both.
func (r *Replicator) commitAll(ctx context.Context, now time.Time) (st CommitStats, done bool, err error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Buffers sized for the cache when it is smaller than a chunk: three
	// chunks' worth of fresh memory is 3.6 MB that the VIPs would wait for
	// the first touch of, for a commit of a few flows.
	size := min(commitChunk, max(1, r.external.Len()))
	bufs := make(chan []Entry, commitBuffers)
	for range commitBuffers {
		bufs <- make([]Entry, 0, size)
	}
	in := make(chan []Entry, 1)
	out := make(chan CommitChunk, 1)
	var sent int
	wrote := false
	var wg sync.WaitGroup
	wg.Go(func() {
		sent = r.external.Chunks(cctx, bufs, in)
		close(in)
	})
	wg.Go(func() {
		for c := range out {
			if !wrote {
				// Room for the flows to come, made once the kernel
				// side has written a chunk, and here rather than
				// before the commit starts: the new maps' first
				// touch is not the kernel side's to wait for.
				r.internal.reserveLike(r.external)
			}
			wrote = true
			for i := range c.OK {
				if c.OK[i] {
					c.Entries[i].Flow.TimeoutSec = CommitTimeoutSec(&c.Entries[i], now, r.cfg.CommitTimeout)
				}
			}
			r.internal.PutEntries(c.Entries, c.OK, time.Now())
			clear(c.Entries) // no references into the cache's strings kept
			bufs <- c.Entries
		}
	})
	st, err = r.kernel.CommitStream(cctx, in, out, now, r.cfg.CommitTimeout)
	cancel() // the reader stops if the kernel side stopped early
	close(out)
	wg.Wait()
	st.Entries = max(st.Entries, sent)
	return st, !wrote && err != nil, err
}

// A whole-cache commit reads the external cache in chunks of commitChunk
// entries, through commitBuffers buffers (about 300 bytes per entry: 3.6
// MB in all).
const (
	commitChunk   = 4096
	commitBuffers = 3
)

// commitExpect writes the external cache's expectations into the kernel.
// Those created go into the internal cache first (the kernel's events for
// them then change nothing and are not announced: the peer sent them) and
// leave it again if the kernel refused them.
func (r *Replicator) commitExpect(ctx context.Context, now time.Time) (ExpectCommitStats, error) {
	snap := r.expExternal.Snapshot()
	if len(snap) == 0 {
		return ExpectCommitStats{}, nil
	}
	for i := range snap {
		x := snap[i].Expect
		x.HasTimeout, x.TimeoutSecs = true, ExpectTimeoutSec(&snap[i], now, r.cfg.CommitTimeout)
		r.expInternal.Put(&x, now)
	}
	st, ok, err := r.expKernel.CommitExpect(ctx, snap, now, r.cfg.CommitTimeout)
	for i := range snap {
		if ok == nil || !ok[i] {
			r.expInternal.Delete(&snap[i].Expect)
		}
	}
	return st, err
}

// PurgeStats is what one Purge did.
type PurgeStats struct {
	Entries int // flows of the internal cache
	Set     int // whose kernel timeout is now Config.PurgeTimeout
	Failed  int // that the kernel refused to change
	Timeout time.Duration
}

// Purge gives every flow of the internal cache (our connections, and
// those a commit wrote from the peer's) a kernel timeout of
// Config.PurgeTimeout, so that a node that no longer forwards them lets
// them expire then (conntrackd -t deletes them after PurgeTimeout; here
// traffic through this node can still renew them). Flows the kernel no
// longer has are skipped. Without PurgeTimeout it does nothing. It waits
// for a commit in progress, and a commit waits for it; then, when current
// is not nil and returns false (the purge is no longer wanted: a takeover
// came), it does nothing.
func (r *Replicator) Purge(ctx context.Context, current func() bool) (PurgeStats, error) {
	st := PurgeStats{Timeout: r.cfg.PurgeTimeout}
	if r.cfg.PurgeTimeout <= 0 {
		return st, nil
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.bg.Wait() // a commit's flows reach the internal cache first
	if current != nil && !current() {
		st.Timeout = 0
		return st, nil
	}
	snap := r.internal.Snapshot()
	flows := make([]Flow, len(snap))
	for i := range snap {
		flows[i] = snap[i].Flow
	}
	st.Entries = len(flows)
	secs := uint32(min(r.cfg.PurgeTimeout/time.Second, 1<<31))
	var err error
	st.Set, st.Failed, err = r.kernel.SetTimeouts(ctx, flows, secs)
	return st, err
}

// FlushExternal empties the external cache and returns how many entries
// it held. On a node that holds MASTER (SetMaster; the flush after a
// takeover) the cache's room is given back too: it stays empty until the
// peer is back. On a backup it is kept for the resync that refills it.
// With a warm standby see flushWarm: the peer's flows leave the kernel
// too, unless the node holds MASTER.
func (r *Replicator) FlushExternal() int {
	if r.warm != nil {
		return r.flushWarm() + r.expExternal.Flush()
	}
	if r.master.Load() {
		return r.external.Release() + r.expExternal.Flush()
	}
	return r.external.Flush() + r.expExternal.Flush()
}

// SendBulk sends the peer our whole internal cache (conntrackd -B): the new
// master does it after its commit, so a peer that asked for a resync
// before we took over still gets our table. It starts as soon as no other
// bulk is in flight (a bulk in flight is finished first).
func (r *Replicator) SendBulk() {
	if r.deferBulk() {
		return
	}
	r.wantBulk.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// RequestResync asks the peer for its whole table (after MASTER→BACKUP).
func (r *Replicator) RequestResync() {
	r.wantResync.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// DumpExpect returns copies of the internal and external expectation
// caches.
func (r *Replicator) DumpExpect() (internal, external []ExpectEntry) {
	return r.expInternal.Snapshot(), r.expExternal.Snapshot()
}

// Dump returns copies of the internal and external caches.
func (r *Replicator) Dump() (internal, external []Entry) {
	return r.internal.Snapshot(), r.external.Snapshot()
}

// Stats returns a snapshot of the counters.
func (r *Replicator) Stats() Stats {
	ls := r.kernel.Stats()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{
		Internal: r.internal.Len(), External: r.external.Len(),
		Established: r.chStats.Established, Backlog: r.chStats.Queued + r.chStats.Unacked,
		Retransmits: r.chStats.Retransmits, ResyncsSent: r.chStats.ResyncsSent, ResyncsReceived: r.chStats.ResyncsRcv,
		Bulks: r.bulks, PeerSessions: r.chStats.PeerSessions, PeerRestarts: r.chStats.PeerRestarts,
		Commits: r.commits, LastCommit: r.lastCommit, Listener: ls, Channel: r.chStats,
		Drops: map[string]uint64{},
		Expect: ExpectStats{Internal: r.expInternal.Len(), External: r.expExternal.Len(),
			Filtered: r.expFiltered, Refused: r.expRefused, LastCommit: r.expCommit,
			Committed: r.expTotals.Committed, NoMaster: r.expTotals.NoMaster, CommitFailed: r.expTotals.CommitFailed},
	}
	if r.warm != nil {
		r.warmMu.Lock()
		s.Warm = r.warm.stats()
		r.warmMu.Unlock()
	}
	if !r.backlogFrom.IsZero() {
		s.Lag = time.Since(r.backlogFrom)
	}
	for i, n := range ls.Filtered {
		if n > 0 {
			s.Drops[DropReason(i).String()] += n
		}
	}
	if ls.DecodeErrors > 0 {
		s.Drops[DropKernelError.String()] += ls.DecodeErrors
	}
	if r.sendErrors > 0 {
		s.Drops[DropSendError.String()] = r.sendErrors
	}
	if r.foreign > 0 {
		s.Drops["foreign_source"] = r.foreign
	}
	s.Authenticated = r.key != nil
	s.Paths = append([]PathStats(nil), r.paths...)
	s.PathSwitches = r.switches
	for v, n := range r.authDrops {
		if n > 0 {
			s.Drops[authVerdict(v).String()] = n
			if authVerdict(v).refused() {
				s.AuthDrops += n
			}
		}
	}
	for i, n := range r.chStats.Drops {
		if n > 0 {
			s.Drops[ftfw.DropReason(i).String()] += n
		}
	}
	return s
}

// syncLink is the sync link as the Replicator uses it: a Link, and with a
// key (auth_key_file) the authenticated envelope (auth.go) around every
// datagram. send is called by the replicator's loop, or during a bulk by
// the bulk's send goroutine while the loop does not send (bulkSend); open
// by its readers only.
type syncLink struct {
	paths  []pathLink
	active atomic.Int32 // the path send uses; written by the loop
	auth   *authLink    // nil: plain FTFW
	openMu sync.Mutex   // the path readers share auth
	// sealed holds the envelopes of one send, reused.
	sealed [][]byte
}

// pathLink is one path's open Link and its counters.
type pathLink struct {
	name    string
	l       Link
	in, out atomic.Uint64 // the peer's datagrams accepted; ours sent
}

// dial opens the sync link; with a key, a new authenticated session starts
// (a fresh random session id and challenge).
func (r *Replicator) dial() (*syncLink, error) {
	var auth *authLink
	if r.key != nil {
		var err error
		if auth, err = newAuthLink(*r.key, r.cfg.LocalAddr, r.cfg.PeerAddr, randomID); err != nil {
			return nil, fmt.Errorf("conntracksync: sync channel key: %w", err)
		}
	}
	s := &syncLink{auth: auth, paths: make([]pathLink, len(r.cfg.Paths))}
	for i := range r.cfg.Paths {
		l, err := r.openLink(r.cfg.pathConfig(i))
		if err != nil {
			_ = s.close()
			if len(r.cfg.Paths) > 1 {
				err = fmt.Errorf("path %s: %w", r.cfg.Paths[i].Name, err)
			}
			return nil, err
		}
		s.paths[i] = pathLink{name: r.cfg.Paths[i].Name, l: l}
	}
	return s, nil
}

// randomID returns a random non-zero 64-bit id (crypto/rand).
func randomID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails on Linux
		if v := binary.LittleEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// send sends datagrams in order, sealed when the channel is keyed. It
// returns how many could not be sent and the last error.
func (s *syncLink) send(dgrams [][]byte) (failed int, err error) {
	return s.sendOn(int(s.active.Load()), dgrams)
}

// sendOn sends datagrams on path i, sealed when the channel is keyed.
func (s *syncLink) sendOn(i int, dgrams [][]byte) (failed int, err error) {
	p := &s.paths[i]
	if s.auth == nil {
		failed, err = p.l.Send(dgrams)
		p.out.Add(uint64(len(dgrams) - failed))
		return failed, err
	}
	for len(s.sealed) < len(dgrams) {
		s.sealed = append(s.sealed, nil)
	}
	for i, d := range dgrams {
		var serr error
		if s.sealed[i], serr = s.auth.seal(s.sealed[i][:0], d); serr != nil {
			return len(dgrams), serr
		}
	}
	failed, err = p.l.Send(s.sealed[:len(dgrams)])
	p.out.Add(uint64(len(dgrams) - failed))
	return failed, err
}

// open returns the FTFW datagram inside d (d itself on a plain channel,
// decrypted in place on a keyed one) or why it was refused.
func (s *syncLink) open(d []byte) ([]byte, authVerdict) {
	if s.auth == nil {
		return d, authOK
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	return s.auth.open(d)
}

func (s *syncLink) close() error {
	var errs []error
	for i := range s.paths {
		if l := s.paths[i].l; l != nil {
			errs = append(errs, l.Close())
		}
	}
	return errors.Join(errs...)
}
