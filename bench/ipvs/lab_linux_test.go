package ipvsbench

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/ipvslab"
	"github.com/vigil-ha/vigil/testnet/vm"
)

// BenchmarkLab runs, in one VM boot, the two daemon-level benchmarks on
// the ipvslab lab, keepalived and vigild in the same run from the same
// keepalived.conf:
//
//   - checkers: 2,000 TCP_CHECKs (200 virtual servers x 10 real servers)
//     at delay_loop 1; the CPU time the daemon's processes (keepalived:
//     parent, checker and VRRP children) use over a fixed window, read
//     from /proc/PID/stat, as cpu-ms/s of wall time, user and system;
//     then the floor process (runFloor) measured the same way.
//   - checkers-light: the same with 50 TCP_CHECKs, a load the VM keeps
//     up with, so that cpu-ms/s is what the daemon needs rather than its
//     share of a saturated vCPU.
//   - detection: the time from closing a real server's listener to its
//     destination leaving the kernel's table, median of a few runs, with
//     keepalived's schedule delay_loop 1, connect_timeout 1, retry 1,
//     delay_before_retry 1.
//
// -lab.rounds N (after -args) runs N rounds of each half inside the VM;
// the checkers half reports the medians.
//
// Figures only, never asserted.
func BenchmarkLab(b *testing.B) {
	if !vm.Inside() {
		// The same -bench pattern inside, so that -bench Lab/checkers
		// runs only that half.
		pattern := "^BenchmarkLab$"
		if f := flag.Lookup("test.bench"); f != nil && strings.Contains(f.Value.String(), "/") {
			pattern = f.Value.String()
		}
		ipvslab.RunVM(b, "^$", 40*time.Minute, "-test.bench", pattern, "-test.benchtime", fmt.Sprintf("%dx", max(*labRounds, 1)))
		return
	}
	b.Run("checkers", func(b *testing.B) { benchCheckers(b, checkServices, []string{"fin", "rst"}) })
	b.Run("checkers-light", func(b *testing.B) { benchCheckers(b, lightServices, nil) })
	b.Run("detection", benchDetection)
}

var labRounds = flag.Int("lab.rounds", 1, "BenchmarkLab's rounds inside the VM")

const (
	checkServices = 200
	lightServices = 5 // 50 TCP_CHECKs: a load the VM keeps up with
	checkReals    = 10
	window        = 10 * time.Second
)

// checkerConf has services virtual servers of checkReals real servers,
// each with a TCP_CHECK at delay_loop 1.
func checkerConf(services int) string {
	var s strings.Builder
	for i := range services {
		port := 10000 + i
		fmt.Fprintf(&s, "virtual_server %s %d {\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n", ipvslab.VIP, port)
		for j := range checkReals {
			fmt.Fprintf(&s, " real_server %s %d {\n  TCP_CHECK {\n   connect_timeout 1\n  }\n }\n", ipvslab.RealAddr(j), port)
		}
		s.WriteString("}\n")
	}
	return s.String()
}

// benchCheckers measures keepalived, vigild and the floor process closing
// each way in floors, one after the other, in every round.
func benchCheckers(b *testing.B, services int, floors []string) {
	l := ipvslab.New(b, ipvslab.Options{Directors: 1, Reals: checkReals})
	for _, r := range l.Reals {
		for i := range services {
			r.ServeTCP(b, 10000+i)
		}
	}
	conf := checkerConf(services)
	all := map[string][]sample{}
	for b.Loop() {
		for _, k := range ipvslab.Kinds {
			use, checks, downs, err := checkerCPU(b, l, k, conf, services*checkReals)
			if err != nil {
				b.Errorf("%s: %v", k, err)
				continue
			}
			x := sample{use, checks, downs}
			b.Logf("%s: %s for %d TCP_CHECKs at delay_loop 1; %d real servers wrongly taken down in the window", k, x, services*checkReals, downs)
			all[metric(k, "")] = append(all[metric(k, "")], x)
		}
		for _, closing := range floors {
			if x, ok := benchFloor(b, l, closing, services); ok {
				all["floor-"+closing+"-"] = append(all["floor-"+closing+"-"], x)
			}
		}
	}
	// The host's load changes how much guest CPU time the same work
	// takes under TCG: medians over the rounds, each round running every
	// kind one after the other.
	for _, name := range []string{metric(ipvslab.Keepalived, ""), metric(ipvslab.Vigild, ""), "floor-fin-", "floor-rst-"} {
		xs := all[name]
		if len(xs) == 0 {
			continue
		}
		med := func(f func(sample) float64) float64 {
			v := make([]float64, len(xs))
			for i, x := range xs {
				v[i] = f(x)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		m := sample{cpuRate{user: med(func(x sample) float64 { return x.user }), sys: med(func(x sample) float64 { return x.sys })},
			med(func(x sample) float64 { return x.connects }), 0}
		for _, x := range xs {
			m.downs += x.downs
		}
		b.Logf("%smedian of %d: %s (cpu-µs per connect: median %.0f); %d false downs in all", name, len(xs), m,
			med(func(x sample) float64 { return x.perConnect() }), m.downs)
		b.ReportMetric(m.user+m.sys, name+"cpu-ms/s")
		b.ReportMetric(m.user, name+"user-ms/s")
		b.ReportMetric(m.sys, name+"sys-ms/s")
		b.ReportMetric(m.connects, name+"checks/s")
		b.ReportMetric(float64(m.downs), name+"false-downs")
	}
}

// checkerCPU starts the daemon, waits until every destination is in the
// table and the checkers have run a few rounds, and returns the CPU time
// its process tree used per second over the window, the TCP connects per
// second the director's namespace started meanwhile (the checks the
// daemon actually made: a saturated daemon makes fewer), and how many real
// servers it took down in the window (every server listens all along, so
// each is a check that failed under load; both daemons log "Removing
// service ..." for it).
func checkerCPU(b *testing.B, l *ipvslab.Lab, k ipvslab.Kind, conf string, want int) (cpuRate, float64, int, error) {
	dir := l.Directors[0]
	d := ipvslab.Start(b, dir, k, conf)
	defer func() {
		if err := d.Terminate(); err != nil {
			b.Error(err)
			_ = d.Kill()
		}
		dir.Exec(b, "ipvsadm", "-C")
	}()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if n := len(destLines(ipvslab.Read(b, dir))); n == want {
			break
		} else if time.Now().After(deadline) {
			return cpuRate{}, 0, 0, fmt.Errorf("%d of %d destinations in the table after 3 minutes", n, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // the first rounds (warmup) are done
	logged := len(d.Output())
	use, connects, err := measure(b, dir, string(k), d.Pid())
	if err != nil {
		return cpuRate{}, 0, 0, err
	}
	downs := strings.Count(d.Output()[logged:], "Removing service")
	if err := syscallsPerCheck(b, string(k), d.Pid()); err != nil {
		b.Logf("%s: system calls not counted: %v", k, err)
	}
	return use, connects, downs, nil
}

// measure returns the CPU time pid's process tree used per second over
// the window and the TCP connects per second dir's namespace started
// meanwhile, and logs how busy the whole VM was.
func measure(b *testing.B, dir *testnet.Host, name string, pid int) (cpuRate, float64, error) {
	a0, err := activeOpens(b, dir)
	if err != nil {
		return cpuRate{}, 0, err
	}
	t0, err := treeCPU(pid)
	if err != nil {
		return cpuRate{}, 0, err
	}
	s0, err := systemCPU()
	if err != nil {
		return cpuRate{}, 0, err
	}
	start := time.Now()
	time.Sleep(window)
	s1, err := systemCPU()
	if err != nil {
		return cpuRate{}, 0, err
	}
	t1, err := treeCPU(pid)
	if err != nil {
		return cpuRate{}, 0, err
	}
	elapsed := time.Since(start)
	a1, err := activeOpens(b, dir)
	if err != nil {
		return cpuRate{}, 0, err
	}
	var sum float64
	for i := range s1 {
		sum += s1[i] - s0[i]
	}
	b.Logf("%s: the whole VM meanwhile: user %.0f%%, system %.0f%%, softirq %.0f%%, idle %.0f%%", name,
		100*(s1[0]-s0[0])/sum, 100*(s1[1]-s0[1])/sum, 100*(s1[3]-s0[3])/sum, 100*(s1[2]-s0[2])/sum)
	rate := func(a, b time.Duration) float64 { return float64((b - a).Microseconds()) / 1000 / elapsed.Seconds() }
	return cpuRate{user: rate(t0.user, t1.user), sys: rate(t0.sys, t1.sys)}, (a1 - a0) / elapsed.Seconds(), nil
}

// sample is one measurement of a checker process.
type sample struct {
	cpuRate
	connects float64 // per second
	downs    int
}

func (x sample) perConnect() float64 { return (x.user + x.sys) * 1000 / max(x.connects, 1) }

func (x sample) String() string {
	return fmt.Sprintf("%.1f cpu-ms/s (user %.1f, system %.1f), %.0f connects/s made (%.0f cpu-µs each)",
		x.user+x.sys, x.user, x.sys, x.connects, x.perConnect())
}

// cpuRate is CPU time per second of wall time, in milliseconds, split
// into user and system (kernel) time.
type cpuRate struct{ user, sys float64 }

// cpuUse is a process tree's CPU time so far.
type cpuUse struct{ user, sys time.Duration }

// activeOpens is the director namespace's TCP ActiveOpens counter
// (connects started, RFC 1213 tcpActiveOpens) from /proc/net/snmp.
func activeOpens(b *testing.B, dir *testnet.Host) (float64, error) {
	var names []string
	for _, line := range strings.Split(dir.Exec(b, "cat", "/proc/net/snmp"), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, "ActiveOpens"); i > 0 && i < len(f) {
			return strconv.ParseFloat(f[i], 64)
		}
	}
	return 0, fmt.Errorf("no Tcp ActiveOpens in the director's /proc/net/snmp")
}

// systemCPU is /proc/stat's total user (with nice), system, idle (with
// iowait) and softirq (with irq) ticks.
func systemCPU() ([4]float64, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return [4]float64{}, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return [4]float64{}, fmt.Errorf("/proc/stat starts with %q", line)
	}
	var v [7]float64
	for i := range v {
		v[i], _ = strconv.ParseFloat(f[1+i], 64)
	}
	// user nice system idle iowait irq softirq
	return [4]float64{v[0] + v[1], v[2], v[3] + v[4], v[5] + v[6]}, nil
}

func destLines(t ipvslab.Table) []string {
	var out []string
	for _, l := range t {
		if strings.HasPrefix(l, "-> ") {
			out = append(out, l)
		}
	}
	return out
}

// treeCPU is the user and system CPU time of pid and all its descendants
// (from /proc/*/stat, in clock ticks of 10 ms).
func treeCPU(pid int) (cpuUse, error) {
	use, _, err := tree(pid)
	return use, err
}

// tree returns the user and system CPU time of pid and all its
// descendants, and their pids.
func tree(pid int) (cpuUse, []int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return cpuUse{}, nil, err
	}
	parent := map[int]int{}
	ticks := map[int][2]int64{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ... utime(14) stime(15): comm may hold
		// spaces and parentheses, so split after the last ')'.
		i := bytes.LastIndexByte(raw, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(raw[i+1:]))
		if len(f) < 13 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[p] = pp
		ticks[p] = [2]int64{ut, st}
	}
	if _, ok := ticks[pid]; !ok {
		return cpuUse{}, nil, fmt.Errorf("pid %d is gone", pid)
	}
	var sum [2]int64
	var pids []int
	for p, t := range ticks {
		for q := p; q > 1; q = parent[q] {
			if q == pid {
				sum[0] += t[0]
				sum[1] += t[1]
				pids = append(pids, p)
				break
			}
		}
	}
	// USER_HZ is 100 on Linux/amd64.
	const tick = 10 * time.Millisecond
	return cpuUse{user: time.Duration(sum[0]) * tick, sys: time.Duration(sum[1]) * tick}, pids, nil
}

func metric(k ipvslab.Kind, unit string) string {
	if k == ipvslab.Vigild {
		return "vigil-" + unit
	}
	return string(k) + "-" + unit
}

const detectRuns = 5

func detectConf() string {
	var s strings.Builder
	fmt.Fprintf(&s, "virtual_server %s 80 {\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n", ipvslab.VIP)
	for j := range 2 {
		fmt.Fprintf(&s, " real_server %s 8080 {\n  TCP_CHECK {\n   connect_timeout 1\n   retry 1\n   delay_before_retry 1\n  }\n }\n", ipvslab.RealAddr(j))
	}
	s.WriteString("}\n")
	return s.String()
}

func benchDetection(b *testing.B) {
	l := ipvslab.New(b, ipvslab.Options{Directors: 1, Reals: 2})
	for _, r := range l.Reals {
		r.ServeTCP(b, 8080)
	}
	dir := l.Directors[0]
	var k *ipvs.Kernel
	if err := dir.Do(func() (err error) { k, err = ipvs.Dial(); return err }); err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	gone := netip.MustParseAddr(ipvslab.RealAddr(0))
	present := func() (bool, error) {
		tab, err := k.Services()
		if err != nil {
			return false, err
		}
		for _, s := range tab {
			for dk := range s.Dests {
				if dk.Addr() == gone {
					return true, nil
				}
			}
		}
		return false, nil
	}
	waitFor := func(want bool, limit time.Duration) (time.Duration, error) {
		start := time.Now()
		for time.Since(start) < limit {
			got, err := present()
			if err != nil {
				return 0, err
			}
			if got == want {
				return time.Since(start), nil
			}
			time.Sleep(5 * time.Millisecond)
		}
		return 0, fmt.Errorf("rs1 present=%v not reached in %v", want, limit)
	}
	for b.Loop() {
		for _, kind := range ipvslab.Kinds {
			d := ipvslab.Start(b, dir, kind, detectConf())
			var runs []time.Duration
			var err error
			if _, err = waitFor(true, time.Minute); err == nil {
				time.Sleep(3 * time.Second) // past the first check
				for range detectRuns {
					l.Reals[0].StopTCP(b, 8080)
					var dt time.Duration
					dt, err = waitFor(false, time.Minute)
					l.Reals[0].ServeTCP(b, 8080)
					if err != nil {
						break
					}
					runs = append(runs, dt)
					if _, err = waitFor(true, time.Minute); err != nil {
						break
					}
					time.Sleep(1500 * time.Millisecond)
				}
			}
			d.Stop(b)
			dir.Exec(b, "ipvsadm", "-C")
			if err != nil {
				b.Errorf("%s: %v", kind, err)
				continue
			}
			slices.Sort(runs)
			med := runs[len(runs)/2]
			b.Logf("%s: kill to removal %v (median of %d, all %v)", kind, med, len(runs), runs)
			b.ReportMetric(float64(med.Milliseconds()), metric(kind, "detect-ms"))
		}
	}
}
