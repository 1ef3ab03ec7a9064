package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/healthcheck"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// IPVS is the kernel's IP Virtual Server as the daemon drives it: the
// table (ipvs.Client), the connection timeouts and the sync daemons.
// *ipvs.Kernel is one; tests wrap the ipvs/ipvstest twin.
type IPVS interface {
	ipvs.Client
	Timeouts() (ipvs.Timeouts, error)
	SetTimeouts(ipvs.Timeouts) error
	StartSyncDaemon(ipvs.SyncDaemon) error
	StopSyncDaemon(ipvs.SyncState) error
	Close() error
}

// Mode selects which halves of keepalived vigild runs.
type Mode int

// Modes, as keepalived's -P and -C.
const (
	// ModeAll runs VRRP, the health checkers and IPVS.
	ModeAll Mode = iota
	// ModeVRRP (-P) runs VRRP only: IPVS is never opened and no checker
	// runs. An lvs_sync_daemon bound to an instance still follows it, as
	// keepalived's VRRP process runs it.
	ModeVRRP
	// ModeCheck (-C) runs the health checkers and IPVS only: no VRRP
	// instance, static address or conntrack replication.
	ModeCheck
)

// lvsScriptTimeout bounds one notify_up / notify_down / quorum_up /
// quorum_down run; keepalived does not wait for them at all. At shutdown
// (omega) keepalived gives them one second.
const (
	lvsScriptTimeout     = 30 * time.Second
	lvsStopScriptTimeout = time.Second
	lvsScriptQueue       = 256
)

// lvs wires package ipvs and package healthcheck into the daemon: the
// checkers' events become ipvs.Policy events on the loop, the desired
// table goes to the IPVS worker, which reconciles the kernel off the loop
// in order; the policy's actions run as scripts.
//
// Concurrency: every field is the loop's, except rec and saved, which
// only the jobs on work touch (one at a time, in order), and next, which
// both touch under nextMu; outcomes come back to the loop over
// work.results. The scheduler's and the script
// runner's goroutines are owned by lvs and waited for by stop.
type lvs struct {
	log    *slog.Logger
	d      *Daemon
	cfg    *config.Config
	spec   *ipvs.Spec
	pol    *ipvs.Policy
	refs   map[healthcheck.RSID]ipvs.RealRef // checker side → policy side
	vsConf map[int]*config.VirtualServer     // policy side → its virtual_server block

	sched   *healthcheck.Scheduler
	events  chan healthcheck.Event
	retries map[healthcheck.CheckerID]int // each checker's retry, for its log lines

	kern    IPVS // nil when IPVS is not programmed (dialErr says why)
	dialErr error
	work    *kernelWork
	rec     *ipvs.Reconciler // worker only
	saved   *ipvs.Timeouts   // worker only: the kernel's timeouts before ours

	nextMu sync.Mutex // guards next and nextReload
	next   ipvs.Table // the newest desired table the worker has not taken yet
	// nextReload is the timing of the reload that made next, if one did.
	nextReload *reloadTiming
	reloading  *reloadTiming // the loop's: the reload whose table apply hands over next

	scripts *lvsScripts
	syncd   map[ipvs.SyncState]bool // running sync daemons, as the loop asked
	syncCfg *config.LVSSyncDaemon   // the lvs_sync_daemon they run with

	// status
	applies, applyErrors, changes uint64
	lastErr                       string
	foreign                       []ipvs.ServiceKey
	foreignLogged                 map[ipvs.ServiceKey]bool
}

// reloadTiming is where one reload's time went on the IPVS side, logged
// at debug level when its table is in the kernel ("IPVS reload timing"):
// the benchmark of bench/ipvs reads it.
type reloadTiming struct {
	began time.Time     // lvs.reload was called (the configuration was loaded and accepted)
	stop  time.Duration // the running checkers stopped and their states taken
	build time.Duration // the new Spec, Policy and desired table
	start time.Duration // the new checkers built and started, the policy fed their states
	wait  time.Duration // the table waited for the IPVS worker
	apply time.Duration // Reconciler.Apply: reading what it needs of the kernel's table and the changes
	total time.Duration // from began until Apply returned
}

func (t *reloadTiming) log(l *slog.Logger, res ipvs.Result) {
	ms := msString
	l.Debug("IPVS reload timing", "stop_ms", ms(t.stop), "build_ms", ms(t.build), "start_ms", ms(t.start),
		"wait_ms", ms(t.wait), "apply_ms", ms(t.apply), "total_ms", ms(t.total),
		"services_read", res.Read, "changes", len(res.Ops))
}

// msString formats d in milliseconds with one decimal, for timing lines.
func msString(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1e3) }

// wantsIPVS reports whether cfg needs IPVS opened in mode m: virtual
// servers outside -P, or an lvs_sync_daemon whose owner runs.
func wantsIPVS(cfg *config.Config, m Mode) bool {
	if len(cfg.VirtualServers) > 0 && m != ModeVRRP {
		return true
	}
	if sd := cfg.Global.LVSSyncDaemon; sd != nil {
		// With an instance VRRP runs it; without, the checkers do.
		return (sd.Instance != "" && m != ModeCheck) || (sd.Instance == "" && m != ModeVRRP)
	}
	return false
}

// scoped is cfg as mode m runs it: -C drops what VRRP runs.
func scoped(cfg *config.Config, m Mode) *config.Config {
	if cfg == nil || m != ModeCheck {
		return cfg
	}
	c := *cfg
	c.Instances, c.SyncGroups = nil, nil
	c.StaticAddresses, c.StaticRoutes, c.StaticRules = nil, nil, nil
	c.ConntrackSync = nil
	if sd := c.Global.LVSSyncDaemon; sd != nil && sd.Instance != "" {
		c.Global.LVSSyncDaemon = nil
	}
	return &c
}

// startLVS opens IPVS and starts the checkers, when the configuration
// asks for them; on the loop, before the first event (first) or at a
// reload that brings the first virtual server. A kernel without IPVS is
// one error line: VRRP runs on without virtual servers.
func (d *Daemon) startLVS(first bool) {
	if !wantsIPVS(d.cfg, d.opts.Mode) {
		return
	}
	l := &lvs{log: d.log, d: d, cfg: d.cfg, syncd: map[ipvs.SyncState]bool{}, foreignLogged: map[ipvs.ServiceKey]bool{}}
	d.lvs = l
	dial := d.host.IPVS
	if dial == nil {
		dial = dialIPVS
	}
	k, err := dial()
	if err != nil {
		l.dialErr = err
		d.log.Error("IPVS: Can't initialize ipvs; virtual servers are not programmed and their checkers do not run, VRRP keeps running", "err", err)
		return
	}
	l.kern = k
	l.rec = ipvs.NewReconciler(k)
	l.work = newKernelWork()
	go l.work.run() // ended by lvs.stop, which waits for it
	l.scripts = newLVSScripts(d.log)
	if d.opts.Mode != ModeVRRP {
		spec := l.build(l.cfg)
		if spec.Flush && first {
			l.work.do(func(context.Context) func(time.Time) {
				err := l.kern.Flush()
				return func(time.Time) {
					if err != nil {
						l.log.Error("IPVS: lvs_flush failed", "err", err)
						return
					}
					l.log.Info("IPVS: flushed the whole table (lvs_flush)")
				}
			})
		}
		l.setTimeouts(spec.Timeouts)
		pol, acts := ipvs.New(spec)
		l.install(spec, pol, acts, nil)
	}
	l.startSync(l.cfg)
}

// build runs ipvs.Build and logs its complaints.
func (l *lvs) build(cfg *config.Config) *ipvs.Spec {
	spec, complaints := ipvs.Build(cfg)
	for _, c := range complaints {
		l.log.Warn(c.Error())
	}
	return spec
}

// install makes spec and pol the running ones: the checkers start (with
// carried states on a reload), the initial actions run and the table is
// applied.
func (l *lvs) install(spec *ipvs.Spec, pol *ipvs.Policy, acts []ipvs.Action, carried map[healthcheck.CheckerID]healthcheck.Carried) {
	l.spec, l.pol = spec, pol
	l.refs = map[healthcheck.RSID]ipvs.RealRef{}
	l.vsConf = map[int]*config.VirtualServer{}
	refs := spec.Refs()
	for vi, v := range l.cfg.VirtualServers {
		for ri, r := range v.RealServers {
			if ref, ok := refs[r]; ok {
				l.refs[healthcheck.RSID{VS: vi, RS: ri}] = ref
				l.vsConf[ref.VS] = v
			}
		}
	}
	l.initialHeld()
	l.run(acts, lvsScriptTimeout)
	started := time.Now()
	if t := l.reloading; t != nil {
		t.build = started.Sub(t.began) - t.stop
	}
	l.startCheckers(carried)
	if t := l.reloading; t != nil {
		t.start = time.Since(started)
	}
	l.apply()
}

// startCheckers builds and starts the health checkers of l.cfg.
func (l *lvs) startCheckers(carried map[healthcheck.CheckerID]healthcheck.Carried) {
	rss, specs, errs := healthcheck.Build(l.cfg)
	for _, err := range errs {
		l.log.Warn(err.Error())
	}
	for i := range specs {
		if c, ok := carried[specs[i].ID]; ok {
			specs[i].Carry = &c
		}
		if probe := l.d.host.Probe; probe != nil && specs[i].Prober != nil {
			specs[i].Prober = probe(specs[i])
		}
	}
	l.retries = map[healthcheck.CheckerID]int{}
	for _, sp := range specs {
		l.retries[sp.ID] = sp.Core.Timing.Retry
		if sp.Prober == nil {
			continue // FILE_CHECK: fed by the track file watcher, no probes
		}
		if rs, vs, ok := l.names(sp.ID.RSID); ok {
			l.log.Info("Activating healthchecker for service " + rs + " for VS " + vs)
		}
	}
	l.events = make(chan healthcheck.Event, 64)
	l.sched = healthcheck.New(healthcheck.Config{Log: l.log, Events: l.events}, rss, specs)
	if carried != nil {
		// The carried checkers decide the real servers' state and weight
		// in the new configuration from the start.
		l.refeed(func(int) bool { return true })
	}
	if fw := l.d.trk.files; fw != nil {
		for _, sp := range specs {
			if sp.TrackFile == "" {
				continue
			}
			if v, ok := fw.Value(sp.TrackFile); ok {
				l.sched.FileValue(sp.TrackFile, v)
			}
		}
	}
}

// checkerEvents is the running scheduler's event channel; nil (never
// ready) without one.
func (l *lvs) checkerEvents() <-chan healthcheck.Event {
	if l == nil {
		return nil
	}
	return l.events
}

// results is the IPVS worker's outcome channel; nil without one.
func (l *lvs) results() <-chan func(time.Time) {
	if l == nil || l.work == nil {
		return nil
	}
	return l.work.results
}

// names are keepalived's names of a real server and of its virtual
// server, as its log and FIFO lines spell them.
func (l *lvs) names(id healthcheck.RSID) (rs, vs string, ok bool) {
	ref, ok := l.refs[id]
	if !ok || l.spec == nil {
		return "", "", false
	}
	v := l.spec.VirtualServers[ref.VS]
	return v.RealName(ref.RS), v.Name, true
}

// logChecker writes the line keepalived's TCP_CHECK logs when a checker's
// first result comes in or its state changes, which operators grep for.
// Other kinds are logged at debug level by the scheduler.
func (l *lvs) logChecker(ev healthcheck.Event) {
	if ev.Kind != healthcheck.KindTCP || !ev.First && !ev.CheckerChanged {
		return
	}
	rs, _, ok := l.names(ev.Checker.RSID)
	switch {
	case !ok:
	case ev.CheckerUp:
		l.log.Info("TCP connection to " + rs + " success.")
	case !ev.First && l.retries[ev.Checker] > 0:
		l.log.Info(fmt.Sprintf("TCP_CHECK on service %s failed after %d retries.", rs, l.retries[ev.Checker]))
	default:
		l.log.Info("TCP_CHECK on service " + rs + " failed.")
	}
}

// checkerEvent takes one event of the health checkers, on the loop. The
// policy's transitions (and their quorum mails) come first, then the
// checker's own mail, in keepalived's order.
func (l *lvs) checkerEvent(ev healthcheck.Event) {
	l.logChecker(ev)
	ref, ok := l.refs[ev.Checker.RSID]
	if !ok || l.pol == nil {
		return
	}
	wasAlive := l.pol.Alive(ref)
	if (ev.RSChanged || ev.WeightChanged || ev.First && !ev.RSUp) &&
		l.handle(ipvs.HealthChanged{Ref: ref, Health: ipvs.Health{Up: ev.RSUp, Weight: int(ev.Weight), HasWeight: true}}) {
		l.apply()
	}
	l.mailChecker(ev, ref, wasAlive)
}

// handle feeds the policy one event and runs its actions; it reports
// whether the desired table may have changed.
func (l *lvs) handle(ev ipvs.Event) bool {
	if l.pol == nil {
		return false
	}
	l.run(l.pol.Handle(ev), lvsScriptTimeout)
	return true
}

// run logs the policy's transitions, writes their notify_fifo /
// lvs_notify_fifo lines and queues their scripts.
func (l *lvs) run(acts []ipvs.Action, timeout time.Duration) {
	for _, a := range acts {
		l.log.Info(a.Msg, "event", a.Kind.String())
		l.writeFIFOs(a)
		l.mailQuorum(a)
		if a.Script != nil && l.scripts != nil {
			if c := l.d.notifyCommand(a.Script); c != nil {
				l.scripts.add(check.Script{Name: a.Kind.String(), Argv: c.Argv, Credential: c.Credential, UID: c.UID, GID: c.GID,
					AllowUnsafe: c.AllowUnsafe, Timeout: timeout})
			}
		}
	}
}

// writeFIFOs writes a's line to the FIFOs that take the checkers' lines,
// without blocking (a full or closed FIFO is a warning).
func (l *lvs) writeFIFOs(a ipvs.Action) {
	fifos := l.d.fifos.lvs
	if len(fifos) == 0 || l.spec == nil || a.VS < 0 || a.VS >= len(l.spec.VirtualServers) {
		return
	}
	v := l.spec.VirtualServers[a.VS]
	var line string
	switch a.Kind {
	case ipvs.RealUp, ipvs.RealDown:
		if a.RS < 0 || a.RS >= len(v.Real) {
			return
		}
		line = notify.LVSLine(v.RealName(a.RS), v.Name, a.Kind == ipvs.RealUp)
	case ipvs.QuorumGained, ipvs.QuorumLost:
		line = notify.LVSLine("", v.Name, a.Kind == ipvs.QuorumGained)
	default:
		return
	}
	for _, f := range fifos {
		if err := f.WriteLine(line); err != nil {
			l.log.Warn("notify: FIFO write failed", "line", line[:len(line)-1], "err", err)
		}
	}
}

// apply hands the policy's desired table to the IPVS worker. While an
// earlier table waits for the worker, the newer one replaces it: a burst
// of checker events costs one reconciliation, never a stale one.
func (l *lvs) apply() {
	if l.work == nil || l.pol == nil {
		return
	}
	table := l.pol.Table()
	queued := time.Now()
	l.nextMu.Lock()
	waiting := l.next != nil
	l.next = table
	if l.reloading != nil {
		l.nextReload, l.reloading = l.reloading, nil
	}
	l.nextMu.Unlock()
	if waiting {
		return
	}
	l.work.do(func(context.Context) func(time.Time) {
		began := time.Now()
		l.nextMu.Lock()
		t, timing := l.next, l.nextReload
		l.next, l.nextReload = nil, nil
		l.nextMu.Unlock()
		res, err := l.rec.Apply(t)
		if err != nil {
			// Something went wrong: the next Apply reads every service's
			// destinations again and corrects what it finds.
			l.rec.Resync()
		}
		if timing != nil {
			timing.wait, timing.apply, timing.total = began.Sub(queued), time.Since(began), time.Since(timing.began)
		}
		return func(time.Time) {
			l.applied(res, err)
			if timing != nil {
				timing.log(l.log, res)
			}
		}
	})
}

// applied records a reconciliation's outcome, on the loop.
func (l *lvs) applied(res ipvs.Result, err error) {
	l.applies++
	l.changes += uint64(len(res.Ops))
	for _, op := range res.Ops {
		if op.Err == nil {
			l.log.Debug("IPVS: " + op.String())
		}
	}
	if err != nil {
		l.applyErrors++
		l.lastErr = err.Error()
		l.log.Error("IPVS: changes failed", "err", err)
	}
	l.foreign = res.Foreign
	for _, k := range res.Foreign {
		if !l.foreignLogged[k] {
			l.foreignLogged[k] = true
			l.log.Warn("IPVS: service " + k.String() + " is not in the configuration: left alone")
		}
	}
}

// setTimeouts sets lvs_timeouts, saving the kernel's values the first
// time; zero values leave the kernel's (the saved ones). All zero (the
// keyword absent) restores the saved values.
func (l *lvs) setTimeouts(t ipvs.Timeouts) {
	if l.work == nil {
		return
	}
	l.work.do(func(context.Context) func(time.Time) {
		if l.saved == nil {
			if t == (ipvs.Timeouts{}) {
				return nil
			}
			old, err := l.kern.Timeouts()
			if err != nil {
				return func(time.Time) { l.log.Error("IPVS: Failed to read ipvs timeouts", "err", err) }
			}
			l.saved = &old
		}
		want := *l.saved
		if t.TCP != 0 {
			want.TCP = t.TCP
		}
		if t.TCPFin != 0 {
			want.TCPFin = t.TCPFin
		}
		if t.UDP != 0 {
			want.UDP = t.UDP
		}
		err := l.kern.SetTimeouts(want)
		return func(time.Time) {
			if err != nil {
				l.log.Error("IPVS: Failed to set ipvs timeouts", "err", err)
			}
		}
	})
}

// reload switches to cfg: new spec and checkers, the running states
// carried over, and only the difference applied. On the loop, after the
// configuration was accepted. Without IPVS (it could not be opened) it
// tries again.
func (l *lvs) reload(cfg *config.Config) {
	if l.kern == nil {
		// IPVS could not be opened: try again (the module may have been
		// loaded since), as at a first start.
		l.d.lvs = nil
		l.d.startLVS(true)
		return
	}
	old := l.cfg
	l.cfg = cfg
	if l.d.opts.Mode == ModeVRRP {
		l.reloadSync(cfg)
		return
	}
	timing := &reloadTiming{began: time.Now()}
	var carried map[healthcheck.CheckerID]healthcheck.Carried
	if l.sched != nil {
		l.sched.Close()
		prev := l.sched.Carried()
		carried = map[healthcheck.CheckerID]healthcheck.Carried{}
		if len(prev) > 0 { // pairing walks every real server of both files
			for n, o := range healthcheck.MatchCheckers(old, l.cfg) {
				if c, ok := prev[o]; ok {
					carried[n] = c
				}
			}
		}
		l.sched, l.events = nil, nil
	}
	timing.stop = time.Since(timing.began)
	spec := l.build(l.cfg)
	l.setTimeouts(spec.Timeouts)
	pol, acts := ipvs.NewCarried(spec, l.pol.Carry())
	if carried == nil {
		carried = map[healthcheck.CheckerID]healthcheck.Carried{}
	}
	l.reloading = timing
	l.install(spec, pol, acts, carried)
	l.reloadSync(cfg)
}

// stop shuts IPVS down as keepalived does on SIGTERM: the checkers stop,
// omega's notifications run, the services vigild added go (or the whole
// table with a bare lvs_flush_on_stop; nothing with -I), the timeouts
// are restored and the sync daemons stopped. On the loop; it waits for
// the IPVS worker and the scripts.
func (l *lvs) stop() {
	if l.sched != nil {
		l.sched.Close()
		l.sched, l.events = nil, nil
	}
	if l.kern == nil {
		return
	}
	flush := l.cfg.Global.LVSFlushOnStop
	switch {
	case l.pol == nil: // -P: no virtual server programmed
	case l.d.opts.KeepIPVS:
		l.log.Info("IPVS: leaving the table as it is (--dont-release-ipvs)")
	default:
		l.run(l.pol.Handle(ipvs.Stop{ServicesOnly: flush != config.FlushOnStopNone}), lvsStopScriptTimeout)
		l.work.do(func(context.Context) func(time.Time) {
			if flush == config.FlushOnStopAll {
				err := l.kern.Flush()
				return func(time.Time) {
					if err != nil {
						l.log.Error("IPVS: lvs_flush_on_stop failed", "err", err)
					}
				}
			}
			res, err := l.rec.Release()
			return func(time.Time) { l.applied(res, err) }
		})
	}
	l.work.do(func(context.Context) func(time.Time) {
		if l.saved == nil {
			return nil
		}
		err := l.kern.SetTimeouts(*l.saved)
		return func(time.Time) {
			if err != nil {
				l.log.Error("IPVS: Failed to restore ipvs timeouts", "err", err)
			}
		}
	})
	l.stopSync()
	l.work.finish()
	l.scripts.close()
	l.kern.Close()
}

// initialHeld tells the policy which ha_suspend addresses are held now:
// one that a VRRP instance's virtual_ipaddress lists is held while that
// instance is MASTER; any other (and every one under -C, where no
// instance runs) while it is on a local interface, as keepalived's
// checkers see it at start or reload.
func (l *lvs) initialHeld() {
	var local []netip.Addr
	localRead := false
	for _, v := range l.spec.VirtualServers {
		if !v.HASuspend || !v.Addr.IsValid() {
			continue
		}
		owned, held := false, false
		for _, inst := range l.d.instances {
			if ownsAddr(inst, v.Addr) {
				owned = true
				held = held || inst.m.State() == vrrp.StateMaster
			}
		}
		if !owned && l.d.host.LocalAddrs != nil {
			if !localRead {
				var err error
				if local, err = l.d.host.LocalAddrs(); err != nil {
					l.log.Warn("IPVS: ha_suspend: cannot list the local addresses", "err", err)
				}
				localRead = true
			}
			held = slices.Contains(local, v.Addr)
		}
		l.pol.Handle(ipvs.VIPHeld{Addr: v.Addr, Held: held})
	}
}

// addrEvent follows an address event of the interface watcher for the
// ha_suspend virtual servers whose address no VRRP instance lists (every
// one under -C): held from the moment the address appears on a local
// interface until it is removed from one, as keepalived's checkers follow
// the kernel's address events. On the loop.
func (l *lvs) addrEvent(e check.IfaceEvent) {
	if l == nil || l.pol == nil || e.Kind != check.AddrAdded && e.Kind != check.AddrRemoved {
		return
	}
	l.setHeld(e.Kind == check.AddrAdded, func(v *ipvs.VirtualServer) bool {
		return v.Addr == e.Addr.Addr() &&
			!slices.ContainsFunc(l.d.instances, func(inst *instance) bool { return ownsAddr(inst, v.Addr) })
	})
}

// setHeld tells the policy whether the address of each ha_suspend virtual
// server that match selects is held; one that becomes held gets the
// checkers' current view (refeed). The table is applied if any changed.
func (l *lvs) setHeld(held bool, match func(*ipvs.VirtualServer) bool) {
	changed := map[int]bool{}
	for i, v := range l.spec.VirtualServers {
		if !v.HASuspend || !v.Addr.IsValid() || !match(v) {
			continue
		}
		l.pol.Handle(ipvs.VIPHeld{Addr: v.Addr, Held: held})
		changed[i] = true
	}
	if held {
		l.refeed(func(i int) bool { return changed[i] })
	}
	if len(changed) > 0 {
		l.apply()
	}
}

func ownsAddr(inst *instance, a netip.Addr) bool {
	return slices.ContainsFunc(inst.addrs, func(x vip.Address) bool { return x.Prefix.Addr() == a })
}

// transition follows a VRRP instance: ha_suspend addresses it owns are
// held while it is MASTER, and an lvs_sync_daemon bound to it runs as
// master then and as backup otherwise. On the loop.
func (l *lvs) transition(inst *instance, t vrrp.Transition) {
	if l == nil {
		return
	}
	toMaster, fromMaster := t.To == vrrp.StateMaster, t.From == vrrp.StateMaster
	if toMaster == fromMaster {
		return
	}
	if l.pol != nil {
		l.setHeld(toMaster, func(v *ipvs.VirtualServer) bool { return ownsAddr(inst, v.Addr) })
	}
	if sd := l.cfg.Global.LVSSyncDaemon; sd != nil && sd.Instance == inst.cfg.Name && l.d.opts.Mode != ModeCheck {
		if toMaster {
			l.syncTo(sd, ipvs.SyncMaster)
		} else if t.To != vrrp.StateInit {
			l.syncTo(sd, ipvs.SyncBackup)
		}
	}
}

// refeed gives the policy the checkers' current view of the real servers
// of the virtual servers vs selects (by index): the reports it ignored
// while suspended (ha_suspend) are not repeated by the checkers, which
// report changes only. One pass over the real servers, whatever vs
// selects.
func (l *lvs) refeed(vs func(int) bool) {
	if l.sched == nil {
		return
	}
	for _, rs := range l.sched.RealServers() {
		if ref, ok := l.refs[rs.ID]; ok && vs(ref.VS) {
			l.handle(ipvs.HealthChanged{Ref: ref, Health: ipvs.Health{Up: rs.Up, Weight: int(rs.Weight), HasWeight: true}})
		}
	}
}

// status is the LVS part of the status; on the loop.
func (l *lvs) status() *ctl.LVSStatus {
	if l == nil {
		return nil
	}
	s := &ctl.LVSStatus{Applies: l.applies, ApplyErrors: l.applyErrors, Changes: l.changes, LastError: l.lastErr}
	if l.dialErr != nil {
		s.Error = l.dialErr.Error()
		return s
	}
	for _, k := range l.foreign {
		s.Foreign = append(s.Foreign, k.String())
	}
	s.Scripts = l.scripts.stats()
	switch {
	case l.syncd[ipvs.SyncMaster] && l.syncd[ipvs.SyncBackup]:
		s.SyncDaemon = "master+backup"
	case l.syncd[ipvs.SyncMaster]:
		s.SyncDaemon = "master"
	case l.syncd[ipvs.SyncBackup]:
		s.SyncDaemon = "backup"
	}
	if l.spec == nil {
		return s
	}
	byRef := map[ipvs.RealRef][]healthcheck.CheckerStats{}
	rsStats := map[ipvs.RealRef]healthcheck.RSStats{}
	if l.sched != nil {
		for _, c := range l.sched.Snapshot() {
			if ref, ok := l.refs[c.ID.RSID]; ok {
				byRef[ref] = append(byRef[ref], c)
			}
		}
		for _, r := range l.sched.RealServers() {
			if ref, ok := l.refs[r.ID]; ok {
				rsStats[ref] = r
			}
		}
	}
	table := l.pol.Table()
	for i, v := range l.spec.VirtualServers {
		vs := ctl.VirtualServer{Name: v.Name, Quorum: v.Quorum, QuorumUp: l.pol.QuorumUp(i), SorryActive: l.pol.SorryActive(i),
			Suspended: l.pol.Suspended(i)}
		for _, svc := range v.Services {
			vs.Services = append(vs.Services, svc.Key.String())
		}
		for j, r := range v.Real {
			ref := ipvs.RealRef{VS: i, RS: j}
			rs := ctl.RealServer{Address: netip.AddrPortFrom(r.Addr, r.Port).String(), Up: l.pol.Alive(ref), Weight: int64(r.Weight),
				Checkers: byRef[ref]}
			if st, ok := rsStats[ref]; ok {
				rs.Weight, rs.Transitions = st.Weight, st.Transitions
			}
			if len(v.Services) > 0 {
				if svc := table[v.Services[0].Key]; svc != nil {
					for _, dst := range svc.Dests {
						if dst.Addr == r.Addr && (dst.Port == r.Port || r.Method != ipvs.NAT) {
							rs.InTable = true
						}
					}
				}
			}
			vs.Real = append(vs.Real, rs)
		}
		s.VirtualServers = append(s.VirtualServers, vs)
	}
	return s
}

// fileValue forwards a track file's value to the FILE_CHECKs that read it.
func (l *lvs) fileValue(fe check.FileEvent) {
	if l == nil || l.sched == nil || fe.Err != nil {
		return
	}
	l.sched.FileValue(fe.Name, fe.Value)
}
