package ipvsbench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/testnet/ipvslab"
	"github.com/vigil-ha/vigil/testnet/vm"
)

const (
	services = 1000
	reals    = 10
)

// conf is a keepalived.conf with services x reals NAT destinations and no
// checkers (every real server is alive from the start for both daemons).
// With changed, the first real server of every tenth service has weight
// 100 instead of 1: 1 % of the weights differ.
func conf(changed bool) []byte { return checkedConf(changed, 0) }

// checkedConf is conf with, when port is not 0, a TCP_CHECK on every real
// server that connects to 127.0.0.1:port (a listener of the benchmark,
// so every check succeeds and the table is the same as conf's).
func checkedConf(changed bool, port int) []byte {
	var b bytes.Buffer
	for i := range services {
		fmt.Fprintf(&b, "virtual_server 192.0.2.1 %d {\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n", 10000+i)
		for j := range reals {
			w := j + 1
			if changed && j == 0 && i%10 == 0 {
				w = 100
			}
			fmt.Fprintf(&b, " real_server 198.51.100.%d 80 {\n  weight %d\n", j+1, w)
			if port != 0 {
				fmt.Fprintf(&b, "  TCP_CHECK {\n   connect_ip 127.0.0.1\n   connect_port %d\n   connect_timeout 5\n  }\n", port)
			}
			b.WriteString(" }\n")
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// weightSum is the sum of the weights conf(changed) programs.
func weightSum(changed bool) int {
	sum := services * reals * (reals + 1) / 2
	if changed {
		sum += services / 10 * 99
	}
	return sum
}

// table reads /proc/net/ip_vs: the number of destinations and the sum of
// their weights.
func table() (dests, weights int, err error) {
	f, err := os.Open("/proc/net/ip_vs")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[0] != "->" {
			continue
		}
		w, err := strconv.Atoi(fields[3])
		if err != nil {
			continue // the header's "-> RemoteAddress:Port Forward Weight ..."
		}
		dests++
		weights += w
	}
	return dests, weights, sc.Err()
}

func parse(b *testing.B, text []byte) *config.Config {
	b.Helper()
	c, errs := config.Parse("bench.conf", text, config.Options{ConfigID: "bench"})
	for _, e := range errs {
		if e.Severity == config.Fatal {
			b.Fatal(e)
		}
	}
	return c
}

// apply programs c's table, as vigild does at start and at a reload, and
// returns the time the Reconciler took.
func apply(b *testing.B, r *ipvs.Reconciler, c *config.Config) time.Duration {
	b.Helper()
	spec, _ := ipvs.Build(c)
	p, _ := ipvs.New(spec)
	start := time.Now()
	if _, err := r.Apply(p.Table()); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func inVM(b *testing.B, name string) bool {
	if vm.Inside() {
		return true
	}
	ipvslab.RunVM(b, "^$", 20*time.Minute, "-test.bench", "^"+name+"$", "-test.benchtime", "2x")
	return false
}

func dial(b *testing.B) *ipvs.Kernel {
	b.Helper()
	k, err := ipvs.Dial()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { k.Close() })
	return k
}

func flush(b *testing.B, k *ipvs.Kernel) {
	b.Helper()
	if err := k.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkProgram: one op = empty table to 1,000 x 10 programmed, by
// vigil (Build, Policy, Reconciler over netlink) and, reported beside it
// as keepalived-ms/op, by keepalived's checker process from start until
// the last destination is in the table (that includes its start-up).
func BenchmarkProgram(b *testing.B) {
	if !inVM(b, "BenchmarkProgram") {
		return
	}
	text := conf(false)
	k := dial(b)
	c := parse(b, text)
	var keepalived time.Duration
	for b.Loop() {
		b.StopTimer()
		flush(b, k)
		b.StartTimer()
		apply(b, ipvs.NewReconciler(k), c)
		b.StopTimer()
		if n, w, err := table(); err != nil || n != services*reals || w != weightSum(false) {
			b.Fatalf("vigil programmed %d destinations of weight %d (%v), want %d of %d", n, w, err, services*reals, weightSum(false))
		}
		flush(b, k)
		kd := startKeepalived(b, text)
		keepalived += kd.waitTable(b, weightSum(false))
		kd.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "vigil-ms/op")
	b.ReportMetric(float64(keepalived.Milliseconds())/float64(b.N), "keepalived-ms/op")
}

// BenchmarkReload: one op = a reload of the 1,000 x 10 table that
// changes 1 % of the weights (100 destinations), alternately up and back,
// end to end in the daemon: the configuration file is rewritten, the
// daemon gets SIGHUP, and the op ends when the kernel has the new
// weights. vigild (the static build, as run in production) and
// keepalived's checker process run the same files in the same VM, one
// after the other. vigild's "IPVS reload timing" debug line (it runs with
// -D) splits its time; see reloadTiming.
//
// Two runs: "plain" without checkers; "checked" with a TCP_CHECK on each
// of the 10,000 real servers (against a listener of the benchmark, so all
// stay up), where a reload also stops and starts 10,000 checkers.
func BenchmarkReload(b *testing.B) {
	if !inVM(b, "BenchmarkReload") {
		return
	}
	b.Run("plain", func(b *testing.B) { benchReload(b, 0) })
	b.Run("checked", func(b *testing.B) {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			b.Fatalf("ip link set lo up: %v\n%s", err, out)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() { // ended by ln.Close
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		benchReload(b, ln.Addr().(*net.TCPAddr).Port)
	})
}

func benchReload(b *testing.B, port int) {
	texts := [2][]byte{checkedConf(false, port), checkedConf(true, port)}
	k := dial(b)
	flush(b, k)

	v := startDaemon(b, texts[0], ipvslab.VigildPath, "-n", "-l", "-D")
	waitWeights(b, k, 0, time.Now(), 5*time.Minute, v.output)
	var vigil time.Duration
	var split reloadTiming
	for j := 1; j <= b.N; j++ {
		if err := os.WriteFile(v.conf, texts[j%2], 0o644); err != nil {
			b.Fatal(err)
		}
		logged := len(v.output())
		start := time.Now()
		if err := v.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			b.Fatal(err)
		}
		vigil += waitWeights(b, k, j, start, time.Minute, v.output)
		split.add(b, v, logged)
	}
	v.stop()
	flush(b, k)

	kd := startKeepalived(b, texts[0])
	defer kd.stop()
	waitWeights(b, k, 0, time.Now(), 5*time.Minute, kd.output)
	var keepalived time.Duration
	for j := 1; j <= b.N; j++ {
		if err := os.WriteFile(kd.conf, texts[j%2], 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := kd.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			b.Fatal(err)
		}
		keepalived += waitWeights(b, k, j, start, 5*time.Minute, kd.output)
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / n }
	b.ReportMetric(ms(vigil), "vigil-ms/op")
	b.ReportMetric(ms(keepalived), "keepalived-ms/op")
	// vigil's time, split (vigild's "Reload timing" and "IPVS reload
	// timing" lines): loading and parsing the file, waiting for the loop,
	// then the IPVS side's phases (reloadTiming in internal/daemon/lvs.go);
	// "other" is the rest: the signal's delivery, the VRRP side of the
	// reload, this benchmark's polling.
	b.ReportMetric(ms(split.load), "vigil-load-ms/op")
	b.ReportMetric(ms(split.loopWait), "vigil-loop-wait-ms/op")
	b.ReportMetric(ms(vigil-split.load-split.loopWait-split.total), "vigil-other-ms/op")
	b.ReportMetric(ms(split.stop), "vigil-checkers-stop-ms/op")
	b.ReportMetric(ms(split.build), "vigil-build-ms/op")
	b.ReportMetric(ms(split.start), "vigil-checkers-start-ms/op")
	b.ReportMetric(ms(split.wait), "vigil-wait-ms/op")
	b.ReportMetric(ms(split.apply), "vigil-apply-ms/op")
	b.ReportMetric(float64(split.read)/n, "vigil-services-read/op")
	b.ReportMetric(float64(split.changes)/n, "vigil-changes/op")
}

// changedKey is the service whose weight changes last in config order
// (port 10990, real server 198.51.100.1): both daemons apply a reload's
// changes in that order, so waitWeights polls it alone, cheaply, and
// checks the whole table once it is right.
var changedKey = ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.1"),
	Port: 10000 + services - services%10 - 10}

// waitWeights waits until the kernel has conf(j%2 == 1)'s table and
// returns the time since start at which the last changed weight was in.
func waitWeights(b *testing.B, k *ipvs.Kernel, j int, start time.Time, limit time.Duration, out func() string) time.Duration {
	b.Helper()
	changed := j%2 == 1
	want := uint32(1)
	if changed {
		want = 100
	}
	dk := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), 80)
	for {
		ds, err := k.Dests([]ipvs.ServiceKey{changedKey})
		if err != nil {
			b.Fatal(err)
		}
		if d, ok := ds[changedKey][dk]; ok && d.Weight == want {
			break
		}
		if time.Since(start) > limit {
			b.Fatalf("the weight of %s -> %s is not %d after %v\n%s", changedKey, dk, want, limit, out())
		}
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(start)
	deadline := time.Now().Add(limit)
	for {
		n, w, err := table()
		if err == nil && n == services*reals && w == weightSum(changed) {
			return took
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d destinations of weight %d (%v), want %d of %d\n%s", n, w, err, services*reals, weightSum(changed), out())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reloadTiming sums vigild's "Reload timing" and "IPVS reload timing"
// lines.
type reloadTiming struct {
	load, loopWait                         time.Duration
	total, stop, build, start, wait, apply time.Duration
	read, changes                          int
}

// add waits for the timing lines vigild logs after offset logged and adds
// them up.
func (rt *reloadTiming) add(b *testing.B, v *daemon, logged int) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := v.output()
		if i := strings.Index(out[logged:], "msg=\"IPVS reload timing\""); i >= 0 {
			line, _, _ := strings.Cut(out[logged+i:], "\n")
			f := logFields(line)
			dur := func(key string) time.Duration {
				x, err := strconv.ParseFloat(f[key], 64)
				if err != nil {
					b.Fatalf("timing line without %s: %s", key, line)
				}
				return time.Duration(x * float64(time.Millisecond))
			}
			i = strings.Index(out[logged:], "msg=\"Reload timing\"")
			if i < 0 {
				b.Fatalf("an IPVS reload timing line without a Reload timing line:\n%s", out[logged:])
			}
			first, _, _ := strings.Cut(out[logged+i:], "\n")
			f = logFields(first)
			rt.load += dur("load_ms")
			rt.loopWait += dur("loop_wait_ms")
			f = logFields(line)
			rt.total += dur("total_ms")
			rt.stop += dur("stop_ms")
			rt.build += dur("build_ms")
			rt.start += dur("start_ms")
			rt.wait += dur("wait_ms")
			rt.apply += dur("apply_ms")
			r, _ := strconv.Atoi(f["services_read"])
			c, _ := strconv.Atoi(f["changes"])
			rt.read += r
			rt.changes += c
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("no IPVS reload timing line from vigild:\n%s", out[logged:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logFields splits a slog text line into its key=value pairs (values
// here have no spaces).
func logFields(line string) map[string]string {
	f := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f[k] = strings.Trim(v, `"`)
		}
	}
	return f
}

// daemon is keepalived or vigild, in the foreground, its output in a file
// (printed only when the benchmark fails).
type daemon struct {
	cmd   *exec.Cmd
	log   string // its stdout and stderr
	conf  string
	start time.Time
}

// startKeepalived starts Debian's keepalived's checker process on text.
func startKeepalived(b *testing.B, text []byte) *daemon {
	return startDaemon(b, text, "/usr/sbin/keepalived", "--dont-fork", "--check")
}

// startDaemon writes text as the keepalived.conf of a directory of its own
// and starts path with args and the file, pid file and (vigild's) control
// socket flags of both daemons.
func startDaemon(b *testing.B, text []byte, path string, args ...string) *daemon {
	b.Helper()
	dir := b.TempDir()
	kd := &daemon{log: dir + "/out.log", conf: dir + "/keepalived.conf"}
	if err := os.WriteFile(kd.conf, text, 0o644); err != nil {
		b.Fatal(err)
	}
	out, err := os.Create(kd.log)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close() // the child has its own copy
	args = append(args, "-f", kd.conf, "-p", dir+"/k.pid")
	if strings.HasSuffix(path, "keepalived") {
		args = append(args, "-c", dir+"/c.pid", "-r", dir+"/v.pid")
	} else {
		args = append(args, "--control", dir+"/ctl.sock")
	}
	kd.cmd = exec.Command(path, args...)
	kd.cmd.Stdout, kd.cmd.Stderr = out, out
	kd.start = time.Now()
	if err := kd.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(kd.stop)
	return kd
}

// stop ends the daemon with SIGTERM, at once if called again.
func (kd *daemon) stop() {
	if kd.cmd.ProcessState != nil {
		return
	}
	_ = kd.cmd.Process.Signal(syscall.SIGTERM)
	_ = kd.cmd.Wait()
}

// output is what the daemon has written so far.
func (kd *daemon) output() string {
	b, err := os.ReadFile(kd.log)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// waitTable returns the time from keepalived's start until the table has
// every destination with the given sum of weights.
func (kd *daemon) waitTable(b *testing.B, weights int) time.Duration {
	return kd.waitTableFrom(b, kd.start, weights)
}

func (kd *daemon) waitTableFrom(b *testing.B, start time.Time, weights int) time.Duration {
	b.Helper()
	deadline := start.Add(5 * time.Minute)
	for {
		n, w, err := table()
		if err == nil && n == services*reals && w == weights {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("keepalived programmed %d destinations of weight %d in 5 minutes (%v), want %d of %d\n%s",
				n, w, err, services*reals, weights, kd.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
