package vrrp_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vrrp"
)

// The Machine against Debian's keepalived 2.2.7 on a real wire: a veth pair
// between two network namespaces, keepalived in one, the Machine in the other
// driven by a minimal loop (mDriver) on a real vrrp.Conn and the real clock.
// The checks are on outcomes and reasons, with generous timeouts, never on
// how fast anything happened.

// mDriver is a test-only daemon loop: one goroutine owns the Machine and
// executes its actions (adverts on the Conn; VIPs are only recorded), one
// reads the Conn. stop waits for both.
type mDriver struct {
	t      *testing.T
	cfg    vrrp.Config
	vips   []netip.Addr
	group  netip.Addr
	conn   vrrp.Conn
	events chan vrrp.Event
	done   chan struct{}
	wg     sync.WaitGroup

	mu          sync.Mutex // mu guards the following fields
	transitions []vrrp.Transition
	state       vrrp.State
	received    int        // adverts accepted from the peer
	peer        netip.Addr // the source of the last one
	sent        int
	sendErr     error
}

func mStartDriver(t *testing.T, h *testnet.Host, cfg vrrp.Config, vips ...netip.Addr) *mDriver {
	t.Helper()
	var conn vrrp.Conn
	is6 := vips[0].Is6()
	listen, group := vrrp.ListenIPv4, netip.MustParseAddr("224.0.0.18")
	if is6 {
		listen, group = vrrp.ListenIPv6, netip.MustParseAddr("ff02::12")
	}
	if err := h.Do(func() (err error) { conn, err = listen("eth0", vrrp.ConnOptions{}); return err }); err != nil {
		t.Fatalf("listen (IPv6 %v) in %s: %v", is6, h.Name(), err)
	}
	cfg.LocalAddr = conn.LocalAddr()
	d := &mDriver{t: t, cfg: cfg, vips: vips, group: group, conn: conn, events: make(chan vrrp.Event, 64), done: make(chan struct{})}
	d.wg.Add(2)
	go d.runRead()
	go d.runLoop()
	t.Cleanup(d.stop)
	return d
}

// stop ends both goroutines and waits for them; the test's cleanup calls it.
func (d *mDriver) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	close(d.done)
	_ = d.conn.Close()
	d.wg.Wait()
}

func (d *mDriver) post(ev vrrp.Event) {
	select {
	case d.events <- ev:
	case <-d.done:
	}
}

// runRead is started by mStartDriver and stopped by stop (Close).
func (d *mDriver) runRead() {
	defer d.wg.Done()
	buf := make([]byte, vrrp.MaxMessageLen)
	var p vrrp.Packet
	want := vrrp.CheckConfig{Version: 3, VRID: d.cfg.VRID, Addrs: d.vips, Self: d.cfg.LocalAddr}
	for {
		n, meta, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if vrrp.Accept(&p, buf[:n], meta, want).Drops() {
			continue
		}
		d.mu.Lock()
		d.received++
		d.peer = meta.Src
		d.mu.Unlock()
		d.post(vrrp.AdvertReceived{Priority: p.Priority, MaxAdvertInterval: time.Duration(p.MaxAdvertCentis) * 10 * time.Millisecond, Src: meta.Src})
	}
}

// runLoop is started by mStartDriver and stopped by stop.
func (d *mDriver) runLoop() {
	defer d.wg.Done()
	m := vrrp.NewMachine(d.cfg)
	d.exec(m.Handle(vrrp.Startup{}, time.Now()))
	for {
		var timer <-chan time.Time
		var tm *time.Timer
		if dl, ok := m.Deadline(); ok {
			tm = time.NewTimer(time.Until(dl))
			timer = tm.C
		}
		select {
		case ev := <-d.events:
			d.exec(m.Handle(ev, time.Now()))
		case <-timer:
			d.exec(m.Handle(vrrp.Timeout{}, time.Now()))
		case <-d.done:
		}
		if tm != nil {
			tm.Stop()
		}
		select {
		case <-d.done:
			return
		default:
		}
	}
}

func (d *mDriver) exec(acts []vrrp.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case vrrp.SendAdvert:
			p := &vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: d.cfg.VRID, Priority: a.Priority,
				MaxAdvertCentis: uint16(d.cfg.AdvertInterval / (10 * time.Millisecond)), Addrs: d.vips}
			err := d.conn.WriteTo(p, d.group)
			d.mu.Lock()
			d.sent++
			if err != nil && d.sendErr == nil {
				d.sendErr = err
			}
			d.mu.Unlock()
		case vrrp.Transition:
			d.mu.Lock()
			d.transitions = append(d.transitions, a)
			d.state = a.To
			d.mu.Unlock()
		}
	}
}

func (d *mDriver) snapshot() (vrrp.State, []vrrp.Transition, int, int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state, append([]vrrp.Transition(nil), d.transitions...), d.received, d.sent, d.sendErr
}

// waitState waits for the Machine to reach state and returns the transition
// that got it there.
func (d *mDriver) waitState(state vrrp.State, timeout time.Duration, why string) vrrp.Transition {
	d.t.Helper()
	testnet.Eventually(d.t, timeout, func() bool { s, _, _, _, _ := d.snapshot(); return s == state }, "%s: Machine never reached %v: %s", why, state, d)
	_, tr, _, _, _ := d.snapshot()
	return tr[len(tr)-1]
}

// waitTransition waits for a transition to state among those after the
// first n (so a state held only briefly is not missed) and returns it.
func (d *mDriver) waitTransition(n int, state vrrp.State, timeout time.Duration, why string) vrrp.Transition {
	d.t.Helper()
	var found vrrp.Transition
	testnet.Eventually(d.t, timeout, func() bool {
		_, tr, _, _, _ := d.snapshot()
		for _, x := range tr[min(n, len(tr)):] {
			if x.To == state {
				found = x
				return true
			}
		}
		return false
	}, "%s: no transition to %v: %s", why, state, d)
	return found
}

func (d *mDriver) String() string {
	s, tr, rx, tx, err := d.snapshot()
	return fmt.Sprintf("state %v, transitions %v, adverts received %d, sent %d, first send error %v", s, tr, rx, tx, err)
}

// mInterval is the advert interval on both sides: short enough for a quick
// test, long enough (Master_Down_Interval about 1.8 s) that a loaded CI
// machine does not fake a master's death.
const mInterval = 500 * time.Millisecond

// mKeepalivedConf is one VRRPv3 instance on eth0 with advert_int 0.5 s and
// the VIP 192.0.2.100.
func mKeepalivedConf(prio int, state string) string {
	return mKeepalivedConfVIP(prio, state, "192.0.2.100/24")
}

func mKeepalivedConfVIP(prio int, state, vip string) string {
	return fmt.Sprintf(`global_defs {
    router_id vigil_machine_test
}
vrrp_instance VI_1 {
    state %s
    interface eth0
    version 3
    virtual_router_id 51
    priority %d
    advert_int 0.5
    virtual_ipaddress {
        %s
    }
}
`, state, prio, vip)
}

// mLab is two hosts on one veth wire: keepalived's (192.0.2.1) and the
// Machine's (192.0.2.2).
func mLab(t *testing.T) (ka, us *testnet.Host) { return mLabAddrs(t, "192.0.2.1/24", "192.0.2.2/24") }

func mLabAddrs(t *testing.T, kaCIDR, usCIDR string) (ka, us *testnet.Host) {
	t.Helper()
	lab := testnet.New(t)
	ka, us = lab.Host("ka"), lab.Host("us")
	a, b := lab.Wire(ka, "eth0", us, "eth0")
	a.AddAddr(t, kaCIDR)
	b.AddAddr(t, usCIDR)
	return ka, us
}

func mMachineCfg(prio uint8) vrrp.Config {
	return vrrp.Config{VRID: 51, Version: 3, Priority: prio, AdvertInterval: mInterval, Preempt: true}
}

var mVIP = netip.MustParseAddr("192.0.2.100")

// TestMachineWithKeepalived: RFC 5798 §6.4 against keepalived 2.2.7.
func TestMachineWithKeepalived(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("SKIPPING: -short: keepalived interop runs in namespaces for about 15 s (never skipped when CI=true)")
	}
	const wait = 15 * time.Second

	// A keepalived master keeps a lower-priority Machine in BACKUP; its
	// priority-0 advert on SIGTERM hands over after Skew_Time (§6.4.2).
	t.Run("backup to keepalived, priority-0 handover", func(t *testing.T) {
		t.Parallel()
		ka, us := mLab(t)
		k := ka.Keepalived(t, mKeepalivedConf(150, "MASTER"), "-P")
		k.WaitOutput(t, "Entering MASTER STATE", wait)
		d := mStartDriver(t, us, mMachineCfg(100), mVIP)
		testnet.Eventually(t, wait, func() bool { _, _, rx, _, _ := d.snapshot(); return rx >= 4 }, "4 adverts from keepalived: %s", d)
		if s, tr, _, _, _ := d.snapshot(); s != vrrp.StateBackup || len(tr) != 1 {
			t.Fatalf("under a keepalived master of priority 150: %s", d)
		}
		if err := k.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if tr := d.waitState(vrrp.StateMaster, wait, "after keepalived's SIGTERM"); tr.Reason != vrrp.ReasonPriorityZero {
			t.Fatalf("took over with reason %v, want %v (keepalived's priority-0 advert): %s", tr.Reason, vrrp.ReasonPriorityZero, d)
		}
	})

	// A higher-priority Machine preempts a keepalived master, which yields
	// (§6.4.2 Preempt_Mode, §6.4.3); our SIGTERM advert hands back (§6.4.3).
	t.Run("preempt keepalived, then hand back with priority 0", func(t *testing.T) {
		t.Parallel()
		ka, us := mLab(t)
		k := ka.Keepalived(t, mKeepalivedConf(100, "MASTER"), "-P")
		k.WaitOutput(t, "Entering MASTER STATE", wait)
		d := mStartDriver(t, us, mMachineCfg(200), mVIP)
		if tr := d.waitState(vrrp.StateMaster, wait, "preempting keepalived"); tr.Reason != vrrp.ReasonPreempt {
			t.Fatalf("became master with reason %v, want %v: %s", tr.Reason, vrrp.ReasonPreempt, d)
		}
		testnet.Eventually(t, wait, func() bool { return mAfter(k.Output(), "Entering MASTER STATE", "Entering BACKUP STATE") },
			"keepalived did not yield; its output:\n%s", k.Output())
		_, _, _, sent0, _ := d.snapshot()
		testnet.Eventually(t, wait, func() bool { _, _, _, tx, _ := d.snapshot(); return tx >= sent0+3 }, "3 more adverts: %s", d)
		if s, tr, _, _, err := d.snapshot(); s != vrrp.StateMaster || len(tr) != 2 || err != nil {
			t.Fatalf("after keepalived yielded: %s", d)
		}
		d.post(vrrp.Shutdown{})
		d.waitState(vrrp.StateInit, wait, "Shutdown")
		testnet.Eventually(t, wait, func() bool { return strings.Count(k.Output(), "Entering MASTER STATE") >= 2 },
			"keepalived did not take back over after our priority-0 advert; its output:\n%s", k.Output())
	})

	// Equal priorities, both master at once (ForceMaster): the higher primary
	// address wins on both sides (§6.4.3); IPv6 compares link-local sources.
	for _, tc := range []struct {
		name           string
		kaCIDR, usCIDR string
		vip            string
	}{
		{"equal priority, our address higher (IPv4)", "192.0.2.1/24", "192.0.2.2/24", "192.0.2.100/24"},
		{"equal priority, our address lower (IPv4)", "192.0.2.20/24", "192.0.2.3/24", "192.0.2.100/24"},
		{"equal priority, link-local tiebreak (IPv6)", "2001:db8::1/64", "2001:db8::2/64", "2001:db8::100/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ka, us := mLabAddrs(t, tc.kaCIDR, tc.usCIDR)
			k := ka.Keepalived(t, mKeepalivedConfVIP(100, "MASTER", tc.vip), "-P")
			k.WaitOutput(t, "Entering MASTER STATE", wait)
			d := mStartDriver(t, us, mMachineCfg(100), netip.MustParsePrefix(tc.vip).Addr())
			testnet.Eventually(t, wait, func() bool { _, _, rx, _, _ := d.snapshot(); return rx >= 3 }, "adverts from keepalived: %s", d)
			if s, _, _, _, _ := d.snapshot(); s != vrrp.StateBackup {
				t.Fatalf("a backup must accept an equal-priority master whatever its address (§6.4.2): %s", d)
			}
			d.mu.Lock()
			weWin := d.cfg.LocalAddr.Compare(d.peer) > 0
			d.mu.Unlock()
			d.post(vrrp.ForceMaster{})
			d.waitTransition(1, vrrp.StateMaster, wait, "ForceMaster")
			if weWin {
				testnet.Eventually(t, wait, func() bool { return mAfter(k.Output(), "Entering MASTER STATE", "Entering BACKUP STATE") },
					"keepalived (lower address %v) did not yield to us (%v); its output:\n%s", d.peer, d.cfg.LocalAddr, k.Output())
				_, _, _, sent0, _ := d.snapshot()
				testnet.Eventually(t, wait, func() bool { _, _, _, tx, _ := d.snapshot(); return tx >= sent0+3 }, "3 more adverts: %s", d)
				if s, tr, _, _, _ := d.snapshot(); s != vrrp.StateMaster || len(tr) != 2 {
					t.Fatalf("we have the higher address but did not stay master: %s", d)
				}
				return
			}
			if tr := d.waitTransition(2, vrrp.StateBackup, wait, "keepalived has the higher address"); tr.Reason != vrrp.ReasonHigherAddress {
				t.Fatalf("stepped down with reason %v, want %v: %s", tr.Reason, vrrp.ReasonHigherAddress, d)
			}
			_, _, rx0, _, _ := d.snapshot()
			testnet.Eventually(t, wait, func() bool { _, _, rx, _, _ := d.snapshot(); return rx >= rx0+3 }, "3 more adverts from keepalived: %s", d)
			if mAfter(k.Output(), "Entering MASTER STATE", "Entering BACKUP STATE") {
				t.Fatalf("keepalived (higher address %v) yielded to us (%v); its output:\n%s", d.peer, d.cfg.LocalAddr, k.Output())
			}
		})
	}

	// A Machine master steps down for a higher-priority keepalived that
	// starts later (§6.4.3), and keepalived stays master.
	t.Run("step down for keepalived", func(t *testing.T) {
		t.Parallel()
		ka, us := mLab(t)
		d := mStartDriver(t, us, mMachineCfg(100), mVIP)
		if tr := d.waitState(vrrp.StateMaster, wait, "alone on the wire"); tr.Reason != vrrp.ReasonMasterDown {
			t.Fatalf("became master with reason %v, want %v: %s", tr.Reason, vrrp.ReasonMasterDown, d)
		}
		k := ka.Keepalived(t, mKeepalivedConf(200, "BACKUP"), "-P")
		if tr := d.waitState(vrrp.StateBackup, wait, "keepalived of priority 200 started"); tr.Reason != vrrp.ReasonHigherPriority {
			t.Fatalf("stepped down with reason %v, want %v: %s", tr.Reason, vrrp.ReasonHigherPriority, d)
		}
		k.WaitOutput(t, "Entering MASTER STATE", wait)
		_, _, rx0, _, _ := d.snapshot()
		testnet.Eventually(t, wait, func() bool { _, _, rx, _, _ := d.snapshot(); return rx >= rx0+3 }, "3 more adverts from keepalived: %s", d)
		if s, tr, _, _, _ := d.snapshot(); s != vrrp.StateBackup || len(tr) != 3 {
			t.Fatalf("after stepping down: %s", d)
		}
		if out := k.Output(); mAfter(out, "Entering MASTER STATE", "Entering BACKUP STATE") {
			t.Fatalf("keepalived left MASTER again; its output:\n%s", out)
		}
	})
}

// mAfter reports whether b occurs in s after the first a.
func mAfter(s, a, b string) bool {
	i := strings.Index(s, a)
	return i >= 0 && strings.Contains(s[i+len(a):], b)
}
