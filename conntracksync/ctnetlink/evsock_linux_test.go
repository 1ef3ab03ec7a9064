package ctnetlink

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/internal/nsenter"
)

// A conntrack event with nearly every attribute fits an event slot with
// room to spare: a flow with NAT, a master, a mark, labels, sequence
// adjustments, counters and timestamps. What it lacks (a helper's name of
// at most 16 bytes, a zone, a security context's string) adds a few dozen
// bytes.
func TestEventFitsSlot(t *testing.T) {
	cttest.NeedRoot(t, "conntrack")
	ns := cttest.NewNS(t, cttest.Prefix(t), "e")
	for _, s := range []string{"net.netfilter.nf_conntrack_acct=1", "net.netfilter.nf_conntrack_timestamp=1"} {
		ns.Exec(t, "sysctl", "-q", "-w", s)
	}
	// The kernel keeps a flow's labels once a rule of the namespace uses them.
	ns.Exec(t, "nft", "add table ip vt; add chain ip vt c; add rule ip vt c ct label 127 counter")
	var ev *evSock
	if err := nsenter.Do(ns.Path(), func() (err error) {
		ev, err = openEvSock(1 << 20)
		if err != nil {
			return err
		}
		return ev.join()
	}); err != nil {
		t.Fatal(err)
	}
	defer ev.close()

	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	master := ct.Flow{Orig: ct.Tuple{Src: a("192.0.2.1"), Dst: a("198.51.100.1"), Proto: ct.ProtoTCP, SrcPort: 40000, DstPort: 21},
		Status: ct.StatusConfirmed | ct.StatusSeenReply | ct.StatusAssured, TCPState: ct.TCPEstablished, TimeoutSec: 300}
	master.Reply = master.Orig.Invert()
	fat := ct.Flow{Orig: ct.Tuple{Src: a("192.0.2.1"), Dst: a("198.51.100.1"), Proto: ct.ProtoTCP, SrcPort: 40001, DstPort: 20},
		Status: ct.StatusConfirmed | ct.StatusSeenReply | ct.StatusAssured, TCPState: ct.TCPEstablished, TimeoutSec: 300,
		Master: master.Orig, Mark: 0xffffffff, Labels: strings.Repeat("\xff", 16),
		SeqAdjOrig:  ct.SeqAdj{CorrectionPos: 1 << 31, OffsetBefore: 1 << 30, OffsetAfter: 1<<30 + 7},
		SeqAdjReply: ct.SeqAdj{CorrectionPos: 1 << 31, OffsetBefore: 1 << 30, OffsetAfter: 1<<30 + 9}}
	fat.Reply = fat.Orig.Invert()
	fat.Reply.Dst, fat.Reply.DstPort = a("203.0.113.1"), 61000 // source NAT
	fat.Status |= ct.StatusSrcNAT | ct.StatusSrcNATDone | ct.StatusSeqAdjust
	commitInto(t, ns.Path(), []ct.Flow{master, fat})

	largest, events := 0, 0
	var got ct.Flow
	deadline := time.Now().Add(10 * time.Second)
	for events < 2 && time.Now().Before(deadline) {
		err := ev.recvEvents(func(m nlMsg) error {
			events++
			if n := nlmsgHdrLen + len(m.data); n > largest {
				largest, got = n, ct.Flow{}
				var d decoded
				if err := decodeFlow(m.data[nfgenmsgLen:], &got, &d); err != nil {
					t.Errorf("event: %v", err)
				}
			}
			return nil
		})
		if err != nil && err != errRecvTimeout {
			t.Fatal(err)
		}
	}
	if events < 2 {
		t.Fatalf("%d events of the 2 flows committed", events)
	}
	if got.Labels == "" || got.SeqAdjOrig == (ct.SeqAdj{}) || !got.Related() || got.Mark == 0 {
		t.Fatalf("the largest event lacks an attribute of the flow committed: %+v", got)
	}
	t.Logf("the largest event: %d bytes, slots of %d", largest, evSlotSize)
	if largest > evSlotSize/4 {
		t.Errorf("an event of %d bytes: want at most a quarter of the %d-byte slot", largest, evSlotSize)
	}
}
