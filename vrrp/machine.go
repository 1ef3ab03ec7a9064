package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"time"
)

// Specification constants (RFC 5798 §5.2.4, §6.1, RFC 3768 §5.3.4).
const (
	// machineDefaultDownAdverts is the 3 in Master_Down_Interval =
	// 3 * Master_Adver_Interval + Skew_Time (RFC 5798 §6.1).
	machineDefaultDownAdverts = 3
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("vrrp: invalid machine config")

// Config is what a Machine needs from one vrrp_instance. The daemon builds it
// from config.Instance; Validate must accept it before NewMachine.
type Config struct {
	// VRID is the virtual router ID, 1..255 (RFC 5798 §5.2.3). The Machine
	// only carries it; the codec and Conn filter by it.
	VRID uint8
	// Priority is the configured priority, 1..255; 255 makes this router the
	// address owner (RFC 5798 §5.2.4), which goes to MASTER at once on
	// Startup whatever WantMaster says (RFC 5798 §6.4.1), always preempts, and
	// ignores SetPriority.
	Priority uint8
	// AdvertInterval is Advertisement_Interval (RFC 5798 §6.1): VRRPv3
	// 10ms..40.95s in centiseconds; VRRPv2 1s..255s in whole seconds.
	AdvertInterval time.Duration
	// Version is 2 (RFC 3768, IPv4 only) or 3 (RFC 5798). It changes the
	// timers: v2 never learns the master's interval and its Skew_Time is
	// (256 - Priority) / 256 seconds.
	Version int
	// Preempt is Preempt_Mode (RFC 5798 §6.1); keepalived's `nopreempt` is
	// Preempt == false. Note the zero value is false: the daemon sets it to
	// true unless `nopreempt` is configured.
	Preempt bool
	// PreemptDelay is keepalived's `preempt_delay`: after a backup first hears
	// a lower-priority master, it keeps accepting that master's adverts for
	// this long before it starts to discard them and let its
	// Master_Down_Timer run out. 0 disables it. Only meaningful with Preempt.
	PreemptDelay time.Duration
	// WantMaster is keepalived's `state MASTER` for a priority below 255: the
	// router starts in BACKUP but waits only one advert interval plus the
	// minimum skew ((1/256) of it) for a master to speak before taking over,
	// as keepalived 2.x does.
	WantMaster bool
	// Accept is Accept_Mode (RFC 5798 §6.1). The Machine does not use it; see
	// Machine.Accept.
	Accept bool
	// LocalAddr is this router's primary address on the interface (IPv4, or
	// the IPv6 link-local address): the source of its adverts and its side of
	// the equal-priority tiebreak (RFC 5798 §6.4.3). Zones and IPv4-mapped
	// forms are ignored in comparisons.
	LocalAddr netip.Addr
	// DownTimerAdverts is keepalived's `down_timer_adverts`, the multiplier of
	// Master_Adver_Interval in Master_Down_Interval. 0 means 3 (RFC 5798 §6.1).
	DownTimerAdverts int
	// LowerPrioNoAdvert is keepalived's `lower_prio_no_advert`: a master that
	// hears a lower-priority advert stays silent instead of answering at once.
	LowerPrioNoAdvert bool
	// HigherPrioSendAdvert is keepalived's `higher_prio_send_advert`: a
	// master that hears an advert that wins over it (a higher priority, or
	// its own priority from a higher address) sends one advert of its own,
	// at its own priority, before it goes to BACKUP, so that a peer that
	// does not yet know of it (a router that lost our adverts) hears it at
	// once. Priority-0 adverts are answered whatever this says (RFC 5798
	// §6.4.3).
	HigherPrioSendAdvert bool
	// SyncGroup makes this instance a member of a vrrp_sync_group: when its
	// Master_Down_Timer expires it does not become master by itself but
	// returns RequestMaster, reports WantsMaster and restarts the timer; the
	// daemon sends ForceMaster to every member once all of them want MASTER
	// (keepalived's vrrp_sync_can_goto_master). The owner's immediate start
	// (priority 255) is not held back.
	SyncGroup bool
}

// Validate reports every problem with c, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("vrrp: VRID %d: "+format+": %w", append(append([]any{c.VRID}, args...), ErrInvalidConfig)...))
	}
	if c.VRID == 0 {
		bad("virtual router ID must be 1..255")
	}
	if c.Priority == 0 {
		bad("priority 0 is reserved for a leaving master; use 1..255")
	}
	switch c.Version {
	case 3:
		if c.AdvertInterval < MinAdvertIntervalV3 || c.AdvertInterval > MaxAdvertIntervalV3 || c.AdvertInterval%MinAdvertIntervalV3 != 0 {
			bad("advert interval %v: VRRPv3 needs a multiple of 10ms in 10ms..40.95s", c.AdvertInterval)
		}
	case 2:
		if c.AdvertInterval < MinAdvertIntervalV2 || c.AdvertInterval > MaxAdvertIntervalV2 || c.AdvertInterval%time.Second != 0 {
			bad("advert interval %v: VRRPv2 needs whole seconds in 1s..255s", c.AdvertInterval)
		}
		if c.LocalAddr.IsValid() && !c.LocalAddr.Unmap().Is4() {
			bad("local address %v: VRRPv2 is IPv4 only", c.LocalAddr)
		}
	default:
		bad("version %d: want 2 or 3", c.Version)
	}
	if c.PreemptDelay < 0 {
		bad("preempt delay %v is negative", c.PreemptDelay)
	}
	if c.DownTimerAdverts < 0 || c.DownTimerAdverts > 255 {
		bad("down timer adverts %d outside 0..255", c.DownTimerAdverts)
	}
	if !c.LocalAddr.IsValid() {
		bad("no local (primary) address")
	}
	return errors.Join(errs...)
}

// Machine is the RFC 5798 state machine of one virtual router, with
// keepalived's FAULT state, nopreempt, preempt_delay and sync-group pulls. It
// is a pure function of the events it is given and the times they carry: it
// holds no clock, goroutine or socket. Handle is the only mutator; a Machine
// is not safe for concurrent use (the daemon loop owns it).
type Machine struct {
	cfg     Config
	owner   bool       // Priority == 255
	preempt bool       // cfg.Preempt, forced on for the owner
	local   netip.Addr // cfg.LocalAddr, unmapped and without zone
	downN   int64      // DownTimerAdverts with the default applied

	state    State
	priority uint8         // effective priority (tracking applied)
	mai      time.Duration // Master_Adver_Interval
	deadline time.Time     // Master_Down_Timer (backup) or Adver_Timer (master); zero: none

	downReason Reason    // why the running Master_Down_Timer would make us master
	preemptAt  time.Time // preempt_delay runs out at this time; zero: not started

	wantsMaster bool // SyncGroup: the down timer expired and no master has been accepted since

	held    bool // Hold.Silence: no takeover on silence
	holdPre bool // Hold.Preempt: no preemption
	starved bool // the down timer expired while held and no master has been accepted since
	heard   bool // a discarded master's advert came since the down timer was last armed

	faulted     bool   // a Fault is in force (level)
	faultReason Reason // the reason of the Fault in force

	masterAddr     netip.Addr // source of the last advert accepted (or ourselves as master)
	masterPriority uint8

	out []Action // reused by Handle
}

// NewMachine returns a Machine in StateInit. It panics if cfg.Validate fails:
// the daemon validates configuration before it builds machines.
func NewMachine(cfg Config) *Machine {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	m := &Machine{
		cfg:      cfg,
		owner:    cfg.Priority == PriorityOwner,
		preempt:  cfg.Preempt || cfg.Priority == PriorityOwner,
		local:    machineNormAddr(cfg.LocalAddr),
		downN:    int64(cfg.DownTimerAdverts),
		priority: cfg.Priority,
		mai:      cfg.AdvertInterval,
		out:      make([]Action, 0, 4),
	}
	if m.downN == 0 {
		m.downN = machineDefaultDownAdverts
	}
	return m
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the effective priority: 255 for the owner, otherwise the
// configured priority or the last SetPriority (clamped to 1..254).
func (m *Machine) Priority() uint8 { return m.priority }

// Config returns the configuration the Machine was built with.
func (m *Machine) Config() Config { return m.cfg }

// Accept reports whether the daemon should accept packets addressed to the
// VIPs while master: Accept_Mode, always true for the owner (RFC 5798 §6.1).
func (m *Machine) Accept() bool { return m.cfg.Accept || m.owner }

// MasterAdverInterval returns Master_Adver_Interval (RFC 5798 §6.1): learned
// from the master's adverts in a VRRPv3 backup, otherwise AdvertInterval.
func (m *Machine) MasterAdverInterval() time.Duration { return m.mai }

// SkewTime returns Skew_Time (RFC 5798 §6.1): ((256 - Priority) *
// Master_Adver_Interval) / 256 for v3, (256 - Priority) / 256 seconds for v2
// (RFC 3768 §6.1), with the effective priority.
func (m *Machine) SkewTime() time.Duration { return m.skew(256 - int64(m.priority)) }

// MasterDownInterval returns Master_Down_Interval (RFC 5798 §6.1):
// DownTimerAdverts (3) * Master_Adver_Interval + Skew_Time.
func (m *Machine) MasterDownInterval() time.Duration {
	return time.Duration(m.downN)*m.mai + m.SkewTime()
}

// WantsMaster reports whether the instance is MASTER or would be if it were
// not in a sync group: a BACKUP whose Master_Down_Timer expired (RequestMaster)
// and which has accepted no master's advert since. Always false without
// Config.SyncGroup unless MASTER.
func (m *Machine) WantsMaster() bool {
	return m.state == StateMaster || (m.state == StateBackup && m.wantsMaster)
}

// Starved reports whether this BACKUP hears no master: its
// Master_Down_Timer expired while a Hold was in force and it has accepted
// no advert since. It is the arbiter's "adverts lost" input.
func (m *Machine) Starved() bool { return m.state == StateBackup && m.starved }

// Held returns the Hold in force.
func (m *Machine) Held() Hold { return Hold{Silence: m.held, Preempt: m.holdPre} }

// Master returns the source address and priority of the current master as far
// as this router knows: the last advert it accepted as backup, or itself as
// master. The address is invalid until one is known.
func (m *Machine) Master() (netip.Addr, uint8) { return m.masterAddr, m.masterPriority }

// Deadline returns when the running timer (Master_Down_Timer in BACKUP,
// Adver_Timer in MASTER) expires; false when none runs (INIT, FAULT). The loop
// calls Handle(Timeout{}, now) once now >= the deadline. The deadline may
// already have passed (after SetPriority shortened it); then fire at once.
func (m *Machine) Deadline() (time.Time, bool) {
	if m.deadline.IsZero() {
		return time.Time{}, false
	}
	return m.deadline, true
}

// Handle applies one event at time now and returns the actions to carry out,
// in order. The slice is reused: it is valid until the next call to Handle.
// It panics on a nil Event.
func (m *Machine) Handle(ev Event, now time.Time) []Action {
	m.out = m.out[:0]
	switch e := ev.(type) {
	case Timeout:
		m.onTimeout(now)
	case AdvertReceived:
		m.onAdvert(e, now)
	case Startup:
		m.onStartup(now)
	case Shutdown:
		m.onShutdown()
	case SetPriority:
		m.onSetPriority(e)
	case Fault:
		m.onFault(e)
	case FaultCleared:
		m.onFaultCleared(now)
	case ForceBackup:
		if m.state == StateMaster {
			m.leaveMaster(now, machineOr(e.Reason, ReasonForced))
		}
	case Hold:
		m.onHold(e, now)
	case ForceMaster:
		if m.state == StateBackup {
			m.becomeMaster(now, machineOr(e.Reason, ReasonForced))
		}
	case LocalAddrChanged:
		m.cfg.LocalAddr, m.local = e.Addr, machineNormAddr(e.Addr)
		if m.state == StateMaster {
			m.masterAddr = m.local
		}
	case VIPRemoved:
		if m.state == StateMaster {
			m.releaseMaster(now, machineOr(e.Reason, ReasonVIPRemoved))
		}
	case Release:
		if m.state == StateMaster {
			m.releaseMaster(now, machineOr(e.Reason, ReasonDemote))
			m.armDown(now, m.MasterDownInterval(), ReasonMasterDown)
		}
	default:
		// The type alone is printed: ev itself then does not escape, so
		// a caller's event needs no allocation.
		panic("vrrp: Machine.Handle: unknown event " + reflect.TypeOf(ev).String())
	}
	return m.out
}

// RFC 5798 §6.4.1: the owner goes to MASTER; everyone else to BACKUP with
// Master_Down_Timer = Master_Down_Interval (keepalived: one interval plus the
// minimum skew for `state MASTER`). keepalived: FAULT if a fault is in force.
func (m *Machine) onStartup(now time.Time) {
	if m.state != StateInit {
		return
	}
	switch {
	case m.faulted:
		m.transition(StateFault, m.faultReason)
	case m.owner:
		m.becomeMaster(now, ReasonOwner)
	default:
		m.mai = m.cfg.AdvertInterval
		m.preemptAt = time.Time{}
		if m.cfg.WantMaster {
			m.armDown(now, m.mai+m.skew(1), ReasonMasterDown)
		} else {
			m.armDown(now, m.MasterDownInterval(), ReasonMasterDown)
		}
		m.transition(StateBackup, ReasonStartup)
	}
}

// RFC 5798 §6.4.2 and §6.4.3 "Shutdown event".
func (m *Machine) onShutdown() {
	switch m.state {
	case StateInit:
		return
	case StateMaster:
		m.emit(SendAdvert{Priority: PriorityStop, Reason: ReasonShutdown})
		m.emit(RemoveVIPs{Reason: ReasonShutdown})
	}
	m.deadline = time.Time{}
	m.transition(StateInit, ReasonShutdown)
}

func (m *Machine) onTimeout(now time.Time) {
	if m.deadline.IsZero() || now.Before(m.deadline) {
		return
	}
	switch m.state {
	case StateBackup:
		heard := m.heard
		m.heard = false
		// A master that said it leaves (priority 0) is heard too: its
		// backups take over after Skew_Time as RFC 5798 §6.4.2 says.
		leaving := m.downReason == ReasonPriorityZero
		if (m.held && !heard && !leaving) || (m.holdPre && heard) {
			// The arbiter vetoes a takeover on silence: wait another
			// interval. A lower-priority master we heard and discarded
			// (preemption) is VRRP's own business unless the hold says
			// otherwise.
			m.starved = !heard
			m.wantsMaster = false
			m.deadline = now.Add(m.MasterDownInterval())
			return
		}
		if m.cfg.SyncGroup {
			// keepalived: a sync-group member waits for the group; it
			// restarts its timer so that it asks again if nothing changes.
			m.wantsMaster = true
			m.deadline = now.Add(m.MasterDownInterval())
			m.emit(RequestMaster{Reason: m.downReason})
			return
		}
		// RFC 5798 §6.4.2: Master_Down_Timer fired.
		m.becomeMaster(now, m.downReason)
	case StateMaster:
		// RFC 5798 §6.4.3: Adver_Timer fired. The next advert is due one
		// interval after this one was due, so a late wake-up on a loaded
		// host does not push every later advert back (at 0.1 s, 1 ms late
		// each time is 1% fewer adverts); a process that stalled for more
		// than an interval starts again from now rather than bursting.
		due := m.deadline
		m.sendAdvert(now, m.priority, ReasonAdvertTimer)
		if next := due.Add(m.cfg.AdvertInterval); next.After(now) {
			m.deadline = next
		}
	}
}

func (m *Machine) onAdvert(e AdvertReceived, now time.Time) {
	switch m.state {
	case StateBackup:
		m.backupAdvert(e, now)
	case StateMaster:
		m.masterAdvert(e, now)
	}
	// INIT and FAULT ignore adverts.
}

// RFC 5798 §6.4.2 "If an ADVERTISEMENT is received", with keepalived's
// preempt_delay.
func (m *Machine) backupAdvert(e AdvertReceived, now time.Time) {
	if e.Priority == PriorityStop {
		m.armDown(now, m.SkewTime(), ReasonPriorityZero)
		return
	}
	src := machineNormAddr(e.Src)
	m.masterAddr, m.masterPriority = src, e.Priority
	m.heard = true
	delaying := m.cfg.PreemptDelay > 0 && (m.preemptAt.IsZero() || now.Before(m.preemptAt))
	if m.preempt && e.Priority < m.priority && !delaying {
		// A lower-priority master while we preempt: discard the advert and
		// let the running Master_Down_Timer expire.
		m.downReason = ReasonPreempt
		if m.cfg.PreemptDelay > 0 {
			m.downReason = ReasonPreemptDelay
		}
		return
	}
	m.learnInterval(e)
	m.armDown(now, m.MasterDownInterval(), ReasonMasterDown)
	m.wantsMaster = false
	m.starved, m.heard = false, false // the timer restarted: a fresh interval
	if m.cfg.PreemptDelay > 0 {
		if e.Priority >= m.priority {
			m.preemptAt = time.Time{}
		} else if m.preemptAt.IsZero() {
			m.preemptAt = now.Add(m.cfg.PreemptDelay)
		}
	}
}

// RFC 5798 §6.4.3 "If an ADVERTISEMENT is received", with keepalived's answer
// to a lower-priority advert.
func (m *Machine) masterAdvert(e AdvertReceived, now time.Time) {
	if e.Priority == PriorityStop {
		m.sendAdvert(now, m.priority, ReasonPriorityZero)
		return
	}
	src := machineNormAddr(e.Src)
	cmp := machineCompare(e.Priority, src, m.priority, m.local)
	switch {
	case cmp > 0:
		reason := ReasonHigherPriority
		if e.Priority == m.priority {
			reason = ReasonHigherAddress
		}
		if m.cfg.HigherPrioSendAdvert {
			m.emit(SendAdvert{Priority: m.priority, Reason: reason})
		}
		m.learnInterval(e)
		m.masterAddr, m.masterPriority = src, e.Priority
		m.leaveMaster(now, reason)
	case cmp < 0:
		if !m.cfg.LowerPrioNoAdvert {
			m.sendAdvert(now, m.priority, ReasonLowerPriorityAdvert)
		}
	}
	// cmp == 0: our own priority from our own address (a looped packet or a
	// duplicate address); ignore it.
}

func (m *Machine) onHold(e Hold, now time.Time) {
	m.holdPre = e.Preempt
	if e.Silence == m.held {
		return
	}
	m.held = e.Silence
	if !e.Silence && m.starved && m.state == StateBackup {
		// A takeover was held back: let it happen now.
		m.deadline = now
	}
}

func (m *Machine) onSetPriority(e SetPriority) {
	if m.owner {
		return
	}
	p := min(max(e.Priority, 1), PriorityOwner-1)
	if p == m.priority {
		return
	}
	oldSkew := m.SkewTime()
	m.priority = p
	if m.state == StateBackup {
		// keepalived moves the running down timer by the change in
		// Master_Down_Interval, which is the change in Skew_Time.
		m.deadline = m.deadline.Add(m.SkewTime() - oldSkew)
	}
}

func (m *Machine) onFault(e Fault) {
	reason := machineOr(e.Reason, ReasonFault)
	m.faulted, m.faultReason = true, reason
	switch m.state {
	case StateMaster:
		m.emit(SendAdvert{Priority: PriorityStop, Reason: reason})
		m.emit(RemoveVIPs{Reason: reason})
	case StateBackup:
	default:
		return // INIT: Startup will go to FAULT; FAULT: already there.
	}
	m.deadline = time.Time{}
	m.transition(StateFault, reason)
}

func (m *Machine) onFaultCleared(now time.Time) {
	if !m.faulted {
		return
	}
	m.faulted = false
	if m.state != StateFault {
		return
	}
	if m.owner {
		m.becomeMaster(now, ReasonFaultCleared)
		return
	}
	m.mai = m.cfg.AdvertInterval
	m.preemptAt = time.Time{}
	m.armDown(now, m.MasterDownInterval(), ReasonMasterDown)
	m.transition(StateBackup, ReasonFaultCleared)
}

// becomeMaster is RFC 5798 §6.4.2 "Master_Down_Timer fires", in keepalived's
// order: advert first (so the old master drops the VIPs before our GARPs),
// then VIPs, then the GARP/NA burst, then the transition.
func (m *Machine) becomeMaster(now time.Time, reason Reason) {
	m.mai = m.cfg.AdvertInterval
	m.preemptAt = time.Time{}
	m.masterAddr, m.masterPriority = m.local, m.priority
	m.sendAdvert(now, m.priority, reason)
	m.emit(AddVIPs{Reason: reason})
	m.emit(Announce{Reason: reason})
	m.transition(StateMaster, reason)
}

// leaveMaster goes from MASTER to BACKUP without a priority-0 advert (RFC 5798
// §6.4.3, keepalived's sync-group backup): VIPs go, Master_Down_Timer starts.
func (m *Machine) leaveMaster(now time.Time, reason Reason) {
	m.preemptAt = time.Time{}
	m.armDown(now, m.MasterDownInterval(), ReasonMasterDown)
	m.emit(RemoveVIPs{Reason: reason})
	m.transition(StateBackup, reason)
}

// releaseMaster goes from MASTER to BACKUP with a priority-0 advert and a
// Master_Down_Timer of Skew_Time (keepalived's set_vrrp_backup): the backups
// and this router race on their Skew_Times, which the highest priority wins.
func (m *Machine) releaseMaster(now time.Time, reason Reason) {
	m.preemptAt = time.Time{}
	m.emit(SendAdvert{Priority: PriorityStop, Reason: reason})
	m.emit(RemoveVIPs{Reason: reason})
	m.armDown(now, m.SkewTime(), reason)
	m.transition(StateBackup, reason)
}

// learnInterval sets Master_Adver_Interval from a v3 advert (RFC 5798 §6.4.2,
// §6.4.3); VRRPv2 has no such learning (RFC 3768 §6.4.2).
func (m *Machine) learnInterval(e AdvertReceived) {
	if m.cfg.Version == 3 && e.MaxAdvertInterval > 0 {
		m.mai = e.MaxAdvertInterval
	}
}

func (m *Machine) sendAdvert(now time.Time, priority uint8, reason Reason) {
	m.emit(SendAdvert{Priority: priority, Reason: reason})
	m.deadline = now.Add(m.cfg.AdvertInterval)
}

func (m *Machine) armDown(now time.Time, d time.Duration, reason Reason) {
	m.deadline = now.Add(d)
	m.downReason = reason
}

func (m *Machine) transition(to State, reason Reason) {
	m.emit(Transition{From: m.state, To: to, Reason: reason})
	m.state = to
	m.wantsMaster = false
	m.starved = false
}

func (m *Machine) emit(a Action) { m.out = append(m.out, a) }

// skew returns n/256 of Master_Adver_Interval (v3) or of one second (v2).
func (m *Machine) skew(n int64) time.Duration {
	if m.cfg.Version == 2 {
		return time.Duration(n * int64(time.Second) / 256)
	}
	return time.Duration(n * int64(m.mai) / 256)
}

// machineCompare orders (priority, primary address) pairs as RFC 5798 §6.4.3
// does: priority first, then the address as an unsigned integer.
func machineCompare(p1 uint8, a1 netip.Addr, p2 uint8, a2 netip.Addr) int {
	switch {
	case p1 > p2:
		return 1
	case p1 < p2:
		return -1
	}
	return a1.Compare(a2)
}

func machineNormAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func machineOr(r, def Reason) Reason {
	if r == ReasonNone {
		return def
	}
	return r
}
