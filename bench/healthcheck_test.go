package bench

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/healthcheck"
)

// serverEnv makes the test binary a TCP server that accepts and closes
// connections until its stdin closes; it prints its address first.
const serverEnv = "VIGIL_BENCH_TCP_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		runServer()
		return
	}
	os.Exit(m.Run())
}

func runServer() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	go func() {
		os.Stdin.Read(make([]byte, 1)) // EOF when the parent goes
		os.Exit(0)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.Close()
	}
}

// startServer runs the server in a child process and returns its address.
func startServer(b *testing.B) netip.AddrPort {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	buf := make([]byte, 64)
	n, err := out.Read(buf)
	if err != nil {
		b.Fatal(err)
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		b.Fatalf("server said %q: %v", buf[:n], err)
	}
	return ap
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkTCPChecks2000: one iteration is one second of 2,000 TCP_CHECKs
// at delay_loop 1.
func BenchmarkTCPChecks2000(b *testing.B) {
	addr := startServer(b)
	const n = 2000
	tm := healthcheck.Timing{DelayLoop: time.Second, DelayBeforeRetry: time.Second, Retry: 1, Warmup: time.Second}
	var specs []healthcheck.Spec
	for i := range n {
		specs = append(specs, healthcheck.Spec{ID: healthcheck.CheckerID{RSID: healthcheck.RSID{VS: i}},
			Core:   healthcheck.CoreConfig{Kind: healthcheck.KindTCP, Timing: tm},
			Prober: &healthcheck.TCPProbe{Conn: healthcheck.Conn{Addr: addr, Timeout: time.Second}}})
	}
	events := make(chan healthcheck.Event, n)
	s := healthcheck.New(healthcheck.Config{Events: events, Workers: 64}, nil, specs)
	defer s.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-events:
			case <-done:
				return
			}
		}
	}()
	time.Sleep(2500 * time.Millisecond) // every checker has run once
	attempts := func() (sum, fail uint64) {
		for _, st := range s.Snapshot() {
			sum += st.Attempts
			fail += st.Failures
		}
		return
	}
	a0, f0 := attempts()
	u0, s0 := cpuTime()
	t0 := time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	wall := time.Since(t0).Seconds()
	u1, s1 := cpuTime()
	user, sys := (u1 - u0).Seconds(), (s1 - s0).Seconds()
	cpu := user + sys
	a1, f1 := attempts()
	b.ReportMetric(cpu*1000/wall, "cpu-ms/s")
	b.ReportMetric(user*1000/wall, "user-ms/s")
	b.ReportMetric(sys*1000/wall, "sys-ms/s")
	b.ReportMetric(float64(a1-a0)/wall, "checks/s")
	if f1 != f0 {
		b.Errorf("%d checks failed against a live server", f1-f0)
	}
	b.Logf("vigil: %.1f ms CPU per second (user %.1f, system %.1f) for %d TCP_CHECKs at delay_loop 1 (%.0f checks/s)",
		cpu*1000/wall, user*1000/wall, sys*1000/wall, n, float64(a1-a0)/wall)
	b.Logf("keepalived 2.2.7: %s", keepalivedReference())
}

// keepalivedReference says whether keepalived's checkers can run here.
func keepalivedReference() string {
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		return "not measured: this kernel has no IPVS, and keepalived's checker process exits without it"
	}
	return "not measured by this benchmark yet (IPVS is present: run keepalived with the same 2,000 TCP_CHECKs and compare its checker process's CPU time)"
}
