package vrrp_test

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// vrScenarios: a master whose VIP is removed behind its back, as keepalived
// 2.2.7 handles it (keepalived_netlink.c set_vrrp_backup: leave MASTER with a
// priority-0 advert, Master_Down_Timer = Skew_Time).
var vrScenarios = []mScenario{
	{"VIPRemoved: priority 0, VIPs released, back to master after Skew_Time", "keepalived set_vrrp_backup",
		mCfg3(150, "192.0.2.1"), catSteps(masterAtZero(150), []mStep{
			{time.Second / 2, vrrp.VIPRemoved{}, []vrrp.Action{
				aSend{Priority: 0, Reason: vrrp.ReasonVIPRemoved},
				aRemove{Reason: vrrp.ReasonVIPRemoved},
				aTrans{From: vrrp.StateMaster, To: vrrp.StateBackup, Reason: vrrp.ReasonVIPRemoved},
			}, vrrp.StateBackup, time.Second/2 + rfcSkew(150, time.Second)},
			{time.Second/2 + rfcSkew(150, time.Second) - oneNS, vrrp.Timeout{}, nil, vrrp.StateBackup, time.Second/2 + rfcSkew(150, time.Second)},
			{time.Second/2 + rfcSkew(150, time.Second), vrrp.Timeout{}, upActs(vrrp.StateBackup, 150, vrrp.ReasonVIPRemoved),
				vrrp.StateMaster, time.Second*3/2 + rfcSkew(150, time.Second)},
		})},
	{"VIPRemoved: a higher-priority router that speaks first keeps the VIPs", "keepalived set_vrrp_backup + RFC 5798 §6.4.2",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{time.Second, vrrp.VIPRemoved{}, []vrrp.Action{
				aSend{Priority: 0, Reason: vrrp.ReasonVIPRemoved},
				aRemove{Reason: vrrp.ReasonVIPRemoved},
				aTrans{From: vrrp.StateMaster, To: vrrp.StateBackup, Reason: vrrp.ReasonVIPRemoved},
			}, vrrp.StateBackup, time.Second + rfcSkew(100, time.Second)},
			{time.Second + rfcSkew(150, time.Second), advRx(150, "192.0.2.2"), nil, vrrp.StateBackup,
				time.Second + rfcSkew(150, time.Second) + rfcMDI(100, time.Second)},
			{time.Second + rfcSkew(100, time.Second), vrrp.Timeout{}, nil, vrrp.StateBackup,
				time.Second + rfcSkew(150, time.Second) + rfcMDI(100, time.Second)},
		})},
	{"VIPRemoved keeps a given reason", "typed reasons",
		mCfg3(100, "192.0.2.1"), catSteps(masterAtZero(100), []mStep{
			{0, vrrp.VIPRemoved{Reason: vrrp.ReasonTracking}, []vrrp.Action{
				aSend{Priority: 0, Reason: vrrp.ReasonTracking},
				aRemove{Reason: vrrp.ReasonTracking},
				aTrans{From: vrrp.StateMaster, To: vrrp.StateBackup, Reason: vrrp.ReasonTracking},
			}, vrrp.StateBackup, rfcSkew(100, time.Second)},
		})},
	{"VIPRemoved outside MASTER does nothing", "keepalived address_is_ours: only a master's addresses count",
		mCfg3(100, "192.0.2.1"), []mStep{
			{0, vrrp.VIPRemoved{}, nil, vrrp.StateInit, noDeadline},
			initStep3,
			{time.Second, vrrp.VIPRemoved{}, nil, vrrp.StateBackup, rfcMDI(100, time.Second)},
			{time.Second, vrrp.Fault{}, []vrrp.Action{aTrans{From: vrrp.StateBackup, To: vrrp.StateFault, Reason: vrrp.ReasonFault}}, vrrp.StateFault, noDeadline},
			{2 * time.Second, vrrp.VIPRemoved{}, nil, vrrp.StateFault, noDeadline},
		}},
}

func TestVIPRemovedScenarios(t *testing.T) { runScenarios(t, vrScenarios) }
