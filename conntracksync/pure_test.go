package conntracksync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestFilterCheck(t *testing.T) {
	tcp := func(src, dst string, state uint8) *Flow {
		f := &Flow{Orig: Tuple{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: ProtoTCP, SrcPort: 1, DstPort: 2}, TCPState: state}
		f.Reply = f.Orig.Invert()
		return f
	}
	udp := &Flow{Orig: Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.1"), Proto: ProtoUDP}}
	filter := &Filter{
		ProtocolPolicy: Accept, Protocols: []uint8{ProtoTCP},
		AddressPolicy: Ignore, Addresses: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		StatePolicy: Accept, TCPStates: []uint8{TCPEstablished},
	}
	dnat := tcp("192.0.2.1", "198.51.100.1", TCPEstablished)
	dnat.Reply.Src = netip.MustParseAddr("203.0.113.9") // the reply source is checked, as conntrackd does
	for _, tc := range []struct {
		name string
		f    *Flow
		want DropReason
	}{
		{"established tcp passes", tcp("192.0.2.1", "198.51.100.1", TCPEstablished), DropNone},
		{"udp not accepted", udp, DropProtocol},
		{"ignored source", tcp("203.0.113.5", "198.51.100.1", TCPEstablished), DropAddress},
		{"ignored destination", tcp("192.0.2.1", "203.0.113.5", TCPEstablished), DropAddress},
		{"ignored reply source after DNAT", dnat, DropAddress},
		{"state not accepted", tcp("192.0.2.1", "198.51.100.1", TCPSynSent), DropState},
	} {
		if got := filter.Check(tc.f); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	var none *Filter
	if none.Check(udp) != DropNone || (&Filter{}).Check(udp) != DropNone {
		t.Error("empty filter drops")
	}
	accept := &Filter{AddressPolicy: Accept, Addresses: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}}
	if accept.Check(udp) != DropAddress || accept.Check(tcp("2001:db8::1", "2001:db8::2", 3)) != DropNone {
		t.Error("address accept list")
	}
}

func TestCacheChangesAndReplace(t *testing.T) {
	c := NewCache()
	now := time.Unix(1000, 0)
	flows := SampleFlows(10)
	for _, f := range flows {
		if !c.Put(f, now) {
			t.Fatal("new flow not reported as a change")
		}
	}
	f := flows[0]
	f.TimeoutSec -= 5
	if c.Put(f, now) {
		t.Fatal("a timeout-only change is reported")
	}
	f.Mark = 77
	if !c.Put(f, now) {
		t.Fatal("a mark change is not reported")
	}
	extra := SampleFlows(12)[11]
	changed, removed := c.Replace(append([]Flow{flows[1], extra}, flows[2:5]...), now)
	if len(changed) != 1 || changed[0].Key() != extra.Key() || len(removed) != 6 || c.Len() != 5 {
		t.Fatalf("Replace: changed %d, removed %d, len %d", len(changed), len(removed), c.Len())
	}
}

func TestCommitTimeout(t *testing.T) {
	now := time.Unix(10000, 0)
	e := &Entry{Flow: Flow{TimeoutSec: 100}, Updated: now.Add(-30 * time.Second)}
	for _, tc := range []struct {
		e    *Entry
		ct   time.Duration
		want uint32
	}{
		{e, 0, 70},
		{e, 180 * time.Second, 180},
		{&Entry{Flow: Flow{TimeoutSec: 10}, Updated: now.Add(-30 * time.Second)}, 0, 1},
		{&Entry{}, 0, DefaultCommitTimeoutSec},
	} {
		if got := CommitTimeoutSec(tc.e, now, tc.ct); got != tc.want {
			t.Errorf("CommitTimeoutSec(%d s, %v since update, ct %v) = %d, want %d", tc.e.Flow.TimeoutSec, now.Sub(tc.e.Updated), tc.ct, got, tc.want)
		}
	}
}

func TestWireConversionRoundTrip(t *testing.T) {
	flows := SampleFlows(2000)
	// Related flows, zones, labels, sequence adjustment and SCTP too.
	r := flows[0]
	r.Orig.SrcPort, r.Master = 20, flows[0].Orig
	r.Reply = r.Orig.Invert()
	s := Flow{Orig: Tuple{Src: netip.MustParseAddr("192.0.2.7"), Dst: netip.MustParseAddr("198.51.100.7"), Proto: ProtoSCTP, SrcPort: 5, DstPort: 6},
		SCTPState: 3, SCTPVTagOrig: 0x01020304, SCTPVTagRep: 0x05060708, Zone: 9, Labels: "\x01\x00\x00\x00\x00\x00\x00\x80",
		SeqAdjOrig: SeqAdj{1, 2, 3}, SeqAdjReply: SeqAdj{4, 5, 6}, Status: StatusConfirmed, TimeoutSec: 50}
	s.Reply = s.Orig.Invert()
	flows = append(flows, r, s)
	for i := range flows {
		f := flows[i]
		w := toWire(&f, true)
		got := fromWire(&w)
		if got != f {
			t.Fatalf("round trip of\n%s\ngave\n%s", &f, &got)
		}
		w = toWire(&f, false)
		if w.HasTimeout {
			t.Fatal("timeout sent with CommitTimeout configured")
		}
	}
}

func TestCompactRoundTrip(t *testing.T) {
	flows := SampleFlows(3000)
	s := Flow{Orig: Tuple{Src: netip.MustParseAddr("192.0.2.7"), Dst: netip.MustParseAddr("198.51.100.7"), Proto: ProtoSCTP, SrcPort: 5, DstPort: 6},
		SCTPState: 3, SCTPVTagOrig: 0x01020304, SCTPVTagRep: 0x05060708, Zone: 9, Labels: "\x01\x00\x00\x00\x00\x00\x00\x80",
		SeqAdjOrig: SeqAdj{1, 2, 3}, SeqAdjReply: SeqAdj{4, 5, 6}, Status: StatusConfirmed, TimeoutSec: 50, Helper: "sip",
		DCCPState: 1, DCCPRole: 2, Master: flows[0].Orig}
	s.Reply = s.Orig.Invert()
	for _, f := range append(flows, s, Flow{Orig: flows[1].Orig}) {
		var got Flow
		decodeCompact(string(encodeFlow(nil, &f)), &got)
		want := f
		want.ensureReply()
		if f.Reply.IsZero() {
			want.Reply = Tuple{}
		}
		if got != want {
			t.Fatalf("compact round trip\n got %s\nwant %s", &got, &want)
		}
		g2 := f
		g2.TimeoutSec++
		if !sameState(string(encodeFlow(nil, &f)), string(encodeFlow(nil, &g2))) {
			t.Fatal("a timeout change is a state change")
		}
	}
}

// TestNames: the one table of protocol and TCP state names reads every
// spelling conntrackd's configuration accepts, in any case, and prints the
// kernel's name of each value.
func TestNames(t *testing.T) {
	for s, want := range map[string]uint8{"tcp": ProtoTCP, "UDP": ProtoUDP, "icmp": ProtoICMP, "ICMPV6": ProtoICMPv6,
		"ipv6-icmp": ProtoICMPv6, "sctp": ProtoSCTP, "dccp": ProtoDCCP, "udplite": ProtoUDPLite, "gre": ProtoGRE} {
		if got, ok := ProtocolByName(s); !ok || got != want {
			t.Errorf("ProtocolByName(%q) = %d %v, want %d", s, got, ok, want)
		}
	}
	if _, ok := ProtocolByName("6"); ok {
		t.Error("a number is not a protocol name")
	}
	for s, want := range map[string]uint8{"syn_sent": TCPSynSent, "ESTABLISHED": TCPEstablished, "closed": TCPClose,
		"CLOSE": TCPClose, "listen": TCPSynSent2, "SYN_SENT2": TCPSynSent2, "time_wait": TCPTimeWait} {
		if got, ok := TCPStateByName(s); !ok || got != want {
			t.Errorf("TCPStateByName(%q) = %d %v, want %d", s, got, ok, want)
		}
	}
	if _, ok := TCPStateByName("NONE"); ok {
		t.Error("NONE is not a state a filter can name")
	}
	for n, want := range map[uint8]string{TCPNone: "NONE", TCPClose: "CLOSE", TCPSynSent2: "SYN_SENT2", 42: "TCP_STATE_42"} {
		if got := TCPStateName(n); got != want {
			t.Errorf("TCPStateName(%d) = %q, want %q", n, got, want)
		}
	}
	if got := ProtocolName(ProtoICMPv6) + " " + ProtocolName(200); got != "ICMPv6 200" {
		t.Errorf("ProtocolName: %q", got)
	}
	if got, want := TCPStateNames(), "SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE or LISTEN"; got != want {
		t.Errorf("TCPStateNames() = %q, want %q", got, want)
	}
	if got, want := ProtocolNames(), "TCP, UDP, ICMP, ICMPv6, SCTP, DCCP, UDPlite, GRE"; got != want {
		t.Errorf("ProtocolNames() = %q, want %q", got, want)
	}
}

// TestCacheKinds: plain IPv4 flows are kept as fixed records and the others
// in the compact form; a flow that changes kind moves (one key, one entry,
// the change reported), and every read gives back the flow that was put.
func TestCacheKinds(t *testing.T) {
	flows := SampleFlows(500)
	plain := 0
	for i := range flows {
		f := flows[i]
		k, r, ok := pack4(&f)
		if !ok {
			continue
		}
		plain++
		var got Flow
		r.flow(&k, &got)
		if got != f {
			t.Fatalf("record round trip\n got %s\nwant %s", &got, &f)
		}
	}
	if plain == 0 || plain == len(flows) {
		t.Fatalf("%d of %d sample flows are plain IPv4: the test needs both kinds", plain, len(flows))
	}
	c := NewCache()
	now := time.Unix(1000, 0)
	for _, f := range flows {
		c.Put(f, now)
	}
	f := flows[0]
	if _, _, ok := pack4(&f); !ok {
		t.Fatal("flows[0] should be plain IPv4")
	}
	f.Helper = "ftp" // now a flow of the other kind
	if !c.Put(f, now) || c.Len() != len(flows) {
		t.Fatalf("kind change: len %d", c.Len())
	}
	if e, ok := c.Get(f.Key()); !ok || e.Flow != f {
		t.Fatalf("Get after a kind change: %v %s", ok, &e.Flow)
	}
	f.Helper = ""
	if !c.Put(f, now) || c.Len() != len(flows) {
		t.Fatalf("kind change back: len %d", c.Len())
	}
	if e, ok := c.Get(f.Key()); !ok || e.Flow != f || !e.Updated.Equal(now) {
		t.Fatalf("Get after the change back: %v %s", ok, &e.Flow)
	}
	seen := map[Key]bool{}
	c.Range(func(e *Entry) {
		if seen[e.Flow.Key()] {
			t.Fatalf("%s twice", &e.Flow)
		}
		seen[e.Flow.Key()] = true
	})
	if len(seen) != len(flows) || len(c.Snapshot()) != len(flows) {
		t.Fatalf("Range saw %d, Snapshot %d, want %d", len(seen), len(c.Snapshot()), len(flows))
	}
	for _, f := range flows[:100] {
		if got, ok := c.Delete(f.Key()); !ok || got != f {
			t.Fatalf("Delete: %v %s, want %s", ok, &got, &f)
		}
	}
	c.Apply(flows[100:200], make([]bool, 100), now)
	del := make([]bool, 100)
	for i := range del {
		del[i] = true
	}
	c.Apply(flows[200:300], del, now)
	if c.Len() != len(flows)-200 {
		t.Fatalf("after Apply: len %d, want %d", c.Len(), len(flows)-200)
	}
	changed, removed := c.Replace(flows[400:], now)
	if len(changed) != 0 || len(removed) != 200 || c.Len() != 100 {
		t.Fatalf("Replace: changed %d, removed %d, len %d", len(changed), len(removed), c.Len())
	}
	if n := c.Flush(); n != 100 || c.Len() != 0 {
		t.Fatalf("Flush: %d, len %d", n, c.Len())
	}
}

// PutEvent, which looks a plain IPv4 flow's record up once for the merge
// and the store, does what the plain composition does: Get, merge when
// the event needs the old flow, Put. Random events over a few keys, each
// key's flow now plain IPv4 and now of the other kind (a helper), with
// and without needOld, on two caches; the merge completes the mark and
// the helper from the old flow when the event left them out.
func TestPutEventMatchesGetMergePut(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	flows := SampleFlows(40)
	got, want := NewCache(), NewCache()
	now := time.Unix(1000, 0)
	merges := 0
	for i := range 20000 {
		f := flows[rng.IntN(len(flows))]
		f.Mark = uint32(rng.IntN(3))
		if rng.IntN(3) == 0 {
			f.Helper = "ftp"
		}
		needOld := rng.IntN(2) == 0
		now = now.Add(time.Second)
		merge := func(f, old *Flow) {
			if f.Mark == 0 {
				f.Mark = old.Mark
			}
			if f.Helper == "" && old.Helper != "" && f.Mark == 2 {
				f.Helper = old.Helper
			}
		}
		var gotOld, wantOld []Flow
		g := f
		gotExisted, gotChanged := got.PutEvent(&g, now, needOld, func(f, old *Flow) {
			gotOld = append(gotOld, *old)
			merge(f, old)
		})
		w := f
		w.ensureReply()
		e, wantExisted := want.Get(w.Key())
		if needOld && wantExisted {
			wantOld = append(wantOld, e.Flow)
			merge(&w, &e.Flow)
			merges++
		}
		wantChanged := want.Put(w, now)
		if gotExisted != wantExisted || gotChanged != wantChanged || !reflect.DeepEqual(gotOld, wantOld) {
			t.Fatalf("event %d (%s, needOld %v): existed %v changed %v old %v, want %v %v %v",
				i, &f, needOld, gotExisted, gotChanged, gotOld, wantExisted, wantChanged, wantOld)
		}
		if rng.IntN(50) == 0 {
			got.Delete(f.Key())
			want.Delete(f.Key())
		}
	}
	if merges < 1000 {
		t.Fatalf("only %d merges: the test needs many", merges)
	}
	snap := func(c *Cache) []string {
		var out []string
		for _, e := range c.Snapshot() {
			out = append(out, fmt.Sprintf("%s %v", &e.Flow, e.Updated.Unix()))
		}
		slices.Sort(out)
		return out
	}
	if g, w := snap(got), snap(want); !slices.Equal(g, w) {
		t.Fatalf("caches differ:\n got %v\nwant %v", g, w)
	}
}

// Chunks gives every entry once, in chunks no larger than their buffers,
// every flow that is not related before any related one, and stops when
// its context ends; with puts and deletes between its chunks it still
// gives once every entry that nobody touched.
func TestCacheChunks(t *testing.T) {
	flows := SampleFlows(3000)
	ftp, _ := SampleFTP(200)
	flows = append(flows, ftp...)
	flows = append(flows, SampleFTPData(ftp)...) // the control flows' data flows, related to them
	related := 0
	for i := range flows {
		if flows[i].Related() {
			related++
		}
	}
	if related == 0 {
		t.Fatal("the test needs related flows")
	}
	now := time.Unix(1000, 0)
	read := func(c *Cache, between func()) (out []Entry, maxChunk int) {
		bufs := make(chan []Entry, 3)
		for range 3 {
			bufs <- make([]Entry, 0, 97)
		}
		ch := make(chan []Entry)
		done := make(chan int)
		go func() { done <- c.Chunks(context.Background(), bufs, ch) }()
		for {
			select {
			case b := <-ch:
				maxChunk = max(maxChunk, len(b))
				out = append(out, b...)
				bufs <- b
				if between != nil {
					between()
				}
				continue
			case n := <-done:
				if n != len(out) {
					t.Fatalf("Chunks says %d sent, %d received", n, len(out))
				}
			}
			return out, maxChunk
		}
	}
	key := func(e *Entry) string { return fmt.Sprint(e.Flow.Key()) }

	c := NewCache()
	for _, f := range flows {
		c.Put(f, now)
	}
	got, maxChunk := read(c, nil)
	if len(got) != len(flows) || maxChunk != 97 {
		t.Fatalf("%d entries of %d, largest chunk %d", len(got), len(flows), maxChunk)
	}
	want := map[string]Entry{}
	for _, e := range c.Snapshot() {
		want[key(&e)] = e
	}
	seenRelated := false
	for i := range got {
		e := &got[i]
		w, ok := want[key(e)]
		if !ok || !reflect.DeepEqual(w, *e) {
			t.Fatalf("entry %d: %v, snapshot has %v", i, e, w)
		}
		delete(want, key(e))
		if e.Flow.Related() {
			seenRelated = true
		} else if seenRelated {
			t.Fatalf("entry %d (%s) is not related and comes after a related one", i, &e.Flow)
		}
	}

	// Puts and deletes of half the flows between chunks.
	rng := rand.New(rand.NewPCG(3, 4))
	touched := map[string]bool{}
	for i := range flows {
		if i%2 == 0 {
			k := flows[i].Key()
			touched[fmt.Sprint(k)] = true
		}
	}
	got, _ = read(c, func() {
		for range 20 {
			f := flows[2*rng.IntN(len(flows)/2)]
			if rng.IntN(2) == 0 {
				c.Delete(f.Key())
			} else {
				f.Mark++
				c.Put(f, now)
			}
		}
	})
	count := map[string]int{}
	for i := range got {
		count[key(&got[i])]++
	}
	for i := range flows {
		k := flows[i].Key()
		if !touched[fmt.Sprint(k)] && count[fmt.Sprint(k)] != 1 {
			t.Fatalf("untouched flow %s given %d times", &flows[i], count[fmt.Sprint(k)])
		}
	}

	// A context that ends stops it.
	ctx, cancel := context.WithCancel(context.Background())
	bufs := make(chan []Entry, 1)
	bufs <- make([]Entry, 0, 10)
	ch := make(chan []Entry)
	done := make(chan int)
	go func() { done <- c.Chunks(ctx, bufs, ch) }()
	<-ch // the first chunk; no buffer comes back
	cancel()
	select {
	case n := <-done:
		if n != 10 {
			t.Fatalf("stopped after %d entries, want 10", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Chunks did not stop when its context ended")
	}
}
