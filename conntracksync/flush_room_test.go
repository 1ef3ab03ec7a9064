package conntracksync_test

import (
	"log/slog"
	"runtime"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/twin"
)

func heapNow() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// After a takeover the external cache is flushed and stays empty until
// the peer is back, while the flows it held fill the internal cache: the
// flush on a node that holds MASTER gives the cache's room back (16.8 MB
// for 200k flows, kept before). A backup's flush (vigilctl ct flush
// external, then a resync) keeps it for the refill.
func TestFlushExternalGivesBackRoomOnMaster(t *testing.T) {
	const n = 200_000
	var flows []ct.Flow
	for _, f := range ct.SampleFlows(n) {
		if !f.Related() {
			flows = append(flows, f)
		}
	}
	for _, master := range []bool{true, false} {
		w := twin.NewWire(1)
		r, err := ct.New(slog.New(slog.DiscardHandler), ct.Config{LocalAddr: twinA, PeerAddr: twinB},
			ct.Parts{Kernel: twin.NewKernel(), Link: w.Opener(0)})
		if err != nil {
			t.Fatal(err)
		}
		base := heapNow()
		for i := 0; i < len(flows); i += 64 { // a datagram's batch at a time
			ct.ExternalPut(r, flows[i:min(i+64, len(flows))], time.Unix(1000, 0))
		}
		full := heapNow() - base
		r.SetMaster(master)
		if got := r.FlushExternal(); got != len(flows) {
			t.Fatalf("master %v: flushed %d, want %d", master, got, len(flows))
		}
		held := heapNow() - base
		t.Logf("master %v: %d bytes with %d flows, %d after the flush", master, full, len(flows), held)
		switch {
		case master && held > 1<<20:
			t.Errorf("the flush after a takeover left %d bytes held, want at most 1 MiB", held)
		case !master && held < full/2:
			t.Errorf("a backup's flush gave back the room the resync refills: %d of %d bytes held", held, full)
		}
		runtime.KeepAlive(r)
	}
}
