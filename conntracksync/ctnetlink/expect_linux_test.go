package ctnetlink

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// ftpMaster is an FTP control connection with the ftp helper, and ftpExpect
// the expectation its PORT command makes: the server's data connection
// (from any port) to the client's port 50001.
func ftpMaster() ct.Flow {
	a := netip.MustParseAddr
	f := ct.Flow{Orig: ct.Tuple{Src: a("192.0.2.10"), Dst: a("198.51.100.2"), Proto: ct.ProtoTCP, SrcPort: 40000, DstPort: 21},
		Status: ct.StatusConfirmed | ct.StatusSeenReply | ct.StatusAssured, TCPState: ct.TCPEstablished,
		TimeoutSec: 600, Helper: "ftp"}
	f.Reply = f.Orig.Invert()
	return f
}

func ftpExpect(master ct.Tuple, port uint16) ct.Expect {
	a := netip.MustParseAddr
	return ct.Expect{
		Master: ftfw.ExpTuple{Src: master.Src, Dst: master.Dst, Proto: ct.ProtoTCP, HasPorts: true, SrcPort: master.SrcPort, DstPort: master.DstPort},
		Tuple:  ftfw.ExpTuple{Src: master.Dst, Dst: master.Src, Proto: ct.ProtoTCP, HasPorts: true, DstPort: port},
		Mask: ftfw.ExpTuple{Src: a("255.255.255.255"), Dst: a("255.255.255.255"), Proto: ct.ProtoTCP, HasPorts: true,
			DstPort: 0xffff},
		HasTimeout: true, TimeoutSecs: 250, HasFlags: true, Helper: "ftp",
	}
}

// CommitExpect links an expectation to its committed master (conntrack -L
// expect shows it with its helper), counts one without master, and
// FollowExpect dumps what is there, then follows a deletion.
func TestExpectCommitAndFollow(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	testnet.NeedConntrackHelper(t, "ftp")
	ns := cttest.NewNS(t, cttest.Prefix(t), "x")
	m := ftpMaster()
	commitInto(t, ns.Path(), []ct.Flow{m})

	k := New(cttest.Logger(t), Config{Netns: ns.Path(), Workers: 1})
	defer k.Release()
	orphan := ftpExpect(ct.Tuple{Src: netip.MustParseAddr("192.0.2.11"), Dst: netip.MustParseAddr("198.51.100.2"),
		Proto: ct.ProtoTCP, SrcPort: 40001, DstPort: 21}, 50002)
	now := time.Now()
	entries := []ct.ExpectEntry{{Expect: ftpExpect(m.Orig, 50001), Updated: now.Add(-50 * time.Second)}, {Expect: orphan, Updated: now}}
	st, ok, err := k.CommitExpect(context.Background(), entries, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Committed != 1 || st.NoMaster != 1 || st.Failed != 0 || !ok[0] || ok[1] {
		t.Fatalf("commit stats %+v ok %v", st, ok)
	}
	out := ns.Exec(t, "conntrack", "-L", "expect")
	if !strings.Contains(out, "dport=50001") || !strings.Contains(out, "helper=ftp") || strings.Contains(out, "50002") {
		t.Fatalf("conntrack -L expect:\n%s", out)
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
	ns.Exec(t, "conntrack", "-D", "-p", "tcp", "--orig-port-src", "40000")
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
