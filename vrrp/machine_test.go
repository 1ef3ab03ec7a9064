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

// mT0 is the fake clock's origin; every step's time is an offset from it.
// Test helpers carry prefixes because other engineers' tests share package vrrp_test.
var mT0 = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

// noDeadline as a step's deadline means "no timer runs".
const noDeadline = time.Duration(math.MinInt64)

const oneNS = time.Nanosecond

type (
	aSend     = vrrp.SendAdvert
	aTrans    = vrrp.Transition
	aAdd      = vrrp.AddVIPs
	aRemove   = vrrp.RemoveVIPs
	aAnnounce = vrrp.Announce
)

// mStep feeds one event at mT0+at and checks the exact actions, the state after
// and the deadline after.
type mStep struct {
	at    time.Duration
	ev    vrrp.Event
	want  []vrrp.Action
	state vrrp.State
	dl    time.Duration
}

type mScenario struct {
	name  string
	rfc   string // the rule under test
	cfg   vrrp.Config
	steps []mStep
}

func mAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// mCfg3 is a VRRPv3 instance with advert_int 1s that preempts.
func mCfg3(prio uint8, local string) vrrp.Config {
	return vrrp.Config{VRID: 51, Priority: prio, AdvertInterval: time.Second, Version: 3, Preempt: true, LocalAddr: mAddr(local)}
}

func withCfg(c vrrp.Config, f func(*vrrp.Config)) vrrp.Config { f(&c); return c }

// rfcSkew and rfcMDI are RFC 5798 §6.1's formulas, written out independently
// of the package: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 and
// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
func rfcSkew(prio int, mai time.Duration) time.Duration {
	return time.Duration(int64(256-prio) * int64(mai) / 256)
}
func rfcMDI(prio int, mai time.Duration) time.Duration { return 3*mai + rfcSkew(prio, mai) }

func advRx(prio uint8, src string) vrrp.AdvertReceived {
	return vrrp.AdvertReceived{Priority: prio, MaxAdvertInterval: time.Second, Src: mAddr(src)}
}

func advRxI(prio uint8, src string, mai time.Duration) vrrp.AdvertReceived {
	return vrrp.AdvertReceived{Priority: prio, MaxAdvertInterval: mai, Src: mAddr(src)}
}

// upActs is what becoming master returns, in the documented order.
func upActs(from vrrp.State, prio uint8, r vrrp.Reason) []vrrp.Action {
	return []vrrp.Action{aSend{Priority: prio, Reason: r}, aAdd{Reason: r}, aAnnounce{Reason: r}, aTrans{From: from, To: vrrp.StateMaster, Reason: r}}
}

func toBackupActs(r vrrp.Reason) []vrrp.Action {
	return []vrrp.Action{aRemove{Reason: r}, aTrans{From: vrrp.StateMaster, To: vrrp.StateBackup, Reason: r}}
}

func sendActs(prio uint8, r vrrp.Reason) []vrrp.Action {
	return []vrrp.Action{aSend{Priority: prio, Reason: r}}
}

var (
	startBackupActs = []vrrp.Action{aTrans{From: vrrp.StateInit, To: vrrp.StateBackup, Reason: vrrp.ReasonStartup}}
	initStep3       = mStep{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, rfcMDI(100, time.Second)}
)

// masterAtZero makes a master of any priority at t=0: Startup, then
// ForceMaster.
func masterAtZero(prio uint8) []mStep {
	return []mStep{
		{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, rfcMDI(int(prio), time.Second)},
		{0, vrrp.ForceMaster{}, upActs(vrrp.StateBackup, prio, vrrp.ReasonForced), vrrp.StateMaster, time.Second},
	}
}

func catSteps(parts ...[]mStep) []mStep {
	var out []mStep
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var mScenarios = []mScenario{
	// RFC 5798 §6.4.1 Initialize.
	{"owner starts as master", "RFC 5798 §6.4.1: priority 255 sends an advert, announces, sets Adver_Timer, becomes Master",
		mCfg3(255, "192.0.2.1"), []mStep{
			{0, vrrp.Startup{}, upActs(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
		}},
	{"owner ignores WantMaster=false", "RFC 5798 §6.4.1: the owner's start depends on priority alone",
		withCfg(mCfg3(255, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = false }), []mStep{
			{5 * time.Second, vrrp.Startup{}, upActs(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, 6 * time.Second},
		}},
	{"non-owner starts as backup with Master_Down_Interval", "RFC 5798 §6.4.1: Master_Down_Timer = Master_Down_Interval",
		mCfg3(100, "192.0.2.1"), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, 3609375 * time.Microsecond}, // 3 s + 156/256 s
			{time.Second, vrrp.Startup{}, nil, vrrp.StateBackup, 3609375 * time.Microsecond},
		}},
	{"state MASTER below 255 waits one interval plus the minimum skew", "keepalived vrrp_init_state: ms_down_timer = adver_int + SKEW_MIN",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = true }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, time.Second + 3906250*oneNS},
			{time.Second + 3906250*oneNS - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, time.Second + 3906250*oneNS},
			{time.Second + 3906250*oneNS, vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 2*time.Second + 3906250*oneNS},
		}},
	{"state MASTER below 255, VRRPv2: one interval plus 1/256 s", "keepalived VRRP_TIMER_SKEW_MIN for v2",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = true; c.Version = 2; c.AdvertInterval = 3 * time.Second }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, 3*time.Second + 3906250*oneNS},
		}},
	{"state MASTER below 255 yields to a master that speaks in time", "keepalived: the short first wait is an ordinary Master_Down_Timer",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.WantMaster = true }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, time.Second + 3906250*oneNS},
			{time.Second, advRx(150, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcMDI(100, time.Second)},
		}},

	// RFC 5798 §6.4.2 Backup.
	{"master down timer: both sides", "RFC 5798 §6.4.2: Master_Down_Timer fires -> advert, GARP, Adver_Timer, Master",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{rfcMDI(100, time.Second) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, rfcMDI(100, time.Second) + time.Second},
		}},
	{"advert at or above our priority resets the down timer", "RFC 5798 §6.4.2: priority >= local -> reset Master_Down_Timer",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{2 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 2*time.Second + rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 2*time.Second + rfcMDI(100, time.Second)},
			{2*time.Second + rfcMDI(100, time.Second) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, 2*time.Second + rfcMDI(100, time.Second)},
			{2*time.Second + rfcMDI(100, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 3*time.Second + rfcMDI(100, time.Second)},
		}},
	{"priority 0 sets the down timer to Skew_Time: both sides", "RFC 5798 §6.4.2: priority 0 -> Master_Down_Timer = Skew_Time",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + 609375*time.Microsecond},
			{time.Second + 609375*time.Microsecond - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, time.Second + 609375*time.Microsecond},
			{time.Second + 609375*time.Microsecond, vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 2*time.Second + 609375*time.Microsecond},
		}},
	{"priority 0 hands over even with nopreempt", "RFC 5798 §6.4.2: the priority-0 rule comes before Preempt_Mode",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.Preempt = false }), []mStep{
			initStep3,
			{time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcSkew(100, time.Second)},
		}},
	{"learned interval (v3): both sides", "RFC 5798 §6.4.2: Master_Adver_Interval = the advert's interval, recompute Master_Down_Interval",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{time.Second, advRxI(120, "192.0.2.9", 200*time.Millisecond), nil, vrrp.StateBackup, time.Second + rfcMDI(100, 200*time.Millisecond)},
			{time.Second + 721875*time.Microsecond - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, time.Second + 721875*time.Microsecond}, // 600 ms + 121.875 ms
			{time.Second + 721875*time.Microsecond, vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 2*time.Second + 721875*time.Microsecond},
		}},
	{"learned interval drives Skew_Time after priority 0", "RFC 5798 §6.1: Skew_Time uses Master_Adver_Interval",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{time.Second, advRxI(120, "192.0.2.9", 2*time.Second), nil, vrrp.StateBackup, time.Second + rfcMDI(100, 2*time.Second)},
			{2 * time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateBackup, 2*time.Second + rfcSkew(100, 2*time.Second)},
			{2*time.Second + 1218750*time.Microsecond - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, 2*time.Second + 1218750*time.Microsecond},
			{2*time.Second + 1218750*time.Microsecond, vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 3*time.Second + 1218750*time.Microsecond},
		}},
	{"a new master uses its own interval, not the learned one", "RFC 5798 §6.4.2: Adver_Timer = Advertisement_Interval",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{time.Second, advRxI(120, "192.0.2.9", 3*time.Second), nil, vrrp.StateBackup, time.Second + rfcMDI(100, 3*time.Second)},
			{time.Second + rfcMDI(100, 3*time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 2*time.Second + rfcMDI(100, 3*time.Second)},
		}},
	{"VRRPv2 never learns; Skew_Time in seconds", "RFC 3768 §6.1/§6.4.2: Master_Down_Interval = 3 * Advertisement_Interval + (256-Priority)/256 s",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.Version = 2; c.AdvertInterval = 2 * time.Second }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, 6*time.Second + 609375*time.Microsecond},
			{time.Second, advRxI(120, "192.0.2.9", 5*time.Second), nil, vrrp.StateBackup, 7*time.Second + 609375*time.Microsecond},
			{2 * time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateBackup, 2*time.Second + 609375*time.Microsecond},
		}},
	{"down_timer_adverts", "keepalived: Master_Down_Interval = down_timer_adverts * Master_Adver_Interval + Skew_Time",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.DownTimerAdverts = 5 }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, 5*time.Second + rfcSkew(100, time.Second)},
		}},
	{"preempt: a lower-priority advert is discarded and the timer runs out", "RFC 5798 §6.4.2: Preempt_Mode true and priority < local -> discard",
		mCfg3(200, "192.0.2.1"), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{2 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{rfcMDI(200, time.Second) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{rfcMDI(200, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 200, vrrp.ReasonPreempt), vrrp.StateMaster, rfcMDI(200, time.Second) + time.Second},
		}},
	{"nopreempt: a lower-priority master is accepted", "RFC 5798 §6.4.2: Preempt_Mode false -> accept; keepalived nopreempt",
		withCfg(mCfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.Preempt = false }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcMDI(200, time.Second)},
			{3 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 3*time.Second + rfcMDI(200, time.Second)},
		}},
	{"owner always preempts", "keepalived: nopreempt is incompatible with priority 255",
		withCfg(mCfg3(255, "192.0.2.1"), func(c *vrrp.Config) { c.Preempt = false }), []mStep{
			{0, vrrp.Startup{}, upActs(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
			{0, vrrp.ForceBackup{}, toBackupActs(vrrp.ReasonForced), vrrp.StateBackup, rfcMDI(255, time.Second)},
			{time.Second, advRx(254, "192.0.2.9"), nil, vrrp.StateBackup, rfcMDI(255, time.Second)},
		}},
	{"preempt_delay: an advert 1 ns before the delay runs out is still accepted", "keepalived vrrp_state_backup: preempt_time > now -> accept",
		withCfg(mCfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.PreemptDelay = 5 * time.Second }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcMDI(200, time.Second)}, // delay starts: runs out at 6 s
			{6*time.Second - oneNS, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 6*time.Second - oneNS + rfcMDI(200, time.Second)},
			{6*time.Second - 2*oneNS + rfcMDI(200, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 6*time.Second - oneNS + rfcMDI(200, time.Second)},
			{6*time.Second - oneNS + rfcMDI(200, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 200, vrrp.ReasonMasterDown), vrrp.StateMaster, 7*time.Second - oneNS + rfcMDI(200, time.Second)},
		}},
	{"preempt_delay: an advert when the delay runs out is discarded", "keepalived vrrp_state_backup: preempt_time <= now -> discard",
		withCfg(mCfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.PreemptDelay = 5 * time.Second }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcMDI(200, time.Second)},
			{3 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 3*time.Second + rfcMDI(200, time.Second)},
			{6 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 3*time.Second + rfcMDI(200, time.Second)},
			{3*time.Second + rfcMDI(200, time.Second) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, 3*time.Second + rfcMDI(200, time.Second)},
			{3*time.Second + rfcMDI(200, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 200, vrrp.ReasonPreemptDelay), vrrp.StateMaster, 4*time.Second + rfcMDI(200, time.Second)},
		}},
	{"preempt_delay stops when a master at least as strong is heard", "keepalived vrrp_state_backup: priority >= ours clears preempt_time",
		withCfg(mCfg3(200, "192.0.2.1"), func(c *vrrp.Config) { c.PreemptDelay = 5 * time.Second }), []mStep{
			{0, vrrp.Startup{}, startBackupActs, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcMDI(200, time.Second)},
			{2 * time.Second, advRx(220, "192.0.2.8"), nil, vrrp.StateBackup, 2*time.Second + rfcMDI(200, time.Second)},
			// The delay restarts at 4 s and runs out at 9 s: the advert at 6 s,
			// which the first delay would have discarded, is accepted.
			{4 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 4*time.Second + rfcMDI(200, time.Second)},
			{6 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 6*time.Second + rfcMDI(200, time.Second)},
			{8 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 8*time.Second + rfcMDI(200, time.Second)},
			{9*time.Second - oneNS, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 9*time.Second - oneNS + rfcMDI(200, time.Second)},
			{9 * time.Second, advRx(100, "192.0.2.9"), nil, vrrp.StateBackup, 9*time.Second - oneNS + rfcMDI(200, time.Second)},
		}},

	// RFC 5798 §6.4.3 Master.
	{"advert timer: both sides", "RFC 5798 §6.4.3: Adver_Timer fires -> send an advert, reset Adver_Timer",
		mCfg3(255, "192.0.2.1"), []mStep{
			{0, vrrp.Startup{}, upActs(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
			{time.Second - oneNS, vrrp.Timeout{}, nil, vrrp.StateMaster, time.Second},
			{time.Second, vrrp.Timeout{}, sendActs(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 2 * time.Second},
			{2*time.Second - oneNS, vrrp.Timeout{}, nil, vrrp.StateMaster, 2 * time.Second},
			{2 * time.Second, vrrp.Timeout{}, sendActs(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 3 * time.Second},
			// A late wake-up keeps the schedule: the next advert is due one
			// interval after this one was due.
			{3*time.Second + 700*time.Millisecond, vrrp.Timeout{}, sendActs(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 4 * time.Second},
			// A stall longer than an interval restarts the timer from now
			// (no catch-up burst).
			{5*time.Second + 500*time.Millisecond, vrrp.Timeout{}, sendActs(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 6*time.Second + 500*time.Millisecond},
			// Exactly one interval late: restart from now as well.
			{7*time.Second + 500*time.Millisecond, vrrp.Timeout{}, sendActs(255, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 8*time.Second + 500*time.Millisecond},
		}},
	{"master answers priority 0 at once", "RFC 5798 §6.4.3: priority 0 -> send an advert, reset Adver_Timer",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{300 * time.Millisecond, advRx(0, "192.0.2.9"), sendActs(100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 1300 * time.Millisecond},
		})},
	{"master steps down for a higher priority and learns its interval", "RFC 5798 §6.4.3: priority > local -> Master_Adver_Interval, Master_Down_Timer, Backup",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{500 * time.Millisecond, advRxI(101, "192.0.2.0", 500*time.Millisecond), toBackupActs(vrrp.ReasonHigherPriority), vrrp.StateBackup, 500*time.Millisecond + rfcMDI(100, 500*time.Millisecond)},
			{500*time.Millisecond + rfcMDI(100, 500*time.Millisecond) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, 500*time.Millisecond + rfcMDI(100, 500*time.Millisecond)},
			{500*time.Millisecond + rfcMDI(100, 500*time.Millisecond), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 1500*time.Millisecond + rfcMDI(100, 500*time.Millisecond)},
		})},
	{"master steps down for its own priority from a higher address", "RFC 5798 §6.4.3: equal priority, sender's primary address greater -> Backup",
		mCfg3(100, "192.0.2.10"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 2, advRx(100, "192.0.2.11"), toBackupActs(vrrp.ReasonHigherAddress), vrrp.StateBackup, time.Second/2 + rfcMDI(100, time.Second)},
		})},
	{"master keeps its role against its own priority from a lower address", "RFC 5798 §6.4.3 (else discard) + keepalived: answer with an advert",
		mCfg3(100, "192.0.2.10"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 2, advRx(100, "192.0.2.9"), sendActs(100, vrrp.ReasonLowerPriorityAdvert), vrrp.StateMaster, 3 * time.Second / 2},
		})},
	{"master answers a lower priority at once", "keepalived vrrp_state_master_rx: lower priority -> send an advert (forcing a new election)",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 4, advRx(99, "192.0.2.200"), sendActs(100, vrrp.ReasonLowerPriorityAdvert), vrrp.StateMaster, 5 * time.Second / 4},
		})},
	{"lower_prio_no_advert keeps the master silent", "keepalived lower_prio_no_advert",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.LowerPrioNoAdvert = true }), catSteps(masterAtZero(100), []mStep{
			{time.Second / 4, advRx(99, "192.0.2.200"), nil, vrrp.StateMaster, time.Second},
			{time.Second / 2, advRx(0, "192.0.2.200"), sendActs(100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 3 * time.Second / 2},
		})},
	{"higher_prio_send_advert: one advert of ours, then BACKUP", "keepalived vrrp_state_master_rx: higher_prio_send_advert -> vrrp_send_adv before leaving MASTER",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.HigherPrioSendAdvert = true }), catSteps(masterAtZero(100), []mStep{
			{time.Second / 2, advRx(101, "192.0.2.9"), append([]vrrp.Action{aSend{Priority: 100, Reason: vrrp.ReasonHigherPriority}}, toBackupActs(vrrp.ReasonHigherPriority)...), vrrp.StateBackup, time.Second/2 + rfcMDI(100, time.Second)},
			// As BACKUP it answers nothing: the option is a master's.
			{time.Second, advRx(101, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcMDI(100, time.Second)},
		})},
	{"higher_prio_send_advert: own priority from a higher address", "keepalived vrrp_state_master_rx: equal priority, addr_cmp > 0",
		withCfg(mCfg3(100, "192.0.2.10"), func(c *vrrp.Config) { c.HigherPrioSendAdvert = true }), catSteps(masterAtZero(100), []mStep{
			{time.Second / 2, advRx(100, "192.0.2.11"), append([]vrrp.Action{aSend{Priority: 100, Reason: vrrp.ReasonHigherAddress}}, toBackupActs(vrrp.ReasonHigherAddress)...), vrrp.StateBackup, time.Second/2 + rfcMDI(100, time.Second)},
		})},
	{"higher_prio_send_advert: a lower priority is answered once, as without it", "keepalived vrrp_state_master_rx",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.HigherPrioSendAdvert = true }), catSteps(masterAtZero(100), []mStep{
			{time.Second / 4, advRx(99, "192.0.2.200"), sendActs(100, vrrp.ReasonLowerPriorityAdvert), vrrp.StateMaster, 5 * time.Second / 4},
		})},
	{"a new local address moves the tiebreak", "RFC 5798 §6.4.3 with the primary address after the socket was reopened",
		mCfg3(100, "192.0.2.10"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 4, vrrp.LocalAddrChanged{Addr: netip.MustParseAddr("192.0.2.20")}, nil, vrrp.StateMaster, time.Second},
			// 192.0.2.15 would have won against 192.0.2.10; it loses against 192.0.2.20.
			{time.Second / 2, advRx(100, "192.0.2.15"), sendActs(100, vrrp.ReasonLowerPriorityAdvert), vrrp.StateMaster, 3 * time.Second / 2},
		})},
	{"own priority from own address is ignored", "RFC 5798 §6.4.3: neither greater nor lower -> discard",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 4, advRx(100, "192.0.2.1"), nil, vrrp.StateMaster, time.Second},
		})},

	// Shutdown.
	{"shutdown as master sends priority 0 and releases VIPs", "RFC 5798 §6.4.3: Shutdown -> cancel Adver_Timer, send priority 0, Initialize",
		mCfg3(255, "192.0.2.1"), []mStep{
			{0, vrrp.Startup{}, upActs(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
			{time.Second / 2, vrrp.Shutdown{}, []vrrp.Action{aSend{Priority: 0, Reason: vrrp.ReasonShutdown}, aRemove{Reason: vrrp.ReasonShutdown}, aTrans{From: vrrp.StateMaster, To: vrrp.StateInit, Reason: vrrp.ReasonShutdown}}, vrrp.StateInit, noDeadline},
			{2 * time.Second, vrrp.Timeout{}, nil, vrrp.StateInit, noDeadline},
			{2 * time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateInit, noDeadline},
			{2 * time.Second, vrrp.Shutdown{}, nil, vrrp.StateInit, noDeadline},
			{3 * time.Second, vrrp.Startup{}, upActs(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, 4 * time.Second},
		}},
	{"shutdown as backup", "RFC 5798 §6.4.2: Shutdown -> cancel Master_Down_Timer, Initialize",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{time.Second, vrrp.Shutdown{}, []vrrp.Action{aTrans{From: vrrp.StateBackup, To: vrrp.StateInit, Reason: vrrp.ReasonShutdown}}, vrrp.StateInit, noDeadline},
			{10 * time.Second, vrrp.Timeout{}, nil, vrrp.StateInit, noDeadline},
		}},

	// FAULT (keepalived).
	{"fault as master: priority 0, VIPs released, silence", "keepalived down_instance -> vrrp_state_leave_master (FAULT)",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 2, vrrp.Fault{Reason: vrrp.ReasonInterfaceDown}, []vrrp.Action{aSend{Priority: 0, Reason: vrrp.ReasonInterfaceDown}, aRemove{Reason: vrrp.ReasonInterfaceDown}, aTrans{From: vrrp.StateMaster, To: vrrp.StateFault, Reason: vrrp.ReasonInterfaceDown}}, vrrp.StateFault, noDeadline},
			{10 * time.Second, vrrp.Timeout{}, nil, vrrp.StateFault, noDeadline},
			{10 * time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateFault, noDeadline},
			{10 * time.Second, vrrp.ForceMaster{}, nil, vrrp.StateFault, noDeadline},
			{10 * time.Second, vrrp.ForceBackup{}, nil, vrrp.StateFault, noDeadline},
			{10 * time.Second, vrrp.Fault{Reason: vrrp.ReasonTrackScript}, nil, vrrp.StateFault, noDeadline},
			{11 * time.Second, vrrp.FaultCleared{}, []vrrp.Action{aTrans{From: vrrp.StateFault, To: vrrp.StateBackup, Reason: vrrp.ReasonFaultCleared}}, vrrp.StateBackup, 11*time.Second + rfcMDI(100, time.Second)},
			{12 * time.Second, vrrp.FaultCleared{}, nil, vrrp.StateBackup, 11*time.Second + rfcMDI(100, time.Second)},
		})},
	{"leaving fault forgets the learned interval", "keepalived vrrp_state_leave_fault: master_adver_int = adver_int",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{time.Second, advRxI(200, "192.0.2.9", 4*time.Second), nil, vrrp.StateBackup, time.Second + rfcMDI(100, 4*time.Second)},
			{2 * time.Second, vrrp.Fault{}, []vrrp.Action{aTrans{From: vrrp.StateBackup, To: vrrp.StateFault, Reason: vrrp.ReasonFault}}, vrrp.StateFault, noDeadline},
			{3 * time.Second, vrrp.FaultCleared{}, []vrrp.Action{aTrans{From: vrrp.StateFault, To: vrrp.StateBackup, Reason: vrrp.ReasonFaultCleared}}, vrrp.StateBackup, 3*time.Second + rfcMDI(100, time.Second)},
		}},
	{"owner leaves fault straight to master", "keepalived try_up_instance: owner wantstate MASTER -> vrrp_state_goto_master",
		mCfg3(255, "192.0.2.1"), []mStep{
			{0, vrrp.Fault{Reason: vrrp.ReasonInterfaceDown}, nil, vrrp.StateInit, noDeadline},
			{0, vrrp.Startup{}, []vrrp.Action{aTrans{From: vrrp.StateInit, To: vrrp.StateFault, Reason: vrrp.ReasonInterfaceDown}}, vrrp.StateFault, noDeadline},
			{time.Second, vrrp.FaultCleared{}, upActs(vrrp.StateFault, 255, vrrp.ReasonFaultCleared), vrrp.StateMaster, 2 * time.Second},
		}},
	{"fault cleared before startup", "keepalived vrrp_init_state: FAULT only if a fault is in force",
		mCfg3(100, "192.0.2.1"), []mStep{
			{0, vrrp.Fault{}, nil, vrrp.StateInit, noDeadline},
			{0, vrrp.FaultCleared{}, nil, vrrp.StateInit, noDeadline},
			initStep3,
		}},

	// Priority tracking.
	{"SetPriority moves a backup's down timer by the change in Skew_Time", "keepalived vrrp_set_effective_priority",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{time.Second, vrrp.SetPriority{Priority: 200, Reason: vrrp.ReasonTrackScript}, nil, vrrp.StateBackup, rfcMDI(200, time.Second)},
			{time.Second, vrrp.SetPriority{Priority: 0}, nil, vrrp.StateBackup, rfcMDI(1, time.Second)},
			{time.Second, vrrp.SetPriority{Priority: 255}, nil, vrrp.StateBackup, rfcMDI(254, time.Second)},
			{rfcMDI(254, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 254, vrrp.ReasonMasterDown), vrrp.StateMaster, rfcMDI(254, time.Second) + time.Second},
		}},
	{"SetPriority on a master changes only its next advert", "keepalived: effective priority is sent in the next advert",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 2, vrrp.SetPriority{Priority: 50}, nil, vrrp.StateMaster, time.Second},
			{time.Second, vrrp.Timeout{}, sendActs(50, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 2 * time.Second},
			{3 * time.Second / 2, advRx(60, "192.0.2.0"), toBackupActs(vrrp.ReasonHigherPriority), vrrp.StateBackup, 3*time.Second/2 + rfcMDI(50, time.Second)},
		})},
	{"SetPriority can move the down timer into the past: it fires at once", "keepalived vrrp_set_effective_priority; Deadline contract",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{3500 * time.Millisecond, vrrp.SetPriority{Priority: 254}, nil, vrrp.StateBackup, rfcMDI(254, time.Second)},
			{3500 * time.Millisecond, vrrp.Timeout{}, upActs(vrrp.StateBackup, 254, vrrp.ReasonMasterDown), vrrp.StateMaster, 4500 * time.Millisecond},
		}},
	{"the owner ignores SetPriority", "keepalived: an address owner's priority never changes",
		mCfg3(255, "192.0.2.1"), []mStep{
			{0, vrrp.SetPriority{Priority: 10}, nil, vrrp.StateInit, noDeadline},
			{0, vrrp.Startup{}, upActs(vrrp.StateInit, 255, vrrp.ReasonOwner), vrrp.StateMaster, time.Second},
		}},

	// Sync groups (keepalived vrrp_sync.c).
	{"ForceBackup from master: no priority 0, full down timer", "keepalived vrrp_sync_backup -> vrrp_state_leave_master(advF=false)",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{time.Second / 2, vrrp.ForceBackup{Reason: vrrp.ReasonForced}, toBackupActs(vrrp.ReasonForced), vrrp.StateBackup, time.Second/2 + rfcMDI(100, time.Second)},
			{time.Second / 2, vrrp.ForceBackup{}, nil, vrrp.StateBackup, time.Second/2 + rfcMDI(100, time.Second)},
		})},
	{"ForceMaster from backup", "keepalived vrrp_sync_master -> vrrp_state_goto_master",
		mCfg3(100, "192.0.2.1"), []mStep{
			{0, vrrp.ForceMaster{}, nil, vrrp.StateInit, noDeadline},
			initStep3,
			{time.Second, vrrp.ForceMaster{Reason: vrrp.ReasonForced}, upActs(vrrp.StateBackup, 100, vrrp.ReasonForced), vrrp.StateMaster, 2 * time.Second},
			{time.Second, vrrp.ForceMaster{}, nil, vrrp.StateMaster, 2 * time.Second},
		}},
	{"sync group member asks instead of taking over", "keepalived vrrp_sync_can_goto_master: a member becomes master only with its group",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.SyncGroup = true }), []mStep{
			initStep3,
			{rfcMDI(100, time.Second) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, []vrrp.Action{vrrp.RequestMaster{Reason: vrrp.ReasonMasterDown}}, vrrp.StateBackup, 2 * rfcMDI(100, time.Second)},
			{2 * rfcMDI(100, time.Second), vrrp.Timeout{}, []vrrp.Action{vrrp.RequestMaster{Reason: vrrp.ReasonMasterDown}}, vrrp.StateBackup, 3 * rfcMDI(100, time.Second)},
			{3 * rfcMDI(100, time.Second), vrrp.ForceMaster{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonForced), vrrp.StateMaster, 3*rfcMDI(100, time.Second) + time.Second},
		}},
	{"sync group member asks after priority 0 too", "RFC 5798 §6.4.2 + keepalived sync group",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.SyncGroup = true }), []mStep{
			initStep3,
			{time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcSkew(100, time.Second)},
			{time.Second + rfcSkew(100, time.Second), vrrp.Timeout{}, []vrrp.Action{vrrp.RequestMaster{Reason: vrrp.ReasonPriorityZero}}, vrrp.StateBackup, time.Second + rfcSkew(100, time.Second) + rfcMDI(100, time.Second)},
		}},
}

func TestScenarios(t *testing.T) { runScenarios(t, mScenarios) }

// runScenarios runs each scenario on a fresh Machine and checks, step by
// step, the actions, the state and the deadline.
func runScenarios(t *testing.T, scenarios []mScenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := vrrp.NewMachine(sc.cfg)
			for i, st := range sc.steps {
				got := m.Handle(st.ev, mT0.Add(st.at))
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
				case st.dl == noDeadline && ok:
					t.Fatalf("%s: deadline %v, want none", where, dl.Sub(mT0))
				case st.dl != noDeadline && !ok:
					t.Fatalf("%s: no deadline, want %v", where, st.dl)
				case st.dl != noDeadline && !dl.Equal(mT0.Add(st.dl)):
					t.Fatalf("%s: deadline %v, want %v", where, dl.Sub(mT0), st.dl)
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
		rfcSkew  time.Duration
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
		c := mCfg3(tc.prio, "192.0.2.1")
		c.Version, c.AdvertInterval = tc.version, tc.interval
		m := vrrp.NewMachine(c)
		if got := m.SkewTime(); got != tc.rfcSkew {
			t.Errorf("v%d prio %d interval %v: Skew_Time %v, want %v", tc.version, tc.prio, tc.interval, got, tc.rfcSkew)
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
			m := vrrp.NewMachine(mCfg3(100, tc.local))
			m.Handle(vrrp.Startup{}, mT0)
			m.Handle(vrrp.ForceMaster{}, mT0)
			got := m.Handle(advRx(100, tc.src), mT0.Add(time.Second/2))
			var want []vrrp.Action
			if tc.stepDown {
				want = toBackupActs(vrrp.ReasonHigherAddress)
			} else {
				want = sendActs(100, vrrp.ReasonLowerPriorityAdvert)
			}
			if !actionsEqual(got, want) {
				t.Fatalf("local %s, advert from %s: got %v, want %v", tc.local, tc.src, got, want)
			}
			// Priority still outranks any address.
			m2 := vrrp.NewMachine(mCfg3(100, tc.local))
			m2.Handle(vrrp.Startup{}, mT0)
			m2.Handle(vrrp.ForceMaster{}, mT0)
			if got := m2.Handle(advRx(99, tc.src), mT0.Add(time.Second/2)); !actionsEqual(got, sendActs(100, vrrp.ReasonLowerPriorityAdvert)) {
				t.Fatalf("priority 99 from %s stepped us down: %v", tc.src, got)
			}
		})
	}
}

// TestBackupAcceptsEqualPriorityFromAnyAddress: RFC 5798 §6.4.2 compares
// priorities only; the address tiebreak is a master's business.
func TestBackupAcceptsEqualPriorityFromAnyAddress(t *testing.T) {
	m := vrrp.NewMachine(mCfg3(100, "192.0.2.200"))
	m.Handle(vrrp.Startup{}, mT0)
	m.Handle(advRx(100, "192.0.2.1"), mT0.Add(time.Second))
	if dl, _ := m.Deadline(); !dl.Equal(mT0.Add(time.Second + rfcMDI(100, time.Second))) {
		t.Fatalf("equal-priority advert from a lower address did not reset the down timer: deadline %v", dl.Sub(mT0))
	}
	if a, p := m.Master(); a != mAddr("192.0.2.1") || p != 100 {
		t.Fatalf("Master() = %v, %d", a, p)
	}
}

func TestConfigValidate(t *testing.T) {
	good := mCfg3(100, "192.0.2.1")
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
		{"v2 ipv6", func(c *vrrp.Config) { c.Version = 2; c.LocalAddr = mAddr("2001:db8::1") }, "IPv4 only"},
		{"negative preempt delay", func(c *vrrp.Config) { c.PreemptDelay = -time.Second }, "preempt delay"},
		{"down timer adverts", func(c *vrrp.Config) { c.DownTimerAdverts = -1 }, "down timer adverts"},
		{"no local address", func(c *vrrp.Config) { c.LocalAddr = netip.Addr{} }, "no local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withCfg(good, tc.mod)
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
		withCfg(good, func(c *vrrp.Config) { c.AdvertInterval = 10 * time.Millisecond }),
		withCfg(good, func(c *vrrp.Config) { c.AdvertInterval = 40950 * time.Millisecond }),
		withCfg(good, func(c *vrrp.Config) { c.Version = 2; c.AdvertInterval = 255 * time.Second }),
		withCfg(good, func(c *vrrp.Config) { c.LocalAddr = mAddr("fe80::1%eth0") }),
		withCfg(good, func(c *vrrp.Config) { c.Priority = 255 }),
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
}

func TestHandlePanicsOnNilEvent(t *testing.T) {
	m := vrrp.NewMachine(mCfg3(100, "192.0.2.1"))
	defer func() {
		if recover() == nil {
			t.Fatal("Handle(nil) did not panic")
		}
	}()
	m.Handle(nil, mT0)
}

func TestAccept(t *testing.T) {
	if vrrp.NewMachine(mCfg3(100, "192.0.2.1")).Accept() {
		t.Error("Accept() true without accept mode")
	}
	if !vrrp.NewMachine(withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.Accept = true })).Accept() {
		t.Error("Accept() false with accept mode")
	}
	if !vrrp.NewMachine(mCfg3(255, "192.0.2.1")).Accept() {
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
	m := vrrp.NewMachine(withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.SyncGroup = true }))
	check := func(when string, want bool) {
		t.Helper()
		if got := m.WantsMaster(); got != want {
			t.Fatalf("%s: WantsMaster() = %v, want %v", when, got, want)
		}
	}
	check("INIT", false)
	m.Handle(vrrp.Startup{}, mT0)
	check("BACKUP, timer running", false)
	m.Handle(vrrp.Timeout{}, mT0.Add(rfcMDI(100, time.Second)))
	check("BACKUP, timer expired", true)
	m.Handle(advRx(99, "192.0.2.9"), mT0.Add(4*time.Second))
	check("lower-priority advert discarded", true)
	m.Handle(advRx(101, "192.0.2.9"), mT0.Add(5*time.Second))
	check("master accepted", false)
	m.Handle(vrrp.Timeout{}, mT0.Add(5*time.Second+rfcMDI(100, time.Second)))
	check("expired again", true)
	m.Handle(vrrp.Fault{}, mT0.Add(10*time.Second))
	check("FAULT", false)
	m.Handle(vrrp.FaultCleared{}, mT0.Add(10*time.Second))
	check("back from FAULT", false)
	m.Handle(vrrp.ForceMaster{}, mT0.Add(11*time.Second))
	check("MASTER", true)
	if vrrp.NewMachine(mCfg3(100, "192.0.2.1")).WantsMaster() {
		t.Fatal("a fresh machine wants MASTER")
	}
}
