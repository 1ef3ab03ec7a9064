//go:build linux

package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// captureBufKiB is the kernel buffer of the load window's captures: a
// round of 255 adverts sent back to back fits several times over.
const captureBufKiB = 16 << 10

// Load lab parameters (50 instances at advert_int 0.1 s).
const (
	loadInstances = 50
	loadAdvert    = 100 * time.Millisecond
)

// userHZ is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture vigil runs on).
const userHZ = 100

// loadResult is one implementation's cost with many instances.
type loadResult struct {
	window             time.Duration
	sent, recv         int           // frames r1's eth0 sent / r2's received in the window (interface counters; adverts only)
	cpuSent, cpuRecv   time.Duration // CPU of r1 / r2 in the window (schedstat, ns)
	tickSent, tickRecv time.Duration // the same from utime+stime (10 ms ticks)
	// The capture window, after the first and as long: tcpdump on r1's and
	// r2's eth0.
	capSent, capRecv             int             // adverts from r1 its captures saw
	capFramesSent, capFramesRecv int             // frames the counters counted in it
	capCPUSent, capCPURecv       time.Duration   // CPU of r1 / r2 in it
	procs1, procs2               int             // processes summed
	hwm1, rss1                   int64           // bytes, r1
	hwm2, rss2                   int64           // bytes, r2
	anon2, file2                 int64           // bytes, r2: RssAnon and RssFile (what the RSS is made of)
	jitter                       []time.Duration // |interval - advert_int| between adverts of one instance in r1's capture
	gaps                         int             // intervals longer than 1.5 advert_int
	backupSent                   int             // adverts the backups (r2) sent in the capture window: takeovers that should not be
}

func (l loadResult) perSent() time.Duration { return perAdvert(l.cpuSent, l.sent) }
func (l loadResult) perRecv() time.Duration { return perAdvert(l.cpuRecv, l.recv) }

// perSentCaptured and perRecvCaptured are the same in the capture window.
func (l loadResult) perSentCaptured() time.Duration { return perAdvert(l.capCPUSent, l.capFramesSent) }
func (l loadResult) perRecvCaptured() time.Duration { return perAdvert(l.capCPURecv, l.capFramesRecv) }

func perAdvert(cpu time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return cpu / time.Duration(n)
}

// runLoad starts loadInstances instances on r1 (masters) and r2 (backups)
// and measures CPU over window and memory at its end.
func runLoad(parent testing.TB, im impl, window time.Duration, logw io.Writer) (loadResult, error) {
	return runLoadN(parent, im, loadInstances, loadAdvert, window, logw)
}

// runLoadN starts n instances (at most maxLoadInstances) with advert
// interval adv on r1 (masters) and r2 (backups), and measures CPU over
// window, memory at its end, and the intervals between each instance's
// adverts as r2's capture saw them.
func runLoadN(parent testing.TB, im impl, n int, adv, window time.Duration, logw io.Writer) (loadResult, error) {
	sc := newScope(parent)
	defer sc.Close()
	var res loadResult
	l := buildLab(sc)
	p1 := im.start(sc, l.R1, loadConf("MASTER", prioMaster, n, adv))
	p2 := im.start(sc, l.R2, loadConf("BACKUP", prioBackup, n, adv))
	deadline := time.Now().Add(30 * time.Second)
	for !im.floor {
		a1, err := addrs(l.R1)
		if err != nil {
			return res, err
		}
		a2, err := addrs(l.R2)
		if err != nil {
			return res, err
		}
		n1, n2 := 0, 0
		for i := 1; i <= n; i++ {
			if a1[loadVIP(i)] {
				n1++
			}
			if a2[loadVIP(i)] {
				n2++
			}
		}
		if n1 == n && n2 == 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%s: r1 holds %d of %d VIPs, r2 %d, after 30 s; r1 output:\n%s",
				im.name, n1, n, n2, tailLines(p1.Output(), 15))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // start-up work (GARP bursts) out of the window
	// Two windows of the same length. The first measures CPU with nothing
	// else running and counts adverts with the interfaces' own counters.
	// A capture is part of what it measures otherwise: tcpdump is woken
	// for every frame (--immediate-mode), inside the sender's system call,
	// which adds up to 8 µs per advert depending on the sender, and it drops
	// frames on a busy machine, which left the CPU divided by too few
	// adverts. The second runs the captures: the intervals between an
	// instance's adverts, the backups' own adverts, the CPU with the
	// captures, and the check that the counters counted adverts only.
	pids := [2]int{p1.Pid(), p2.Pid()}
	w, err := measureWindow(l, pids, window)
	if err != nil {
		return res, err
	}
	res.window, res.cpuSent, res.cpuRecv, res.tickSent, res.tickRecv = w.dur, w.cpu[0], w.cpu[1], w.ticks[0], w.ticks[1]
	res.sent, res.recv, res.procs1, res.procs2 = w.frames[0], w.frames[1], w.procs[0], w.procs[1]
	if res.hwm1, res.rss1, err = groupMem(p1.Pid()); err != nil {
		return res, err
	}
	if res.hwm2, res.rss2, err = groupMem(p2.Pid()); err != nil {
		return res, err
	}
	if res.anon2, res.file2, err = groupRSSParts(p2.Pid()); err != nil {
		return res, err
	}
	// Counted where they leave r1 and where they reach r2: a capture at
	// the client can lose frames on a loaded machine. The buffer holds a
	// whole round of the instances' adverts: with libpcap's default, the
	// burst of 255 adverts a sender puts on the veth every interval lost
	// up to a fifth of its frames in the capture.
	cap1 := l.R1.CaptureBuffered(sc, "eth0", "ip proto 112", captureBufKiB)
	cap2 := l.R2.CaptureBuffered(sc, "eth0", "ip proto 112", captureBufKiB)
	fmt.Fprintf(logw, "  %s: %d instances up, measuring for %v, then for %v with captures\n", im.name, n, window, window)
	cw, err := measureWindow(l, pids, window)
	if err != nil {
		return res, err
	}
	res.capCPUSent, res.capCPURecv = cw.cpu[0], cw.cpu[1]
	res.capFramesSent, res.capFramesRecv = cw.frames[0], cw.frames[1]
	t0, t1 := cw.start, cw.start.Add(cw.dur)
	m1, m2 := l.If1.MAC(), l.If2.MAC()
	// count returns r1's adverts in c's window and the backups' (r2's);
	// with times not nil it also lists when each of r1's instances' left.
	count := func(c *testnet.Capture, times map[int][]time.Time) (masters, backups int) {
		for _, p := range c.Stop(sc) {
			f := harness.Classify(p)
			if f.Kind != harness.FrameAdvert || f.At.Before(t0) || f.At.After(t1) {
				continue
			}
			if f.From(m2) {
				backups++
			}
			if f.From(m1) {
				masters++
				if times != nil {
					times[f.VRID] = append(times[f.VRID], f.At)
				}
			}
		}
		return masters, backups
	}
	// The timers are judged where the adverts leave: r1's capture stamps
	// a frame inside the sender's system call, r2's after the bridge and
	// r2's backlog, which a burst of frames delays.
	departures := map[int][]time.Time{}
	res.capSent, _ = count(cap1, departures)
	res.capRecv, res.backupSent = count(cap2, nil)
	res.jitter, res.gaps = intervalErrors(departures, adv)
	return res, nil
}

// windowSample is what measureWindow saw of r1 ([0]) and r2 ([1]).
type windowSample struct {
	start  time.Time
	dur    time.Duration
	cpu    [2]time.Duration // schedstat
	ticks  [2]time.Duration // utime+stime
	procs  [2]int
	frames [2]int // r1's eth0 transmitted, r2's eth0 received
}

// measureWindow samples the frame counters of r1's and r2's eth0 and the
// CPU of the process groups pids (r1's, r2's), sleeps d, and samples them
// again. The window runs from one reading of r1's counter to the next; the
// other figures are read right after it, within a millisecond.
func measureWindow(l *lab, pids [2]int, d time.Duration) (windowSample, error) {
	type sample struct {
		at  time.Time
		ctr [2]testnet.Counters
		cpu [2]cpuSample
	}
	read := func() (sample, error) {
		var s sample
		var err error
		s.at = time.Now()
		if s.ctr[0], err = l.R1.Counters("eth0"); err != nil {
			return s, err
		}
		if s.ctr[1], err = l.R2.Counters("eth0"); err != nil {
			return s, err
		}
		for i, pid := range pids {
			if s.cpu[i], err = sampleCPU(pid); err != nil {
				return s, err
			}
		}
		return s, nil
	}
	var w windowSample
	before, err := read()
	if err != nil {
		return w, err
	}
	time.Sleep(d)
	after, err := read()
	if err != nil {
		return w, err
	}
	w.start, w.dur = before.at, after.at.Sub(before.at)
	for i := range pids {
		w.cpu[i] = after.cpu[i].run - before.cpu[i].run
		w.ticks[i] = after.cpu[i].ticks - before.cpu[i].ticks
		w.procs[i] = after.cpu[i].procs
	}
	w.frames[0] = int(after.ctr[0].TxPackets - before.ctr[0].TxPackets)
	w.frames[1] = int(after.ctr[1].RxPackets - before.ctr[1].RxPackets)
	return w, nil
}

// intervalErrors returns, over every instance, how far each interval
// between two consecutive adverts is from adv (absolute), and how many
// intervals were longer than 1.5 adv: an advert lost, by the sender or by
// the capture (tcpdump drops frames on a loaded machine), or very late.
func intervalErrors(arrivals map[int][]time.Time, adv time.Duration) (errs []time.Duration, gaps int) {
	for _, ts := range arrivals {
		slices.SortFunc(ts, time.Time.Compare)
		for i := 1; i < len(ts); i++ {
			d := ts[i].Sub(ts[i-1])
			if d > adv*3/2 {
				gaps++
				continue
			}
			errs = append(errs, (d - adv).Abs())
		}
	}
	return errs, gaps
}

// groupPids lists the live processes of process group pgid.
func groupPids(pgid int) ([]int, error) {
	pids := slices.Collect(maps.Keys(testnet.GroupStates(pgid)))
	if len(pids) == 0 {
		return nil, fmt.Errorf("failover-bench: no live process in group %d", pgid)
	}
	slices.Sort(pids)
	return pids, nil
}

// groupCPU returns utime+stime summed over the process group, and how many
// processes it summed.
func groupCPU(pgid int) (time.Duration, int, error) {
	pids, err := groupPids(pgid)
	if err != nil {
		return 0, 0, err
	}
	var ticks int64
	for _, pid := range pids {
		f, err := testnet.StatFields(pid)
		if err != nil {
			return 0, 0, err
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("failover-bench: /proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
		}
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / userHZ, len(pids), nil
}

// cpuSample is a process group's CPU time so far, both ways.
type cpuSample struct {
	ticks time.Duration // utime+stime (groupCPU)
	run   time.Duration // the threads' run time (groupRuntime)
	procs int
}

func sampleCPU(pgid int) (cpuSample, error) {
	var s cpuSample
	var err error
	if s.ticks, s.procs, err = groupCPU(pgid); err != nil {
		return s, err
	}
	s.run, err = groupRuntime(pgid)
	return s, err
}

// groupRuntime returns the time on CPU of every thread of the process
// group (the first field of /proc/PID/task/TID/schedstat, in ns): the
// scheduler's own account, finer than utime+stime's ticks. Threads that
// ended are not in it (neither daemon ends threads while it runs).
func groupRuntime(pgid int) (time.Duration, error) {
	pids, err := groupPids(pgid)
	if err != nil {
		return 0, err
	}
	var ns int64
	for _, pid := range pids {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return 0, err
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
			if err != nil {
				continue // the thread ended meanwhile
			}
			f := strings.Fields(string(b))
			if len(f) < 1 {
				return 0, fmt.Errorf("failover-bench: /proc/%d/task/%s/schedstat: %q", pid, t.Name(), b)
			}
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("failover-bench: /proc/%d/task/%s/schedstat: %w", pid, t.Name(), err)
			}
			ns += v
		}
	}
	return time.Duration(ns), nil
}

// groupMem returns VmHWM and VmRSS in bytes, summed over the process group.
func groupMem(pgid int) (hwm, rss int64, err error) {
	kb, err := groupStatusKB(pgid, "VmHWM", "VmRSS")
	if err != nil {
		return 0, 0, err
	}
	return kb[0] * 1024, kb[1] * 1024, nil
}

// groupRSSParts returns RssAnon and RssFile in bytes, summed over the
// process group: the heap and stacks against the mapped program and
// libraries.
func groupRSSParts(pgid int) (anon, file int64, err error) {
	kb, err := groupStatusKB(pgid, "RssAnon", "RssFile")
	if err != nil {
		return 0, 0, err
	}
	return kb[0] * 1024, kb[1] * 1024, nil
}

// groupStatusKB sums the kB figures of keys in /proc/PID/status over the
// process group.
func groupStatusKB(pgid int, keys ...string) ([]int64, error) {
	pids, err := groupPids(pgid)
	if err != nil {
		return nil, err
	}
	sum := make([]int64, len(keys))
	for _, pid := range pids {
		kb, err := testnet.StatusKB(pid, keys...)
		if err != nil {
			return nil, fmt.Errorf("failover-bench: %w", err)
		}
		for i := range sum {
			sum[i] += kb[i]
		}
	}
	return sum, nil
}

// parseStatusMem reads VmHWM and VmRSS ("VmRSS:	  1234 kB") in bytes.
func parseStatusMem(s string) (hwm, rss int64, err error) {
	kb, err := testnet.ParseStatusKB(s, "VmHWM", "VmRSS")
	if err != nil {
		return 0, 0, err
	}
	return kb[0] * 1024, kb[1] * 1024, nil
}
