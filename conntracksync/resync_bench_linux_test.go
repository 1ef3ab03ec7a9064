package conntracksync_test

import (
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// BenchmarkBulkResync measures a receiver's flush + RESYNC until its
// external cache holds the sender's whole table (100k entries). The sender
// starts bulks asked for by its peer at least a second apart (ftfw's bulk
// gate): the wait for that is left out of the timing.
func BenchmarkBulkResync(b *testing.B) {
	cttest.NeedRoot(b, "conntrack")
	h1, h2, ip1, ip2 := pairLab(b, "s", "r")
	const n = 100000
	commitInto(b, "/run/netns/"+h1.Name(), ct.SampleFlows(n))
	s := startNodeTB(b, h1, ip1, ip2)
	r := startNodeTB(b, h2, ip2, ip1)
	testnet.Eventually(b, 60*time.Second, func() bool { return r.r.Stats().External == n }, "initial sync")
	// The session's bulks (ours and the one its RESYNC asked for) finished.
	testnet.Eventually(b, 60*time.Second, func() bool {
		st := s.r.Stats()
		return st.Backlog == 0 && !st.Channel.BulkWaiting
	}, "sender idle")
	cpu0 := cttest.CPUTime()
	last := time.Now()
	for b.Loop() {
		if wait := time.Until(last.Add(1100 * time.Millisecond)); wait > 0 {
			b.StopTimer()
			time.Sleep(wait)
			b.StartTimer()
		}
		last = time.Now()
		r.r.FlushExternal()
		r.r.RequestResync()
		for r.r.Stats().External < n {
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/resync")
	b.ReportMetric(float64((cttest.CPUTime()-cpu0).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/resync")
}
