package ipvsbench

import (
	"bytes"
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
//     from /proc/PID/stat, as cpu-ms/s of wall time.
//   - detection: the time from closing a real server's listener to its
//     destination leaving the kernel's table, median of a few runs, with
//     keepalived's schedule delay_loop 1, connect_timeout 1, retry 1,
//     delay_before_retry 1.
//
// Figures only, never asserted.
func BenchmarkLab(b *testing.B) {
	if !vm.Inside() {
		ipvslab.RunVM(b, "^$", 20*time.Minute, "-test.bench", "^BenchmarkLab$", "-test.benchtime", "1x")
		return
	}
	b.Run("checkers", benchCheckers)
	b.Run("detection", benchDetection)
}

const (
	checkServices = 200
	checkReals    = 10
	window        = 10 * time.Second
)

func checkerConf() string {
	var s strings.Builder
	for i := range checkServices {
		port := 10000 + i
		fmt.Fprintf(&s, "virtual_server %s %d {\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n", ipvslab.VIP, port)
		for j := range checkReals {
			fmt.Fprintf(&s, " real_server %s %d {\n  TCP_CHECK {\n   connect_timeout 1\n  }\n }\n", ipvslab.RealAddr(j), port)
		}
		s.WriteString("}\n")
	}
	return s.String()
}

func benchCheckers(b *testing.B) {
	l := ipvslab.New(b, ipvslab.Options{Directors: 1, Reals: checkReals})
	for _, r := range l.Reals {
		for i := range checkServices {
			r.ServeTCP(b, 10000+i)
		}
	}
	conf := checkerConf()
	for b.Loop() {
		for _, k := range ipvslab.Kinds {
			ms, checks, downs, err := checkerCPU(b, l, k, conf)
			if err != nil {
				b.Errorf("%s: %v", k, err)
				continue
			}
			b.Logf("%s: %.1f cpu-ms/s for %d TCP_CHECKs at delay_loop 1: %.0f connects/s made (%.0f cpu-µs each); %d real servers wrongly taken down in the window",
				k, ms, checkServices*checkReals, checks, ms*1000/max(checks, 1), downs)
			b.ReportMetric(ms, metric(k, "cpu-ms/s"))
			b.ReportMetric(checks, metric(k, "checks/s"))
			b.ReportMetric(float64(downs), metric(k, "false-downs"))
		}
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
func checkerCPU(b *testing.B, l *ipvslab.Lab, k ipvslab.Kind, conf string) (float64, float64, int, error) {
	dir := l.Directors[0]
	d := ipvslab.Start(b, dir, k, conf)
	defer func() {
		if err := d.Terminate(); err != nil {
			b.Error(err)
			_ = d.Kill()
		}
		dir.Exec(b, "ipvsadm", "-C")
	}()
	want := checkServices * checkReals
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if n := len(destLines(ipvslab.Read(b, dir))); n == want {
			break
		} else if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("%d of %d destinations in the table after 3 minutes", n, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // the first rounds (warmup) are done
	logged := len(d.Output())
	a0, err := activeOpens(b, dir)
	if err != nil {
		return 0, 0, 0, err
	}
	t0, err := treeCPU(d.Pid())
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	time.Sleep(window)
	t1, err := treeCPU(d.Pid())
	if err != nil {
		return 0, 0, 0, err
	}
	elapsed := time.Since(start)
	a1, err := activeOpens(b, dir)
	if err != nil {
		return 0, 0, 0, err
	}
	downs := strings.Count(d.Output()[logged:], "Removing service")
	return float64((t1 - t0).Milliseconds()) / elapsed.Seconds(), (a1 - a0) / elapsed.Seconds(), downs, nil
}

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

func destLines(t ipvslab.Table) []string {
	var out []string
	for _, l := range t {
		if strings.HasPrefix(l, "-> ") {
			out = append(out, l)
		}
	}
	return out
}

// treeCPU is the user+system CPU time of pid and all its descendants
// (from /proc/*/stat, in clock ticks of 10 ms).
func treeCPU(pid int) (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	parent := map[int]int{}
	ticks := map[int]int64{}
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
		ticks[p] = ut + st
	}
	if _, ok := ticks[pid]; !ok {
		return 0, fmt.Errorf("pid %d is gone", pid)
	}
	var sum int64
	for p, t := range ticks {
		for q := p; q > 1; q = parent[q] {
			if q == pid {
				sum += t
				break
			}
		}
	}
	// USER_HZ is 100 on Linux/amd64.
	return time.Duration(sum) * 10 * time.Millisecond, nil
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
