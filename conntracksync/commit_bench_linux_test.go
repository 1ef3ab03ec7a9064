package conntracksync

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCommit measures a commit of b.N-independent batches of flows
// into an empty namespace (no listener), per worker count.
func BenchmarkCommit(b *testing.B) {
	needRoot(b, "conntrack")
	for _, n := range []int{10000, 100000} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("n=%d/workers=%d", n, workers), func(b *testing.B) {
				flows := genFlows(n)
				for b.Loop() {
					b.StopTimer()
					ns := newTestNS(b, testPrefix(b), "bc")
					c, err := NewCommitter(workers, ns.path())
					if err != nil {
						b.Fatal(err)
					}
					now := time.Now()
					es := entries(flows, now)
					b.StartTimer()
					st, err := c.Commit(context.Background(), es, now, 0)
					b.StopTimer()
					if err != nil || st.Created != n {
						b.Fatalf("%+v %v", st, err)
					}
					c.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/flow")
			})
		}
	}
}
