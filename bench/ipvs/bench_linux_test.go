package ipvsbench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/ipvs"
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
func conf(changed bool) []byte {
	var b bytes.Buffer
	for i := range services {
		fmt.Fprintf(&b, "virtual_server 192.0.2.1 %d {\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n", 10000+i)
		for j := range reals {
			w := j + 1
			if changed && j == 0 && i%10 == 0 {
				w = 100
			}
			fmt.Fprintf(&b, " real_server 198.51.100.%d 80 {\n  weight %d\n }\n", j+1, w)
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
	vm.Run(b, "^$", vm.Options{Files: []string{"/usr/sbin/keepalived"}, Timeout: 20 * time.Minute,
		Args: []string{"-test.bench", "^" + name + "$", "-test.benchtime", "2x"}})
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

// BenchmarkReload: one op = a reload that changes 1 % of the weights of
// the 1,000 x 10 table (100 destinations), alternately up and back. vigil
// parses the new configuration, builds its table and reconciles (reading
// the whole table from the kernel first, as every Apply does);
// keepalived-ms/op is keepalived's checker process from SIGHUP until the
// last changed weight is in the table.
func BenchmarkReload(b *testing.B) {
	if !inVM(b, "BenchmarkReload") {
		return
	}
	texts := [2][]byte{conf(false), conf(true)}
	k := dial(b)
	flush(b, k)
	r := ipvs.NewReconciler(k)
	apply(b, r, parse(b, texts[0]))
	i := 0
	var reconcile time.Duration
	for b.Loop() {
		i++
		reconcile += apply(b, r, parse(b, texts[i%2]))
		b.StopTimer()
		if n, w, err := table(); err != nil || n != services*reals || w != weightSum(i%2 == 1) {
			b.Fatalf("after vigil's reload: %d destinations of weight %d (%v), want %d of %d", n, w, err, services*reals, weightSum(i%2 == 1))
		}
		b.StartTimer()
	}
	b.StopTimer()
	vigil := b.Elapsed()
	flush(b, k)

	kd := startKeepalived(b, texts[0])
	defer kd.stop()
	kd.waitTable(b, weightSum(false))
	var keepalived time.Duration
	for j := 1; j <= b.N; j++ {
		if err := os.WriteFile(kd.conf, texts[j%2], 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := kd.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			b.Fatal(err)
		}
		keepalived += kd.waitTableFrom(b, start, weightSum(j%2 == 1))
	}
	b.ReportMetric(float64(vigil.Microseconds())/1e3/float64(b.N), "vigil-ms/op")
	// The part of vigil's time in Reconciler.Apply (reading the table and
	// the 100 edits); the rest is parsing and building.
	b.ReportMetric(float64(reconcile.Microseconds())/1e3/float64(b.N), "vigil-apply-ms/op")
	b.ReportMetric(float64(keepalived.Microseconds())/1e3/float64(b.N), "keepalived-ms/op")
}

// keepalived is Debian's keepalived running its checker process only.
type keepalived struct {
	cmd   *exec.Cmd
	out   *bytes.Buffer
	conf  string
	start time.Time
}

// startKeepalived starts keepalived on text.
func startKeepalived(b *testing.B, text []byte) *keepalived {
	b.Helper()
	dir := b.TempDir()
	kd := &keepalived{out: &bytes.Buffer{}, conf: dir + "/keepalived.conf"}
	if err := os.WriteFile(kd.conf, text, 0o644); err != nil {
		b.Fatal(err)
	}
	kd.cmd = exec.Command("/test/keepalived", "--dont-fork", "--check", "-f", kd.conf,
		"-p", dir+"/k.pid", "-c", dir+"/c.pid", "-r", dir+"/v.pid")
	kd.cmd.Stdout, kd.cmd.Stderr = kd.out, kd.out
	kd.start = time.Now()
	if err := kd.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return kd
}

func (kd *keepalived) stop() {
	_ = kd.cmd.Process.Signal(os.Interrupt)
	_ = kd.cmd.Wait()
}

// waitTable returns the time from keepalived's start until the table has
// every destination with the given sum of weights.
func (kd *keepalived) waitTable(b *testing.B, weights int) time.Duration {
	return kd.waitTableFrom(b, kd.start, weights)
}

func (kd *keepalived) waitTableFrom(b *testing.B, start time.Time, weights int) time.Duration {
	b.Helper()
	deadline := start.Add(5 * time.Minute)
	for {
		n, w, err := table()
		if err == nil && n == services*reals && w == weights {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("keepalived programmed %d destinations of weight %d in 5 minutes (%v), want %d of %d\n%s",
				n, w, err, services*reals, weights, kd.out.Bytes())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
