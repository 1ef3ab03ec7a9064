package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vrrp"
)

// Bounds of the commit that runs on the loop before a takeover's VIPs go up.
const (
	// ctCommitMin and ctCommitMax clamp the in-loop commit bound, which is
	// otherwise two advert intervals of the tracked group (see beforeVIPs).
	// Below advert_int 0.1 s the floor can exceed the peer's
	// Master_Down_Interval: a commit that long may let a live peer claim
	// MASTER back once; a floor below 250 ms would leave most commits of
	// a busy table to the background instead.
	ctCommitMin = 250 * time.Millisecond
	ctCommitMax = 3 * time.Second
	// ctCommitLate bounds the rest of a commit that did not finish in the
	// loop and goes on in the background after the VIPs are up.
	ctCommitLate = 60 * time.Second
	// ctRetryMax is the longest wait between attempts to open the sync
	// link when the replicator cannot start (address not there yet, ...).
	ctRetryMax = 5 * time.Second
)

// replicator is what the daemon uses of conntracksync.Replicator; the unit
// tests substitute a recorder.
type replicator interface {
	Run(ctx context.Context) error
	Commit(ctx context.Context) (conntracksync.CommitStats, error)
	FlushExternal() int
	RequestResync()
	SendBulk()
	Stats() conntracksync.Stats
}

var _ replicator = (*conntracksync.Replicator)(nil)

// ctSync binds the conntrack replicator to the instance or sync group named
// by conntrack_sync's track_group: commit before that group's VIPs go up,
// ask the peer for a resync when it leaves MASTER or comes back from FAULT.
//
// Concurrency: beforeVIPs and transition run on the daemon loop, the only
// writer of master and commitBound. run is the replicator's goroutine,
// started and stopped by Daemon.Run. A commit that overruns its bound
// finishes on a goroutine of its own (tracked by late) that only touches
// the replicator (safe from any goroutine) and the counters under mu.
type ctSync struct {
	log     *slog.Logger
	r       replicator
	group   string // track_group
	isGroup bool   // track_group names a vrrp_sync_group (else a vrrp_instance)

	commitBound time.Duration // bound of the in-loop commit
	master      bool          // the tracked group took over and has not left MASTER since
	faulted     bool          // a member entered FAULT: ask for a resync when back in BACKUP
	// late tracks commit goroutines; lateCtx ends them when run stops.
	late       sync.WaitGroup
	lateCtx    context.Context
	cancelLate context.CancelFunc

	mu        sync.Mutex // guards the fields below
	gen       uint64     // takeover generation: a late commit flushes only if still current
	takeovers uint64
	lateRuns  uint64
	resyncs   uint64
	last      ctl.CTTakeover
	runErr    string
}

func newCTSync(log *slog.Logger, cfg *config.Config) (*ctSync, error) {
	c, err := newCTSyncWith(log, cfg, nil)
	if err != nil {
		return nil, err
	}
	r, err := conntracksync.New(c.log, ctConfig(cfg.ConntrackSync))
	if err != nil {
		c.cancelLate()
		return nil, fmt.Errorf("daemon: %s: conntrack_sync: %w", cfg.ConntrackSync.Pos, err)
	}
	c.r = r
	return c, nil
}

// newCTSyncWith builds the binding to cfg's track_group around r (nil: set
// by the caller). config.Load has checked that track_group names a
// vrrp_sync_group with instances or a vrrp_instance.
func newCTSyncWith(log *slog.Logger, cfg *config.Config, r replicator) (*ctSync, error) {
	s := cfg.ConntrackSync
	c := &ctSync{log: log.With("part", "conntrack_sync", "track_group", s.TrackGroup), r: r, group: s.TrackGroup}
	var advs []time.Duration
	for _, g := range cfg.SyncGroups {
		if g.Name == s.TrackGroup {
			c.isGroup = true
		}
	}
	for _, ic := range cfg.Instances {
		if (c.isGroup && ic.SyncGroup == s.TrackGroup) || (!c.isGroup && ic.Name == s.TrackGroup) {
			advs = append(advs, ic.AdvertInterval)
		}
	}
	if len(advs) == 0 {
		// Not reachable through config.Load; a model built by hand.
		return nil, fmt.Errorf("daemon: %s: conntrack_sync: track_group %q has no instances", s.Pos, s.TrackGroup)
	}
	c.lateCtx, c.cancelLate = context.WithCancel(context.Background())
	c.commitBound = min(max(2*slices.Min(advs), ctCommitMin), ctCommitMax)
	return c, nil
}

// ctConfig maps the conntrack_sync model, which config.Load has merged
// with its conntrackd_config and checked, onto the replicator's Config.
func ctConfig(s *config.ConntrackSync) conntracksync.Config {
	policy := func(p config.CTPolicy) conntracksync.Policy {
		if p == config.CTIgnore {
			return conntracksync.Ignore
		}
		return conntracksync.Accept
	}
	r := s.Rules
	return conntracksync.Config{
		Interface:     s.Interface,
		LocalAddr:     s.LocalAddr,
		PeerAddr:      s.PeerAddr,
		Port:          uint16(s.Port),
		AckWindow:     s.AckWindow,
		ResendQueue:   s.ResendQueue,
		CommitTimeout: s.CommitTimeout,
		AuthKeyFile:   s.AuthKeyFile,
		SocketBuffer:  s.SocketBuffer,
		Filter: conntracksync.Filter{
			ProtocolPolicy: policy(r.ProtocolPolicy), Protocols: slices.Clone(r.Protocols),
			AddressPolicy: policy(r.AddressPolicy), Addresses: slices.Clone(r.Addresses),
			StatePolicy: policy(r.StatePolicy), TCPStates: slices.Clone(r.TCPStates),
		},
	}
}

// sameConntrackSync reports whether two conntrack_sync blocks (nil when
// absent) give the replicator the same settings, positions aside.
func sameConntrackSync(a, b *config.ConntrackSync) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.TrackGroup == b.TrackGroup && reflect.DeepEqual(ctConfig(a), ctConfig(b))
}

// run runs the replicator until ctx ends (Daemon.Run cancels it after the
// instances have shut down). A replicator that cannot start (the sync
// link's address is not configured yet, say) is retried with a growing
// pause; each failure is logged and shown in the status, never silent.
func (c *ctSync) run(ctx context.Context) {
	defer func() {
		c.cancelLate()
		c.late.Wait()
	}()
	wait := 250 * time.Millisecond
	for {
		start := time.Now()
		err := c.r.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped without an error")
		}
		c.mu.Lock()
		c.runErr = err.Error()
		c.mu.Unlock()
		if time.Since(start) > time.Minute {
			wait = 250 * time.Millisecond
		}
		c.log.Error("conntrack sync: replication stopped, starting it again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, ctRetryMax)
	}
}

// tracks reports whether inst belongs to the tracked instance or group.
func (c *ctSync) tracks(inst *instance) bool {
	if c.isGroup {
		return inst.cfg.SyncGroup == c.group
	}
	return inst.cfg.Name == c.group
}

// beforeVIPs runs on the loop right before inst's AddVIPs. On the first
// such call of a takeover of the tracked group it writes the external
// cache (the peer's connections) into the kernel, then empties it: from
// now on our kernel table is the truth, and the peer, going BACKUP, asks
// us for it (transition → RequestResync on its side).
//
// Why here, and why blocking the loop. vrrp.Machine emits SendAdvert,
// AddVIPs, Announce, Transition in that order, so our first advert as
// master is already on the wire: a peer that is still alive learns at once
// that we took over, and the commit does not delay that claim. The VIPs
// and the gratuitous ARP / NA come after the commit, so no packet of an
// existing connection can reach this node before its conntrack entry is
// in the kernel; otherwise the stateful ruleset drops it, or our own
// stack answers a server's segment with a RST (the race that keepalived +
// conntrackd's notify script leaves open). While the commit runs the loop
// sends no advert, so it is bounded by two advert intervals of the tracked
// group (clamped to [250 ms, 3 s]), below the peer's Master_Down_Interval
// (three intervals plus skew): a live peer never sees us as gone. A commit
// that needs longer goes on in the background after the VIPs are up
// (counted as late): late entries beat missing ones.
func (c *ctSync) beforeVIPs(inst *instance, now time.Time) {
	if !c.tracks(inst) || c.master {
		return
	}
	c.master = true
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.takeovers++
	c.mu.Unlock()
	ext := c.r.Stats().External
	c.log.Info(fmt.Sprintf("conntrack sync: (%s) taking over for %s: committing %d replicated connections before adding the virtual addresses", inst.cfg.Name, c.group, ext),
		"instance", inst.cfg.Name, "entries", ext, "bound", c.commitBound)

	start := time.Now()
	type result struct {
		st  conntracksync.CommitStats
		err error
	}
	done := make(chan result, 1)
	c.late.Go(func() {
		ctx, cancel := context.WithTimeout(c.lateCtx, ctCommitLate)
		defer cancel()
		st, err := c.r.Commit(ctx)
		done <- result{st, err}
	})
	tk := ctl.CTTakeover{Instance: inst.cfg.Name, Time: now, Entries: ext}
	timer := time.NewTimer(c.commitBound)
	defer timer.Stop()
	select {
	case res := <-done:
		tk.InLoop = time.Since(start)
		c.finish(gen, tk, res.st, res.err)
	case <-timer.C:
		tk.InLoop = time.Since(start)
		c.mu.Lock()
		c.lateRuns++
		c.last = tk
		c.mu.Unlock()
		c.log.Warn(fmt.Sprintf("conntrack sync: commit of %d connections did not finish within %s: adding the virtual addresses now, the commit goes on in the background", ext, c.commitBound),
			"entries", ext, "bound", c.commitBound)
		c.late.Go(func() {
			res := <-done
			c.finish(gen, tk, res.st, res.err)
		})
	}
}

// finish records a takeover's commit and flushes the external cache,
// unless a later transition made this takeover stale (the peer's updates
// since then belong to the next takeover). Loop or late goroutine.
func (c *ctSync) finish(gen uint64, tk ctl.CTTakeover, st conntracksync.CommitStats, err error) {
	tk.Entries, tk.Failed, tk.Duration = st.Entries, st.Failed, st.Duration
	if tk.Duration == 0 {
		tk.Duration = tk.InLoop
	}
	c.mu.Lock()
	current := gen == c.gen
	c.mu.Unlock()
	if err != nil {
		tk.Error = err.Error()
		c.log.Error("conntrack sync: commit failed; the external cache is kept for the next takeover", "err", err,
			"entries", st.Entries, "created", st.Created+st.Replaced, "updated", st.Updated, "failed", st.Failed)
	} else if current {
		tk.Flushed = c.r.FlushExternal()
		c.r.SendBulk()
		c.log.Info(fmt.Sprintf("conntrack sync: %d connections committed in %s; external cache flushed, the peer will resync from us", st.Entries, tk.Duration.Round(time.Microsecond)),
			"entries", st.Entries, "created", st.Created+st.Replaced, "updated", st.Updated, "failed", st.Failed,
			"took", tk.Duration, "vips_waited", tk.InLoop)
	}
	if st.Failed > 0 {
		c.log.Warn("conntrack sync: the kernel refused some connections", "failed", st.Failed, "errors", st.Errors)
	}
	c.mu.Lock()
	if gen == c.gen {
		c.last = tk
	}
	c.mu.Unlock()
}

// transition follows the tracked group's state on the loop.
//
//   - Leaving MASTER for BACKUP or FAULT asks the peer (the new master)
//     for its whole table, so that our external cache is complete for the
//     next takeover even if updates were lost while we were master.
//   - Coming back from FAULT to BACKUP asks again: the request made when
//     we faulted reached the peer before it took over, when the
//     connections it then committed were not yet in its kernel table, and
//     our own kernel entries for them have gone stale since.
//   - Shutdown (INIT) asks nothing: the process is going away.
//
// For a sync group, only the first member's transition of each change
// acts.
func (c *ctSync) transition(inst *instance, t vrrp.Transition, now time.Time) {
	if !c.tracks(inst) {
		return
	}
	if t.To == vrrp.StateFault {
		c.faulted = true
	}
	switch {
	case t.To == vrrp.StateMaster:
		if !c.master { // AddVIPs comes first, so only without one
			c.master = true
			c.mu.Lock()
			c.gen++
			c.mu.Unlock()
		}
	case t.From == vrrp.StateMaster && c.master:
		c.master = false
		c.mu.Lock()
		c.gen++ // a late commit of the takeover we leave must not flush now
		c.mu.Unlock()
		if t.To == vrrp.StateInit {
			c.log.Info(fmt.Sprintf("conntrack sync: (%s) %s stops", inst.cfg.Name, c.group))
			return
		}
		c.resync(inst, fmt.Sprintf("%s left MASTER for %s", c.group, t.To))
	case t.From == vrrp.StateFault && t.To == vrrp.StateBackup && c.faulted:
		c.faulted = false
		c.resync(inst, fmt.Sprintf("%s is back from FAULT", c.group))
	}
}

func (c *ctSync) resync(inst *instance, why string) {
	c.r.RequestResync()
	c.mu.Lock()
	c.resyncs++
	c.mu.Unlock()
	c.log.Info(fmt.Sprintf("conntrack sync: (%s) %s: asking the peer for its whole connection table", inst.cfg.Name, why),
		"instance", inst.cfg.Name)
}

// status is called by the loop (Daemon.publish), like beforeVIPs and
// transition, so it may read master.
func (c *ctSync) status() *ctl.CTStatus {
	st := c.r.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	return &ctl.CTStatus{
		TrackGroup:     c.group,
		Master:         c.master,
		Takeovers:      c.takeovers,
		LateCommits:    c.lateRuns,
		ResyncRequests: c.resyncs,
		LastTakeover:   c.last,
		RunError:       c.runErr,
		Stats:          st,
	}
}
