package conntracksync_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/twin"
)

// TestTwinExpectations: with ExpectSync { ftp } on both nodes, a's ftp
// expectations (in its dump and made later) reach b's external cache and
// a deleted one leaves it; a sip expectation is filtered out. b's commit
// writes the masters, then the expectations whose master came with them,
// and counts the one without; b's internal cache then holds what it
// committed.
func TestTwinExpectations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		masters, exps := ct.SampleFTP(4)
		sip := exps[3]
		sip.Helper = "sip"
		orphan := exps[2] // its master never reaches b: a does not have it
		w := twin.NewWire(7)
		ka, kb := twin.NewKernel(), twin.NewKernel()
		for _, m := range masters[:2] {
			ka.Put(m)
		}
		ka.Put(masters[3])
		ka.PutExpect(exps[0]) // in a's dump
		cfg := ct.Config{Expectations: ct.ExpectSync{On: true, Helpers: []string{"ftp"}}}
		a := newTwinNodeWith(t, w, 0, ka, cfg)
		b := newTwinNodeWith(t, w, 1, kb, cfg)
		ext := func() map[uint16]ct.Expect {
			_, e := b.r.DumpExpect()
			m := map[uint16]ct.Expect{}
			for _, x := range e {
				m[x.Expect.Tuple.DstPort] = x.Expect
			}
			return m
		}
		ka.PutExpect(exps[1])
		ka.PutExpect(orphan)
		ka.PutExpect(sip)
		waitFor(t, 10*time.Second, func() bool { return len(ext()) == 3 },
			"b's external expectations: %v, want 3", lazyf(func() string { return fmt.Sprint(ext()) }))
		got := ext()
		for _, x := range exps[:3] {
			if g := got[x.Tuple.DstPort]; g != x {
				t.Fatalf("received\n%+v\nwant\n%+v", g, x)
			}
		}
		if st := a.r.Stats().Expect; st.Filtered != 1 || st.Internal != 4 {
			t.Fatalf("a's expectation stats %+v: want 4 in the internal cache, the sip one filtered", st)
		}

		// A data connection came: the helper's expectation is gone.
		ka.DeleteExpect(exps[1])
		waitFor(t, 10*time.Second, func() bool { return len(ext()) == 2 }, "b drops the used expectation: %v",
			lazyf(func() string { return fmt.Sprint(ext()) }))

		waitFor(t, 10*time.Second, func() bool { return b.r.Stats().External == 3 }, "b's external flows")
		if _, err := b.r.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		xc := b.r.Stats().Expect.LastCommit
		if xc.Entries != 2 || xc.Committed != 1 || xc.NoMaster != 1 {
			t.Fatalf("b's expectation commit %+v: want exps[0] committed, the orphan without master", xc)
		}
		if ks := kb.Expects(); len(ks) != 1 || ks[exps[0].Key()].Tuple != exps[0].Tuple {
			t.Fatalf("b's kernel expectations %+v", ks)
		}
		// b holds what it committed as its own now (a peer's resync gets
		// it, as flows).
		if st := b.r.Stats().Expect; st.Internal != 1 {
			t.Fatalf("b's internal expectation cache %+v after its commit", st)
		}
	})
}
