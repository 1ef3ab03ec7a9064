package daemon

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

const delayConf = `
interface_up_down_delays {
    eth0 1.5 1
}
` + pairConf

// TestLoopLinkDelays: with interface_up_down_delays { eth0 1.5 1 } a
// master's eth0 going down for 1 s (shorter than the down delay) changes
// nothing: no FAULT, no transition, the VIP stays. Down for longer, it goes
// FAULT exactly 1.5 s after the link went down, not a nanosecond before;
// back up, it leaves FAULT exactly 1 s later.
func TestLoopLinkDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(delayConf, "150"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" {
			t.Fatalf("set-up: %s", a.state("VI_1"))
		}
		transitions := a.inst("VI_1").Transitions
		link := func(up bool) {
			kind := check.IfaceDown
			if up {
				kind = check.IfaceUp
			}
			a.ifev <- check.IfaceEvent{Kind: kind, Index: 1, Name: "eth0", Up: up}
			synctest.Wait()
		}

		flap := time.Now()
		link(false)
		sleepUntil(flap, time.Second)
		link(true)
		sleepUntil(flap, 5*time.Second)
		if st := a.inst("VI_1"); st.State != "MASTER" || st.Transitions != transitions || !a.has("192.0.2.254/24") {
			t.Fatalf("after a 1 s flap: %s, %d transitions (was %d), VIP %v", st.State, st.Transitions, transitions, a.has("192.0.2.254/24"))
		}

		down := time.Now()
		link(false)
		sleepUntil(down, time.Second)
		link(false) // a repeat keeps the deadline
		sleepUntil(down, 1500*time.Millisecond-time.Nanosecond)
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("before the down delay: %s", a.state("VI_1"))
		}
		sleepUntil(down, 1500*time.Millisecond)
		if a.state("VI_1") != "FAULT" || a.has("192.0.2.254/24") {
			t.Fatalf("at the down delay: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
		}

		up := time.Now()
		link(true)
		sleepUntil(up, time.Second-time.Nanosecond)
		if a.state("VI_1") != "FAULT" {
			t.Fatalf("before the up delay: %s", a.state("VI_1"))
		}
		sleepUntil(up, time.Second)
		if a.state("VI_1") != "BACKUP" {
			t.Fatalf("at the up delay: %s", a.state("VI_1"))
		}
	})
}

// appearing is a Host.Interface whose interface eth0 exists only once
// made to, with the index given.
type appearing struct{ index atomic.Int32 }

func (a *appearing) lookup(name string) (*net.Interface, error) {
	i := int(a.index.Load())
	if i == 0 {
		return nil, &net.OpError{Op: "route", Net: "ip+net", Err: errors.New("no such network interface")}
	}
	return &net.Interface{Index: i, Name: name, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Flags: net.FlagUp | net.FlagRunning}, nil
}

// TestLoopDynamicInterface: with dynamic_interfaces, vigild starts before
// eth0 exists: the instance sits in FAULT, sends nothing and holds no VIP.
// When eth0 appears the socket opens and the instance runs: BACKUP, then
// MASTER after Master_Down_Interval. Deleted, it goes FAULT; re-created
// (new index), it runs again. Without dynamic_interfaces the daemon does
// not build.
func TestLoopDynamicInterface(t *testing.T) {
	conf := "global_defs {\n    dynamic_interfaces\n}\n" + prio(pairConf, "150")
	mdi := 3*time.Second + time.Duration(256-150)*time.Second/256
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		seen := capture(t, wire, "192.0.2.200")
		eth0 := &appearing{}
		a := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), "192.0.2.1", "fe80::1", conf, Options{Host: Host{Interface: eth0.lookup}})
		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "FAULT" || a.has("192.0.2.254/24") || len(seen()) != 0 {
			t.Fatalf("without eth0: %s, VIP %v, %d adverts", a.state("VI_1"), a.has("192.0.2.254/24"), len(seen()))
		}

		eth0.index.Store(7)
		at := time.Now()
		a.ifev <- check.IfaceEvent{Kind: check.IfaceAdded, Index: 7, Name: "eth0", Up: true}
		synctest.Wait()
		if a.state("VI_1") != "BACKUP" {
			t.Fatalf("eth0 appeared: %s", a.state("VI_1"))
		}
		sleepUntil(at, mdi+time.Millisecond)
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") || len(seen()) == 0 {
			t.Fatalf("eth0 there for Master_Down_Interval: %s, VIP %v, %d adverts", a.state("VI_1"), a.has("192.0.2.254/24"), len(seen()))
		}

		eth0.index.Store(0)
		a.ifev <- check.IfaceEvent{Kind: check.IfaceRemoved, Index: 7, Name: "eth0"}
		synctest.Wait()
		if a.state("VI_1") != "FAULT" || a.has("192.0.2.254/24") {
			t.Fatalf("eth0 deleted: %s", a.state("VI_1"))
		}
		eth0.index.Store(8)
		at = time.Now()
		a.ifev <- check.IfaceEvent{Kind: check.IfaceAdded, Index: 8, Name: "eth0", Up: true}
		sleepUntil(at, mdi+time.Millisecond)
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("eth0 re-created: %s", a.state("VI_1"))
		}
	})

	t.Run("without dynamic_interfaces", func(t *testing.T) {
		eth0 := &appearing{}
		host := Host{Interface: eth0.lookup, VIPs: viptest.NewKernel("eth0"), Announcer: viptest.NewAnnouncements(viptest.NewKernel("eth0")),
			InterfaceEvents: make(chan check.IfaceEvent), GoTimer: true}
		_, err := New(loadConf(t, prio(pairConf, "150")), Options{Host: host})
		if err == nil || !strings.Contains(err.Error(), "interface eth0") {
			t.Fatalf("New: %v", err)
		}
	})
}

// TestLoopDynamicInterfaceDontTrackPrimary: dont_track_primary does not
// let an instance without its interface leave FAULT: it could neither send
// nor hear adverts. Once eth0 appears it runs.
func TestLoopDynamicInterfaceDontTrackPrimary(t *testing.T) {
	conf := "global_defs {\n    dynamic_interfaces\n}\n" +
		strings.Replace(prio(pairConf, "150"), "    advert_int 1\n", "    advert_int 1\n    dont_track_primary\n", 1)
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		eth0 := &appearing{}
		a := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), "192.0.2.1", "fe80::1", conf, Options{Host: Host{Interface: eth0.lookup}})
		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "FAULT" || a.has("192.0.2.254/24") {
			t.Fatalf("without eth0: %s", a.state("VI_1"))
		}
		eth0.index.Store(3)
		a.ifev <- check.IfaceEvent{Kind: check.IfaceAdded, Index: 3, Name: "eth0", Up: true}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("eth0 appeared: %s", a.state("VI_1"))
		}
	})
}
