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
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vrrp"
)

// ctRetryMax is the longest wait between attempts to open the sync link
// when the replicator cannot start (address not there yet, ...).
const ctRetryMax = 5 * time.Second

// replicator is what the daemon uses of conntracksync.Replicator; the unit
// tests substitute a recorder.
type replicator interface {
	Run(ctx context.Context) error
	Dump() (internal, external []conntracksync.Entry)
	DumpExpect() (internal, external []conntracksync.ExpectEntry)
	conntracksync.Syncer
}

var _ replicator = (*conntracksync.Replicator)(nil)

// freshStater is a replicator whose Stats may be a little old, so that
// the loop never waits for it (a sync worker's, syncworker.Remote):
// FreshStats asks for the counters as of now. Never on the loop.
type freshStater interface {
	FreshStats() conntracksync.Stats
}

// freshStats returns the replicator's counters as of now; never on the
// loop.
func (c *ctSync) freshStats() conntracksync.Stats {
	if f, ok := c.r.(freshStater); ok {
		return f.FreshStats()
	}
	return c.r.Stats()
}

// waitFlusher is a replicator whose FlushExternal does not wait long for
// its count, so that a takeover on the loop never waits for it (a sync
// worker's): FlushExternalWait does. Never on the loop.
type waitFlusher interface {
	FlushExternalWait() int
}

// ctSync binds the conntrack replicator to the instance or sync group named
// by conntrack_sync's track_group: it maps the group's transitions onto
// the takeover protocol of conntracksync.Failover (which owns the commit,
// its bound, the flush, the bulk and the resync requests) and runs the
// replicator.
//
// Concurrency: beforeVIPs, transition and status run on the daemon loop,
// the Failover's only caller. run is the replicator's goroutine, started
// and stopped by Daemon.Run; it closes the Failover (waiting for a late
// commit) when it ends.
type ctSync struct {
	log     *slog.Logger
	r       replicator
	fo      *conntracksync.Failover
	group   string // track_group
	isGroup bool   // track_group names a vrrp_sync_group (else a vrrp_instance)

	mu     sync.Mutex // guards runErr
	runErr string

	// done receives after each takeover that ended current
	// (Daemon.TakeoverDone); it keeps at most one.
	done chan struct{}
}

// newCTSyncWith builds the binding to cfg's track_group around r (nil: a
// Replicator on the kernel's ctnetlink and UDP, in a sync worker started
// from the binary worker, or in this process when worker is empty).
// config.Load has checked that track_group names a vrrp_sync_group with
// instances or a vrrp_instance.
func newCTSyncWith(log *slog.Logger, cfg *config.Config, r replicator, worker string) (*ctSync, error) {
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
	if r == nil && worker != "" {
		rep, err := remoteReplicator(c.log, ctConfig(s), worker)
		if err != nil {
			return nil, fmt.Errorf("daemon: %s: conntrack_sync: %w", s.Pos, err)
		}
		r, c.r = rep, rep
	}
	if r == nil {
		rc := ctConfig(s)
		rep, err := conntracksync.New(c.log, rc, conntracksync.Parts{Kernel: ctnetlink.ForReplicator(c.log, rc)})
		if err != nil {
			return nil, fmt.Errorf("daemon: %s: conntrack_sync: %w", s.Pos, err)
		}
		r, c.r = rep, rep
	}
	c.fo = conntracksync.NewFailover(c.log, r, c.group, conntracksync.CommitBound(slices.Min(advs)))
	c.done = make(chan struct{}, 1)
	c.fo.OnTakeoverDone(func() {
		select {
		case c.done <- struct{}{}:
		default:
		}
	})
	return c, nil
}

// ctConfig maps the conntrack_sync model, which config.Load has merged
// with its conntrackd_config and checked, onto the replicator's Config.
func ctConfig(s *config.ConntrackSync) conntracksync.Config { return s.ReplicatorConfig() }

// sameConntrackSync reports whether two conntrack_sync blocks (nil when
// absent) give the replicator and the arbitration the same settings,
// positions aside.
func sameConntrackSync(a, b *config.ConntrackSync) bool {
	if a == nil || b == nil {
		return a == b
	}
	witnesses := func(s *config.ConntrackSync) []string {
		var out []string
		for _, w := range s.Witnesses {
			out = append(out, fmt.Sprint(w.Instance, w.Addrs))
		}
		return out
	}
	return a.TrackGroup == b.TrackGroup && reflect.DeepEqual(ctConfig(a), ctConfig(b)) &&
		a.HeartbeatInterval == b.HeartbeatInterval && a.HeartbeatPort == b.HeartbeatPort &&
		slices.Equal(witnesses(a), witnesses(b))
}

// run runs the replicator until ctx ends (Daemon.Run cancels it after the
// instances have shut down). A replicator that cannot start (the sync
// link's address is not configured yet, say) is retried with a growing
// pause; each failure is logged and shown in the status, never silent.
func (c *ctSync) run(ctx context.Context) {
	defer c.fo.Close()
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

// beforeVIPs runs on the loop right before inst's AddVIPs: a takeover of
// the tracked group commits the peer's connections before its first VIPs
// go up (conntracksync.Failover.Takeover says why). vrrp.Machine emits
// SendAdvert, AddVIPs, Announce, Transition in that order, so our first
// advert as master is on the wire before the commit starts.
func (c *ctSync) beforeVIPs(inst *instance, now time.Time) {
	if c.tracks(inst) {
		c.fo.Takeover(inst.cfg.Name, now)
	}
}

// transition maps the tracked group's state changes, on the loop, onto
// the takeover protocol: leaving MASTER (Left; INIT is a shutdown),
// entering FAULT and coming back from it. For a sync group, only the first
// member's transition of each change acts (the Failover ignores repeats).
func (c *ctSync) transition(inst *instance, t vrrp.Transition, _ time.Time) {
	if !c.tracks(inst) {
		return
	}
	if t.To == vrrp.StateFault {
		c.fo.Fault()
	}
	switch {
	case t.To == vrrp.StateMaster:
		c.fo.Master() // after AddVIPs' Takeover: nothing
	case t.From == vrrp.StateMaster:
		c.fo.Left(inst.cfg.Name, t.To.String(), t.To == vrrp.StateInit)
	case t.From == vrrp.StateFault && t.To == vrrp.StateBackup:
		c.fo.BackFromFault(inst.cfg.Name)
	}
}

// status is called by the loop (Daemon.publish), like beforeVIPs and
// transition.
func (c *ctSync) status() *ctl.CTStatus {
	st := c.r.Stats()
	fs := c.fo.Status()
	c.mu.Lock()
	defer c.mu.Unlock()
	return &ctl.CTStatus{
		TrackGroup:     c.group,
		Master:         fs.Master,
		Takeovers:      fs.Takeovers,
		LateCommits:    fs.LateCommits,
		ResyncRequests: fs.ResyncRequests,
		LastTakeover:   fs.LastTakeover,
		RunError:       c.runErr,
		Stats:          st,
	}
}

// errNoConntrackSync refuses vigilctl ct without a conntrack_sync block.
var errNoConntrackSync = errors.New("no conntrack_sync is configured")

// Conntrack answers vigilctl ct (conntrackd's -i, -e, -s, -c, -f, -n,
// -B) on a control connection's goroutine: the replicator's calls are
// safe from any goroutine, d.ct is set once by New, and ct stats is the
// conntrack part of a status the loop takes.
func (h controlHandler) Conntrack(ctx context.Context, req ctl.Request) (any, []string, error) {
	c := h.d.ct
	if c == nil {
		return nil, nil, errNoConntrackSync
	}
	switch req.Cmd {
	case ctl.CmdCTDumpInternal, ctl.CmdCTDumpExternal:
		in, ext := c.r.Dump()
		d := ctl.CTDump{Cache: "internal", Entries: make([]ctl.CTEntry, 0)}
		es := in
		if req.Cmd == ctl.CmdCTDumpExternal {
			d.Cache, es = "external", ext
		}
		for i := range es {
			d.Entries = append(d.Entries, ctl.NewCTEntry(&es[i]))
		}
		xin, xext := c.r.DumpExpect()
		xs := xin
		if req.Cmd == ctl.CmdCTDumpExternal {
			xs = xext
		}
		for i := range xs {
			d.Expectations = append(d.Expectations, ctl.NewCTExpect(&xs[i]))
		}
		return d, nil, nil
	case ctl.CmdCTStats:
		if st := h.d.Status().Conntrack; st != nil {
			return st, nil, nil
		}
		return c.status(), nil, nil
	case ctl.CmdCTCommit:
		st, err := c.r.Commit(ctx)
		done := []string{fmt.Sprintf("committed %d connections of the external cache in %s: %d created, %d updated, %d replaced, %d failed",
			st.Entries, st.Duration.Round(time.Microsecond), st.Created, st.Updated, st.Replaced, st.Failed)}
		if err != nil {
			return nil, done, fmt.Errorf("commit: %w", err)
		}
		return nil, done, nil
	case ctl.CmdCTFlush:
		flush := c.r.FlushExternal
		if w, ok := c.r.(waitFlusher); ok {
			flush = w.FlushExternalWait
		}
		return nil, []string{fmt.Sprintf("flushed %d connections from the external cache", flush())}, nil
	case ctl.CmdCTResync:
		c.r.RequestResync()
		return nil, []string{"asked the peer for its whole connection table"}, nil
	case ctl.CmdCTBulk:
		n := c.freshStats().Internal
		c.r.SendBulk()
		return nil, []string{fmt.Sprintf("sending the internal cache (%d connections) to the peer", n)}, nil
	}
	return nil, nil, fmt.Errorf("unknown command %s", req)
}
