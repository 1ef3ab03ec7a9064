package ctnetlink

import (
	"context"
	"fmt"
	"github.com/ti-mo/conntrack"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/internal/nsenter"
	"github.com/vigil-ha/vigil/testnet"
	"os"
	"testing"
	"time"
)

// BenchmarkCommit measures a commit of b.N-independent batches of flows
// into an empty namespace (no listener), per worker count, beside the
// same flows created one request at a time through ti-mo/conntrack's
// Create (ref=ti-mo), the reason the batched netlink here is hand-written.
func BenchmarkCommit(b *testing.B) {
	cttest.NeedRoot(b, "conntrack")
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("n=%d/ref=ti-mo", n), func(b *testing.B) { benchTiMoCreate(b, n) })
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("n=%d/workers=%d", n, workers), func(b *testing.B) {
				flows := ct.SampleFlows(n)
				var cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					ns := cttest.NewNS(b, cttest.Prefix(b), "bc")
					c, err := NewCommitter(workers, ns.Path())
					if err != nil {
						b.Fatal(err)
					}
					now := time.Now()
					es := ct.SampleEntries(flows, now)
					b.StartTimer()
					c0 := cttest.CPUTime()
					st, err := c.Commit(context.Background(), es, now, 0)
					cpu += cttest.CPUTime() - c0
					b.StopTimer()
					if err != nil || st.Created != n {
						b.Fatalf("%+v %v", st, err)
					}
					c.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/flow")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e6, "cpu-ms/commit")
			})
		}
	}
}

// BenchmarkCommitWithListener is a takeover commit: our own listener
// follows the namespace while its committer writes 100k flows.
func BenchmarkCommitWithListener(b *testing.B) {
	cttest.NeedRoot(b, "conntrack")
	flows := ct.SampleFlows(100000)
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		ns := cttest.NewNS(b, cttest.Prefix(b), "bl")
		cache := ct.NewCache()
		l := NewListener(cttest.Logger(b), cache, ListenerConfig{Netns: ns.Path()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = l.Run(ctx); close(done) }()
		testnet.Eventually(b, 10*time.Second, func() bool { return l.Stats().Dumps > 0 }, "dump")
		c, err := l.NewCommitter(0)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		es := ct.SampleEntries(flows, now)
		var st ct.CommitStats
		b.StartTimer()
		c0 := cttest.CPUTime()
		if os.Getenv("COMMIT_NOT_QUIET") != "" {
			st, err = c.Commit(context.Background(), es, now, 0)
		} else {
			l.quiet(func() { st, err = c.Commit(context.Background(), es, now, 0) })
		}
		cpu += cttest.CPUTime() - c0
		b.StopTimer()
		if err != nil || st.Created != len(flows) {
			b.Fatalf("%+v %v", st, err)
		}
		c.Close()
		cancel()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/commit")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e6, "cpu-ms/commit")
}

// benchTiMoCreate creates n flows with ti-mo/conntrack's Create, one
// request and acknowledgement each, into an empty namespace.
func benchTiMoCreate(b *testing.B, n int) {
	flows := ct.SampleFlows(n)
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		ns := cttest.NewNS(b, cttest.Prefix(b), "bt")
		now := time.Now()
		es := ct.SampleEntries(flows, now)
		kf := make([]conntrack.Flow, len(es))
		for i := range es {
			kf[i] = cttest.ToKernel(&es[i].Flow, ct.CommitTimeoutSec(&es[i], now, 0))
		}
		var failed int
		b.StartTimer()
		c0 := cttest.CPUTime()
		err := nsenter.Do(ns.Path(), func() error {
			c, err := conntrack.Dial(nil)
			if err != nil {
				return err
			}
			defer c.Close()
			for i := range kf {
				if c.Create(kf[i]) != nil {
					failed++
				}
			}
			return nil
		})
		cpu += cttest.CPUTime() - c0
		b.StopTimer()
		if err != nil || failed > n/100 {
			b.Fatalf("ti-mo create: %v, %d of %d refused", err, failed, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/flow")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e6, "cpu-ms/commit")
}
