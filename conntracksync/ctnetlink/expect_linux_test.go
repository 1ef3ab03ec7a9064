package ctnetlink

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// CommitExpect links an expectation to its committed master (conntrack -L
// expect shows it with its helper), counts one without master, and
// FollowExpect dumps what is there, then follows a deletion.
func TestExpectCommitAndFollow(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	testnet.NeedConntrackHelper(t, "ftp")
	ns := cttest.NewNS(t, cttest.Prefix(t), "x")
	masters, exps := ct.SampleFTP(2)
	m := masters[0]

	k := New(cttest.Logger(t), Config{Netns: ns.Path(), Workers: 1})
	defer k.Release()
	// A conntrack event listener before the master exists, as the
	// Replicator's Follow is in vigild: with the default
	// net.netfilter.nf_conntrack_events=2 the kernel reports the events of
	// a connection (and of its expectations) only if some socket listened
	// for conntrack events when the connection was created.
	lis, err := openEvSockIn(ns.Path(), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.close()
	if err := lis.joinGroups(nfnlgrpCTNew, nfnlgrpCTUpdate, nfnlgrpCTDestroy); err != nil {
		t.Fatal(err)
	}
	cache := ct.NewExpectCache()
	var mu sync.Mutex
	var seen []ct.UpdateKind
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- k.FollowExpect(ctx, ct.ExpectTable{Cache: cache, OnUpdate: func(u ct.UpdateKind, x *ct.Expect) {
			mu.Lock()
			seen = append(seen, u)
			mu.Unlock()
		}})
	}()
	defer func() {
		cancel()
		<-done
	}()
	commitInto(t, ns.Path(), masters[:1])
	now := time.Now()
	// The second expectation's master is not in the kernel.
	entries := []ct.ExpectEntry{{Expect: exps[0], Updated: now.Add(-50 * time.Second)}, {Expect: exps[1], Updated: now}}
	st, ok, err := k.CommitExpect(context.Background(), entries, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Committed != 1 || st.NoMaster != 1 || st.Failed != 0 || !ok[0] || ok[1] {
		t.Fatalf("commit stats %+v ok %v", st, ok)
	}
	out := ns.Output(t, "conntrack", "-L", "expect")
	if !strings.Contains(out, "dport=50000") || !strings.Contains(out, "helper=ftp") || strings.Contains(out, "50001") {
		t.Fatalf("conntrack -L expect:\n%s", out)
	}

	waitFor(t, func() bool { return cache.Len() == 1 })
	got := cache.Snapshot()[0].Expect
	want := entries[0].Expect
	// The kernel gives an expectation with a helper that helper's policy
	// timeout (ftp: 300 s), whatever CTA_EXPECT_TIMEOUT said.
	if got.TimeoutSecs > 300 || got.TimeoutSecs < 290 {
		t.Errorf("timeout %d, want the ftp helper's 300 s", got.TimeoutSecs)
	}
	got.TimeoutSecs, got.HasClass, got.Class = want.TimeoutSecs, false, 0
	if got != want {
		t.Fatalf("dumped\n%+v\nwant\n%+v", got, want)
	}
	// Deleting the master deletes its expectation: a DESTROY event.
	ns.Exec(t, "conntrack", "-D", "-p", "tcp", "--orig-port-src", fmt.Sprint(m.Orig.SrcPort))
	waitFor(t, func() bool { return cache.Len() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != ct.UpdateNew || seen[1] != ct.UpdateDelete {
		t.Fatalf("updates %v, want new then delete", seen)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
