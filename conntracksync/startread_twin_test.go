package conntracksync_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/twin"
)

// TestTwinStartRead: a node that starts without MASTER beside a running
// peer reads its kernel's table only once the peer's table is in; with the
// peer away it reads it after a bounded wait; with MASTER at once. Its own
// connections reach the peer all the same. Before, the read began with the
// session, beside the peer's bulk.
func TestTwinStartRead(t *testing.T) {
	flows := ct.SampleFlows(2050)
	peers, own := flows[:2000], flows[2000:]
	kernelWith := func(flows []ct.Flow) *twin.Kernel {
		k := twin.NewKernel()
		for _, f := range flows {
			k.Put(f)
		}
		return k
	}

	t.Run("peer up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := twin.NewWire(3)
			a := newTwinNode(t, w, 0, kernelWith(peers))
			waitFor(t, 30*time.Second, func() bool { return a.r.Stats().Internal == len(peers) }, "a's flows in its internal cache")
			tk := kernelWith(own)
			k := &readWatch{Kernel: tk}
			r, err := ct.New(slog.New(slog.DiscardHandler), ct.Config{LocalAddr: twinB, PeerAddr: twinA}, ct.Parts{Kernel: k, Link: w.Opener(1)})
			if err != nil {
				t.Fatal(err)
			}
			k.r.Store(r)
			b := &twinNode{k: tk, r: r, side: 1}
			b.start()
			t.Cleanup(b.stop)
			waitFor(t, 30*time.Second, func() bool { return b.r.Stats().Internal == len(own) }, "b's own flows in its internal cache")
			if n := k.externalAtRead.Load(); n != int64(len(peers)) {
				t.Fatalf("b read its kernel's table with %d of the peer's %d flows in its external cache", n, len(peers))
			}
			waitFor(t, 30*time.Second, func() bool { return sameFlows(externalOf(a.r), own) == len(own) }, "b's own flows in a's external cache")
		})
	})
	t.Run("peer away", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := twin.NewWire(4)
			start := time.Now()
			b := newTwinNode(t, w, 1, kernelWith(own))
			waitFor(t, 30*time.Second, func() bool { return b.r.Stats().Internal == len(own) }, "b's own flows in its internal cache")
			if waited := time.Since(start); waited > 4*time.Second {
				t.Errorf("b read its kernel's table %v after its start, its peer away", waited)
			}
		})
	})
	// A peer that is never quiet, or anyone who sends in its name on an
	// unauthenticated link, holds the read back by startReadMax at most.
	t.Run("peer never quiet", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := twin.NewWire(6)
			a := newTwinNode(t, w, 0, kernelWith(peers))
			waitFor(t, 30*time.Second, func() bool { return a.r.Stats().Internal == len(peers) }, "a's flows in its internal cache")
			quit, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				f := peers[0]
				for {
					f.Mark++
					a.k.Put(f) // a change every 50 ms: a's updates never stop
					select {
					case <-quit:
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}()
			start := time.Now()
			b := newTwinNode(t, w, 1, kernelWith(own))
			waitFor(t, 30*time.Second, func() bool { return b.r.Stats().Internal == len(own) }, "b's own flows in its internal cache")
			if waited := time.Since(start); waited > 4*time.Second {
				t.Errorf("b read its kernel's table %v after its start, its peer never quiet", waited)
			}
			close(quit)
			<-done
			a.stop()
			b.stop()
		})
	})
	t.Run("master", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := twin.NewWire(5)
			r, err := ct.New(slog.New(slog.DiscardHandler), ct.Config{LocalAddr: twinB, PeerAddr: twinA}, ct.Parts{Kernel: kernelWith(own), Link: w.Opener(1)})
			if err != nil {
				t.Fatal(err)
			}
			r.SetMaster(true)
			n := &twinNode{r: r, side: 1}
			n.start()
			t.Cleanup(n.stop)
			start := time.Now()
			waitFor(t, 30*time.Second, func() bool { return r.Stats().Internal == len(own) }, "the master's own flows in its internal cache")
			if waited := time.Since(start); waited > 200*time.Millisecond {
				t.Errorf("a node holding MASTER read its kernel's table %v after its start", waited)
			}
		})
	})
}

// readWatch is a kernel side (a twin, or the real one) that notes how
// many flows its Replicator's external cache held when Follow was let
// read the table. Only the Kernel methods pass through: no warm standby,
// no expectations.
type readWatch struct {
	ct.Kernel
	r              atomic.Pointer[ct.Replicator]
	externalAtRead atomic.Int64
}

func (k *readWatch) Follow(ctx context.Context, t ct.Table) error {
	if err := ct.AwaitRead(ctx, t.ReadAfter); err != nil {
		return err
	}
	n := int64(-1) // read before the test knew the Replicator
	if r := k.r.Load(); r != nil {
		n = int64(r.Stats().External)
	}
	k.externalAtRead.Store(n)
	return k.Kernel.Follow(ctx, t)
}
