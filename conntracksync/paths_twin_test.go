package conntracksync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/twin"
)

// fakeLinks is a LinkWatcher the test drives: set reports a link's state
// to the replicator watching.
type fakeLinks struct {
	mu     sync.Mutex
	report func(name string, up bool)
}

func (f *fakeLinks) watch(ctx context.Context, _ string, ifaces []string, report func(string, bool)) error {
	f.mu.Lock()
	f.report = report
	f.mu.Unlock()
	for _, n := range ifaces {
		report(n, true)
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *fakeLinks) set(name string, up bool) {
	f.mu.Lock()
	r := f.report
	f.mu.Unlock()
	r(name, up)
}

// TestTwinPathsSwitch runs two replicators over two twin wires, "main"
// and "backup", in a synctest bubble: when main's link goes down the
// stream moves to backup at once; when backup is cut silently the stream
// moves back to main (its link up again) after the silence; every flow
// arrives through both switches.
func TestTwinPathsSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wires := map[string]*twin.Wire{"main": twin.NewWire(1), "backup": twin.NewWire(2)}
		links := [2]*fakeLinks{{}, {}}
		flows := ct.SampleFlows(3000)
		k := [2]*twin.Kernel{twin.NewKernel(), twin.NewKernel()}
		for _, f := range flows[:1000] {
			k[0].Put(f)
		}
		var rs [2]*ct.Replicator
		for side := range 2 {
			addr := func(s string) netip.Addr { return netip.MustParseAddr(fmt.Sprintf(s, 1+side)) }
			peer := func(s string) netip.Addr { return netip.MustParseAddr(fmt.Sprintf(s, 2-side)) }
			cfg := ct.Config{Paths: []ct.Path{
				{Name: "main", Interface: "sync0", LocalAddr: addr("198.51.100.%d"), PeerAddr: peer("198.51.100.%d")},
				{Name: "backup", Interface: "sync1", LocalAddr: addr("203.0.113.%d"), PeerAddr: peer("203.0.113.%d")},
			}}
			open := func(c *ct.Config) (ct.Link, error) { return wires[c.Paths[0].Name].Opener(side)(c) }
			r, err := ct.New(slog.New(slog.DiscardHandler), cfg, ct.Parts{Kernel: k[side], Link: open, Links: links[side].watch})
			if err != nil {
				t.Fatal(err)
			}
			rs[side] = r
			n := &twinNode{k: k[side], r: r, side: side}
			n.start()
			t.Cleanup(n.stop)
		}
		ext := func() []ct.Entry { _, e := rs[1].Dump(); return e }
		active := func(side int) string {
			for _, p := range rs[side].Stats().Paths {
				if p.Active {
					return p.Name
				}
			}
			return ""
		}
		waitFor(t, 10*time.Second, func() bool { return sameFlows(ext(), flows[:1000]) == 1000 }, "before the cut")
		if active(0) != "main" || active(1) != "main" {
			t.Fatalf("active paths %s, %s", active(0), active(1))
		}

		// main's link goes down on both nodes (a cable pulled), and the
		// wire loses everything.
		wires["main"].SetLoss(1)
		links[0].set("sync0", false)
		links[1].set("sync0", false)
		for _, f := range flows[1000:2000] {
			k[0].Put(f)
		}
		waitFor(t, 100*time.Millisecond, func() bool { return active(0) == "backup" && active(1) == "backup" },
			"switch on link down: %s, %s", lazyf(func() string { return active(0) }), lazyf(func() string { return active(1) }))
		waitFor(t, 10*time.Second, func() bool { return sameFlows(ext(), flows[:2000]) == 2000 }, "after link down")

		// main comes back; backup is cut silently (links stay up).
		wires["main"].SetLoss(0)
		links[0].set("sync0", true)
		links[1].set("sync0", true)
		wires["backup"].SetLoss(1)
		// The silence runs from the last datagram each side heard on
		// backup, which may be a little before the cut.
		var heard [2]time.Time
		for side := range 2 {
			for _, p := range rs[side].Stats().Paths {
				if p.Name == "backup" {
					heard[side] = p.LastHeard
				}
			}
		}
		for _, f := range flows[2000:] {
			k[0].Put(f)
		}
		// Each side's switch, seen to the millisecond.
		var switched [2]time.Time
		start := time.Now()
		for switched[0].IsZero() || switched[1].IsZero() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("switch after silence: %s, %s", active(0), active(1))
			}
			for side := range 2 {
				if switched[side].IsZero() && active(side) == "main" {
					switched[side] = time.Now()
				}
			}
			time.Sleep(time.Millisecond)
		}
		for side := range 2 {
			if heard[side].IsZero() {
				t.Errorf("side %d never heard the peer on backup", side)
			} else if d := switched[side].Sub(heard[side]); d < ct.PathSilence {
				t.Errorf("side %d switched back %v after it last heard the peer on backup, before the silence of %v", side, d, ct.PathSilence)
			}
		}
		waitFor(t, 10*time.Second, func() bool { es := ext(); return len(es) == len(flows) && sameFlows(es, flows) == len(flows) },
			"after the silent cut: %v of %d", lazyf(func() string { return fmt.Sprint(sameFlows(ext(), flows)) }), len(flows))
		if s := rs[0].Stats(); s.PathSwitches != 2 {
			t.Errorf("switches %d, want 2: %+v", s.PathSwitches, s.Paths)
		}
	})
}
