package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/arbiter"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// FIFO-only notices of the arbitration, written for each tracked instance
// in keepalived's FIFO format (INSTANCE "VI_1" SPLIT 100); no script runs.
const (
	notifySplit       = "SPLIT"
	notifySplitHealed = "SPLIT_HEALED"
)

// heartbeatSender is what the arbitration uses of conntracksync.Heartbeat;
// tests substitute an in-memory pair.
type heartbeatSender interface {
	Run(ctx context.Context, deliver func(path int, payload []byte)) error
	Send(payload []byte)
	Stats() conntracksync.HeartbeatStats
}

var _ heartbeatSender = (*conntracksync.Heartbeat)(nil)

// arb binds the pure arbiter to the loop: it builds our view of the
// tracked group, sends it every heartbeat interval, feeds the peer's to
// the core, and carries out the decision (vrrp.Hold on every tracked
// instance, vrrp.Release of our masters on a yield), logs and notifies
// the mode changes and re-announces once when a split heals.
//
// Concurrency: everything but run and the witness probers runs on the
// loop. run owns the heartbeat's goroutines, the sender and the probers;
// Daemon.Run cancels and waits for it.
type arb struct {
	log      *slog.Logger
	core     *arbiter.Arbiter
	hb       heartbeatSender
	group    string
	isGroup  bool
	interval time.Duration
	next     time.Time // the next heartbeat; zero before the first

	rx        chan arbiter.View
	out       chan []byte // payloads for the sender goroutine
	malformed atomic.Uint64

	probe     func(ctx context.Context, ifname string, a netip.Addr, timeout time.Duration) error
	witnesses []*witness
	wres      chan witnessResult

	dec                         arbiter.Decision
	splits, yields, losts, reAn uint64
	buf                         []byte
}

type witness struct {
	instance string
	ifname   string // the instance's interface, where an IPv4 witness is asked by ARP
	addr     netip.Addr
	verdict  arbiter.Witness // the loop's
}

type witnessResult struct {
	i  int
	ok bool
}

// deadAfter is how long the peer's view counts after its last heartbeat:
// four intervals, at least a second (a loaded host stalls).
func deadAfter(interval time.Duration) time.Duration { return max(4*interval, time.Second) }

// newArb builds the arbitration for cfg's conntrack_sync block, or
// returns nil when it does not run (no block, or no auth_key_file: then
// it says so). hb nil: the heartbeat link over the block's sync path.
func newArb(log *slog.Logger, cfg *config.Config, hb heartbeatSender, host Host) (*arb, error) {
	s := cfg.ConntrackSync
	if s == nil {
		return nil, nil
	}
	log = log.With("part", "arbiter", "track_group", s.TrackGroup)
	if !s.Arbitration() {
		log.Warn("arbiter: conntrack_sync has no auth_key_file: no heartbeat and no arbitration; when VRRP adverts are lost between the nodes both may become MASTER (VRRP as RFC 5798 says)")
		return nil, nil
	}
	a := &arb{
		log: log, group: s.TrackGroup, interval: s.HeartbeatInterval,
		core: arbiter.New(arbiter.Config{DeadAfter: deadAfter(s.HeartbeatInterval), LocalAddr: s.LocalAddr, PeerAddr: s.PeerAddr}),
		rx:   make(chan arbiter.View, 16), out: make(chan []byte, 4), wres: make(chan witnessResult, 64),
		probe: host.Witness,
	}
	if a.probe == nil {
		a.probe = probeWitness
	}
	for _, g := range cfg.SyncGroups {
		a.isGroup = a.isGroup || g.Name == s.TrackGroup
	}
	for _, w := range s.Witnesses {
		ifname := ""
		for _, ic := range cfg.Instances {
			if ic.Name == w.Instance {
				ifname = ic.Interface
			}
		}
		for _, ad := range w.Addrs {
			a.witnesses = append(a.witnesses, &witness{instance: w.Instance, ifname: ifname, addr: ad})
		}
	}
	if hb == nil {
		k, err := conntracksync.ReadAuthKeyFile(s.AuthKeyFile)
		if err != nil {
			return nil, fmt.Errorf("daemon: %s: conntrack_sync: %w", s.Pos, err)
		}
		paths := heartbeatPaths(log, s)
		if len(paths) == 0 {
			log.Warn("arbiter: no sync path can carry the heartbeat (each is multicast without peer_address): no arbitration; when VRRP adverts are lost between the nodes both may become MASTER (VRRP as RFC 5798 says)")
			return nil, nil
		}
		if hb, err = conntracksync.NewHeartbeat(log, k, paths, nil); err != nil {
			return nil, fmt.Errorf("daemon: %s: conntrack_sync: %w", s.Pos, err)
		}
	}
	a.hb = hb
	log.Info("arbiter: heartbeat over the sync link", "interval", s.HeartbeatInterval, "port", s.HeartbeatPort, "witnesses", len(a.witnesses))
	return a, nil
}

// heartbeatPaths lists the sync paths the heartbeat runs over: every path
// of the block (its own first, then the backup paths), each as unicast
// from its local_address to its peer_address on heartbeat_port, so that
// the heartbeat outlives the cut of any path while another is up. A
// multicast path goes to its peer_address when one is given; without one
// (or without local_address) the heartbeat has nobody to key its envelope
// to on that path: it is skipped with a warning. So is a path whose own
// FTFW port is heartbeat_port (the two sockets would share an address),
// and one whose local_address an earlier path's heartbeat already binds.
func heartbeatPaths(log *slog.Logger, s *config.ConntrackSync) []conntracksync.HeartbeatPath {
	type cand struct {
		name, iface        string
		local, peer, group netip.Addr
		port               int
		pos                config.Pos
	}
	first := s.Interface
	if first == "" {
		first = "conntrack_sync"
	}
	cands := []cand{{name: first, iface: s.Interface, local: s.LocalAddr, peer: s.PeerAddr, group: s.Group, port: s.Port, pos: s.Pos}}
	for _, x := range s.Paths {
		port := x.Port
		if port == 0 {
			port = s.Port
		}
		cands = append(cands, cand{name: x.Name, iface: x.Interface, local: x.LocalAddr, peer: x.PeerAddr, group: x.Group, port: port, pos: x.Pos})
	}
	var out []conntracksync.HeartbeatPath
	bound := map[netip.Addr]string{}
	for _, c := range cands {
		switch {
		case bound[c.local] != "":
			log.Warn(fmt.Sprintf("%s: arbiter: sync path %s has the local_address of path %s: the heartbeat runs over that one only", c.pos, c.name, bound[c.local]))
		case !c.local.IsValid() || !c.peer.IsValid():
			log.Warn(fmt.Sprintf("%s: arbiter: sync path %s (multicast group %s) has no peer_address or local_address: the heartbeat does not run over it (it is sent unicast to the peer); give both to carry it", c.pos, c.name, c.group))
		case c.port == s.HeartbeatPort:
			log.Warn(fmt.Sprintf("%s: arbiter: sync path %s uses port %d, the heartbeat_port: the heartbeat does not run over it", c.pos, c.name, c.port))
		default:
			bound[c.local] = c.name
			out = append(out, conntracksync.HeartbeatPath{Interface: c.iface, LocalAddr: c.local, PeerAddr: c.peer, Port: uint16(s.HeartbeatPort)})
		}
	}
	return out
}

// run runs the heartbeat link, the sender and the witness probers until
// ctx ends.
func (a *arb) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = a.hb.Run(ctx, func(_ int, p []byte) {
			var v arbiter.View
			if err := v.UnmarshalBinary(p); err != nil {
				a.malformed.Add(1)
				return
			}
			select {
			case a.rx <- v:
			default: // the loop is behind: a newer heartbeat follows
			}
		})
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-a.out:
				a.hb.Send(p)
			}
		}
	}()
	every := max(a.interval, 200*time.Millisecond)
	for i, w := range a.witnesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				ok := a.probe(ctx, w.ifname, w.addr, every) == nil
				select {
				case a.wres <- witnessResult{i, ok}:
				case <-ctx.Done():
					return
				}
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Wait()
}

// recv and witnessResults are the loop's inputs (nil without arbitration).
func (a *arb) recv() <-chan arbiter.View {
	if a == nil {
		return nil
	}
	return a.rx
}

func (a *arb) witnessResults() <-chan witnessResult {
	if a == nil {
		return nil
	}
	return a.wres
}

func (a *arb) deadline() (time.Time, bool) {
	if a == nil || a.next.IsZero() {
		return time.Time{}, false
	}
	return a.next, true
}

// tracks reports whether inst belongs to the tracked instance or group.
func (a *arb) tracks(inst *instance) bool {
	if a.isGroup {
		return inst.cfg.SyncGroup == a.group
	}
	return inst.cfg.Name == a.group
}

// witnessResult records one probe's verdict (loop).
func (d *Daemon) witnessResult(r witnessResult, now time.Time) {
	w := d.arb.witnesses[r.i]
	if w.verdict.Result(r.ok) {
		word := "down"
		if w.verdict.Up() {
			word = "up"
		}
		d.arb.log.Warn(fmt.Sprintf("(%s) witness %s is %s", w.instance, w.addr, word))
		d.arbitrate(now, false)
	}
}

// arbView is our view of the tracked group.
func (d *Daemon) arbView() arbiter.View {
	var v arbiter.View
	for _, inst := range d.instances {
		if !d.arb.tracks(inst) {
			continue
		}
		m := arbiter.Member{Name: inst.cfg.Name, State: inst.m.State(), Priority: inst.m.Priority(), Starved: inst.m.Starved()}
		count := func(up bool) {
			if m.Monitored < 255 {
				m.Monitored++
				if !up {
					m.Down++
				}
			}
		}
		ifUp := func(name string) bool {
			up, known := d.trk.ifUp[name]
			return up || !known
		}
		if !inst.cfg.DontTrackPrimary {
			count(ifUp(inst.cfg.Interface))
		}
		for _, r := range inst.cfg.TrackInterfaces {
			count(ifUp(r.Name))
		}
		for _, w := range d.arb.witnesses {
			if w.instance == inst.cfg.Name {
				count(w.verdict.Up())
			}
		}
		v.Members = append(v.Members, m)
	}
	return v
}

// arbTick sends our view when the heartbeat is due, and decides.
func (d *Daemon) arbTick(now time.Time) {
	if d.arb == nil || d.arb.next.IsZero() || now.Before(d.arb.next) {
		return
	}
	d.arbitrate(now, true)
	d.arb.next = now.Add(d.arb.interval)
}

// arbPeer takes the peer's view (loop).
func (d *Daemon) arbPeer(v arbiter.View, now time.Time) {
	d.arb.core.PeerView(v, now)
	d.arbitrate(now, false)
}

// arbitrate decides from both views and carries the decision out; with
// send, our view (after the decision) goes to the peer.
func (d *Daemon) arbitrate(now time.Time, send bool) {
	a := d.arb
	if !d.started {
		return
	}
	dec := a.core.Decide(d.arbView(), now)
	a.dec = dec
	var tracked []*instance
	for _, inst := range d.instances {
		if a.tracks(inst) {
			tracked = append(tracked, inst)
		}
	}
	for _, inst := range tracked {
		if h := (vrrp.Hold{Silence: dec.Hold, Preempt: dec.HoldPreempt}); inst.m.Held() != h {
			d.queue = append(d.queue, step{inst: inst, ev: h})
		}
	}
	yielded := false
	if dec.Yield {
		for _, inst := range tracked {
			if inst.m.State() == vrrp.StateMaster {
				yielded = true
				d.queue = append(d.queue, step{inst: inst, ev: vrrp.Release{Reason: vrrp.ReasonArbiter}})
			}
		}
	}
	if yielded {
		a.yields++
		a.log.Warn(fmt.Sprintf("arbiter: handing MASTER over to the peer (%s)", dec.Rule), "mode", dec.Mode.String())
	}
	d.drain(now)
	if dec.Changed {
		d.arbModeChanged(dec, tracked, now)
	}
	if send {
		b, err := d.arbView().AppendBinary(a.buf[:0])
		if err != nil {
			a.log.Error("arbiter: cannot encode our view", "err", err)
			return
		}
		a.buf = b
		select {
		case a.out <- append([]byte(nil), b...):
		default:
		}
	}
}

func (d *Daemon) arbModeChanged(dec arbiter.Decision, tracked []*instance, now time.Time) {
	a := d.arb
	role := "loser: stays BACKUP"
	if dec.Win {
		role = "winner: keeps or takes MASTER"
	}
	switch {
	case dec.Mode == arbiter.ModeSplit:
		a.splits++
		a.log.Warn(fmt.Sprintf("arbiter: split: both nodes are alive but their views disagree (both MASTER, or VRRP adverts lost); this node is the %s by rule %s", role, dec.Rule))
		d.arbNotify(tracked, notifySplit, now)
	case dec.From == arbiter.ModeSplit && dec.Mode == arbiter.ModeAgreed:
		a.log.Warn("arbiter: split healed: one master, the views agree again")
		for _, inst := range tracked {
			if inst.m.State() == vrrp.StateMaster {
				a.reAn++
				d.announceOnce(inst)
			}
		}
		d.arbNotify(tracked, notifySplitHealed, now)
	case dec.Mode == arbiter.ModeLost:
		a.losts++
		a.log.Warn(fmt.Sprintf("arbiter: heartbeat from the peer lost (none for %s): no arbitration until it returns, VRRP alone decides", a.core.DeadAfter()))
	case dec.Mode == arbiter.ModeAgreed:
		a.log.Info("arbiter: heartbeat from the peer: the views agree", "was", dec.From.String())
	}
}

func (d *Daemon) arbNotify(tracked []*instance, state string, now time.Time) {
	if d.notifier == nil {
		return
	}
	for _, inst := range tracked {
		d.notifier.Notify(notify.Event{Kind: notify.KindInstance, Name: inst.cfg.Name, State: state,
			Priority: int(inst.m.Priority()), Reason: "arbiter", Time: now}, inst.scripts)
	}
}

// arbStatus is the status's arbiter part (loop).
func (d *Daemon) arbStatus(now time.Time) *ctl.ArbiterStatus {
	a := d.arb
	if a == nil {
		return nil
	}
	members := func(v arbiter.View) []ctl.ArbiterMember {
		var out []ctl.ArbiterMember
		for _, m := range v.Members {
			out = append(out, ctl.ArbiterMember{Name: m.Name, State: m.State.String(), Priority: int(m.Priority),
				Starved: m.Starved, Monitored: int(m.Monitored), Down: int(m.Down)})
		}
		return out
	}
	hs := a.hb.Stats()
	st := &ctl.ArbiterStatus{
		Mode: a.core.Mode().String(), Split: a.core.Mode() == arbiter.ModeSplit, Rule: a.dec.Rule.String(), Win: a.dec.Win,
		Held: a.dec.Hold, Local: members(d.arbView()),
		Splits: a.splits, Yields: a.yields, HeartbeatLosts: a.losts, Reannounces: a.reAn,
		Sent: hs.Sent, SendErrors: hs.SendErrors, Received: hs.Received, Foreign: hs.Foreign, Drops: hs.Drops,
		Malformed: a.malformed.Load(),
	}
	if v, at := a.core.Peer(); !at.IsZero() {
		st.Peer, st.PeerAge = members(v), now.Sub(at)
	}
	for _, w := range a.witnesses {
		st.Witnesses = append(st.Witnesses, ctl.WitnessStatus{Instance: w.instance, Address: w.addr.String(), Up: w.verdict.Up(), Probes: w.verdict.Probes, Failures: w.verdict.Failures})
	}
	return st
}
