package ftfw

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func msgs(t testing.TB, dgrams [][]byte) []Message {
	t.Helper()
	var out []Message
	for _, d := range dgrams {
		_, r := Walk(d, func(b []byte) bool {
			var m Message
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatalf("we sent an undecodable message: %v", err)
			}
			out = append(out, m)
			return true
		})
		if r != DropNone {
			t.Fatalf("we sent a bad datagram: %v", r)
		}
	}
	return out
}

func enc(t testing.TB, ms ...Message) []byte {
	t.Helper()
	var b []byte
	for _, m := range ms {
		var err error
		if b, err = m.AppendBinary(b); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func ctl(flags Flags, seq, from, to uint32) Message {
	return Message{Type: TypeCtl, Flags: flags, Seq: seq, From: from, To: to}
}

func data(seq uint32, port uint16, flags Flags) Message {
	return Message{Type: TypeNew, Flags: flags, Seq: seq, Flow: Flow{Src: netip.MustParseAddr("192.0.2.1"),
		Dst: netip.MustParseAddr("192.0.2.2"), Proto: ProtoUDP, SrcPort: port, DstPort: 53}}
}

func find(ms []Message, flags Flags) []Message {
	var out []Message
	for _, m := range ms {
		if m.Type == TypeCtl && m.Flags&flags == flags {
			out = append(out, m)
		}
	}
	return out
}

// established returns a channel whose handshake with a peer (seq from 100) is done.
func established(t testing.TB, cfg Config) (*Channel, uint32) {
	t.Helper()
	cfg.InitialSeq = 1000
	c := NewChannel(cfg, t0)
	c.Outbox(t0)
	c.Receive(enc(t, ctl(FlagAlive|FlagHelloBack, 100, 0, 0)), t0)
	if !c.Established() {
		t.Fatal("not established")
	}
	c.Events()
	ms := msgs(t, c.Outbox(t0)) // an ACK of the peer's ALIVE, and the RESYNC of the new session
	if r := find(ms, FlagResync); len(r) != 1 {
		t.Fatalf("no RESYNC after the handshake: %+v", ms)
	}
	c.Receive(enc(t, ctl(FlagAck, 101, 1000, ms[len(ms)-1].Seq)), t0)
	if s := c.Stats(); s.Unacked != 0 {
		t.Fatalf("unacked %d after setup", s.Unacked)
	}
	if ev := c.Events(); len(ev) != 1 || ev[0].Kind != EventSendBulk {
		t.Fatalf("events after setup %+v, want the new session's bulk", ev)
	}
	return c, 102
}

// Handshake: HELLO on everything until HELLO_BACK, no data before it, HELLO repeated
// every HelloInterval (boundary exact).
func TestHandshakeHoldsDataUntilHelloBack(t *testing.T) {
	c := NewChannel(Config{InitialSeq: 7}, t0)
	f := data(0, 1, 0).Flow
	c.Send(OpNew, &f)
	ms := msgs(t, c.Outbox(t0))
	if len(ms) != 1 || ms[0].Flags != FlagAlive|FlagHello || ms[0].Seq != 7 {
		t.Fatalf("first round %+v, want one ALIVE|HELLO seq 7", ms)
	}
	if got := c.Outbox(t0.Add(250*time.Millisecond - 1)); got != nil {
		t.Fatalf("HELLO repeated early: %+v", msgs(t, got))
	}
	if ms := msgs(t, c.Outbox(t0.Add(250*time.Millisecond))); len(ms) != 1 || ms[0].Flags&FlagHello == 0 {
		t.Fatalf("HELLO not repeated at HelloInterval: %+v", ms)
	}
	c.Receive(enc(t, ctl(FlagAlive|FlagHelloBack, 50, 0, 0)), t0.Add(300*time.Millisecond))
	ms = msgs(t, c.Outbox(t0.Add(300*time.Millisecond)))
	var dataSeen, resync bool
	for _, m := range ms {
		if m.Flags&FlagHello != 0 {
			t.Errorf("HELLO after HELLO_BACK: %+v", m)
		}
		dataSeen = dataSeen || m.Type == TypeNew
		resync = resync || m.Flags&FlagResync != 0
	}
	if !dataSeen || !resync {
		t.Fatalf("after the handshake want the data and a RESYNC, got %+v", ms)
	}
}

// A HELLO is answered with HELLO_BACK on every message until the peer stops saying
// HELLO; a peer HELLO starts a session and asks for a bulk.
func TestHelloBackStickyUntilPeerStopsHello(t *testing.T) {
	c, _ := established(t, Config{})
	now := t0.Add(time.Second)
	c.Receive(enc(t, ctl(FlagAlive|FlagHello, 5000, 0, 0)), now)
	ev := c.Events()
	if len(ev) != 1 || ev[0].Kind != EventPeerSession || !ev[0].Restart {
		t.Fatalf("events %+v, want a restart peer session", ev)
	}
	for i := range 3 {
		now = now.Add(time.Second)
		for _, m := range msgs(t, c.Outbox(now)) {
			if m.Flags&FlagHelloBack == 0 {
				t.Fatalf("round %d: message without HELLO_BACK while the peer says HELLO: %+v", i, m)
			}
		}
	}
	c.Receive(enc(t, ctl(FlagAlive, 5001, 0, 0)), now)
	now = now.Add(time.Second)
	for _, m := range msgs(t, c.Outbox(now)) {
		if m.Flags&FlagHelloBack != 0 {
			t.Fatalf("HELLO_BACK after the peer stopped HELLO: %+v", m)
		}
	}
}

// An ACK never spans a gap: ACK what came before, NACK the gap, new window after it.
func TestReceiverNeverAcksAcrossGap(t *testing.T) {
	c, seq := established(t, Config{})
	c.Receive(enc(t, data(seq, 1, 0), data(seq+1, 2, 0)), t0)
	c.Receive(enc(t, data(seq+4, 3, 0)), t0) // seq+2, seq+3 lost
	if u := c.Updates(); len(u) != 3 {
		t.Fatalf("%d updates, want 3 (data after a gap is used)", len(u))
	}
	ms := msgs(t, c.Outbox(t0))
	acks, nacks := find(ms, FlagAck), find(ms, FlagNack)
	if len(acks) != 1 || acks[0].From != seq-1 || acks[0].To != seq+1 {
		t.Fatalf("ACKs %+v, want one [%d,%d]", acks, seq-1, seq+1)
	}
	if len(nacks) != 1 || nacks[0].From != seq+2 || nacks[0].To != seq+3 {
		t.Fatalf("NACKs %+v, want [%d,%d]", nacks, seq+2, seq+3)
	}
	// The next ACK starts after the gap, AckDelay after the message (boundary exact).
	if ms := find(msgs(t, c.Outbox(t0.Add(20*time.Millisecond-1))), FlagAck); len(ms) != 0 {
		t.Fatalf("ACK before AckDelay: %+v", ms)
	}
	acks = find(msgs(t, c.Outbox(t0.Add(20*time.Millisecond))), FlagAck)
	if len(acks) != 1 || acks[0].From != seq+4 || acks[0].To != seq+4 {
		t.Fatalf("ACKs %+v, want [%d,%d]", acks, seq+4, seq+4)
	}
}

// NACKs are repeated at NackRetry, doubling, exactly NackRetries times.
func TestNackRetriedOnTimer(t *testing.T) {
	c, seq := established(t, Config{NackRetries: 3})
	c.Receive(enc(t, data(seq+2, 1, 0)), t0)
	if n := find(msgs(t, c.Outbox(t0)), FlagNack); len(n) != 1 {
		t.Fatalf("first NACK %+v", n)
	}
	at := t0
	for i, gap := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		at = at.Add(gap)
		if n := find(msgs(t, c.Outbox(at.Add(-1))), FlagNack); len(n) != 0 {
			t.Fatalf("repeat %d early: %+v", i, n)
		}
		n := find(msgs(t, c.Outbox(at)), FlagNack)
		if len(n) != 1 || n[0].From != seq || n[0].To != seq+1 {
			t.Fatalf("repeat %d: %+v", i, n)
		}
	}
	if n := find(msgs(t, c.Outbox(at.Add(10*time.Second))), FlagNack); len(n) != 0 {
		t.Fatalf("more than NackRetries repeats: %+v", n)
	}
}

// Duplicates and late messages are dropped and counted, never delivered twice.
func TestStaleAndDuplicateDropped(t *testing.T) {
	c, seq := established(t, Config{})
	d := enc(t, data(seq, 1, 0))
	c.Receive(d, t0)
	c.Receive(d, t0)
	if u := c.Updates(); len(u) != 1 {
		t.Fatalf("%d updates from a duplicate", len(u))
	}
	if s := c.Stats(); s.Drops[DropStale] != 1 {
		t.Fatalf("stale drops %d", s.Drops[DropStale])
	}
}

// The sender: NACK resends from the resend queue with a new seq and the current state;
// ACK frees; a peer HELLO (restart) resends everything unacknowledged.
func TestSenderNackAckAndPeerRestart(t *testing.T) {
	c, pseq := established(t, Config{})
	f := data(0, 9, 0).Flow
	c.Send(OpNew, &f)
	g := data(0, 10, 0).Flow
	c.Send(OpNew, &g)
	ms := msgs(t, c.Outbox(t0))
	if len(ms) != 2 {
		t.Fatalf("sent %+v", ms)
	}
	s1, s2 := ms[0].Seq, ms[1].Seq
	f.Mark, f.HasMark = 5, true
	c.Send(OpUpd, &f) // changes before the NACK arrives
	c.Receive(enc(t, ctl(FlagAck, pseq, s2, s2), ctl(FlagNack, pseq+1, s1, s1)), t0)
	ms = msgs(t, c.Outbox(t0))
	if len(ms) != 1 || ms[0].Type != TypeUpd || ms[0].Flow.Mark != 5 || ms[0].Seq == s1 {
		t.Fatalf("after NACK sent %+v, want one CT_UPD with the current state and a new seq", ms)
	}
	if s := c.Stats(); s.Unacked != 1 {
		t.Fatalf("unacked %d, want 1", s.Unacked)
	}
	// Peer restart (a second after the session began: see TestHelloFloodHoldoff): the
	// unacknowledged message goes out again, plus a RESYNC.
	at := t0.Add(time.Second)
	c.Receive(enc(t, ctl(FlagAlive|FlagHello, 1, 0, 0)), at)
	ms = msgs(t, c.Outbox(at))
	var resent, resync bool
	for _, m := range ms {
		resent = resent || (m.Type == TypeUpd && m.Flow.SrcPort == 9)
		resync = resync || m.Flags&FlagResync != 0
	}
	if !resent || !resync {
		t.Fatalf("after peer HELLO sent %+v, want the unacknowledged entry again and RESYNC", ms)
	}
}

// Tail loss: ProbeDelay after the last data an ALIVE probe goes out (boundary exact),
// then at doubling intervals while anything is unacknowledged; and a message the peer
// skipped while acknowledging a later one is resent RetransmitAfter later.
func TestProbeAndInferredLoss(t *testing.T) {
	c, pseq := established(t, Config{})
	for p := range uint16(2) {
		f := data(0, p, 0).Flow
		c.Send(OpNew, &f)
	}
	at := t0.Add(time.Second)
	var sent []Message
	for _, m := range msgs(t, c.Outbox(at)) {
		if m.Type == TypeNew {
			sent = append(sent, m)
		}
	}
	if len(sent) != 2 {
		t.Fatalf("sent %+v", sent)
	}
	if got := c.Outbox(at.Add(100*time.Millisecond - 1)); got != nil {
		t.Fatalf("probe early: %+v", msgs(t, got))
	}
	if p := find(msgs(t, c.Outbox(at.Add(100*time.Millisecond))), FlagAlive); len(p) != 1 {
		t.Fatalf("no probe at ProbeDelay")
	}
	if p := find(msgs(t, c.Outbox(at.Add(300*time.Millisecond))), FlagAlive); len(p) != 1 {
		t.Fatalf("no second probe at 2*ProbeDelay later")
	}
	// The peer acknowledges the second message only.
	at = at.Add(400 * time.Millisecond)
	c.Receive(enc(t, ctl(FlagAck, pseq, sent[1].Seq, sent[1].Seq)), at)
	c.Outbox(at)
	for _, m := range msgs(t, c.Outbox(at.Add(1500*time.Millisecond-1))) {
		if m.Type == TypeNew {
			t.Fatalf("resent before RetransmitAfter: %+v", m)
		}
	}
	var resent bool
	for _, m := range msgs(t, c.Outbox(at.Add(1500*time.Millisecond))) {
		resent = resent || (m.Type == TypeNew && m.Flow.SrcPort == sent[0].Flow.SrcPort && m.Seq != sent[0].Seq)
	}
	if !resent {
		t.Fatal("skipped message not resent after RetransmitAfter")
	}
}

// A full resend queue holds new data back; nothing is dropped.
func TestResendQueueFullBackpressure(t *testing.T) {
	c, pseq := established(t, Config{ResendQueueSize: 10})
	for p := range uint16(25) {
		f := data(0, p, 0).Flow
		c.Send(OpNew, &f)
	}
	got := 0
	for round := range 5 {
		ms := msgs(t, c.Outbox(t0))
		var last uint32
		for _, m := range ms {
			if m.Type == TypeNew {
				got++
				last = m.Seq
			}
		}
		if s := c.Stats(); s.Unacked > 10 {
			t.Fatalf("round %d: %d unacked > ResendQueueSize", round, s.Unacked)
		}
		if last != 0 {
			c.Receive(enc(t, ctl(FlagAck, pseq, 0, last)), t0)
			pseq++
		}
	}
	if got != 25 {
		t.Fatalf("sent %d of 25 entries", got)
	}
}

// Expectations are delivered in the peer's order among the flows, and counted; their
// seq counts like any data message's.
func TestExpectationDelivered(t *testing.T) {
	c, seq := established(t, Config{})
	x := ftpExpect()
	exp := Message{Type: TypeExpDel, Seq: seq, Exp: x}
	c.Receive(enc(t, exp, data(seq+1, 1, 0)), t0)
	if s := c.Stats(); s.ExpectReceived != 1 || s.Gaps != 0 || s.DataReceived != 1 {
		t.Fatalf("stats %+v", s)
	}
	ups := c.Updates()
	if len(ups) != 2 || ups[0].Exp == nil || ups[0].Op != OpDel || !reflect.DeepEqual(*ups[0].Exp, x) || ups[1].Exp != nil {
		t.Fatalf("updates %+v", ups)
	}
}

// A queued expectation goes out as EXP_<op>, collapsed with later updates of its key,
// and is retransmitted on NACK like a flow.
func TestSendExpect(t *testing.T) {
	c, seq := established(t, Config{})
	x := ftpExpect()
	if err := c.SendExpect(OpNew, &x); err != nil {
		t.Fatal(err)
	}
	x.TimeoutSecs = 200
	if err := c.SendExpect(OpUpd, &x); err != nil {
		t.Fatal(err)
	}
	var sent []Message
	for _, d := range c.Outbox(t0) {
		Walk(d, func(b []byte) bool {
			var m Message
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, m)
			return true
		})
	}
	var exps []Message
	for _, m := range sent {
		if m.Type.IsExpect() {
			exps = append(exps, m)
		}
	}
	if len(exps) != 1 || exps[0].Type != TypeExpUpd || exps[0].Exp.TimeoutSecs != 200 {
		t.Fatalf("sent %+v", exps)
	}
	c.Receive(enc(t, ctl(FlagNack, seq, exps[0].Seq, exps[0].Seq)), t0)
	n := 0
	for _, d := range c.Outbox(t0) {
		Walk(d, func(b []byte) bool {
			var m Message
			if m.UnmarshalBinary(b) == nil && m.Type == TypeExpUpd && reflect.DeepEqual(m.Exp, x) {
				n++
			}
			return true
		})
	}
	if n != 1 {
		t.Fatalf("retransmitted %d expectations after NACK", n)
	}
	bad := Expect{}
	if c.SendExpect(OpNew, &bad) == nil {
		t.Fatal("an expectation without addresses was accepted")
	}
}

// A peer's RESYNC asks the owner for a bulk.
func TestResyncRequestEvent(t *testing.T) {
	c, seq := established(t, Config{})
	c.Receive(enc(t, ctl(FlagResync, seq, 0, 0)), t0)
	if ev := c.Events(); len(ev) != 1 || ev[0].Kind != EventResyncRequested {
		t.Fatalf("events %+v", ev)
	}
}

// A data message with a bad payload is counted; the window still moves (no bogus gap).
func TestBadPayloadCountedWindowMoves(t *testing.T) {
	c, seq := established(t, Config{})
	bad := enc(t, data(seq, 1, 0))
	bad[8+3] = 40 // attribute 40
	c.Receive(append(bad, enc(t, data(seq+1, 2, 0))...), t0)
	s := c.Stats()
	if s.Drops[DropPayload] != 1 || s.Gaps != 0 || s.DataReceived != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Outbox fills datagrams like conntrackd: 17 of the 84-byte `conntrack -I` TCP entries
// per 1472-byte datagram (MTU 1500), the 18th starts a new one.
func TestOutboxPacksLikeConntrackd(t *testing.T) {
	c, _ := established(t, Config{})
	for i := range 34 {
		f := benchFlow(i)
		if err := c.Send(OpNew, &f); err != nil {
			t.Fatal(err)
		}
	}
	var dataDgrams []int
	for _, d := range c.Outbox(t0) {
		n := 0
		Walk(d, func(b []byte) bool {
			if Type(b[0]&0x0f) == TypeNew {
				if len(b) != 84 {
					t.Fatalf("entry of %d bytes, want 84", len(b))
				}
				n++
			}
			return true
		})
		if len(d) > 1472 {
			t.Fatalf("datagram of %d bytes", len(d))
		}
		if n > 0 {
			dataDgrams = append(dataDgrams, n)
		}
	}
	if len(dataDgrams) != 2 || dataDgrams[0]+dataDgrams[1] != 34 || dataDgrams[1] != 17 {
		t.Fatalf("entries per datagram %v, want 17 per full datagram", dataDgrams)
	}
}

// ACKs may arrive out of order: a later window's ACK first, then the earlier one's.
// Both free what they name; the earlier messages are not left behind as suspect.
func TestAcksOutOfOrder(t *testing.T) {
	c, pseq := established(t, Config{})
	for p := range uint16(10) {
		f := data(0, p, 0).Flow
		c.Send(OpNew, &f)
	}
	ms := msgs(t, c.Outbox(t0))
	if len(ms) != 10 {
		t.Fatalf("sent %d", len(ms))
	}
	c.Receive(enc(t, ctl(FlagAck, pseq, ms[5].Seq, ms[9].Seq)), t0)
	c.Receive(enc(t, ctl(FlagAck, pseq+1, ms[0].Seq, ms[4].Seq)), t0)
	if s := c.Stats(); s.Unacked != 0 {
		t.Fatalf("unacked %d after both ACKs", s.Unacked)
	}
	for _, m := range msgs(t, c.Outbox(t0.Add(5*time.Second))) {
		if m.Type == TypeNew {
			t.Fatalf("resent an acknowledged message: %+v", m)
		}
	}
}

// The Channel's maps tell two flows apart exactly when their Keys differ (but for an
// IPv6 zone, which the wire does not carry): every field counts, and an IPv4 address
// is not its IPv4-mapped IPv6 form.
func TestMapKeyDistinguishesKeys(t *testing.T) {
	base := Key{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"),
		Proto: 6, SrcPort: 1000, DstPort: 80}
	variants := []func(k *Key){
		func(k *Key) {},
		func(k *Key) { k.Src = netip.MustParseAddr("192.0.2.9") },
		func(k *Key) { k.Dst = netip.MustParseAddr("198.51.100.9") },
		func(k *Key) { k.Src = netip.MustParseAddr("::ffff:192.0.2.1") },
		func(k *Key) { k.Dst = netip.MustParseAddr("::ffff:198.51.100.2") },
		func(k *Key) { k.Src, k.Dst = k.Dst, k.Src },
		func(k *Key) { k.Src, k.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2") },
		func(k *Key) { k.Src = netip.Addr{} },
		func(k *Key) { k.Src = netip.IPv4Unspecified() },
		func(k *Key) { k.Proto = 17 },
		func(k *Key) { k.SrcPort = 1001 },
		func(k *Key) { k.DstPort = 81 },
		func(k *Key) { k.SrcPort, k.DstPort = k.DstPort, k.SrcPort },
		func(k *Key) { k.ICMPType = 8 },
		func(k *Key) { k.ICMPCode = 1 },
		func(k *Key) { k.ICMPID = 7 },
		func(k *Key) { k.Zone = 1 },
	}
	seen := map[mapKey]int{}
	for i, v := range variants {
		k := base
		v(&k)
		mk := k.mapKey()
		if j, ok := seen[mk]; ok {
			t.Errorf("keys %d (%+v) and %d share a map key", i, k, j)
		}
		seen[mk] = i
		again := k
		if again.mapKey() != mk {
			t.Errorf("key %d maps to two keys", i)
		}
	}
	z := Key{Src: netip.MustParseAddr("fe80::1%eth0"), Dst: netip.MustParseAddr("fe80::2")}
	nz := Key{Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("fe80::2")}
	if z.mapKey() != nz.mapKey() {
		t.Error("a zone makes a different map key, which the wire could not tell apart")
	}
}
