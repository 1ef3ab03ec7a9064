package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/healthcheck"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/linkdelay"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/internal/procnice"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/notify/mail"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/nftfilter"
	"github.com/vigil-ha/vigil/vrrp"
)

// Options are the daemon's process-level settings (from vigild's flags).
type Options struct {
	// Log receives every log line; instance lines carry instance, vrid and
	// iface attributes.
	Log *slog.Logger
	// Reload loads the configuration again (SIGHUP, vigilctl reload). It
	// returns the complaints to log and an error when the new configuration
	// must not be applied. nil disables reload.
	Reload func() (*config.Config, []*config.Error, error)
	// Host is the kernel side; the zero value is the real kernel.
	Host Host
	// Mode selects VRRP only (-P), checkers and IPVS only (-C) or both.
	Mode Mode
	// KeepIPVS (-I, --dont-release-ipvs) leaves IPVS as it is at stop:
	// no service removed, nothing notified.
	KeepIPVS bool
	// StateDir holds what vigild keeps across restarts: the instances in
	// maintenance (vigilctl maintenance on), in maintenance.json. It must
	// be a directory only root can change (created 0700 if missing). ""
	// keeps maintenance for the life of the process only.
	StateDir string
}

// Host is the kernel side of the daemon. Each nil field means the real
// thing in the daemon's network namespace; tests substitute in-memory
// twins (vrrptest, viptest) to run the loop inside a synctest bubble.
type Host struct {
	// Listen opens a VRRP socket: vrrp.ListenIPv4 / vrrp.ListenIPv6.
	Listen func(ifname string, ipv6 bool, opts vrrp.ConnOptions) (vrrp.Conn, error)
	// Interface looks an interface up: net.InterfaceByName.
	Interface func(name string) (*net.Interface, error)
	// VIPs adds and removes addresses, routes and rules: vip.NewManager.
	VIPs vip.Reconciler
	// Announcer sends gratuitous ARP and unsolicited NA: vip.NewAnnouncer.
	Announcer vip.Sender
	// VMACs creates and removes use_vmac interfaces: VIPs when it can.
	VMACs vip.VMACs
	// Sysctls reads and writes /proc/sys (the VMAC settings): vip.ProcSys.
	Sysctls vip.Sysctls
	// PrimaryAddr is the address adverts on an interface come from:
	// vrrp.PrimaryAddr.
	PrimaryAddr func(ifname string, ipv6 bool, notFrom ...netip.Addr) (netip.Addr, error)
	// InterfaceEvents replaces the netlink interface watcher
	// (check.NewWatcher).
	InterfaceEvents <-chan check.IfaceEvent
	// Firewall commits the VIP filter's nftables scripts: nftfilter.Exec.
	Firewall nftfilter.Applier
	// GoTimer makes the loop wake on a Go timer instead of a timerfd, for
	// tests whose clock is fake (synctest).
	GoTimer bool
	// IPVS opens the kernel's IPVS (lvs.go): ipvs.Dial.
	IPVS func() (IPVS, error)
	// Probe, when set, replaces each health checker's prober.
	Probe func(healthcheck.Spec) healthcheck.Prober
	// Mail, when set, delivers the e-mail alerts instead of SMTP to
	// smtp_server (mail.SMTP).
	Mail mail.Transport
	// LocalName, when set, replaces the resolver's answer for keepalived's
	// local name, the mail alerts' default router_id, HELO name and sender
	// (lookupLocalName).
	LocalName func() string
	// Witness probes one witness address of the arbitration on the
	// instance's interface within timeout (nil: ARP for IPv4, neighbour
	// solicitation for IPv6, ICMP echo without an interface).
	Witness func(ctx context.Context, ifname string, addr netip.Addr, timeout time.Duration) error
	// Conntrack, when set, replaces the conntrack replicator of a
	// conntrack_sync block (conntracksync.New on ctnetlink and UDP).
	Conntrack replicator
	// SyncWorker, when set and Conntrack is not, is the binary (the
	// daemon's own, syncworker.SelfExe) a conntrack_sync block's
	// replicator runs in, as a process of its own with one P
	// (syncworker.Remote); empty: in the daemon.
	SyncWorker string
	// Heartbeat, when set, replaces the arbitration's heartbeat link over
	// the sync path (conntracksync.NewHeartbeat).
	Heartbeat heartbeatSender
	// LocalAddrs lists the addresses of the local interfaces, for the
	// ha_suspend addresses no vrrp_instance lists (all of them under -C);
	// nil: none of those is held.
	LocalAddrs func() ([]netip.Addr, error)
	// Nice gives the process the nice value *n (vrrp_priority), or back
	// the one it started with when n is nil: procnice.Set, procnice.Reset.
	Nice func(n *int) error
	// WarmTakeover maps in the program code a takeover is about to run,
	// as the kernel worker's standby starts: memtrim.Populate of
	// vip.TakeoverCode.
	WarmTakeover func()
}

func (h *Host) fill(log *slog.Logger) error {
	if h.Listen == nil {
		h.Listen = func(ifname string, ipv6 bool, opts vrrp.ConnOptions) (vrrp.Conn, error) {
			if ipv6 {
				return vrrp.ListenIPv6(ifname, opts)
			}
			return vrrp.ListenIPv4(ifname, opts)
		}
	}
	if h.Interface == nil {
		h.Interface = net.InterfaceByName
	}
	if h.VIPs == nil {
		m, err := vip.NewManager(log)
		if err != nil {
			return fmt.Errorf("daemon: netlink: %w", err)
		}
		h.VIPs = m
	}
	if h.Nice == nil {
		h.Nice = func(n *int) error {
			if n == nil {
				return procnice.Reset()
			}
			return procnice.Set(*n)
		}
	}
	if h.Announcer == nil {
		h.Announcer = vip.NewAnnouncer(log)
	}
	if h.WarmTakeover == nil {
		pcs := vip.TakeoverCode()
		h.WarmTakeover = func() { memtrim.Populate(pcs) }
	}
	if h.Firewall == nil {
		h.Firewall = nftfilter.Exec{}
	}
	if h.VMACs == nil {
		h.VMACs, _ = h.VIPs.(vip.VMACs)
	}
	if h.Sysctls == nil {
		h.Sysctls = vip.ProcSys{}
	}
	if h.PrimaryAddr == nil {
		h.PrimaryAddr = vrrp.PrimaryAddr
	}
	return nil
}

// Daemon runs the VRRP instances of one configuration. Build it with New,
// run it with Run.
type Daemon struct {
	log  *slog.Logger
	opts Options
	cfg  *config.Config

	host Host

	instances []*instance
	groups    []*syncGroup
	conns     map[connKey]*conn
	ct        *ctSync     // nil without a conntrack_sync block
	arb       *arb        // the arbitration over the sync link (arbiter.go); nil when it does not run
	lvs       *lvs        // IPVS and its checkers (lvs.go); nil without
	kw        *kernelWork // the address, route and rule worker; nil outside Run
	// standbyOK: the worker may spin before a takeover (Run: a timerfd
	// loop, two or more Ps).
	standbyOK  bool
	jobLog     *jobLog   // holds what the address manager and announcer log in the worker's jobs
	trk        *tracking // scripts, files, processes, interfaces
	notifier   *notify.Notifier
	fifos      fifoSet
	mail       *mailer    // e-mail alerts (mail.go); nil without notification_email and smtp_server
	mailClosed mail.Stats // the counters of stopped senders
	queue      []step     // machine and sync-group events not yet handled (queue.go)
	draining   bool       // drain is running (an invariant check: it never re-enters)
	startAt    time.Time  // vrrp_startup_delay: when the instances start
	started    bool
	settle     *startSettle // when start-up has settled (Settled)
	wake       timerWake    // the timer wake-up being handled (timeline.go)
	// takeoverJobs is the instance whose takeover's address job went to
	// an idle worker in the actions being executed: until its first GARP
	// / NA round is handed over too, the worker holds only those jobs, and
	// the loop waits for them (kernelWork.submitWait). Nil outside exec.
	takeoverJobs *instance
	// startWorker, when not nil, starts the kernel worker instead of Run
	// (go kw.run()): a test delays it, to stand for a worker whose thread
	// the kernel leaves waiting.
	startWorker func(kw *kernelWork)

	// mailQueued counts the mail alerts queued, by what they report (mail.go).
	mailQueued ctl.MailAlerts
	// localName is keepalived's local name for the mail defaults, looked
	// up off the loop when the configuration needs it (mail.go).
	localName string

	// links holds link changes back for interface_up_down_delays (links.go).
	links *linkdelay.Filter

	// turnMu: the loop's state (everything the loop's functions touch)
	// belongs to whoever holds it. The loop goroutine takes it for each
	// event it receives; a reader takes it to handle the adverts it read,
	// on its own goroutine (rxTurn), and the timer for its wake-up
	// (timerFired): handing them to the loop goroutine cost a second
	// goroutine's wake-up per read and per wake-up.
	turnMu    turnLock
	loopEnded bool       // under turnMu: the loop has shut down; readers handle nothing more
	rxq       rxQueue    // batches read and not yet handled (drainRx)
	rxTaken   []*rxBatch // drainRx's buffer
	timer     loopTimer  // the loop's wake-up; set by Run
	armed     time.Time  // the deadline timer is armed for; zero: none (an hour's wait)
	rearm     bool       // the timer fired since it was armed: arm it whatever the next deadline
	// quiet: the reader's turn under way has so far only restarted
	// backups' Master_Down timers to or past armed (quietAdvert), so its
	// end need not look for an earlier deadline (endTurn).
	quiet   bool
	execs   uint64 // actions carried out (exec): quietAdvert's proof that an advert did nothing else
	scans   uint64 // ends of turns that looked for the next deadline (endTurn), for tests
	reqs    chan func(now time.Time)
	stop    chan struct{} // closed when Run ends
	readers sync.WaitGroup

	fw firewall // the no_accept VIP filter (firewall.go)

	vm                      vmacs   // use_vmac interfaces and the sysctls they changed (vmac.go)
	statics                 statics // installed static_ipaddress / routes / rules
	reloads, reloadFailures uint64
	staticErrors            uint64
	controlRefused          atomic.Uint64 // control-socket clients refused (ServeControl)
	ops                     operators     // vigilctl demote, promote, maintenance, events (control_cmds.go)

	rl          *rateLogs // per-packet and per-event log lines, made on first use
	reloadError string    // why the last reload was refused or applied in part

	mu     sync.Mutex
	status ctl.Status // guarded by mu; the last snapshot, taken when the loop ends
}

// New builds a daemon for cfg: it opens the VRRP sockets and the netlink
// handle but changes nothing on the host (no address, no advert) until Run,
// except the VMACs of use_vmac instances and their sysctls, which those
// sockets need. An error leaves nothing open and removes those VMACs.
func New(cfg *config.Config, opts Options) (_ *Daemon, err error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	cfg = scoped(cfg, opts.Mode)
	d := &Daemon{
		log:    opts.Log,
		opts:   opts,
		cfg:    cfg,
		conns:  make(map[connKey]*conn),
		stop:   make(chan struct{}),
		reqs:   make(chan func(time.Time), 16),
		turnMu: make(turnLock, 1),

		settle: newSettle(),
	}
	defer func() {
		if err != nil {
			d.vm.release(nil, nil) // the worker is not running: done at once
			d.closeAll()
		}
	}()
	d.host = opts.Host
	d.jobLog = &jobLog{}
	if err := d.host.fill(d.jobLog.wrap(d.log)); err != nil {
		return nil, err
	}
	d.vm = vmacs{links: d.host.VMACs, sys: d.host.Sysctls, log: d.log}
	if d.trk, err = newTracking(d.log, cfg, time.Now(), nil, d.host); err != nil {
		return nil, err
	}
	d.setLinkDelays(cfg)
	d.initOperators()
	if d.notifier, d.fifos, err = newNotifier(d, cfg); err != nil {
		return nil, err
	}
	if needsLocalName(cfg) {
		d.localName = d.lookupLocalName()
	}
	d.mail = d.newMailer(cfg)
	var errs []error
	for _, ic := range cfg.Instances {
		inst, err := d.newInstance(ic, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.instances = append(d.instances, inst)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d.buildGroups(cfg)
	if cfg.ConntrackSync != nil {
		if d.ct, err = newCTSyncWith(d.log, cfg, d.host.Conntrack, d.host.SyncWorker); err != nil {
			return nil, err
		}
		if d.arb, err = newArb(d.log, cfg, d.host.Heartbeat, d.host); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// closeAll releases sockets, handles and checkers; used when New fails and
// after Run.
func (d *Daemon) closeAll() {
	for _, c := range d.conns {
		c.c.Close()
	}
	if d.trk != nil {
		d.trk.close()
	}
	d.closeNotifier()
	d.closeMail(0)
	for _, x := range []any{d.host.Announcer, d.host.VIPs} {
		if c, ok := x.(io.Closer); ok {
			c.Close()
		}
	}
}

// Run starts every instance and runs the event loop until ctx is done,
// then shuts every instance down as keepalived does on SIGTERM (a master
// sends a priority-0 advert and removes its addresses), closes the sockets
// and returns.
func (d *Daemon) Run(ctx context.Context) error {
	if g := &d.cfg.Global; g.StartupScript != nil {
		d.runStartStop("startup", g.StartupScript, g.StartupScriptTimeout)
	}
	// Deferred first, so it runs last: after the instances, the
	// replication and every socket.
	defer func() {
		if g := &d.cfg.Global; g.ShutdownScript != nil {
			d.runStartStop("shutdown", g.ShutdownScript, g.ShutdownScriptTimeout)
		}
	}()
	// The loop's state is Run's until the loop starts waiting: readers
	// hold what they read until then.
	d.turnMu.Lock()
	for _, c := range d.conns {
		d.startReader(c)
	}
	d.kw = newKernelWork()
	d.kw.logs = d.jobLog
	d.fw = firewall{log: d.log, kw: d.kw, apply: d.host.Firewall, instances: func() []*instance { return d.instances }}
	if d.startWorker != nil {
		d.startWorker(d.kw)
	} else {
		go d.kw.run() // ended by finishKernel (shutdown), which waits for it
	}
	if d.ct != nil {
		ctCtx, stopCT := context.WithCancel(context.Background())
		ctDone := make(chan struct{})
		go func() {
			defer close(ctDone)
			d.ct.run(ctCtx)
		}()
		// Stopped after the instances have shut down (deferred first, runs last).
		defer func() { stopCT(); <-ctDone }()
	}
	if d.arb != nil {
		arbCtx, stopArb := context.WithCancel(context.Background())
		arbDone := make(chan struct{})
		go func() {
			defer close(arbDone)
			d.arb.run(arbCtx)
		}()
		defer func() { stopArb(); <-arbDone }()
	}
	defer func() {
		close(d.stop)
		for _, c := range d.conns {
			c.c.Close()
		}
		d.readers.Wait()
		d.closeAll()
	}()

	now := time.Now()
	if n := d.cfg.Global.VRRPPriority; n != nil {
		d.applyNice(n)
	}
	d.log.Info("Starting VRRP", "instances", len(d.instances), "router_id", d.cfg.Global.RouterID)
	d.statics = staticsOf(d.cfg)
	d.removeLeftovers()
	d.fw.start(&d.cfg.Global)
	d.applyStatics(statics{}, d.statics)
	d.startLVS(true)
	d.startAt = now.Add(d.cfg.Global.VRRPStartupDelay)
	if d.cfg.Global.VRRPStartupDelay > 0 {
		d.log.Info("Delaying VRRP start", "vrrp_startup_delay", d.cfg.Global.VRRPStartupDelay)
	} else {
		d.start(now)
	}

	var timer loopTimer
	if !d.host.GoTimer {
		if t, err := newFDTimer(d.timerFired); err == nil {
			timer = t
			// The worker's standby before a takeover spins in real
			// time: not with one P (the spinner would hold it), not on
			// a Go timer (a test's fake clock does not move while it
			// spins).
			d.standbyOK = runtime.GOMAXPROCS(0) >= 2
			d.kw.realTime = d.standbyOK
		} else {
			d.log.Warn("no timerfd, timers will be up to 1 ms late", "err", err)
		}
	}
	if timer == nil {
		timer = newGoTimer(d.timerFired)
	}
	defer timer.Stop()
	d.timer, d.rearm = timer, true
	d.endTurn()
	d.turnMu.Unlock()
	for {
		select {
		case <-ctx.Done():
			d.turnMu.Lock()
			d.shutdown(time.Now())
			d.publish()
			d.loopEnded = true
			d.turnMu.Unlock()
			return nil
		case f := <-d.reqs:
			d.turn(f)
		case <-d.kw.ready:
			d.turn(func(time.Time) { d.kw.applyResults() })
		case f := <-d.lvs.results():
			d.turn(f)
		case ev := <-d.lvs.checkerEvents():
			d.turn(func(time.Time) { d.lvs.checkerEvent(ev) })
		case r := <-d.trk.results:
			d.turn(func(now time.Time) {
				if d.trk.scriptResult(r, now) {
					d.evaluate(now)
				}
			})
		case e := <-d.trk.ifaceEvents():
			d.turn(func(now time.Time) {
				d.vmacEvent(e, now)
				d.linkEvent(e, time.Now())
			})
		case fe := <-d.trk.fileEvents():
			d.turn(func(now time.Time) {
				d.lvs.fileValue(fe)
				d.evaluate(now) // values are read back from the watcher
			})
		case pc := <-d.trk.processCounts():
			d.turn(func(now time.Time) {
				if d.trk.processCount(pc, now) {
					d.evaluate(now)
				}
			})
		case v := <-d.arb.recv():
			d.turn(func(now time.Time) { d.arbPeer(v, now) })
		case r := <-d.arb.witnessResults():
			d.turn(func(now time.Time) { d.witnessResult(r, now) })
		}
	}
}

// turnLock is the lock of the loop's state: a channel of one slot. A
// goroutine waiting for it is blocked on a channel, which a test's
// synctest bubble counts as durably blocked (on a sync.Mutex it is not, and
// the bubble's clock would stop while a turn waits for the fake time to
// pass, in a takeover's wait for the kernel worker).
type turnLock chan struct{}

func (l turnLock) Lock()   { l <- struct{}{} }
func (l turnLock) Unlock() { <-l }

// turn runs f, one event's handling, with the loop's state (turnMu), and
// then what ends every turn (endTurn).
func (d *Daemon) turn(f func(now time.Time)) {
	d.turnMu.Lock()
	f(time.Now())
	d.endTurn()
	d.turnMu.Unlock()
}

// endTurn ends a turn, whoever took it (the loop goroutine or a reader):
// a takeover's jobs that the worker left waiting run here, before the
// state is let go (kernelWork.runStarved), what is left goes back to the
// worker, and the timer is armed for the next deadline. turnMu held.
func (d *Daemon) endTurn() {
	for d.kw.runStarved() {
	}
	d.kw.releaseClaim()
	if d.quiet {
		// Every deadline this turn moved lies at or after the one the
		// timer is armed for, and nothing else changed: the timer wakes
		// in time, as it would after the scan below (rearmNeeded).
		d.quiet = false
		return
	}
	d.scans++
	next, ok, takeover := d.nextDeadline()
	if d.standbyOK {
		next, ok = d.standbyFor(time.Now(), takeover, next, ok)
	}
	next, ok = d.kw.starvedAt(next, ok)
	if !ok {
		next = time.Time{}
	}
	// The timer is re-armed only when it must wake sooner (see
	// rearmNeeded): re-arming costs a system call per turn.
	if rearmNeeded(d.rearm, d.armed, next) {
		wait := time.Hour
		if ok {
			wait = max(time.Until(next), 0)
		}
		d.timer.Reset(wait)
		d.armed, d.rearm = next, false
	}
}

// timerFired takes a turn for the timer's wake-up at woke, on the timer's
// goroutine (loopTimer); once the loop has ended it does nothing.
func (d *Daemon) timerFired(woke time.Time) {
	d.turnMu.Lock()
	defer d.turnMu.Unlock()
	if d.loopEnded {
		return
	}
	d.timerTurn(time.Now(), woke)
	d.endTurn()
}

// timerTurn handles the timer's wake-up at woke. turnMu held.
func (d *Daemon) timerTurn(now, woke time.Time) {
	d.rearm = true // fired: armed again whatever the next deadline
	// Adverts already read arrived before this wake-up (their kernel
	// stamps say when): they restart their timers first, so a backup
	// that was slow to handle them does not take over from a master
	// whose adverts are waiting.
	d.drainRx()
	d.fireTimers(now, woke)
	// A takeover's turn is long (the worker's first jobs, the
	// transition's logs): what fell due meanwhile, most often another
	// instance's takeover a few µs behind the first, runs now rather
	// than after another wake-up of the timer.
	for range 4 {
		next, ok, _ := d.nextDeadline()
		now := time.Now()
		if !ok || now.Before(next) {
			break
		}
		d.drainRx()
		d.fireTimers(now, woke)
	}
}

// rxQueue holds the batches the readers read until one of them, or the
// timer's turn, handles them (drainRx). Its own lock is held for a push or
// a take only: a reader publishes its batch before it waits for the loop's
// state, so that a timer's turn already under way handles it first.
type rxQueue struct {
	mu sync.Mutex
	q  []*rxBatch
}

func (r *rxQueue) push(b *rxBatch) {
	r.mu.Lock()
	r.q = append(r.q, b)
	r.mu.Unlock()
}

// take appends every batch queued to buf and empties the queue.
func (r *rxQueue) take(buf []*rxBatch) []*rxBatch {
	r.mu.Lock()
	buf = append(buf, r.q...)
	clear(r.q)
	r.q = r.q[:0]
	r.mu.Unlock()
	return buf
}

// rxTurn handles b, just read, with the adverts of other readers queued
// before it, on the reader's goroutine; false: the loop has ended and b
// was not handled. When it returns b is free again: whoever handled it
// held the loop's state before this reader could take it.
func (d *Daemon) rxTurn(b *rxBatch) bool {
	d.rxq.push(b)
	d.turnMu.Lock()
	defer d.turnMu.Unlock()
	if d.loopEnded {
		return false
	}
	// The turn is quiet until an advert proves otherwise (quietAdvert):
	// a timer that fired and waits for its turn, or a standby that a
	// moved deadline may end, takes the whole end of the turn.
	d.quiet = !d.rearm && !d.armed.IsZero() && !d.kw.standingBy()
	d.drainRx()
	d.endTurn()
	return true
}

// drainRx handles the batches the readers have read (rxQueue), at most one
// per reader: each waits for its batch to be handled before it reads
// again. turnMu held.
func (d *Daemon) drainRx() {
	d.rxTaken = d.rxq.take(d.rxTaken[:0])
	for i, b := range d.rxTaken {
		d.handleRx(b)
		d.rxTaken[i] = nil
	}
}

// start runs every instance's Startup, after the trackers' first verdict
// (an instance whose weight-0 tracker is down starts in FAULT).
func (d *Daemon) start(now time.Time) {
	d.started = true
	var down []time.Duration
	for _, inst := range d.instances {
		down = append(down, inst.m.MasterDownInterval())
	}
	d.settle.quiet = settleQuiet(down)
	d.settle.changed(now)
	d.evaluate(now)
	for _, inst := range d.instances {
		d.handle(inst, vrrp.Startup{}, now)
	}
	if d.arb != nil {
		d.arb.next = now // the first heartbeat at once
	}
}

// nextDeadline is the earliest timer over every instance and tracker;
// with the worker's standby in use (standbyOK), takeover is the next
// takeover's (earliestTakeover).
func (d *Daemon) nextDeadline() (next time.Time, found bool, takeover time.Time) {
	next, found = d.trk.deadline()
	if t, ok := d.links.Deadline(); ok && (!found || t.Before(next)) {
		next, found = t, true
	}
	if !d.started && (!found || d.startAt.Before(next)) {
		next, found = d.startAt, true
	}
	for _, inst := range d.instances {
		if t, ok := inst.deadline(); ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	if d.standbyOK {
		takeover = d.earliestTakeover()
	}
	if d.rl != nil {
		if t, ok := d.rl.deadline(); ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	if t, ok := d.arb.deadline(); ok && (!found || t.Before(next)) {
		next, found = t, true
	}
	if t, ok := d.settle.deadline(); ok && (!found || t.Before(next)) {
		next, found = t, true
	}
	return next, found, takeover
}

// earliestTakeover is the earliest Master_Down deadline of an instance in
// BACKUP (zero: none): when the next takeover may fall due.
func (d *Daemon) earliestTakeover() time.Time {
	var first time.Time
	for _, inst := range d.instances {
		if inst.m.State() != vrrp.StateBackup {
			continue
		}
		if t, ok := inst.m.Deadline(); ok && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// standbyLead is how long before a backup's Master_Down deadline the
// kernel worker is kept from parking (kernelWork.standbyUntil): longer than
// the loop's timer takes to wake it for the standby, or the wake-up finds
// the takeover due and the worker parked. The loop's own wake-ups show a
// median of 25–120 µs and a p90 of up to 200 µs on a quiet shared
// two-core machine, and up to 455 µs there while a second daemon starts;
// half a millisecond left a takeover at start without its standby in one
// run of two. A backup that hears its master stays an advert interval
// (10 ms at least) farther than this from its deadline.
const standbyLead = 2 * time.Millisecond

// standbyFor keeps the kernel worker on standby from standbyLead before
// takeover, the earliest backup's Master_Down deadline (nextDeadline),
// until takeoverWait after it, and ends the standby when no takeover is
// that close (an advert moved the deadline, the backup took over). It
// returns the loop's next wake-up, next or the standby's start if
// sooner. A backup whose master keeps advertising never comes within
// standbyLead of its deadline: the standby costs nothing until a takeover
// is due.
func (d *Daemon) standbyFor(now, takeover, next time.Time, ok bool) (time.Time, bool) {
	if takeover.IsZero() {
		d.kw.standbyUntil(time.Time{})
		return next, ok
	}
	lead := takeover.Add(-standbyLead)
	if !now.Before(lead) {
		// As the standby starts: the takeover's code mapped in, the
		// loop's stack grown. Both take tens of µs after a trim
		// (Populate of vip.TakeoverCode 12–41 µs), so they run even
		// when a late wake-up leaves less than the lead: the takeover
		// would fault most of those pages in itself.
		if d.kw.standbyUntil(takeover.Add(takeoverWait)) {
			d.host.WarmTakeover()
			growStack()
		}
		return next, ok
	}
	d.kw.standbyUntil(time.Time{})
	if !ok || lead.Before(next) {
		return lead, true
	}
	return next, ok
}

// takeoverStack is the stack a takeover's turn of the loop needs at least
// (its machine, the log lines, the notify queue): growStack makes room
// for it ahead of the takeover.
const takeoverStack = 16 << 10

// stackIndex keeps growStack's array from being optimised away.
var stackIndex int

// growStack grows the calling goroutine's stack by takeoverStack, as the
// standby starts: the loop's stack, shrunk by a collection while it was a
// quiet backup, would otherwise grow in the takeover's own turn, where
// copying it walks the function tables (their pages dropped by the trims
// after start) frame by frame.
//
//go:noinline
func growStack() byte {
	var b [takeoverStack]byte
	b[stackIndex%len(b)] = 1
	return b[(stackIndex+1)%len(b)]
}

// fireTimers runs everything due at now; woke is when the loop's timer
// fired (kept for a takeover's timeline).
func (d *Daemon) fireTimers(now, woke time.Time) {
	d.wake = timerWake{woke: woke, ran: now}
	defer func() { d.wake = timerWake{} }()
	if d.rl != nil {
		d.rl.flush(now)
	}
	if d.trk.fire(now) {
		d.evaluate(now)
	}
	d.fireLinks(now)
	if !d.started {
		if now.Before(d.startAt) {
			return
		}
		d.start(now)
	}
	// The worker as this wake-up found it: what its own timers hand the
	// worker (a garp_master_refresh round, due as often as start-up's
	// quiet time) is not start-up's work, and would find start-up busy at
	// every look.
	workerBusy := !d.kw.idle()
	for _, inst := range d.instances {
		if t, ok := inst.m.Deadline(); ok && !now.Before(t) {
			inst.due = t
			d.handle(inst, vrrp.Timeout{}, now)
			inst.due = time.Time{}
		}
		d.runAnnouncements(inst, now)
	}
	d.arbTick(now)
	if d.settle.check(now, workerBusy || d.instancesStarting()) {
		d.log.Debug("start-up settled")
	}
}

func (d *Daemon) shutdown(now time.Time) {
	d.log.Info("Stopping")
	if d.mail != nil {
		d.mail.shutdown = true
	}
	for _, inst := range d.instances {
		d.stopInstance(inst, now)
	}
	d.applyStatics(d.statics, statics{})
	if d.lvs != nil {
		d.lvs.stop()
	}
	d.fw.stop()
	d.vm.release(d.kw, nil)
	d.kw.finish()
	d.closeNotifier()
	d.closeMail(mailFlushTimeout)
}

// Post runs f on the loop goroutine; it returns false when the loop did
// not take it before ctx ended.
func (d *Daemon) post(ctx context.Context, f func(now time.Time)) bool {
	select {
	case d.reqs <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

// maxLoggedComplaints bounds the warnings and notices LogComplaints
// writes for one load: a file of garbage has one complaint per line.
const maxLoggedComplaints = 100

// LogComplaints logs configuration complaints at their severity: notices
// at info, warnings at warn, the rest at error. Every Fatal and Security
// complaint is logged; past maxLoggedComplaints the others are only
// counted, in one line.
func LogComplaints(log *slog.Logger, complaints []*config.Error) {
	skipped, logged := 0, 0
	for _, c := range complaints {
		if c.Severity == config.Notice || c.Severity == config.Warning {
			if logged >= maxLoggedComplaints {
				skipped++
				continue
			}
			logged++
		}
		switch c.Severity {
		case config.Notice:
			log.Info(c.Error())
		case config.Warning:
			log.Warn(c.Error())
		default:
			log.Error(c.Error())
		}
	}
	if skipped > 0 {
		log.Warn(fmt.Sprintf("%d more configuration warnings and notices not logged", skipped))
	}
}

// Reload loads the configuration again and applies it on the loop, unless
// checkReload refuses it (it cannot be loaded or run, or it has no
// vrrp_instance while some run): then nothing changes, the refusal is
// logged and counted, and the error (wrapping ErrReloadRefused) says why.
func (d *Daemon) Reload(ctx context.Context) error { return d.reload(ctx, false) }

// ForceReload is Reload that also applies a configuration without any
// vrrp_instance while some run: they all stop, as on shutdown. A
// configuration that cannot be loaded or run is still refused.
func (d *Daemon) ForceReload(ctx context.Context) error { return d.reload(ctx, true) }

func (d *Daemon) reload(ctx context.Context, force bool) error {
	if d.opts.Reload == nil {
		return errors.New("daemon: reload is not configured")
	}
	began := time.Now()
	cfg, complaints, loadErr := d.opts.Reload()
	loaded := time.Since(began)
	cfg = scoped(cfg, d.opts.Mode)
	LogComplaints(d.log, complaints)
	local := ""
	if needsLocalName(cfg) {
		local = d.lookupLocalName() // keepalived asks again at each reload
	}
	done := make(chan error, 1)
	if !d.post(ctx, func(now time.Time) {
		if local != "" {
			d.localName = local
		}
		// Where a reload's time goes before the IPVS side's own line
		// (lvs.go, reloadTiming): bench/ipvs reads both.
		d.log.Debug("Reload timing", "load_ms", msString(loaded), "loop_wait_ms", msString(now.Sub(began)-loaded))
		if err := checkReload(len(d.instances), cfg, complaints, loadErr, force); err != nil {
			d.reloadFailures++
			d.reloadError = err.Error()
			d.log.Error("Reload failed, keeping the running configuration", "err", err)
			done <- err
			return
		}
		err := d.apply(cfg, now)
		d.reloadError = ""
		if err != nil {
			d.reloadError = err.Error()
		}
		done <- err
	}) {
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applyNice gives the process the nice value of vrrp_priority n when it
// runs VRRP, as keepalived gives its VRRP process at start and at each
// reload; nil (a reload removed it) puts back the value vigild started
// with.
func (d *Daemon) applyNice(n *int) {
	if d.opts.Mode == ModeCheck {
		return
	}
	if err := d.host.Nice(n); err != nil {
		d.log.Warn("vrrp_priority: cannot set the nice value", "vrrp_priority", optInt(n), "err", err)
		return
	}
	if n == nil {
		d.log.Info("vrrp_priority removed: the nice value is back to what vigild started with")
		return
	}
	d.log.Info("Set the nice value (vrrp_priority)", "vrrp_priority", *n)
}

// optInt is an optional setting as a slice: empty when unset.
func optInt(p *int) []int {
	if p == nil {
		return nil
	}
	return []int{*p}
}

// apply switches the running daemon to cfg, instance by instance: an
// unchanged instance keeps running untouched; one whose addresses, routes,
// priority or announcement settings changed keeps its state, a master
// reconciling its addresses; any other change restarts the instance (an
// instance that cannot be rebuilt keeps its old configuration); removed
// instances stop as on shutdown, new ones start. Changed notify FIFOs are
// reopened (reloadFIFOs) without touching any instance.
func (d *Daemon) apply(cfg *config.Config, now time.Time) error {
	trk, err := newTracking(d.log, cfg, now, d.trk, d.host)
	if err != nil {
		d.reloadFailures++
		return err
	}
	if !sameConntrackSync(d.cfg.ConntrackSync, cfg.ConntrackSync) {
		d.log.Warn("conntrack_sync changed: the replication keeps its running settings until vigild restarts")
	}
	if !slices.Equal(optInt(d.cfg.Global.VRRPPriority), optInt(cfg.Global.VRRPPriority)) {
		d.applyNice(cfg.Global.VRRPPriority)
	}
	prev := d.cfg
	d.cfg = cfg
	d.setLinkDelays(cfg)
	d.reloadMail(cfg)
	var errs []error
	if err := d.reloadFIFOs(prev); err != nil {
		errs = append(errs, err)
	}
	old := make(map[string]*instance, len(d.instances))
	for _, inst := range d.instances {
		old[inst.cfg.Name] = inst
	}
	var next []*instance
	for _, ic := range cfg.Instances {
		prev := old[ic.Name]
		delete(old, ic.Name)
		if prev != nil && prev.sameMachine(ic, vmacName(cfg, ic)) {
			d.updateInstance(prev, ic, now)
			next = append(next, prev)
			continue
		}
		if prev != nil {
			d.detach(prev) // free its VRID on the socket for the new instance
		}
		inst, err := d.newInstance(ic, cfg)
		if err != nil {
			errs = append(errs, err)
			if prev != nil { // keep the old one rather than lose the VIPs
				prev.conn.byVRID.set(uint8(prev.cfg.VRID), prev)
				next = append(next, prev)
			}
			continue
		}
		if prev != nil {
			d.log.Info(fmt.Sprintf("(%s) Restarting instance for changed configuration", ic.Name))
			d.stopInstance(prev, now)
			d.releaseConn(prev)
			if prev.ah != nil && inst.ah != nil {
				inst.ah.st = prev.ah.st // after its last advert: peers expect our numbers to go on rising
			}
		}
		if !inst.conn.reading {
			d.startReader(inst.conn)
		}
		if d.started {
			d.handle(inst, vrrp.Startup{}, now)
		}
		next = append(next, inst)
	}
	for _, inst := range old {
		d.log.Info(fmt.Sprintf("(%s) Removing instance no longer in configuration", inst.cfg.Name))
		inst.deleted = true
		d.stopInstance(inst, now)
		d.releaseConn(inst)
	}
	d.instances = next
	d.vm.release(d.kw, next)
	d.buildGroups(cfg)
	want := staticsOf(cfg)
	d.applyStatics(d.statics, want)
	d.statics = want
	d.fw.reload(&d.cfg.Global)
	d.trk.closeExcept(trk)
	d.trk = trk
	if d.lvs != nil {
		d.lvs.reload(cfg)
	} else {
		d.startLVS(false)
	}
	if d.started {
		d.evaluate(now)
	}
	d.reloads++
	if err := errors.Join(errs...); err != nil {
		d.reloadFailures++
		d.log.Error("Reload applied in part; the instances named here keep their old configuration", "err", err)
		return err
	}
	d.log.Info("Reload finished", "instances", len(next))
	return nil
}

// stopInstance runs the machine's Shutdown and executes it (priority-0
// advert and VIP removal when master).
func (d *Daemon) stopInstance(inst *instance, now time.Time) {
	d.handle(inst, vrrp.Shutdown{}, now)
	inst.announce = nil
	inst.refreshAt = time.Time{}
}

// instancesStarting reports whether an instance is still in INIT or has
// an announcement round waiting.
func (d *Daemon) instancesStarting() bool {
	for _, inst := range d.instances {
		if inst.m.State() == vrrp.StateInit || len(inst.announce) > 0 {
			return true
		}
	}
	return false
}

// TakeoverDone receives after each conntrack takeover whose commit ended
// while the node still held MASTER: the external cache flushed and our
// table's bulk to the peer asked for. It keeps at most one; without
// conntrack_sync it is nil, and never receives.
func (d *Daemon) TakeoverDone() <-chan struct{} {
	if d.ct == nil {
		return nil
	}
	return d.ct.done
}

// Settled is closed once start-up has settled: the instances have made
// their first transitions (none for the longest Master_Down_Interval, at
// least a second), their announcement rounds are out and the kernel
// worker is idle. What only starting needed can be given back then
// (package memtrim).
func (d *Daemon) Settled() <-chan struct{} { return d.settle.done }
