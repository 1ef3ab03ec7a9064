package daemon

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// queueSilently queues job as doAs does but without waking the worker: a
// worker on standby takes it, a parked one never sees it.
func queueSilently(k *kernelWork, job kernelJob) {
	k.mu.Lock()
	k.jobs = append(k.jobs, queuedJob{job: job})
	atomic.AddUint64(&k.offered, 1)
	k.mu.Unlock()
}

// withPs runs the test with at least n Ps, as a two-core machine has.
func withPs(t *testing.T, n int) {
	if old := runtime.GOMAXPROCS(0); old < n {
		runtime.GOMAXPROCS(n)
		t.Cleanup(func() { runtime.GOMAXPROCS(old) })
	}
}

// TestKernelStandby: on standby the idle worker watches for jobs without
// being woken, so a job queued without the wake-up signal runs; once the
// standby has ended (its time passed, or a zero time) the worker parks
// again and such a job waits for a signal. Without the spin the first
// job would never run.
func TestKernelStandby(t *testing.T) {
	withPs(t, 2)
	k := newKernelWork()
	go k.run()
	defer func() {
		k.close()
		<-k.done
	}()
	ran := make(chan string, 4)
	job := func(name string) kernelJob {
		return func(context.Context) func(time.Time) {
			ran <- name
			return nil
		}
	}

	k.standbyUntil(time.Now().Add(time.Minute))
	if n := k.standbys.Load(); n != 1 {
		t.Fatalf("standbys %d, want 1", n)
	}
	k.standbyUntil(time.Now().Add(time.Minute)) // a later time: a new standby, the worker is already up
	time.Sleep(20 * time.Millisecond)           // the worker has reached its spin
	queueSilently(k, job("on standby"))
	select {
	case got := <-ran:
		if got != "on standby" {
			t.Fatalf("ran %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a job queued on standby did not run: the worker was not watching")
	}

	// parked: a job queued without a signal waits, as the worker parks;
	// the signal then runs it.
	parked := func(why string) {
		t.Helper()
		queueSilently(k, job(why))
		select {
		case got := <-ran:
			t.Fatalf("%q ran without a signal: the worker still spins", got)
		case <-time.After(200 * time.Millisecond):
		}
		k.signal()
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatalf("%q did not run once signalled", why)
		}
	}
	k.standbyUntil(time.Time{}) // ended by the loop
	time.Sleep(50 * time.Millisecond)
	parked("after the standby ended")

	// A standby that runs out ends by itself.
	k.standbyUntil(time.Now().Add(10 * time.Millisecond))
	time.Sleep(100 * time.Millisecond)
	parked("after the standby ran out")
}

// TestKernelStandbyOrder: jobs handed over on standby, with their
// signals, all run, in order, each once.
func TestKernelStandbyOrder(t *testing.T) {
	withPs(t, 2)
	k := newKernelWork()
	go k.run()
	var got []int
	done := make(chan struct{})
	for round := range 200 {
		k.standbyUntil(time.Now().Add(time.Second))
		for i := range 5 {
			n := round*5 + i
			k.do(func(context.Context) func(time.Time) {
				got = append(got, n) // the worker's alone
				if n == 999 {
					close(done)
				}
				return nil
			})
		}
		k.standbyUntil(time.Time{})
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("jobs did not all run")
	}
	k.close()
	<-k.done
	for i, n := range got {
		if n != i {
			t.Fatalf("job %d ran as number %d (of %d)", n, i, len(got))
		}
	}
	if len(got) != 1000 {
		t.Fatalf("%d jobs ran, want 1000", len(got))
	}
}

const standbyConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %PRIO%
    advert_int 0.1
    version 3
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

// realTimeNode is a node whose loop waits on a timerfd, in real time (the
// standby is off on Go timers, which the synctest tests use).
func realTimeNode(t *testing.T, wire *vrrptest.Wire, addr4, prio string) *node {
	n := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), addr4, "fe80::"+addr4[len(addr4)-1:], prioConf(prio), Options{})
	n.d.host.GoTimer = false
	n.start(t)
	return n
}

func prioConf(p string) string { return prio(standbyConf, p) }

// waitFor polls cond for a generous time and fails with msg() if it stays
// false.
func waitFor(t *testing.T, cond func() bool, msg func() string) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatal(msg())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitState waits until name is in state on n.
func waitState(t *testing.T, n *node, name, state string) {
	t.Helper()
	waitFor(t, func() bool { return n.state(name) == state },
		func() string { return fmt.Sprintf("%s is %s, want %s", name, n.state(name), state) })
}

// TestLoopStandbyBeforeTakeover: a backup whose master never advertises
// puts the worker on standby before its Master_Down deadline, takes over,
// and ends the standby once it is master. A loop woken more than
// standbyLead late (the race detector, a loaded machine; about one start
// in 160 here) finds the takeover due and no time to stand by, so up to
// three nodes take over, each on a wire of its own, and one of them must
// have stood by; without the standby none does.
func TestLoopStandbyBeforeTakeover(t *testing.T) {
	withPs(t, 2)
	const tries = 3
	for i := 1; ; i++ {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := realTimeNode(t, wire, "192.0.2.1", "150")
		waitState(t, n, "VI_1", "MASTER")
		if !n.has("192.0.2.254/24") {
			t.Fatal("master without its VIP")
		}
		if n.d.kw.standbys.Load() >= 1 {
			waitFor(t, func() bool { return n.d.kw.standby.Load() == 0 },
				func() string { return "the worker is still on standby after the takeover" })
			if w := n.warms.Load(); w != 1 {
				t.Errorf("the takeover's code was mapped in %d times before it, want once", w)
			}
			return
		}
		if i == tries {
			t.Fatalf("no standby before any of %d takeovers, want at least 1", tries)
		}
		t.Logf("node %d took over without a standby; a new node", i)
	}
}

// TestLoopNoStandbyWhileMasterAdvertises: a backup that hears its master's
// adverts never comes near its Master_Down deadline, so its worker is
// never put on standby (it would spin a CPU for nothing).
func TestLoopNoStandbyWhileMasterAdvertises(t *testing.T) {
	withPs(t, 2)
	wire := vrrptest.NewWire(vrrptest.WireOptions{})
	m := realTimeNode(t, wire, "192.0.2.1", "200")
	waitState(t, m, "VI_1", "MASTER")
	b := realTimeNode(t, wire, "192.0.2.2", "100")
	waitState(t, b, "VI_1", "BACKUP")
	time.Sleep(1500 * time.Millisecond) // four Master_Down intervals
	if s := b.state("VI_1"); s != "BACKUP" {
		t.Fatalf("the backup is %s", s)
	}
	if got := b.d.kw.standbys.Load(); got != 0 {
		t.Errorf("standbys %d on a backup whose master advertises, want 0", got)
	}
	if w := b.warms.Load(); w != 0 {
		t.Errorf("the takeover's code mapped in %d times on a backup whose master advertises, want 0", w)
	}
}

// TestStandbyForSpan: the standby starts standbyLead before the earliest
// takeover (the loop is woken then) and lasts until takeoverWait after it;
// no takeover, or one further off, ends it.
func TestStandbyForSpan(t *testing.T) {
	warms := 0
	d := &Daemon{kw: newKernelWork()}
	d.host.WarmTakeover = func() { warms++ }
	until := func() time.Duration {
		if u := d.kw.standby.Load(); u != 0 {
			return time.Duration(u)
		}
		return 0
	}
	now := d.kw.epoch.Add(time.Second)
	far := now.Add(time.Hour)

	takeover := now.Add(10 * time.Millisecond)
	next, ok := d.standbyFor(now, takeover, far, true)
	if !ok || !next.Equal(takeover.Add(-standbyLead)) || until() != 0 {
		t.Errorf("10 ms before the takeover: next %v before it, standby %v; want a wake-up %v before it, no standby",
			takeover.Sub(next), until(), standbyLead)
	}

	if warms != 0 {
		t.Errorf("the takeover's code mapped in %d times before the standby, want 0", warms)
	}

	takeover = now.Add(standbyLead / 2)
	next, ok = d.standbyFor(now, takeover, far, true)
	if want := takeover.Add(takeoverWait).Sub(d.kw.epoch); !ok || !next.Equal(far) || until() != want {
		t.Errorf("within the lead: next %v, standby until %v; want next unchanged, standby until %v", next.Sub(now), until(), want)
	}
	// Mapped in as the standby starts, late as it is, and not again while
	// it lasts.
	d.standbyFor(now.Add(time.Microsecond), takeover, far, true)
	if warms != 1 {
		t.Errorf("the takeover's code mapped in %d times within the lead, want once", warms)
	}

	next, ok = d.standbyFor(now, time.Time{}, far, true)
	if !ok || !next.Equal(far) || until() != 0 {
		t.Errorf("no takeover: next %v, standby %v; want next unchanged and no standby", next.Sub(now), until())
	}
}
