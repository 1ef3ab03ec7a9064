package ipvsbench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
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
func conf() []byte {
	var b bytes.Buffer
	for i := range services {
		fmt.Fprintf(&b, "virtual_server 192.0.2.1 %d {\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n", 10000+i)
		for j := range reals {
			fmt.Fprintf(&b, " real_server 198.51.100.%d 80 {\n  weight %d\n }\n", j+1, j+1)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// dests counts the destinations in /proc/net/ip_vs.
func dests() (int, error) {
	f, err := os.Open("/proc/net/ip_vs")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "->") {
			n++
		}
	}
	return n - 1, sc.Err() // minus the header's "-> RemoteAddress:Port"
}

// BenchmarkProgram: one op = empty table to 1,000 x 10 programmed, by
// vigil (Build, Policy, Reconciler over netlink) and, reported beside it
// as keepalived-ms/op, by keepalived's checker process from start until
// the last destination is in the table (that includes its start-up).
func BenchmarkProgram(b *testing.B) {
	if !vm.Inside() {
		vm.Run(b, "^$", vm.Options{Files: []string{"/usr/sbin/keepalived"},
			Args: []string{"-test.bench", "^BenchmarkProgram$", "-test.benchtime", "2x"}})
		return
	}
	text := conf()
	k, err := ipvs.Dial()
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	c, errs := config.Parse("bench.conf", text, config.Options{ConfigID: "bench"})
	for _, e := range errs {
		if e.Severity == config.Fatal {
			b.Fatal(e)
		}
	}

	var keepalived time.Duration
	for b.Loop() {
		b.StopTimer()
		if err := k.Flush(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		spec, _ := ipvs.Build(c)
		p, _ := ipvs.New(spec)
		if _, err := ipvs.NewReconciler(k).Apply(p.Table()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n, err := dests(); err != nil || n != services*reals {
			b.Fatalf("vigil programmed %d destinations (%v), want %d", n, err, services*reals)
		}
		if err := k.Flush(); err != nil {
			b.Fatal(err)
		}
		keepalived += runKeepalived(b, text)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "vigil-ms/op")
	b.ReportMetric(float64(keepalived.Milliseconds())/float64(b.N), "keepalived-ms/op")
}

// runKeepalived starts keepalived's checker process on text and returns
// the time until every destination is in the table.
func runKeepalived(b *testing.B, text []byte) time.Duration {
	b.Helper()
	dir := b.TempDir()
	path := dir + "/keepalived.conf"
	if err := os.WriteFile(path, text, 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("/test/keepalived", "--dont-fork", "--check", "-f", path,
		"-p", dir+"/k.pid", "-c", dir+"/c.pid", "-r", dir+"/v.pid")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	deadline := start.Add(2 * time.Minute)
	for {
		n, err := dests()
		if err == nil && n == services*reals {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("keepalived programmed %d destinations in 2 minutes (%v)\n%s", n, err, out.Bytes())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
