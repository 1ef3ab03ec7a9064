package vrrp_test

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// t0 is the fake clock's origin; every step's time is an offset from it.
var t0 = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

// none as a step's deadline means "no timer runs".
const none = time.Duration(math.MinInt64)

const ns = time.Nanosecond

type (
	S  = vrrp.SendAdvert
	T  = vrrp.Transition
	Ad = vrrp.AddVIPs
	Rm = vrrp.RemoveVIPs
	An = vrrp.Announce
)

// step feeds one event at t0+at and checks the exact actions, the state after
// and the deadline after.
type step struct {
	at    time.Duration
	ev    vrrp.Event
	want  []vrrp.Action
	state vrrp.State
	dl    time.Duration
}

type scenario struct {
	name  string
	rfc   string // the rule under test
	cfg   vrrp.Config
	steps []step
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// cfg3 is a VRRPv3 instance with advert_int 1s that preempts.
func cfg3(prio uint8, local string) vrrp.Config {
	return vrrp.Config{VRID: 51, Priority: prio, AdvertInterval: time.Second, Version: 3, Preempt: true, LocalAddr: addr(local)}
}

func with(c vrrp.Config, f func(*vrrp.Config)) vrrp.Config { f(&c); return c }

// skew and mdi are RFC 5798 §6.1's formulas, written out independently of the
// package: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 and
// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
func skew(prio int, mai time.Duration) time.Duration {
	return time.Duration(int64(256-prio) * int64(mai) / 256)
}
func mdi(prio int, mai time.Duration) time.Duration { return 3*mai + skew(prio, mai) }

func adv(prio uint8, src string) vrrp.AdvertReceived {
	return vrrp.AdvertReceived{Priority: prio, MaxAdvertInterval: time.Second, Src: addr(src)}
}

func advI(prio uint8, src string, mai time.Duration) vrrp.AdvertReceived {
	return vrrp.AdvertReceived{Priority: prio, MaxAdvertInterval: mai, Src: addr(src)}
}

// up is what becoming master returns, in the documented order.
func up(from vrrp.State, prio uint8, r vrrp.Reason) []vrrp.Action {
	return []vrrp.Action{S{Priority: prio, Reason: r}, Ad{Reason: r}, An{Reason: r}, T{From: from, To: vrrp.StateMaster, Reason: r}}
}

func toBackup(r vrrp.Reason) []vrrp.Action {
	return []vrrp.Action{Rm{Reason: r}, T{From: vrrp.StateMaster, To: vrrp.StateBackup, Reason: r}}
}

func send(prio uint8, r vrrp.Reason) []vrrp.Action {
	return []vrrp.Action{S{Priority: prio, Reason: r}}
}

var (
	startBackup = []vrrp.Action{T{From: vrrp.StateInit, To: vrrp.StateBackup, Reason: vrrp.ReasonStartup}}
	init3       = step{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, mdi(100, time.Second)}
)

// owner starts an owner-like master at t=0 with priority prio (any priority
// reaches MASTER via ForceMaster at t=0 after Startup).
func masterAt0(prio uint8) []step {
	return []step{
		{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, mdi(int(prio), time.Second)},
		{0, vrrp.ForceMaster{}, up(vrrp.StateBackup, prio, vrrp.ReasonForced), vrrp.StateMaster, time.Second},
	}
}

func cat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var scenarios = []scenario{
	// RFC 5798 §6.4.1 Initialize.
	{"owner starts as master", "RFC 5798 §6.4.1: priority 255 sends an advert, announces, sets Adver_Timer, becomes Master",
		cfg3(255, "192.0.2.1"), []step{
			{0, vrrp.Startup{}, up(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
		}},
	{"owner ignores WantMaster=false", "RFC 5798 §6.4.1: the owner's start depends on priority alone",
		with(cfg3(255, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = false }), []step{
			{5 * time.Second, vrrp.Startup{}, up(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, 6 * time.Second},
		}},
	{"non-owner starts as backup with Master_Down_Interval", "RFC 5798 §6.4.1: Master_Down_Timer = Master_Down_Interval",
		cfg3(100, "192.0.2.1"), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, 3609375 * time.Microsecond}, // 3 s + 156/256 s
			{time.Second, vrrp.Startup{}, nil, vrrp.StateBackup, 3609375 * time.Microsecond},
		}},
	{"state MASTER below 255 waits one interval plus the minimum skew", "keepalived vrrp_init_state: ms_down_timer = adver_int + SKEW_MIN",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = true }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, time.Second + 3906250*ns},
			{time.Second + 3906250*ns - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, time.Second + 3906250*ns},
			{time.Second + 3906250*ns, vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 2*time.Second + 3906250*ns},
		}},
	{"state MASTER below 255, VRRPv2: one interval plus 1/256 s", "keepalived VRRP_TIMER_SKEW_MIN for v2",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = true; c.Version = 2; c.AdvertInterval = 3 * time.Second }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, 3*time.Second + 3906250*ns},
		}},
	{"state MASTER below 255 yields to a master that speaks in time", "keepalived: the short first wait is an ordinary Master_Down_Timer",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = true }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, time.Second + 3906250*ns},
			{time.Second, adv(150, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + mdi(100, time.Second)},
		}},

	// RFC 5798 §6.4.2 Backup.
	{"master down timer: both sides", "RFC 5798 §6.4.2: Master_Down_Timer fires -> advert, GARP, Adver_Timer, Master",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{mdi(100, time.Second) - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, mdi(100, time.Second)},
			{mdi(100, time.Second), vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, mdi(100, time.Second) + time.Second},
		}},
	{"advert at or above our priority resets the down timer", "RFC 5798 §6.4.2: priority >= local -> reset Master_Down_Timer",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{2 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 2*time.Second + mdi(100, time.Second)},
			{mdi(100, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 2*time.Second + mdi(100, time.Second)},
			{2*time.Second + mdi(100, time.Second) - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, 2*time.Second + mdi(100, time.Second)},
			{2*time.Second + mdi(100, time.Second), vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 3*time.Second + mdi(100, time.Second)},
		}},
	{"priority 0 sets the down timer to Skew_Time: both sides", "RFC 5798 §6.4.2: priority 0 -> Master_Down_Timer = Skew_Time",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{time.Second, adv(0, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + 609375*time.Microsecond},
			{time.Second + 609375*time.Microsecond - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, time.Second + 609375*time.Microsecond},
			{time.Second + 609375*time.Microsecond, vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 2*time.Second + 609375*time.Microsecond},
		}},
	{"priority 0 hands over even with nopreempt", "RFC 5798 §6.4.2: the priority-0 rule comes before Preempt_Mode",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.Preempt = false }), []step{
			init3,
			{time.Second, adv(0, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + skew(100, time.Second)},
		}},
	{"learned interval (v3): both sides", "RFC 5798 §6.4.2: Master_Adver_Interval = the advert's interval, recompute Master_Down_Interval",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{time.Second, advI(120, "192.0.2.9", 200*time.Millisecond), nil, vrrp.StateBackup, time.Second + mdi(100, 200*time.Millisecond)},
			{time.Second + 721875*time.Microsecond - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, time.Second + 721875*time.Microsecond}, // 600 ms + 121.875 ms
			{time.Second + 721875*time.Microsecond, vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 2*time.Second + 721875*time.Microsecond},
		}},
	{"learned interval drives Skew_Time after priority 0", "RFC 5798 §6.1: Skew_Time uses Master_Adver_Interval",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{time.Second, advI(120, "192.0.2.9", 2*time.Second), nil, vrrp.StateBackup, time.Second + mdi(100, 2*time.Second)},
			{2 * time.Second, adv(0, "192.0.2.9"), nil, vrrp.StateBackup, 2*time.Second + skew(100, 2*time.Second)},
			{2*time.Second + 1218750*time.Microsecond - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, 2*time.Second + 1218750*time.Microsecond},
			{2*time.Second + 1218750*time.Microsecond, vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 3*time.Second + 1218750*time.Microsecond},
		}},
	{"a new master uses its own interval, not the learned one", "RFC 5798 §6.4.2: Adver_Timer = Advertisement_Interval",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{time.Second, advI(120, "192.0.2.9", 3*time.Second), nil, vrrp.StateBackup, time.Second + mdi(100, 3*time.Second)},
			{time.Second + mdi(100, 3*time.Second), vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 2*time.Second + mdi(100, 3*time.Second)},
		}},
	{"VRRPv2 never learns; Skew_Time in seconds", "RFC 3768 §6.1/§6.4.2: Master_Down_Interval = 3 * Advertisement_Interval + (256-Priority)/256 s",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.Version = 2; c.AdvertInterval = 2 * time.Second }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, 6*time.Second + 609375*time.Microsecond},
			{time.Second, advI(120, "192.0.2.9", 5*time.Second), nil, vrrp.StateBackup, 7*time.Second + 609375*time.Microsecond},
			{2 * time.Second, adv(0, "192.0.2.9"), nil, vrrp.StateBackup, 2*time.Second + 609375*time.Microsecond},
		}},
	{"down_timer_adverts", "keepalived: Master_Down_Interval = down_timer_adverts * Master_Adver_Interval + Skew_Time",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.DownTimerAdverts = 5 }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, 5*time.Second + skew(100, time.Second)},
		}},
	{"preempt: a lower-priority advert is discarded and the timer runs out", "RFC 5798 §6.4.2: Preempt_Mode true and priority < local -> discard",
		cfg3(200, "192.0.2.1"), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, mdi(200, time.Second)},
			{time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, mdi(200, time.Second)},
			{2 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, mdi(200, time.Second)},
			{mdi(200, time.Second) - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, mdi(200, time.Second)},
			{mdi(200, time.Second), vrrp.Timeout{}, up(vrrp.StateBackup, 200, vrrp.ReasonPreempt), vrrp.StateMaster, mdi(200, time.Second) + time.Second},
		}},
	{"nopreempt: a lower-priority master is accepted", "RFC 5798 §6.4.2: Preempt_Mode false -> accept; keepalived nopreempt",
		with(cfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.Preempt = false }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, mdi(200, time.Second)},
			{time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + mdi(200, time.Second)},
			{3 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 3*time.Second + mdi(200, time.Second)},
		}},
	{"owner always preempts", "keepalived: nopreempt is incompatible with priority 255",
		with(cfg3(255, "192.0.2.1"), func(c *vrrp.Config) { c.Preempt = false }), []step{
			{0, vrrp.Startup{}, up(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
			{0, vrrp.ForceBackup{}, toBackup(vrrp.ReasonForced), vrrp.StateBackup, mdi(255, time.Second)},
			{time.Second, adv(254, "192.0.2.9"), nil, vrrp.StateBackup, mdi(255, time.Second)},
		}},
	{"preempt_delay: an advert 1 ns before the delay runs out is still accepted", "keepalived vrrp_state_backup: preempt_time > now -> accept",
		with(cfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.PreemptDelay = 5 * time.Second }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, mdi(200, time.Second)},
			{time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + mdi(200, time.Second)}, // delay starts: runs out at 6 s
			{6*time.Second - ns, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 6*time.Second - ns + mdi(200, time.Second)},
			{6*time.Second - 2*ns + mdi(200, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 6*time.Second - ns + mdi(200, time.Second)},
			{6*time.Second - ns + mdi(200, time.Second), vrrp.Timeout{}, up(vrrp.StateBackup, 200, vrrp.ReasonMasterDown), vrrp.StateMaster, 7*time.Second - ns + mdi(200, time.Second)},
		}},
	{"preempt_delay: an advert when the delay runs out is discarded", "keepalived vrrp_state_backup: preempt_time <= now -> discard",
		with(cfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.PreemptDelay = 5 * time.Second }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, mdi(200, time.Second)},
			{time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + mdi(200, time.Second)},
			{3 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 3*time.Second + mdi(200, time.Second)},
			{6 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 3*time.Second + mdi(200, time.Second)},
			{3*time.Second + mdi(200, time.Second) - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, 3*time.Second + mdi(200, time.Second)},
			{3*time.Second + mdi(200, time.Second), vrrp.Timeout{}, up(vrrp.StateBackup, 200, vrrp.ReasonPreemptDelay), vrrp.StateMaster, 4*time.Second + mdi(200, time.Second)},
		}},
	{"preempt_delay stops when a master at least as strong is heard", "keepalived vrrp_state_backup: priority >= ours clears preempt_time",
		with(cfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.PreemptDelay = 5 * time.Second }), []step{
			{0, vrrp.Startup{}, startBackup, vrrp.StateBackup, mdi(200, time.Second)},
			{time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + mdi(200, time.Second)},
			{2 * time.Second, adv(220, "192.0.2.8"), nil, vrrp.StateBackup, 2*time.Second + mdi(200, time.Second)},
			// The delay restarts at 4 s and runs out at 9 s: the advert at 6 s,
			// which the first delay would have discarded, is accepted.
			{4 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 4*time.Second + mdi(200, time.Second)},
			{6 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 6*time.Second + mdi(200, time.Second)},
			{8 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 8*time.Second + mdi(200, time.Second)},
			{9*time.Second - ns, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 9*time.Second - ns + mdi(200, time.Second)},
			{9 * time.Second, adv(100, "192.0.2.9"), nil, vrrp.StateBackup, 9*time.Second - ns + mdi(200, time.Second)},
		}},

	// RFC 5798 §6.4.3 Master.
	{"advert timer: both sides", "RFC 5798 §6.4.3: Adver_Timer fires -> send an advert, reset Adver_Timer",
		cfg3(255, "192.0.2.1"), []step{
			{0, vrrp.Startup{}, up(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
			{time.Second - ns, vrrp.Timeout{}, nil, vrrp.StateMaster, time.Second},
			{time.Second, vrrp.Timeout{}, send(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 2 * time.Second},
			{2*time.Second - ns, vrrp.Timeout{}, nil, vrrp.StateMaster, 2 * time.Second},
			{2 * time.Second, vrrp.Timeout{}, send(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 3 * time.Second},
			// A late wake-up restarts the timer from now (no catch-up burst).
			{3*time.Second + 700*time.Millisecond, vrrp.Timeout{}, send(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 4*time.Second + 700*time.Millisecond},
		}},
	{"master answers priority 0 at once", "RFC 5798 §6.4.3: priority 0 -> send an advert, reset Adver_Timer",
		cfg3(100, "192.0.2.1"), cat(masterAt0(100), []step{
			{300 * time.Millisecond, adv(0, "192.0.2.9"), send(100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 1300 * time.Millisecond},
		})},
	{"master steps down for a higher priority and learns its interval", "RFC 5798 §6.4.3: priority > local -> Master_Adver_Interval, Master_Down_Timer, Backup",
		cfg3(100, "192.0.2.1"), cat(masterAt0(100), []step{
			{500 * time.Millisecond, advI(101, "192.0.2.0", 500*time.Millisecond), toBackup(vrrp.ReasonHigherPriority), vrrp.StateBackup, 500*time.Millisecond + mdi(100, 500*time.Millisecond)},
			{500*time.Millisecond + mdi(100, 500*time.Millisecond) - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, 500*time.Millisecond + mdi(100, 500*time.Millisecond)},
			{500*time.Millisecond + mdi(100, 500*time.Millisecond), vrrp.Timeout{}, up(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 1500*time.Millisecond + mdi(100, 500*time.Millisecond)},
		})},
	{"master steps down for its own priority from a higher address", "RFC 5798 §6.4.3: equal priority, sender's primary address greater -> Backup",
		cfg3(100, "192.0.2.10"), cat(masterAt0(100), []step{
			{time.Second / 2, adv(100, "192.0.2.11"), toBackup(vrrp.ReasonHigherAddress), vrrp.StateBackup, time.Second/2 + mdi(100, time.Second)},
		})},
	{"master keeps its role against its own priority from a lower address", "RFC 5798 §6.4.3 (else discard) + keepalived: answer with an advert",
		cfg3(100, "192.0.2.10"), cat(masterAt0(100), []step{
			{time.Second / 2, adv(100, "192.0.2.9"), send(100, vrrp.ReasonLowerPriorityAdvert), vrrp.StateMaster, 3 * time.Second / 2},
		})},
	{"master answers a lower priority at once", "keepalived vrrp_state_master_rx: lower priority -> send an advert (forcing a new election)",
		cfg3(100, "192.0.2.1"), cat(masterAt0(100), []step{
			{time.Second / 4, adv(99, "192.0.2.200"), send(100, vrrp.ReasonLowerPriorityAdvert), vrrp.StateMaster, 5 * time.Second / 4},
		})},
	{"lower_prio_no_advert keeps the master silent", "keepalived lower_prio_no_advert",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.LowerPrioNoAdvert = true }), cat(masterAt0(100), []step{
			{time.Second / 4, adv(99, "192.0.2.200"), nil, vrrp.StateMaster, time.Second},
			{time.Second / 2, adv(0, "192.0.2.200"), send(100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 3 * time.Second / 2},
		})},
	{"own priority from own address is ignored", "RFC 5798 §6.4.3: neither greater nor lower -> discard",
		cfg3(100, "192.0.2.1"), cat(masterAt0(100), []step{
			{time.Second / 4, adv(100, "192.0.2.1"), nil, vrrp.StateMaster, time.Second},
		})},

	// Shutdown.
	{"shutdown as master sends priority 0 and releases VIPs", "RFC 5798 §6.4.3: Shutdown -> cancel Adver_Timer, send priority 0, Initialize",
		cfg3(255, "192.0.2.1"), []step{
			{0, vrrp.Startup{}, up(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
			{time.Second / 2, vrrp.Shutdown{}, []vrrp.Action{S{Priority: 0, Reason: vrrp.ReasonShutdown}, Rm{Reason: vrrp.ReasonShutdown}, T{From: vrrp.StateMaster, To: vrrp.StateInit, Reason: vrrp.ReasonShutdown}}, vrrp.StateInit, none},
			{2 * time.Second, vrrp.Timeout{}, nil, vrrp.StateInit, none},
			{2 * time.Second, adv(0, "192.0.2.9"), nil, vrrp.StateInit, none},
			{2 * time.Second, vrrp.Shutdown{}, nil, vrrp.StateInit, none},
			{3 * time.Second, vrrp.Startup{}, up(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, 4 * time.Second},
		}},
	{"shutdown as backup", "RFC 5798 §6.4.2: Shutdown -> cancel Master_Down_Timer, Initialize",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{time.Second, vrrp.Shutdown{}, []vrrp.Action{T{From: vrrp.StateBackup, To: vrrp.StateInit, Reason: vrrp.ReasonShutdown}}, vrrp.StateInit, none},
			{10 * time.Second, vrrp.Timeout{}, nil, vrrp.StateInit, none},
		}},

	// FAULT (keepalived).
	{"fault as master: priority 0, VIPs released, silence", "keepalived down_instance -> vrrp_state_leave_master (FAULT)",
		cfg3(100, "192.0.2.1"), cat(masterAt0(100), []step{
			{time.Second / 2, vrrp.Fault{Reason: vrrp.ReasonInterfaceDown}, []vrrp.Action{S{Priority: 0, Reason: vrrp.ReasonInterfaceDown}, Rm{Reason: vrrp.ReasonInterfaceDown}, T{From: vrrp.StateMaster, To: vrrp.StateFault, Reason: vrrp.ReasonInterfaceDown}}, vrrp.StateFault, none},
			{10 * time.Second, vrrp.Timeout{}, nil, vrrp.StateFault, none},
			{10 * time.Second, adv(0, "192.0.2.9"), nil, vrrp.StateFault, none},
			{10 * time.Second, vrrp.ForceMaster{}, nil, vrrp.StateFault, none},
			{10 * time.Second, vrrp.ForceBackup{}, nil, vrrp.StateFault, none},
			{10 * time.Second, vrrp.Fault{Reason: vrrp.ReasonTrackScript}, nil, vrrp.StateFault, none},
			{11 * time.Second, vrrp.FaultCleared{}, []vrrp.Action{T{From: vrrp.StateFault, To: vrrp.StateBackup, Reason: vrrp.ReasonFaultCleared}}, vrrp.StateBackup, 11*time.Second + mdi(100, time.Second)},
			{12 * time.Second, vrrp.FaultCleared{}, nil, vrrp.StateBackup, 11*time.Second + mdi(100, time.Second)},
		})},
	{"leaving fault forgets the learned interval", "keepalived vrrp_state_leave_fault: master_adver_int = adver_int",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{time.Second, advI(200, "192.0.2.9", 4*time.Second), nil, vrrp.StateBackup, time.Second + mdi(100, 4*time.Second)},
			{2 * time.Second, vrrp.Fault{}, []vrrp.Action{T{From: vrrp.StateBackup, To: vrrp.StateFault, Reason: vrrp.ReasonFault}}, vrrp.StateFault, none},
			{3 * time.Second, vrrp.FaultCleared{}, []vrrp.Action{T{From: vrrp.StateFault, To: vrrp.StateBackup, Reason: vrrp.ReasonFaultCleared}}, vrrp.StateBackup, 3*time.Second + mdi(100, time.Second)},
		}},
	{"owner leaves fault straight to master", "keepalived try_up_instance: owner wantstate MASTER -> vrrp_state_goto_master",
		cfg3(255, "192.0.2.1"), []step{
			{0, vrrp.Fault{Reason: vrrp.ReasonInterfaceDown}, nil, vrrp.StateInit, none},
			{0, vrrp.Startup{}, []vrrp.Action{T{From: vrrp.StateInit, To: vrrp.StateFault, Reason: vrrp.ReasonInterfaceDown}}, vrrp.StateFault, none},
			{time.Second, vrrp.FaultCleared{}, up(vrrp.StateFault, 255, vrrp.ReasonFaultCleared), vrrp.StateMaster, 2 * time.Second},
		}},
	{"fault cleared before startup", "keepalived vrrp_init_state: FAULT only if a fault is in force",
		cfg3(100, "192.0.2.1"), []step{
			{0, vrrp.Fault{}, nil, vrrp.StateInit, none},
			{0, vrrp.FaultCleared{}, nil, vrrp.StateInit, none},
			init3,
		}},

	// Priority tracking.
	{"SetPriority moves a backup's down timer by the change in Skew_Time", "keepalived vrrp_set_effective_priority",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{time.Second, vrrp.SetPriority{Priority: 200, Reason: vrrp.ReasonTrackScript}, nil, vrrp.StateBackup, mdi(200, time.Second)},
			{time.Second, vrrp.SetPriority{Priority: 0}, nil, vrrp.StateBackup, mdi(1, time.Second)},
			{time.Second, vrrp.SetPriority{Priority: 255}, nil, vrrp.StateBackup, mdi(254, time.Second)},
			{mdi(254, time.Second), vrrp.Timeout{}, up(vrrp.StateBackup, 254, vrrp.ReasonMasterDown), vrrp.StateMaster, mdi(254, time.Second) + time.Second},
		}},
	{"SetPriority on a master changes only its next advert", "keepalived: effective priority is sent in the next advert",
		cfg3(100, "192.0.2.1"), cat(masterAt0(100), []step{
			{time.Second / 2, vrrp.SetPriority{Priority: 50}, nil, vrrp.StateMaster, time.Second},
			{time.Second, vrrp.Timeout{}, send(50, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 2 * time.Second},
			{3 * time.Second / 2, adv(60, "192.0.2.0"), toBackup(vrrp.ReasonHigherPriority), vrrp.StateBackup, 3*time.Second/2 + mdi(50, time.Second)},
		})},
	{"SetPriority can move the down timer into the past: it fires at once", "keepalived vrrp_set_effective_priority; Deadline contract",
		cfg3(100, "192.0.2.1"), []step{
			init3,
			{3500 * time.Millisecond, vrrp.SetPriority{Priority: 254}, nil, vrrp.StateBackup, mdi(254, time.Second)},
			{3500 * time.Millisecond, vrrp.Timeout{}, up(vrrp.StateBackup, 254, vrrp.ReasonMasterDown), vrrp.StateMaster, 4500 * time.Millisecond},
		}},
	{"the owner ignores SetPriority", "keepalived: an address owner's priority never changes",
		cfg3(255, "192.0.2.1"), []step{
			{0, vrrp.SetPriority{Priority: 10}, nil, vrrp.StateInit, none},
			{0, vrrp.Startup{}, up(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
		}},

	// Sync groups (keepalived vrrp_sync.c).
	{"ForceBackup from master: no priority 0, full down timer", "keepalived vrrp_sync_backup -> vrrp_state_leave_master(advF=false)",
		cfg3(100, "192.0.2.1"), cat(masterAt0(100), []step{
			{time.Second / 2, vrrp.ForceBackup{Reason: vrrp.ReasonForced}, toBackup(vrrp.ReasonForced), vrrp.StateBackup, time.Second/2 + mdi(100, time.Second)},
			{time.Second / 2, vrrp.ForceBackup{}, nil, vrrp.StateBackup, time.Second/2 + mdi(100, time.Second)},
		})},
	{"ForceMaster from backup", "keepalived vrrp_sync_master -> vrrp_state_goto_master",
		cfg3(100, "192.0.2.1"), []step{
			{0, vrrp.ForceMaster{}, nil, vrrp.StateInit, none},
			init3,
			{time.Second, vrrp.ForceMaster{Reason: vrrp.ReasonForced}, up(vrrp.StateBackup, 100, vrrp.ReasonForced), vrrp.StateMaster, 2 * time.Second},
			{time.Second, vrrp.ForceMaster{}, nil, vrrp.StateMaster, 2 * time.Second},
		}},
	{"sync group member asks instead of taking over", "keepalived vrrp_sync_can_goto_master: a member becomes master only with its group",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.SyncGroup = true }), []step{
			init3,
			{mdi(100, time.Second) - ns, vrrp.Timeout{}, nil, vrrp.StateBackup, mdi(100, time.Second)},
			{mdi(100, time.Second), vrrp.Timeout{}, []vrrp.Action{vrrp.RequestMaster{Reason: vrrp.ReasonMasterDown}}, vrrp.StateBackup, 2 * mdi(100, time.Second)},
			{2 * mdi(100, time.Second), vrrp.Timeout{}, []vrrp.Action{vrrp.RequestMaster{Reason: vrrp.ReasonMasterDown}}, vrrp.StateBackup, 3 * mdi(100, time.Second)},
			{3 * mdi(100, time.Second), vrrp.ForceMaster{}, up(vrrp.StateBackup, 100, vrrp.ReasonForced), vrrp.StateMaster, 3*mdi(100, time.Second) + time.Second},
		}},
	{"sync group member asks after priority 0 too", "RFC 5798 §6.4.2 + keepalived sync group",
		with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.SyncGroup = true }), []step{
			init3,
			{time.Second, adv(0, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + skew(100, time.Second)},
			{time.Second + skew(100, time.Second), vrrp.Timeout{}, []vrrp.Action{vrrp.RequestMaster{Reason: vrrp.ReasonPriorityZero}}, vrrp.StateBackup, time.Second + skew(100, time.Second) + mdi(100, time.Second)},
		}},
}

func TestScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := vrrp.NewMachine(sc.cfg)
			for i, st := range sc.steps {
				got := m.Handle(st.ev, t0.Add(st.at))
				where := fmt.Sprintf("%s\nstep %d: %T%+v at %v", sc.rfc, i, st.ev, st.ev, st.at)
				checkActionShape(t, where, got)
				if !actionsEqual(got, st.want) {
					t.Fatalf("%s:\n got actions  %v\n want actions %v", where, got, st.want)
				}
				if s := m.State(); s != st.state {
					t.Fatalf("%s: state %v, want %v", where, s, st.state)
				}
				dl, ok := m.Deadline()
				switch {
				case st.dl == none && ok:
					t.Fatalf("%s: deadline %v, want none", where, dl.Sub(t0))
				case st.dl != none && !ok:
					t.Fatalf("%s: no deadline, want %v", where, st.dl)
				case st.dl != none && !dl.Equal(t0.Add(st.dl)):
					t.Fatalf("%s: deadline %v, want %v", where, dl.Sub(t0), st.dl)
				}
			}
		})
	}
}

func actionsEqual(got, want []vrrp.Action) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

// checkActionShape checks what holds for every Handle result: every action
// has a reason, a Transition is last and alone, AddVIPs is followed by
// Announce, and a transition to MASTER starts with an advert.
func checkActionShape(t *testing.T, where string, acts []vrrp.Action) {
	t.Helper()
	var transitions int
	for i, a := range acts {
		var r vrrp.Reason
		switch a := a.(type) {
		case vrrp.SendAdvert:
			r = a.Reason
		case vrrp.AddVIPs:
			r = a.Reason
			if i+1 >= len(acts) || reflect.TypeOf(acts[i+1]) != reflect.TypeFor[vrrp.Announce]() {
				t.Errorf("%s: AddVIPs not followed by Announce: %v", where, acts)
			}
		case vrrp.RemoveVIPs:
			r = a.Reason
		case vrrp.Announce:
			r = a.Reason
		case vrrp.RequestMaster:
			r = a.Reason
			if len(acts) != 1 {
				t.Errorf("%s: RequestMaster with other actions: %v", where, acts)
			}
		case vrrp.Transition:
			r = a.Reason
			transitions++
			if i != len(acts)-1 {
				t.Errorf("%s: Transition is not the last action: %v", where, acts)
			}
			if a.From == a.To {
				t.Errorf("%s: Transition to the same state: %v", where, a)
			}
			if a.To == vrrp.StateMaster {
				if s, ok := acts[0].(vrrp.SendAdvert); !ok || s.Priority == 0 {
					t.Errorf("%s: becoming master without an advert first: %v", where, acts)
				}
			}
		default:
			t.Errorf("%s: unknown action %T", where, a)
		}
		if r == vrrp.ReasonNone {
			t.Errorf("%s: action %d %T%+v has no reason", where, i, a, a)
		}
	}
	if transitions > 1 {
		t.Errorf("%s: %d transitions in one Handle: %v", where, transitions, acts)
	}
}

// TestTimerFormulas anchors Skew_Time and Master_Down_Interval to values
// worked out by hand from RFC 5798 §6.1 and RFC 3768 §6.1.
func TestTimerFormulas(t *testing.T) {
	for _, tc := range []struct {
		version  int
		prio     uint8
		interval time.Duration
		skew     time.Duration
		down     time.Duration
	}{
		{3, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{3, 200, time.Second, 218750 * time.Microsecond, 3218750 * time.Microsecond},
		{3, 255, time.Second, 3906250 * time.Nanosecond, 3003906250 * time.Nanosecond},
		{3, 1, 10 * time.Millisecond, 9960937 * time.Nanosecond, 39960937 * time.Nanosecond}, // 255*10ms/256, truncated to ns
		{3, 100, 100 * time.Millisecond, 60937500 * time.Nanosecond, 360937500 * time.Nanosecond},
		{2, 100, 3 * time.Second, 609375 * time.Microsecond, 9609375 * time.Microsecond},
		{2, 254, time.Second, 7812500 * time.Nanosecond, 3007812500 * time.Nanosecond},
	} {
		c := cfg3(tc.prio, "192.0.2.1")
		c.Version, c.AdvertInterval = tc.version, tc.interval
		m := vrrp.NewMachine(c)
		if got := m.SkewTime(); got != tc.skew {
			t.Errorf("v%d prio %d interval %v: Skew_Time %v, want %v", tc.version, tc.prio, tc.interval, got, tc.skew)
		}
		if got := m.MasterDownInterval(); got != tc.down {
			t.Errorf("v%d prio %d interval %v: Master_Down_Interval %v, want %v", tc.version, tc.prio, tc.interval, got, tc.down)
		}
		if got := m.MasterAdverInterval(); got != tc.interval {
			t.Errorf("Master_Adver_Interval %v, want %v", got, tc.interval)
		}
	}
}

// TestEqualPriorityTiebreak: RFC 5798 §6.4.3, "the sender's primary address is
// greater than the local primary address": compared as unsigned integers, for
// IPv4 and IPv6; zones and IPv4-mapped forms do not matter.
func TestEqualPriorityTiebreak(t *testing.T) {
	for _, tc := range []struct {
		local, src string
		stepDown   bool
	}{
		{"192.0.2.10", "192.0.2.11", true},
		{"192.0.2.10", "192.0.2.9", false},
		{"192.0.2.10", "198.51.100.1", true},
		{"203.0.113.1", "198.51.100.254", false},
		{"192.0.2.255", "192.0.3.0", true}, // carries into the next octet
		{"192.0.2.10", "::ffff:192.0.2.11", true},
		{"2001:db8::10", "2001:db8::11", true},
		{"2001:db8::10", "2001:db8::f", false},
		{"2001:db8::1:0", "2001:db8::ffff", false},
		{"2001:db8:0:1::", "2001:db8::ffff:ffff", false},
		{"2001:db8::ffff:ffff", "2001:db8:0:1::", true},
		{"fe80::1%eth0", "fe80::2", true},
		{"fe80::2", "fe80::1%vrrp1", false},
	} {
		t.Run(tc.local+"_vs_"+tc.src, func(t *testing.T) {
			m := vrrp.NewMachine(cfg3(100, tc.local))
			m.Handle(vrrp.Startup{}, t0)
			m.Handle(vrrp.ForceMaster{}, t0)
			got := m.Handle(adv(100, tc.src), t0.Add(time.Second/2))
			var want []vrrp.Action
			if tc.stepDown {
				want = toBackup(vrrp.ReasonHigherAddress)
			} else {
				want = send(100, vrrp.ReasonLowerPriorityAdvert)
			}
			if !actionsEqual(got, want) {
				t.Fatalf("local %s, advert from %s: got %v, want %v", tc.local, tc.src, got, want)
			}
			// Priority still outranks any address.
			m2 := vrrp.NewMachine(cfg3(100, tc.local))
			m2.Handle(vrrp.Startup{}, t0)
			m2.Handle(vrrp.ForceMaster{}, t0)
			if got := m2.Handle(adv(99, tc.src), t0.Add(time.Second/2)); !actionsEqual(got, send(100, vrrp.ReasonLowerPriorityAdvert)) {
				t.Fatalf("priority 99 from %s stepped us down: %v", tc.src, got)
			}
		})
	}
}

// TestBackupAcceptsEqualPriorityFromAnyAddress: RFC 5798 §6.4.2 compares
// priorities only; the address tiebreak is a master's business.
func TestBackupAcceptsEqualPriorityFromAnyAddress(t *testing.T) {
	m := vrrp.NewMachine(cfg3(100, "192.0.2.200"))
	m.Handle(vrrp.Startup{}, t0)
	m.Handle(adv(100, "192.0.2.1"), t0.Add(time.Second))
	if dl, _ := m.Deadline(); !dl.Equal(t0.Add(time.Second + mdi(100, time.Second))) {
		t.Fatalf("equal-priority advert from a lower address did not reset the down timer: deadline %v", dl.Sub(t0))
	}
	if a, p := m.Master(); a != addr("192.0.2.1") || p != 100 {
		t.Fatalf("Master() = %v, %d", a, p)
	}
}

func TestConfigValidate(t *testing.T) {
	good := cfg3(100, "192.0.2.1")
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*vrrp.Config)
		want string
	}{
		{"vrid 0", func(c *vrrp.Config) { c.VRID = 0 }, "virtual router ID"},
		{"priority 0", func(c *vrrp.Config) { c.Priority = 0 }, "priority 0"},
		{"version 0", func(c *vrrp.Config) { c.Version = 0 }, "version 0"},
		{"v3 interval 5ms", func(c *vrrp.Config) { c.AdvertInterval = 5 * time.Millisecond }, "advert interval"},
		{"v3 interval 15ms", func(c *vrrp.Config) { c.AdvertInterval = 15 * time.Millisecond }, "advert interval"},
		{"v3 interval 41s", func(c *vrrp.Config) { c.AdvertInterval = 41 * time.Second }, "advert interval"},
		{"v2 interval 500ms", func(c *vrrp.Config) { c.Version = 2; c.AdvertInterval = 500 * time.Millisecond }, "advert interval"},
		{"v2 ipv6", func(c *vrrp.Config) { c.Version = 2; c.LocalAddr = addr("2001:db8::1") }, "IPv4 only"},
		{"negative preempt delay", func(c *vrrp.Config) { c.PreemptDelay = -time.Second }, "preempt delay"},
		{"down timer adverts", func(c *vrrp.Config) { c.DownTimerAdverts = -1 }, "down timer adverts"},
		{"no local address", func(c *vrrp.Config) { c.LocalAddr = netip.Addr{} }, "no local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := with(good, tc.mod)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "vrrp: VRID ") {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
			defer func() {
				if recover() == nil {
					t.Fatalf("NewMachine accepted an invalid config")
				}
			}()
			vrrp.NewMachine(c)
		})
	}
	for _, c := range []vrrp.Config{
		with(good, func(c *vrrp.Config) { c.AdvertInterval = 10 * time.Millisecond }),
		with(good, func(c *vrrp.Config) { c.AdvertInterval = 40950 * time.Millisecond }),
		with(good, func(c *vrrp.Config) { c.Version = 2; c.AdvertInterval = 255 * time.Second }),
		with(good, func(c *vrrp.Config) { c.LocalAddr = addr("fe80::1%eth0") }),
		with(good, func(c *vrrp.Config) { c.Priority = 255 }),
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
}

func TestHandlePanicsOnNilEvent(t *testing.T) {
	m := vrrp.NewMachine(cfg3(100, "192.0.2.1"))
	defer func() {
		if recover() == nil {
			t.Fatal("Handle(nil) did not panic")
		}
	}()
	m.Handle(nil, t0)
}

func TestAccept(t *testing.T) {
	if vrrp.NewMachine(cfg3(100, "192.0.2.1")).Accept() {
		t.Error("Accept() true without accept mode")
	}
	if !vrrp.NewMachine(with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.Accept = true })).Accept() {
		t.Error("Accept() false with accept mode")
	}
	if !vrrp.NewMachine(cfg3(255, "192.0.2.1")).Accept() {
		t.Error("Accept() false for the owner (RFC 5798 §6.1: the owner always accepts)")
	}
}

func TestStateAndReasonStrings(t *testing.T) {
	for s, want := range map[vrrp.State]string{vrrp.StateInit: "INIT", vrrp.StateBackup: "BACKUP", vrrp.StateMaster: "MASTER", vrrp.StateFault: "FAULT", 9: "State(9)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(s), got, want)
		}
	}
	seen := map[string]vrrp.Reason{}
	for r := vrrp.ReasonNone; ; r++ {
		s := r.String()
		if strings.HasPrefix(s, "Reason(") {
			if r <= vrrp.ReasonReload {
				t.Errorf("Reason %d has no name", uint8(r))
			}
			break
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("Reasons %d and %d share the name %q", prev, r, s)
		}
		if s != strings.ToLower(s) || strings.ContainsAny(s, " -") {
			t.Errorf("Reason %d name %q is not snake_case", uint8(r), s)
		}
		seen[s] = r
	}
	if vrrp.ReasonMasterDown.String() != "master_down" {
		t.Errorf("ReasonMasterDown = %q", vrrp.ReasonMasterDown.String())
	}
}

// TestWantsMaster: a sync-group member wants MASTER from its down timer's
// expiry until it accepts a master's advert (keepalived's wantstate).
func TestWantsMaster(t *testing.T) {
	m := vrrp.NewMachine(with(cfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.SyncGroup = true }))
	check := func(when string, want bool) {
		t.Helper()
		if got := m.WantsMaster(); got != want {
			t.Fatalf("%s: WantsMaster() = %v, want %v", when, got, want)
		}
	}
	check("INIT", false)
	m.Handle(vrrp.Startup{}, t0)
	check("BACKUP, timer running", false)
	m.Handle(vrrp.Timeout{}, t0.Add(mdi(100, time.Second)))
	check("BACKUP, timer expired", true)
	m.Handle(adv(99, "192.0.2.9"), t0.Add(4*time.Second))
	check("lower-priority advert discarded", true)
	m.Handle(adv(101, "192.0.2.9"), t0.Add(5*time.Second))
	check("master accepted", false)
	m.Handle(vrrp.Timeout{}, t0.Add(5*time.Second+mdi(100, time.Second)))
	check("expired again", true)
	m.Handle(vrrp.Fault{}, t0.Add(10*time.Second))
	check("FAULT", false)
	m.Handle(vrrp.FaultCleared{}, t0.Add(10*time.Second))
	check("back from FAULT", false)
	m.Handle(vrrp.ForceMaster{}, t0.Add(11*time.Second))
	check("MASTER", true)
	if vrrp.NewMachine(cfg3(100, "192.0.2.1")).WantsMaster() {
		t.Fatal("a fresh machine wants MASTER")
	}
}
