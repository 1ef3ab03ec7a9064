package conntracksync

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/internal/ratelog"
)

type localUpdate struct {
	op   ftfw.Op
	flow ftfw.Flow
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
	key      *AuthKey // nil: plain FTFW

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
}

// Parts are the Replicator's I/O: the kernel side and the sync link.
type Parts struct {
	// Kernel is the local table: ctnetlink.ForReplicator on a real
	// system, an in-memory twin in tests. Required.
	Kernel Kernel
	// Link opens the sync link; nil: OpenUDP.
	Link LinkOpener
}

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
		kernel: parts.Kernel, openLink: parts.Link,
		updates: make(chan localUpdate, 8192), wake: make(chan struct{}, 1)}
	if r.openLink == nil {
		r.openLink = OpenUDP
	}
	if c.AuthKeyFile != "" {
		k, err := ReadAuthKeyFile(c.AuthKeyFile)
		if err != nil {
			return nil, err
		}
		r.key = &k
	} else {
		log.Warn(fmt.Sprintf("conntrack sync: the sync channel is unauthenticated: anyone who can send datagrams from %s can inject connection state, which is committed at takeover; set auth_key_file on both nodes (vigil peers only)", c.PeerAddr),
			"peer", c.PeerAddr)
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
	rx := make(chan [][]byte, 256)
	wg.Go(func() { r.runReader(ctx, conn, rx) })
	r.running.Store(true)
	lerr := make(chan error, 1)
	wg.Go(func() {
		lerr <- r.kernel.Follow(ctx, Table{Cache: r.internal, Filter: &r.cfg.Filter, OnUpdate: r.onLocal})
	})

	now := time.Now()
	maxDatagram := ftfw.MaxDatagram(r.cfg.MTU, !r.cfg.LocalAddr.Unmap().Is4())
	if r.key != nil {
		maxDatagram -= AuthOverhead
	}
	ch := ftfw.NewChannel(ftfw.Config{
		MaxDatagram:     maxDatagram,
		ACKWindow:       r.cfg.AckWindow,
		ResendQueueSize: r.cfg.ResendQueue,
	}, now)
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
		if r.wantBulk.Swap(false) {
			ch.RequestBulk() // EventSendBulk follows once no bulk is in flight
		}
		holding := held > 0 && held < coalesceMax && now.Before(holdUntil)
		if !holding {
			held = 0
			r.flush(ch, now)
		}
		r.handleEvents(ch)
		r.snapshot(ch, now)
		if holding {
			timer.Reset(holdUntil.Sub(now))
		} else {
			timer.Reset(max(0, ch.Deadline().Sub(now)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lerr:
			if ctx.Err() == nil {
				return err
			}
			return ctx.Err()
		case ds := <-rx:
			for _, d := range ds {
				r.receive(ch, d)
			}
			for more := true; more; {
				select {
				case ds := <-rx:
					for _, d := range ds {
						r.receive(ch, d)
					}
				default:
					more = false
				}
			}
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
	if err := ch.Send(u.op, &u.flow); err != nil {
		r.log.Warn("conntrack sync: flow not encodable", "err", err)
	}
}

func (r *Replicator) receive(ch *ftfw.Channel, d []byte) {
	now := time.Now()
	ch.Receive(d, now)
	ups := ch.Updates()
	if len(ups) > 0 {
		r.rxFlows, r.rxDel = r.rxFlows[:0], r.rxDel[:0]
		for i := range ups {
			r.rxFlows = append(r.rxFlows, fromWire(&ups[i].Flow))
			r.rxDel = append(r.rxDel, ups[i].Op == ftfw.OpDel)
		}
		r.external.Apply(r.rxFlows, r.rxDel, now)
	}
	r.handleEvents(ch)
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
			r.bulk(ch)
		}
	}
}

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
	if failed, err := r.conn.send(out); failed > 0 {
		r.mu.Lock()
		r.sendErrors += uint64(failed)
		r.mu.Unlock()
		r.log.Debug("conntrack sync: send", "err", err, "failed", failed)
	}
}

// bulkFlushEvery is how many entries a bulk queues between sends, so that
// the peer works on the first datagrams while we encode the rest.
const bulkFlushEvery = 8192

// bulk queues the whole internal cache for the peer.
func (r *Replicator) bulk(ch *ftfw.Channel) {
	sendTimeout := r.cfg.CommitTimeout == 0
	var bad, n int
	r.internal.Range(func(e *Entry) {
		w := toWire(&e.Flow, sendTimeout)
		if ch.SendBulk(ftfw.OpUpd, &w) != nil {
			bad++
		}
		if n++; n%bulkFlushEvery == 0 {
			r.flush(ch, time.Now())
		}
	})
	if bad > 0 {
		r.log.Warn("conntrack sync: flows not encodable", "count", bad)
	}
	r.mu.Lock()
	r.bulks++
	r.mu.Unlock()
}

// BulkDatagrams encodes the internal cache as the datagrams of a bulk
// (sequence numbers and flags zero), without queueing or sending
// anything: a benchmark's way to tell the encoding's cost from the link's
// and the receiver's. Safe from any goroutine.
func (r *Replicator) BulkDatagrams() [][]byte {
	maxDatagram := ftfw.MaxDatagram(r.cfg.MTU, !r.cfg.LocalAddr.Unmap().Is4())
	if r.key != nil {
		maxDatagram -= AuthOverhead
	}
	p := ftfw.NewPacker(maxDatagram)
	sendTimeout := r.cfg.CommitTimeout == 0
	m := ftfw.Message{Type: ftfw.TypeUpd}
	r.internal.Range(func(e *Entry) {
		m.Flow = toWire(&e.Flow, sendTimeout)
		_ = p.Add(&m) // a flow the bulk could not encode is left out there too
	})
	p.Flush()
	return p.Datagrams()
}

func (r *Replicator) snapshot(ch *ftfw.Channel, now time.Time) {
	s := ch.Stats()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.chStats = s
	switch {
	case s.Queued+s.Unacked == 0:
		r.backlogFrom = time.Time{}
	case r.backlogFrom.IsZero():
		r.backlogFrom = now
	}
}

// runReader reads datagrams, many per Receive, until the link closes, and
// hands each batch to the loop. Stopped by Run.
func (r *Replicator) runReader(ctx context.Context, conn *syncLink, rx chan<- [][]byte) {
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
		n, err := conn.l.Receive(ds)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			now := time.Now()
			for _, sum := range errLog.Expire(now) {
				r.log.Warn("conntrack sync: " + sum.String())
			}
			if errLog.Event(ratelog.Key{What: "receive errors", Subject: "the sync socket", Reason: err.Error()}, now) {
				r.log.Warn("conntrack sync: receive", "err", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		total, foreign, refused := 0, 0, 0
		var verdicts [numAuthVerdicts]int
		for _, d := range ds[:n] {
			total += d.N
		}
		// One allocation for the batch; the loop only reads it.
		buf := make([]byte, 0, total)
		out := make([][]byte, 0, n)
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
			continue
		}
		select {
		case rx <- out:
		case <-ctx.Done():
			return
		}
	}
}

// Commit writes the external cache into the kernel and returns when it is
// there (masters before related flows; EEXIST updates in place). Per-flow
// refusals are counted in the stats, not returned. The committed flows
// reach the internal cache shortly after Commit returns.
func (r *Replicator) Commit(ctx context.Context) (CommitStats, error) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.bg.Wait() // the previous commit's internal-cache update
	now := time.Now()
	snap := r.external.Snapshot()
	st, ok, err := r.kernel.Commit(ctx, snap, now, r.cfg.CommitTimeout)
	if ok == nil && err != nil {
		return st, err // the kernel side could not start (no sockets): nothing written
	}
	// The kernel side does not report the changes of our own commits: put
	// what is now in the kernel into the internal cache (not announced:
	// the peer sent it), with the timeout it was given, so that after a
	// takeover a peer's resync gets it. Done in the background: the caller
	// waits only for the kernel. The next Commit and Run's end wait for it
	// (bg).
	r.bg.Go(func() {
		for i := range ok {
			if ok[i] {
				snap[i].Flow.TimeoutSec = CommitTimeoutSec(&snap[i], now, r.cfg.CommitTimeout)
			}
		}
		r.internal.PutEntries(snap, ok, time.Now())
	})
	r.mu.Lock()
	r.commits++
	r.lastCommit = st
	r.mu.Unlock()
	r.log.Info("conntrack sync: committed the external cache", "entries", st.Entries, "created", st.Created,
		"updated", st.Updated, "replaced", st.Replaced, "failed", st.Failed, "took", st.Duration, "err", err)
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
// it held.
func (r *Replicator) FlushExternal() int { return r.external.Flush() }

// SendBulk sends the peer our whole internal cache (conntrackd -B): the new
// master does it after its commit, so a peer that asked for a resync
// before we took over still gets our table. It starts as soon as no other
// bulk is in flight (a bulk in flight is finished first).
func (r *Replicator) SendBulk() {
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
// datagram. send is called by the replicator's loop only, open by its
// reader only.
type syncLink struct {
	l    Link
	auth *authLink // nil: plain FTFW
	// sealed holds the envelopes of one send, reused.
	sealed [][]byte
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
	l, err := r.openLink(&r.cfg)
	if err != nil {
		return nil, err
	}
	return &syncLink{l: l, auth: auth}, nil
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
	if s.auth == nil {
		return s.l.Send(dgrams)
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
	return s.l.Send(s.sealed[:len(dgrams)])
}

// open returns the FTFW datagram inside d (d itself on a plain channel,
// decrypted in place on a keyed one) or why it was refused.
func (s *syncLink) open(d []byte) ([]byte, authVerdict) {
	if s.auth == nil {
		return d, authOK
	}
	return s.auth.open(d)
}

func (s *syncLink) close() error { return s.l.Close() }
