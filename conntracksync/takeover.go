package conntracksync

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Bounds of the takeover commit (Failover.Takeover).
const (
	// CommitBoundMin and CommitBoundMax clamp the bound of the commit the
	// VIPs wait for, which is otherwise two advert intervals of the
	// tracked group (CommitBound). Below advert_int 0.1 s the floor can
	// exceed the peer's Master_Down_Interval: a commit that long may let a
	// live peer claim MASTER back once; a floor below 250 ms would leave
	// most commits of a busy table to the background instead.
	CommitBoundMin = 250 * time.Millisecond
	CommitBoundMax = 3 * time.Second
	// commitLate bounds the rest of a commit that did not finish within
	// the bound and goes on in the background after the VIPs are up.
	commitLate = 60 * time.Second
)

// CommitBound returns the bound of the commit the VIPs wait for, for a
// tracked group whose shortest advert interval is advert: two intervals,
// clamped to [CommitBoundMin, CommitBoundMax].
func CommitBound(advert time.Duration) time.Duration {
	return min(max(2*advert, CommitBoundMin), CommitBoundMax)
}

// Syncer is what the takeover protocol uses of a Replicator; tests
// substitute a recorder. Its methods must be safe from any goroutine.
type Syncer interface {
	Commit(ctx context.Context) (CommitStats, error)
	FlushExternal() int
	RequestResync()
	SendBulk()
	Purge(ctx context.Context, current func() bool) (PurgeStats, error)
	Stats() Stats
}

var _ Syncer = (*Replicator)(nil)

// masterSetter is a Syncer told when the node holds MASTER
// (Replicator.SetMaster): a warm standby then stops writing the peer's
// flows into the kernel as they arrive, and starts again when the node
// leaves it; the flush after a takeover gives the external cache's room
// back.
type masterSetter interface {
	SetMaster(master bool)
}

var _ masterSetter = (*Replicator)(nil)

// setMaster tells the Syncer whether the node holds MASTER.
func (f *Failover) setMaster(master bool) {
	if m, ok := f.s.(masterSetter); ok {
		m.SetMaster(master)
	}
}

// TakeoverRecord describes the commit of one takeover.
type TakeoverRecord struct {
	Instance string    `json:"instance,omitempty"` // the member whose VIPs went up first
	Time     time.Time `json:"time"`
	Entries  int       `json:"entries"` // external-cache entries committed
	Failed   int       `json:"failed"`  // entries the kernel refused
	// Warm counts, with a warm standby, the entries that were in the
	// kernel already: the commit wrote only the others (Entries − Warm).
	Warm     int           `json:"warm"`
	InLoop   time.Duration `json:"in_loop"`  // how long the VIPs waited for the commit
	Duration time.Duration `json:"duration"` // the whole commit (longer than InLoop when late)
	Flushed  int           `json:"flushed"`  // entries dropped from the external cache afterwards
	Error    string        `json:"error,omitempty"`
}

// FailoverStatus is a snapshot of a Failover.
type FailoverStatus struct {
	// Master is true while the tracked group holds MASTER on this node.
	Master bool
	// Takeovers counts takeovers with a commit; LateCommits those whose
	// commit did not finish within the bound and completed after the VIPs.
	Takeovers   uint64
	LateCommits uint64
	// ResyncRequests counts the resyncs asked of the peer on leaving
	// MASTER and on coming back from FAULT.
	ResyncRequests uint64
	// LastTakeover is the latest takeover's commit.
	LastTakeover TakeoverRecord
}

// Failover is conntrackd's FTFW takeover protocol on the node's side,
// driven by the VRRP state of the tracked instance or sync group:
//
//   - Takeover (before the first VIP of a takeover goes up): commit the
//     external cache (the peer's connections) into the kernel, waiting at
//     most the bound; a longer commit goes on in the background (late).
//     Once the commit is done, empty the external cache (from now on our
//     kernel table is the truth) and send our table to the peer as a bulk
//     (a peer that asked for a resync before we took over gets it).
//     With a warm standby (Config.WarmStandby) the commit writes only the
//     dirty set (what changed since the last background write, and what
//     expired here), and the background writes stop while the group holds
//     MASTER (SetMaster).
//   - Left (MASTER to BACKUP or FAULT): ask the peer, the new master, for
//     its whole table, so that our external cache is complete for the next
//     takeover even if updates were lost while we were master; then, in
//     the background, purge our table (Syncer.Purge: with PurgeTimeout
//     its flows expire then). Shutdown does neither. With a warm standby
//     the peer's flows are written as they arrive again.
//   - BackFromFault (FAULT to BACKUP after Fault): ask again: the request
//     made on faulting reached the peer before it took over, when the
//     connections it then committed were not yet in its kernel table.
//
// Every takeover and every departure from MASTER starts a new generation;
// a commit flushes and sends its bulk only while its generation is
// current, so a late commit of a takeover that has been left since never
// flushes the peer's newer entries, which belong to the next takeover. A
// purge runs only while the departure's generation is current, and a
// takeover's commit waits for a purge that has started (kernel), so a purge
// never shortens the timeouts the next takeover committed.
//
// Concurrency: Takeover, Master, Left, Fault, BackFromFault and Status are
// called from one goroutine (the daemon's loop). Late commits run on
// goroutines of the Failover that only touch the Syncer and the fields
// under mu; Close ends and waits for them.
type Failover struct {
	log   *slog.Logger
	s     Syncer
	group string
	bound time.Duration

	master  bool // the tracked group took over and has not left MASTER since
	faulted bool // a member entered FAULT: ask for a resync when back in BACKUP

	// done, when set (OnTakeoverDone), is called after each takeover whose
	// external cache was flushed and whose bulk was asked for.
	done func()

	late       sync.WaitGroup
	lateCtx    context.Context
	cancelLate context.CancelFunc

	mu        sync.Mutex // guards the fields below
	gen       uint64     // generation: a commit flushes only if still current
	takeovers uint64
	lateRuns  uint64
	resyncs   uint64
	last      TakeoverRecord
}

// NewFailover returns the takeover protocol of the tracked instance or
// sync group named group, whose commits the VIPs wait for at most bound
// (see CommitBound).
func NewFailover(log *slog.Logger, s Syncer, group string, bound time.Duration) *Failover {
	f := &Failover{log: log, s: s, group: group, bound: bound}
	f.lateCtx, f.cancelLate = context.WithCancel(context.Background())
	return f
}

// OnTakeoverDone sets fn to be called after each takeover whose commit
// ended while it was current: the external cache flushed and the bulk to
// the peer asked for. It runs on the goroutine that finished the commit
// (the caller of Takeover, or a late commit's), and must not block. Set it
// before the first Takeover.
func (f *Failover) OnTakeoverDone(fn func()) { f.done = fn }

// Bound returns the bound of the commit the VIPs wait for.
func (f *Failover) Bound() time.Duration { return f.bound }

// Close cancels the commits still running in the background and waits for
// them.
func (f *Failover) Close() {
	f.cancelLate()
	f.late.Wait()
}

func (f *Failover) next() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	return f.gen
}

// Takeover runs right before the VIPs of who, a member of the tracked
// group, go up; only the first call of a takeover acts. It commits the
// external cache and returns when the commit is done or the bound has
// passed, whichever is first; see Failover.
//
// Why before the VIPs, and why bounded. The node's first advert as master
// is already on the wire, so a live peer learns at once that we took over
// and the commit does not delay that claim. The VIPs and the gratuitous
// ARP / NA come after the commit, so no packet of an existing connection
// can reach this node before its conntrack entry is in the kernel
// (otherwise the stateful ruleset drops it, or our own stack answers a
// server's segment with a RST). While the commit runs the caller sends no
// advert, so the bound stays below the peer's Master_Down_Interval (three
// intervals plus skew): a live peer never sees us as gone. Late entries
// beat missing ones.
func (f *Failover) Takeover(who string, now time.Time) {
	if f.master {
		return
	}
	f.master = true
	f.setMaster(true)
	gen := f.next()
	f.mu.Lock()
	f.takeovers++
	f.mu.Unlock()
	sst := f.s.Stats()
	ext := sst.External
	if w := sst.Warm; w.Standby {
		f.log.Info(fmt.Sprintf("conntrack sync: (%s) taking over for %s: writing the %d changed or expired of %d replicated connections (warm standby) before adding the virtual addresses", who, f.group, w.Pending+w.LostNow, ext),
			"instance", who, "entries", ext, "dirty", w.Pending+w.LostNow, "bound", f.bound)
	} else {
		f.log.Info(fmt.Sprintf("conntrack sync: (%s) taking over for %s: committing %d replicated connections before adding the virtual addresses", who, f.group, ext),
			"instance", who, "entries", ext, "bound", f.bound)
	}

	start := time.Now()
	type result struct {
		st  CommitStats
		err error
	}
	done := make(chan result, 1)
	f.late.Go(func() {
		ctx, cancel := context.WithTimeout(f.lateCtx, commitLate)
		defer cancel()
		st, err := f.s.Commit(ctx)
		done <- result{st, err}
	})
	tk := TakeoverRecord{Instance: who, Time: now, Entries: ext}
	timer := time.NewTimer(f.bound)
	defer timer.Stop()
	select {
	case res := <-done:
		tk.InLoop = time.Since(start)
		f.finish(gen, tk, res.st, res.err)
	case <-timer.C:
		tk.InLoop = time.Since(start)
		f.mu.Lock()
		f.lateRuns++
		f.last = tk
		f.mu.Unlock()
		f.log.Warn(fmt.Sprintf("conntrack sync: commit of %d connections did not finish within %s: adding the virtual addresses now, the commit goes on in the background", ext, f.bound),
			"entries", ext, "bound", f.bound)
		f.late.Go(func() {
			res := <-done
			f.finish(gen, tk, res.st, res.err)
		})
	}
}

// finish records a takeover's commit and, if its generation is still
// current, flushes the external cache and sends our table to the peer.
// Caller's or late goroutine.
func (f *Failover) finish(gen uint64, tk TakeoverRecord, st CommitStats, err error) {
	tk.Entries, tk.Failed, tk.Warm, tk.Duration = st.Entries, st.Failed, st.Warm, st.Duration
	if tk.Duration == 0 {
		tk.Duration = tk.InLoop
	}
	if err != nil {
		tk.Error = err.Error()
	}
	// The check and the flush are one step under mu, so that a Left (which
	// takes mu to start its generation) comes either before it (no flush)
	// or after the bulk has been asked for.
	f.mu.Lock()
	current := gen == f.gen
	if err == nil && current {
		tk.Flushed = f.s.FlushExternal()
		f.s.SendBulk()
	}
	if current {
		f.last = tk
	}
	f.mu.Unlock()
	if err == nil && current && f.done != nil {
		f.done()
	}
	switch {
	case err != nil:
		f.log.Error("conntrack sync: commit failed; the external cache is kept for the next takeover", "err", err,
			"entries", st.Entries, "created", st.Created+st.Replaced, "updated", st.Updated, "failed", st.Failed)
	case current:
		f.log.Info(fmt.Sprintf("conntrack sync: %d connections committed in %s; external cache flushed, the peer will resync from us", st.Entries, tk.Duration.Round(time.Microsecond)),
			"entries", st.Entries, "created", st.Created+st.Replaced, "updated", st.Updated, "failed", st.Failed,
			"warm", st.Warm, "took", tk.Duration, "vips_waited", tk.InLoop)
	default:
		f.log.Info("conntrack sync: a commit finished after its takeover ended; the external cache is kept for the next one",
			"entries", st.Entries, "took", tk.Duration)
	}
	if st.Failed > 0 {
		f.log.Warn("conntrack sync: the kernel refused some connections", "failed", st.Failed, "errors", st.Errors)
	}
}

// Master records that the tracked group entered MASTER. After Takeover it
// does nothing; without one (a group with no VIPs) it starts a takeover
// generation without a commit.
func (f *Failover) Master() {
	if f.master {
		return
	}
	f.master = true
	f.setMaster(true)
	f.next()
}

// Left records that who, of the tracked group, left MASTER for the state
// named to; only the first call after a takeover acts. It ends the
// takeover's generation (a commit still running will not flush) and, unless
// shutdown, asks the peer for its whole table.
func (f *Failover) Left(who, to string, shutdown bool) {
	if !f.master {
		return
	}
	f.master = false
	gen := f.next()
	// After the new generation: a late commit's flush that comes first
	// still sees the node as MASTER (the peer's flows stay in the kernel).
	f.setMaster(false)
	if shutdown {
		f.log.Info(fmt.Sprintf("conntrack sync: (%s) %s stops", who, f.group))
		return
	}
	f.resync(who, fmt.Sprintf("%s left MASTER for %s", f.group, to))
	f.late.Go(func() { f.purge(who, gen) })
}

// purge runs Syncer.Purge for the departure of generation gen, unless a
// takeover has come since the kernel side was free; on a Failover
// goroutine that Close waits for.
func (f *Failover) purge(who string, gen uint64) {
	ctx, cancel := context.WithTimeout(f.lateCtx, commitLate)
	defer cancel()
	st, err := f.s.Purge(ctx, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return gen == f.gen
	})
	switch {
	case err != nil:
		f.log.Error("conntrack sync: purge failed", "instance", who, "err", err, "entries", st.Entries, "set", st.Set)
	case st.Timeout > 0:
		f.log.Info(fmt.Sprintf("conntrack sync: (%s) purged %d connections: their timeout is now %s", who, st.Set, st.Timeout),
			"instance", who, "entries", st.Entries, "set", st.Set, "failed", st.Failed, "purge_timeout", st.Timeout)
	}
}

// Fault records that a member of the tracked group entered FAULT.
func (f *Failover) Fault() { f.faulted = true }

// BackFromFault records that who, of the tracked group, came back from
// FAULT to BACKUP; the first call after Fault asks the peer for its table.
func (f *Failover) BackFromFault(who string) {
	if !f.faulted {
		return
	}
	f.faulted = false
	f.resync(who, fmt.Sprintf("%s is back from FAULT", f.group))
}

func (f *Failover) resync(who, why string) {
	f.s.RequestResync()
	f.mu.Lock()
	f.resyncs++
	f.mu.Unlock()
	f.log.Info(fmt.Sprintf("conntrack sync: (%s) %s: asking the peer for its whole connection table", who, why),
		"instance", who)
}

// Status returns a snapshot; called from the same goroutine as Takeover.
func (f *Failover) Status() FailoverStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FailoverStatus{Master: f.master, Takeovers: f.takeovers, LateCommits: f.lateRuns,
		ResyncRequests: f.resyncs, LastTakeover: f.last}
}
