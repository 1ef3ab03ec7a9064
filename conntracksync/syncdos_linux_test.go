package conntracksync_test

import (
	"fmt"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/testnet"
)

// The sync link under a spoofing attacker: fw1 and fw2 replicate over a switch to
// which a third host is attached. The attacker forges FTFW control messages with a
// firewall's source address, sent through a raw socket (IP_HDRINCL). It is given the
// sequence numbers the victim expects (as if it watched the link): the worst case.

type spoofLab struct {
	fw1, fw2   *vigilNode
	h1         *testnet.Host
	ip1, ip2   netip.Addr
	att        *spoofer
	flows      []ct.Flow
	next       int
	stats1     fmt.Stringer
	stats2     fmt.Stringer
	converged2 func(want int) func() bool
}

func newSpoofLab(t *testing.T) *spoofLab {
	cttest.NeedRoot(t, "conntrack", "nft")
	lab := testnet.New(t)
	sw := lab.Switch("sw")
	h1, h2, ha := lab.Host("fw1"), lab.Host("fw2"), lab.Host("att")
	sw.Attach(h1, "sync0").AddAddr(t, "198.51.100.1/24")
	sw.Attach(h2, "sync0").AddAddr(t, "198.51.100.2/24")
	sw.Attach(ha, "att0").AddAddr(t, "198.51.100.66/24")
	l := &spoofLab{h1: h1, ip1: netip.MustParseAddr("198.51.100.1"), ip2: netip.MustParseAddr("198.51.100.2"),
		att: newSpoofer(t, ha), flows: ct.SampleFlows(3000)}
	commitInto(t, "/run/netns/"+h1.Name(), l.flows[:1000])
	l.next = 1000
	l.fw1 = startNode(t, h1, l.ip1, l.ip2)
	l.fw2 = startNode(t, h2, l.ip2, l.ip1)
	l.stats1 = cttest.Lazy(func() string { return fmt.Sprintf("%+v", l.fw1.r.Stats()) })
	l.stats2 = cttest.Lazy(func() string { return fmt.Sprintf("%+v", l.fw2.r.Stats()) })
	l.converged2 = func(want int) func() bool { return func() bool { return l.fw2.r.Stats().External == want } }
	testnet.Eventually(t, 30*time.Second, l.converged2(l.next), "fw2 external cache: %v", l.stats2)
	// Idle: both sessions' bulks sent and acknowledged, no bulk waiting.
	testnet.Eventually(t, 30*time.Second, func() bool {
		s1, s2 := l.fw1.r.Stats(), l.fw2.r.Stats()
		return s1.Backlog == 0 && s2.Backlog == 0 && !s1.Channel.BulkWaiting && !s2.Channel.BulkWaiting && s1.Bulks > 0
	}, "channels idle: fw1 %v fw2 %v", l.stats1, l.stats2)
	return l
}

// more puts n new flows into fw1's kernel (real updates to replicate).
func (l *spoofLab) more(t *testing.T, n int) {
	t.Helper()
	commitInto(t, "/run/netns/"+l.h1.Name(), l.flows[l.next:l.next+n])
	l.next += n
}

// One spoofed message with a seq far ahead of fw1's used to make fw2 drop every later
// message of fw1 as stale, with no recovery. Now such a jump is dropped (seq_jump);
// a jump small enough for one message to open (4000 of at most 4096) is left when
// fw1's messages keep coming outside the window. After each, the updates made after
// the attack arrive.
func TestSpoofedSeqJumpDoesNotWedgeReceiver(t *testing.T) {
	l := newSpoofLab(t)
	alive := func(seq uint32) ftfw.Message {
		return ftfw.Message{Type: ftfw.TypeCtl, Flags: ftfw.FlagAlive, Seq: seq}
	}

	before := l.fw2.r.Stats()
	l.att.send(t, l.ip1, l.ip2, alive(before.Channel.PeerNext+1<<20))
	testnet.Eventually(t, 10*time.Second, func() bool {
		s := l.fw2.r.Stats()
		return s.Channel.MsgsReceived > before.Channel.MsgsReceived && (s.Drops["seq_jump"] > 0 || s.Channel.Gaps > before.Channel.Gaps)
	}, "the spoofed jump did not reach fw2: %v", l.stats2)
	l.more(t, 300)
	testnet.Eventually(t, 20*time.Second, l.converged2(l.next), "fw2 external cache after a spoofed jump of 2^20: %v\nfw1 %v", l.stats2, l.stats1)
	if s := l.fw2.r.Stats(); s.Drops["seq_jump"] == 0 {
		t.Errorf("the jump of 2^20 was not dropped as seq_jump: %+v", s)
	}

	before = l.fw2.r.Stats()
	l.att.send(t, l.ip1, l.ip2, alive(before.Channel.PeerNext+4000))
	testnet.Eventually(t, 10*time.Second, func() bool { return l.fw2.r.Stats().Channel.Gaps > before.Channel.Gaps },
		"the spoofed jump of 4000 did not reach fw2: %v", l.stats2)
	l.more(t, 100)
	testnet.Eventually(t, 20*time.Second, l.converged2(l.next), "fw2 external cache after a spoofed jump of 4000: %v\nfw1 %v", l.stats2, l.stats1)
	if s := l.fw2.r.Stats(); s.Channel.Desyncs == 0 {
		t.Errorf("converged without leaving the forged window? %+v", s)
	}
}

// 50 spoofed RESYNCs used to make fw1 send its table 50 times and, their seqs taken,
// drop fw2's ACKs as stale until its resend queue filled. Now they make at most the
// bulk the first one starts plus one, and every update made meanwhile arrives.
func TestSpoofedResyncFlood(t *testing.T) {
	l := newSpoofLab(t)
	before := l.fw1.r.Stats()
	for i := range 50 {
		seq := l.fw1.r.Stats().Channel.PeerNext
		l.att.send(t, l.ip2, l.ip1, ftfw.Message{Type: ftfw.TypeCtl, Flags: ftfw.FlagResync, Seq: seq})
		if i%10 == 0 {
			l.more(t, 100)
		}
		time.Sleep(2 * time.Millisecond) // let fw1 take it, so the next one gets the next seq
	}
	// Most land in fw1's window (a real message of fw2 may take a seq first).
	testnet.Eventually(t, 10*time.Second, func() bool { return l.fw1.r.Stats().ResyncsReceived >= before.ResyncsReceived+25 },
		"the spoofed RESYNCs did not reach fw1: %v", l.stats1)
	l.more(t, 500)
	testnet.Eventually(t, 30*time.Second, l.converged2(l.next), "fw2 external cache during the flood's aftermath: %v\nfw1 %v", l.stats2, l.stats1)
	testnet.Eventually(t, 30*time.Second, func() bool {
		s := l.fw1.r.Stats()
		return s.Backlog == 0 && !s.Channel.BulkWaiting
	}, "fw1 idle: %v", l.stats1)
	after := l.fw1.r.Stats()
	t.Logf("50 spoofed RESYNCs, %d taken: %d bulks; fw1 %+v", after.ResyncsReceived-before.ResyncsReceived, after.Bulks-before.Bulks, after)
	if n := after.Bulks - before.Bulks; n > 2 {
		t.Fatalf("50 spoofed RESYNCs made fw1 send %d bulks, want at most 2 (the one they start and one more)", n)
	}
}
