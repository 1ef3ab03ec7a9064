package vrrp_test

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// The arbiter's Hold: a held backup does not take over when its
// Master_Down_Timer expires, restarts it, and reports Starved; releasing
// the hold after such an expiry makes the takeover due at once.
var holdScenarios = []mScenario{
	{"held backup restarts its down timer instead of taking over", "Hold: no takeover, Master_Down_Timer restarted",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{0, vrrp.Hold{Silence: true}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 2 * rfcMDI(100, time.Second)},
			{5 * time.Second, vrrp.Hold{}, nil, vrrp.StateBackup, 5 * time.Second},
			{5 * time.Second, vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, 6 * time.Second},
		}},
	{"releasing a hold that held nothing back keeps the timer", "Hold{On:false} without a held expiry",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{0, vrrp.Hold{Silence: true}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{time.Second, vrrp.Hold{}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonMasterDown), vrrp.StateMaster, rfcMDI(100, time.Second) + time.Second},
		}},
	{"a held sync-group member does not ask the group", "Hold: no RequestMaster",
		withCfg(mCfg3(100, "192.0.2.1"), func(c *vrrp.Config) { c.SyncGroup = true }), []mStep{
			initStep3,
			{0, vrrp.Hold{Silence: true}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 2 * rfcMDI(100, time.Second)},
			{4 * time.Second, vrrp.ForceMaster{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonForced), vrrp.StateMaster, 5 * time.Second},
		}},
	{"a held backup still preempts a lower-priority master it hears", "Hold vetoes silence only; RFC 5798 §6.4.2 preemption",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{0, vrrp.Hold{Silence: true}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{time.Second, advRx(50, "192.0.2.9"), nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonPreempt), vrrp.StateMaster, rfcMDI(100, time.Second) + time.Second},
		}},
	{"a held backup takes over from a master that leaves", "Hold: a priority-0 advert is heard (RFC 5798 §6.4.2, Skew_Time)",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{0, vrrp.Hold{Silence: true}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{time.Second, advRx(0, "192.0.2.9"), nil, vrrp.StateBackup, time.Second + rfcSkew(100, time.Second)},
			{time.Second + rfcSkew(100, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonPriorityZero), vrrp.StateMaster, 2*time.Second + rfcSkew(100, time.Second)},
		}},
	{"a hold with Preempt holds back preemption too", "Hold{Preempt}: the peer is better placed",
		mCfg3(100, "192.0.2.1"), []mStep{
			initStep3,
			{0, vrrp.Hold{Silence: true, Preempt: true}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{time.Second, advRx(50, "192.0.2.9"), nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 2 * rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second) + time.Second, vrrp.Hold{Silence: true}, nil, vrrp.StateBackup, 2 * rfcMDI(100, time.Second)},
			{rfcMDI(100, time.Second) + 2*time.Second, advRx(50, "192.0.2.9"), nil, vrrp.StateBackup, 2 * rfcMDI(100, time.Second)},
			{2 * rfcMDI(100, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 100, vrrp.ReasonPreempt), vrrp.StateMaster, 2*rfcMDI(100, time.Second) + time.Second},
		}},
	{"a hold leaves a master alone", "Hold acts on takeovers only; the arbiter uses Release on a master",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{0, vrrp.Hold{Silence: true}, nil, vrrp.StateMaster, time.Second},
			{time.Second, vrrp.Timeout{}, sendActs(100, vrrp.ReasonAdvertTimer), vrrp.StateMaster, 2 * time.Second},
			{1500 * time.Millisecond, vrrp.Release{Reason: vrrp.ReasonArbiter}, []vrrp.Action{aSend{Priority: 0, Reason: vrrp.ReasonArbiter}, aRemove{Reason: vrrp.ReasonArbiter}, aTrans{From: vrrp.StateMaster, To: vrrp.StateBackup, Reason: vrrp.ReasonArbiter}}, vrrp.StateBackup, 1500*time.Millisecond + rfcMDI(100, time.Second)},
			{1500*time.Millisecond + rfcMDI(100, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup, 1500*time.Millisecond + 2*rfcMDI(100, time.Second)},
		})},
}

func TestHoldScenarios(t *testing.T) { runScenarios(t, holdScenarios) }

// TestStarved: Starved is "a held backup hears no master": set by a held
// expiry with no advert in the interval, cleared by an accepted advert;
// a discarded lower-priority advert (preemption) counts as heard.
func TestStarved(t *testing.T) {
	m := vrrp.NewMachine(mCfg3(100, "192.0.2.1"))
	check := func(when string, want bool) {
		t.Helper()
		if got := m.Starved(); got != want {
			t.Fatalf("%s: Starved() = %v, want %v", when, got, want)
		}
	}
	mdi := rfcMDI(100, time.Second)
	m.Handle(vrrp.Startup{}, mT0)
	m.Handle(vrrp.Hold{Silence: true}, mT0)
	check("timer running", false)
	m.Handle(vrrp.Timeout{}, mT0.Add(mdi))
	check("held expiry, nothing heard", true)
	m.Handle(advRx(150, "192.0.2.9"), mT0.Add(mdi+time.Second))
	check("master accepted", false)
	at := mT0.Add(mdi + time.Second)
	m.Handle(vrrp.Timeout{}, at.Add(mdi))
	check("expired again", true)
	m.Handle(advRx(50, "192.0.2.9"), at.Add(mdi+time.Second))
	check("lower-priority advert heard", true) // discarded: the timer is not restarted
	dl, _ := m.Deadline()
	m.Handle(vrrp.Timeout{}, dl)
	check("held expiry after a discarded advert", false)
	if !m.Held().Silence {
		t.Fatal("Held() = false under a hold")
	}
}
