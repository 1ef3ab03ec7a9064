//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// scenario is one way of losing the master.
type scenario string

const (
	scCut  scenario = "cut"      // r1's switch port down
	scKill scenario = "kill+cut" // SIGKILL, then the port down
	scTerm scenario = "sigterm"  // SIGTERM: priority 0, then gone
	scBusy scenario = "busy+cut" // every CPU busy (busyCPUs), then the port down
)

// scenarios are the scenarios, in the order of the tables.
var scenarios = []scenario{scCut, scKill, scTerm, scBusy}

// limit is the RFC 5798 bound on the takeover for the scenario: the
// backup's Master_Down_Interval, or Skew_Time after a priority-0 advert.
func (s scenario) limit(adv time.Duration) time.Duration {
	if s == scTerm {
		return harness.Skew(prioBackup, adv)
	}
	return harness.MasterDown(prioBackup, adv)
}

// trialResult is one trial's three delays from the old master's last advert.
type trialResult struct {
	vip, garp, na time.Duration
	tl            *timeline // the IPv4 takeover's points; nil when the lab could not say
	ownLines      []string  // the daemon's timeline lines of this trial, both instances
}

// failoverRun drives one implementation at one advert interval through the
// scenarios in one lab.
type failoverRun struct {
	t    *scope
	im   impl
	adv  time.Duration
	l    *lab
	w    *addrWatch
	r1   *testnet.Proc // nil when not running
	r2   *testnet.Proc
	cut  bool // r1's port is down
	logw io.Writer
}

// failoverResults are one implementation's trials at one interval.
type failoverResults struct {
	res  map[scenario][]trialResult
	errs map[scenario][]error // failed trials
}

// runFailover builds one lab per implementation and runs n trials of each
// scenario, alternating between the implementations trial by trial so that
// both see the same periods of machine load. The lab that waits keeps
// exchanging adverts meanwhile. Results are by implementation name.
func runFailover(parent testing.TB, ims []impl, adv time.Duration, scs []scenario, n int, logw io.Writer) map[string]failoverResults {
	sc := newScope(parent)
	defer sc.Close()
	out := map[string]failoverResults{}
	var runs []*failoverRun
	for _, im := range ims {
		r := &failoverRun{t: sc, im: im, adv: adv, logw: logw}
		r.l = buildLab(sc)
		r.w = watchAddrs(sc, r.l.R2)
		r.r2 = im.start(sc, r.l.R2, pairConf("BACKUP", prioBackup, adv))
		runs = append(runs, r)
		out[im.name] = failoverResults{res: map[scenario][]trialResult{}, errs: map[scenario][]error{}}
	}
	for _, s := range scs {
		for i := range n {
			for _, r := range runs {
				fr := out[r.im.name]
				if err := r.ready(); err != nil {
					fr.errs[s] = append(fr.errs[s], err)
					fmt.Fprintf(logw, "  %-10s %-8s adv %-4s trial %d: not ready: %v\n", r.im.name, s, secs(adv), i+1, err)
					continue
				}
				tr, err := r.trial(s)
				if err != nil {
					fr.errs[s] = append(fr.errs[s], err)
					fmt.Fprintf(logw, "  %-10s %-8s adv %-4s trial %d: %v\n", r.im.name, s, secs(adv), i+1, err)
					continue
				}
				fr.res[s] = append(fr.res[s], tr)
				fmt.Fprintf(logw, "  %-10s %-8s adv %-4s trial %d: VIP %s  GARP %s  NA %s  (limit %s)\n",
					r.im.name, s, secs(adv), i+1, ms(tr.vip), ms(tr.garp), ms(tr.na), ms(s.limit(adv)))
				for _, l := range tr.ownLines {
					fmt.Fprintf(logw, "    %s\n", l)
				}
			}
		}
	}
	return out
}

// timeout is a generous bound for anything one failover step takes.
func (r *failoverRun) timeout() time.Duration {
	return 3*harness.MasterDown(1, r.adv) + 15*time.Second
}

// ready restores r1 (link up, daemon running) and waits until r1 holds
// both VIPs and r2 none, steadily for one more advert interval.
func (r *failoverRun) ready() error {
	if r.cut {
		r.l.If1.Restore(r.t)
		r.cut = false
	}
	if r.r1 == nil {
		r.r1 = r.im.start(r.t, r.l.R1, pairConf("MASTER", prioMaster, r.adv))
	}
	settled := func() (bool, error) {
		a1, err := addrs(r.l.R1)
		if err != nil {
			return false, err
		}
		a2, err := addrs(r.l.R2)
		if err != nil {
			return false, err
		}
		return a1[vip4] && a1[vip6] && !a2[vip4] && !a2[vip6], nil
	}
	deadline := time.Now().Add(r.timeout())
	for {
		ok, err := settled()
		if err != nil {
			return err
		}
		if ok {
			time.Sleep(max(r.adv, 100*time.Millisecond))
			if ok, err = settled(); ok || err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("r1 does not hold both VIPs with r2 holding none within %v; r1 output:\n%s", r.timeout(), tailLines(r.r1.Output(), 15))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// advertsFrom counts r1's adverts per family in pkts.
func (r *failoverRun) advertsFrom(pkts []testnet.Packet) (v4, v6 int) {
	for _, p := range pkts {
		f := harness.Classify(p)
		if f.Kind == harness.FrameAdvert && f.VRID == vrid && f.From(r.l.If1.MAC()) {
			if f.V6 {
				v6++
			} else {
				v4++
			}
		}
	}
	return v4, v6
}

var errIncomplete = errors.New("takeover not complete")

// trial applies the fault and measures the takeover.
func (r *failoverRun) trial(s scenario) (trialResult, error) {
	var tr trialResult
	logSkip := len(r.r2.Output())
	c := r.l.Client.Capture(r.t, "eth0", "ip proto 112 or ip6 proto 112 or arp or icmp6")
	defer c.Stop(r.t)
	// The capture must hold r1's adverts before the fault.
	deadline := time.Now().Add(r.timeout())
	for {
		pkts, err := c.Packets()
		if err != nil {
			return tr, err
		}
		if v4, v6 := r.advertsFrom(pkts); v4 >= 1 && v6 >= 1 {
			break
		}
		if time.Now().After(deadline) {
			return tr, fmt.Errorf("no adverts from r1 at the client within %v", r.timeout())
		}
		time.Sleep(10 * time.Millisecond)
	}

	faultAt := time.Now()
	switch s {
	case scCut:
		r.l.If1.Cut(r.t)
		r.cut = true
	case scKill:
		if err := r.r1.Kill(); err != nil {
			return tr, err
		}
		r.r1 = nil
		r.l.If1.Cut(r.t)
		r.cut = true
	case scTerm:
		if err := r.r1.Signal(syscall.SIGTERM); err != nil {
			return tr, err
		}
	case scBusy:
		stop, err := busyCPUs()
		if err != nil {
			return tr, err
		}
		defer stop()
		r.l.If1.Cut(r.t)
		r.cut = true
	}
	faultDone := time.Now()
	if s == scTerm {
		defer func() {
			// It must be gone before the next trial starts a new one.
			if _, err := r.r1.Wait(10 * time.Second); err != nil {
				_ = r.r1.Kill()
			}
			r.r1 = nil
		}()
	}

	m1, m2 := r.l.If1.MAC(), r.l.If2.MAC()
	var vipAt time.Time
	var garp, na, adv2 *harness.Frame
	deadline = time.Now().Add(r.timeout())
	for {
		var ok bool
		var werr error
		if vipAt.IsZero() {
			vipAt, ok, werr = r.w.firstAdd(vip4, faultAt)
			if !ok {
				vipAt = time.Time{}
			}
		}
		pkts, err := c.Packets()
		if err != nil {
			return tr, err
		}
		garp, na, adv2 = nil, nil, nil
		for _, p := range pkts {
			f := harness.Classify(p)
			if !f.At.After(faultAt) || !f.From(m2) {
				continue
			}
			if f.Kind == harness.FrameGARP && f.Addr == vip4 && garp == nil {
				garp = &f
			}
			if f.Kind == harness.FrameNA && f.Addr == vip6 && na == nil {
				na = &f
			}
			if f.Kind == harness.FrameAdvert && !f.V6 && f.VRID == vrid && adv2 == nil {
				adv2 = &f
			}
		}
		if !vipAt.IsZero() && garp != nil && na != nil {
			break
		}
		if time.Now().After(deadline) {
			return tr, fmt.Errorf("%w within %v: VIP on r2 %v, GARP %v, NA %v (subscription error: %v)",
				errIncomplete, r.timeout(), !vipAt.IsZero(), garp != nil, na != nil, werr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Adverts from r1 sent after the first takeover frame do not matter; a
	// little margin lets the capture catch up with a late priority-0 advert.
	time.Sleep(20 * time.Millisecond)
	pkts := c.Stop(r.t)

	// The old master's last advert per family.
	var last4, last6 *harness.Frame
	for _, p := range pkts {
		f := harness.Classify(p)
		if f.Kind != harness.FrameAdvert || f.VRID != vrid || !f.From(m1) {
			continue
		}
		last := &last4
		if f.V6 {
			last = &last6
		}
		if s == scTerm {
			// The first priority-0 advert after the signal.
			if f.Prio == 0 && !f.At.Before(faultAt) && *last == nil {
				*last = &f
			}
			continue
		}
		if f.At.Before(faultDone) {
			*last = &f
		}
	}
	if last4 == nil || last6 == nil {
		what := "advert"
		if s == scTerm {
			what = "priority-0 advert"
		}
		return tr, fmt.Errorf("no %s from r1 at the client: IPv4 %v, IPv6 %v", what, last4 != nil, last6 != nil)
	}
	tr.vip = vipAt.Sub(last4.At)
	tr.garp = garp.At.Sub(last4.At)
	tr.na = na.At.Sub(last6.At)
	deadline = last4.At.Add(s.limit(r.adv))
	tl := &timeline{vip: vipAt.Sub(deadline), garp: garp.At.Sub(deadline), na: na.At.Sub(deadline), advert: -1}
	if adv2 != nil {
		tl.advert = adv2.At.Sub(deadline)
	}
	if due, us, cpus, ok := lastTimeline(r.r2.Output(), logSkip, "VI_4"); ok {
		tl.own, tl.cpus = true, cpus
		tl.due = due.Sub(deadline)
		tl.woke, tl.ran, tl.addStart, tl.addDone, tl.ann = tl.due+us[0], tl.due+us[1], tl.due+us[2], tl.due+us[3], tl.due+us[4]
	}
	tr.tl = tl
	out := r.r2.Output()
	for line := range strings.Lines(out[min(logSkip, len(out)):]) {
		if strings.Contains(line, "takeover timeline") {
			tr.ownLines = append(tr.ownLines, strings.TrimSpace(line))
		}
	}
	return tr, nil
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func tailLines(s string, n int) string {
	b := []byte(s)
	cnt := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			cnt++
			if cnt > n {
				return string(b[i+1:])
			}
		}
	}
	return s
}

// busyCPUs keeps every CPU this process may run on busy
// (testnet.BusyCPUs) and returns what stops it.
func busyCPUs() (stop func(), err error) {
	cpus, err := testnet.AllowedCPUs()
	if err != nil {
		return nil, err
	}
	return testnet.BusyCPUs(cpus)
}
