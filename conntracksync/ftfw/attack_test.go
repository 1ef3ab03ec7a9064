package ftfw

import (
	"fmt"
	"testing"
	"time"
)

// Forged control traffic: anyone who can send datagrams with the peer's source address
// (FTFW has no authentication) must not be able to wedge the channel. The attacker in
// these tests knows the sequence numbers (it sees the traffic, or guesses them), the
// worst case; a blind attacker also has to guess them (InitialSeq is random).

// inject delivers a forged datagram to node i now, as if it came from the peer, and
// lets node i react.
func (s *sim) inject(i int, ms ...Message) {
	s.t.Helper()
	var b []byte
	for _, m := range ms {
		var err error
		if b, err = m.AppendBinary(b); err != nil {
			s.t.Fatal(err)
		}
	}
	nd := s.nodes[i]
	nd.ch.Receive(b, s.now)
	for _, u := range nd.ch.Updates() {
		s.t.Fatalf("a forged control message delivered an update: %+v", u)
	}
	s.pump(i)
}

// ourSeqs returns the first and last seq node i has sent.
func (s *sim) ourSeqs(i int) (first, last uint32) {
	ch := s.nodes[i].ch
	return ch.firstSeq, ch.seq - 1
}

func TestInitialSeqIsRandom(t *testing.T) {
	a, b := NewChannel(Config{}, t0), NewChannel(Config{}, t0)
	if a.seq == b.seq || a.seq == uint32(t0.Unix()) || b.seq == uint32(t0.Unix()) {
		t.Fatalf("initial seqs %d and %d at Unix time %d: guessable", a.seq, b.seq, t0.Unix())
	}
}

// One forged message with a seq ahead of the peer's, injected mid-stream, must not
// make the receiver drop the real stream for good: a jump larger than maxDirectGap is
// not taken from one datagram; a smaller one (or a larger one that forged datagrams
// continue) is left when the peer's messages keep coming outside the window, and what
// was dropped meanwhile comes back with a RESYNC. Both directions carry a workload
// under 10 % loss.
func TestSimForgedSeqJump(t *testing.T) {
	jumps := []struct {
		name  string
		ahead uint32
		n     int // forged messages, one per datagram, consecutive seqs
	}{
		{"direct-gap", 1000, 1},
		{"direct-gap-burst", 1000, 20},
		{"max-direct-gap", maxDirectGap, 1},
		{"large-gap", 5000, 1},
		{"large-gap-burst", 5000, 20},
		{"beyond-window", 1 << 30, 1},
		{"beyond-window-burst", 1 << 30, 20},
	}
	for _, j := range jumps {
		for seed := uint64(1); seed <= simSeeds(3); seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", j.name, seed), func(t *testing.T) {
				t.Parallel() // each seed its own simulation, all CPU
				s := newSim(t, seed, randomLoss(0.1), Config{})
				s.workload(200, time.Second, true)
				base := s.nodes[1].ch.Stats().PeerNext + j.ahead
				for k := range j.n {
					s.inject(1, ctl(FlagAlive, base+uint32(k), 0, 0))
				}
				s.workload(200, time.Second, true)
				took := s.settle(20 * time.Second)
				st := s.nodes[1].ch.Stats()
				t.Logf("converged %v after the workload; receiver stats %+v", took, st)
				if j.ahead > maxSeqJump && st.Drops[DropSeqJump] < uint64(j.n) {
					t.Errorf("%d forged messages beyond the window, %d counted as seq_jump", j.n, st.Drops[DropSeqJump])
				}
				if (j.ahead > maxSeqJump || (j.ahead > maxDirectGap && j.n == 1)) && st.Desyncs != 0 {
					t.Errorf("a forged jump that one datagram may not open moved the window (%d desyncs)", st.Desyncs)
				}
			})
		}
	}
}

// A forged seq jump on an idle link: the receiver takes up the peer's stream again
// within a few (fake) seconds, from the peer's ALIVEs alone.
func TestSimForgedSeqJumpIdle(t *testing.T) {
	s := newSim(t, 1, nil, Config{})
	s.workload(100, time.Second, true)
	s.settle(10 * time.Second)
	s.inject(1, ctl(FlagAlive, s.nodes[1].ch.Stats().PeerNext+1000, 0, 0))
	desynced := s.now
	for s.nodes[1].ch.Stats().Desyncs == 0 {
		if s.now.Sub(desynced) > 5*time.Second {
			t.Fatalf("window not recovered after %v: %+v", s.now.Sub(desynced), s.nodes[1].ch.Stats())
		}
		s.step(10 * time.Millisecond)
	}
	t.Logf("window recovered %v after the forged jump", s.now.Sub(desynced))
	s.change(0)
	s.settle(10 * time.Second)
}

// 50 forged RESYNCs make at most one bulk more than the one the first of them starts,
// however they are spread; with a bulk already in flight, at most one more. Every real
// update still arrives.
func TestSimForgedResyncFlood(t *testing.T) {
	for _, inFlight := range []bool{false, true} {
		t.Run(fmt.Sprintf("bulk-in-flight=%v", inFlight), func(t *testing.T) {
			s := newSim(t, 7, nil, Config{})
			for range 2000 {
				f := s.flow(s.nextKey, 0)
				s.nextKey++
				s.nodes[0].table[f.Key()] = f
			}
			s.run(time.Second, 10*time.Millisecond)
			s.settle(30 * time.Second)
			s.run(2*time.Second, 10*time.Millisecond) // past MinBulkInterval: the gate is open
			before := s.bulks[0]
			allowed := 2 // the bulk the first forged request starts, plus one
			if inFlight {
				s.nodes[0].ch.RequestBulk() // a takeover bulk
				s.pump(0)
				if s.bulks[0] != before+1 || !s.nodes[0].ch.bulkInFlight() {
					t.Fatalf("local bulk not in flight: %d bulks", s.bulks[0]-before)
				}
				before++
				allowed = 1
			}
			for k := range 50 {
				seq := s.nodes[0].ch.Stats().PeerNext
				s.inject(0, ctl(FlagResync, seq, 0, 0))
				if k%5 == 0 {
					s.change(0)
					s.run(3*time.Millisecond, time.Millisecond)
				}
			}
			s.workload(100, 500*time.Millisecond, true)
			s.settle(30 * time.Second)
			st := s.nodes[0].ch.Stats()
			t.Logf("bulks %d, stats %+v", s.bulks[0]-before, st)
			if got := s.bulks[0] - before; got > allowed {
				t.Fatalf("50 forged RESYNCs made %d bulks, want at most %d", got, allowed)
			}
			if st.ResyncsRcv < 50 {
				t.Fatalf("%d RESYNCs received", st.ResyncsRcv)
			}
		})
	}
}

// A flood of forged ACKs for ranges never sent and NACKs for huge ranges, mixed into
// a workload (seqs in the receiver's window, so the channel acts on them): no real
// update is lost, every one is acknowledged, and the work per forged NACK is bounded.
func TestSimForgedAckNackFlood(t *testing.T) {
	for seed := uint64(1); seed <= simSeeds(3); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSim(t, seed, randomLoss(0.05), Config{})
			s.workload(100, 500*time.Millisecond, true)
			for k := range 500 {
				s.change(0)
				first, last := s.ourSeqs(0)
				seq := s.nodes[0].ch.Stats().PeerNext
				var m Message
				switch k % 4 {
				case 0: // ACK covering everything unacknowledged and far beyond
					m = ctl(FlagAck, seq, first, last+100_000)
				case 1: // ACK of seqs never sent
					m = ctl(FlagAck, seq, last+1, last+1000)
				case 2: // NACK of half the seq space
					m = ctl(FlagNack, seq, last-1<<31+2, last+1)
				case 3: // NACK of everything we sent (in range: served, bounded)
					m = ctl(FlagNack, seq, first, last)
				}
				before := s.nodes[0].ch.Stats().Retransmits
				s.inject(0, m)
				if r := s.nodes[0].ch.Stats().Retransmits - before; r > maxRangeScan {
					t.Fatalf("one forged NACK caused %d retransmissions", r)
				}
				s.run(2*time.Millisecond, time.Millisecond)
			}
			s.workload(100, 500*time.Millisecond, true)
			s.settle(30 * time.Second)
			st := s.nodes[0].ch.Stats()
			t.Logf("stats %+v", st)
			if st.Drops[DropRange] < 375 {
				t.Errorf("%d forged ranges dropped as bad_range, want 375", st.Drops[DropRange])
			}
		})
	}
}

// The resend queue under one forged ACK and one forged NACK: neither frees nor resends
// anything, and the real ACK still frees everything.
func TestForgedAckNackRanges(t *testing.T) {
	c, pseq := established(t, Config{})
	const n = 20000
	for p := range n {
		f := data(0, uint16(p), 0).Flow
		f.DstPort = uint16(p >> 16)
		if err := c.Send(OpNew, &f); err != nil {
			t.Fatal(err)
		}
	}
	c.Outbox(t0)
	first, last := c.rs.at(0).seq, c.seq-1
	if s := c.Stats(); s.Unacked != n {
		t.Fatalf("unacked %d", s.Unacked)
	}
	forged := []Message{
		ctl(FlagAck, pseq, first, last+1),       // ends past what we sent
		ctl(FlagAck, pseq+1, last+1, last+1000), // never sent at all
		ctl(FlagAck, pseq+2, last, first),       // from after to
		ctl(FlagNack, pseq+3, first-1<<30, first+1<<30),
		ctl(FlagNack, pseq+4, last+1, last+1<<31-1),
	}
	for i, m := range forged {
		c.Receive(enc(t, m), t0)
		if s := c.Stats(); s.Unacked != n || s.Retransmits != 0 || s.Drops[DropRange] != uint64(i+1) {
			t.Fatalf("after %+v: unacked %d, retransmits %d, bad_range %d", m, s.Unacked, s.Retransmits, s.Drops[DropRange])
		}
	}
	// A NACK of everything we sent is valid, but one message requeues at most
	// maxRangeScan items; the rest follows the peer's repeats.
	c.Receive(enc(t, ctl(FlagNack, pseq+5, first, last)), t0)
	if s := c.Stats(); s.Retransmits != maxRangeScan {
		t.Fatalf("a NACK of %d messages requeued %d, want %d", n, s.Retransmits, maxRangeScan)
	}
	c.Receive(enc(t, ctl(FlagNack, pseq+6, first, last)), t0)
	c.Receive(enc(t, ctl(FlagNack, pseq+7, first, last)), t0)
	if s := c.Stats(); s.Retransmits != n || s.Unacked != 0 {
		t.Fatalf("three NACKs requeued %d of %d (unacked %d)", s.Retransmits, n, s.Unacked)
	}
	var sent []Message
	for _, m := range msgs(t, c.Outbox(t0)) {
		if m.Type == TypeNew {
			sent = append(sent, m)
		}
	}
	if len(sent) != n {
		t.Fatalf("resent %d of %d", len(sent), n)
	}
	// The real ACKs, one window at a time, free everything.
	p := pseq + 8
	for i := 0; i < n; i += 300 {
		j := min(i+300, n) - 1
		c.Receive(enc(t, ctl(FlagAck, p, sent[i].Seq, sent[j].Seq)), t0)
		p++
	}
	if s := c.Stats(); s.Unacked != 0 {
		t.Fatalf("unacked %d after the real ACKs: %+v", s.Unacked, s)
	}
}

// The receive window, boundaries exact: one message opens a gap of at most
// maxDirectGap; a larger one, up to maxSeqJump, only when a second datagram continues
// it (several messages in one datagram are not enough); beyond that, never while the
// peer's messages arrive in order.
func TestSeqWindowBoundary(t *testing.T) {
	ahead := func(t *testing.T, jump uint32, dgrams ...int) Stats {
		c, seq := established(t, Config{})
		s := seq + jump
		for _, n := range dgrams {
			var ms []Message
			for range n {
				ms = append(ms, ctl(FlagAlive, s, 0, 0))
				s++
			}
			c.Receive(enc(t, ms...), t0)
		}
		st := c.Stats()
		st.PeerNext -= seq // relative
		return st
	}
	for _, tc := range []struct {
		name     string
		jump     uint32
		dgrams   []int
		gaps     uint64
		seqJumps uint64
		next     uint32 // PeerNext after, relative to the expected seq before
	}{
		{"max direct gap", maxDirectGap, []int{1}, 1, 0, maxDirectGap + 1},
		{"one more", maxDirectGap + 1, []int{1}, 0, 1, 0},
		{"one more, two messages in one datagram", maxDirectGap + 1, []int{2}, 0, 2, 0},
		{"one more, continued by a second datagram", maxDirectGap + 1, []int{1, 1}, 1, 1, maxDirectGap + 3},
		// The message that opens the gap is the second: its seq is jump+1 ahead.
		{"max jump, continued", maxSeqJump - 1, []int{1, 1}, 1, 1, maxSeqJump + 1},
		{"beyond max jump, continued", maxSeqJump, []int{1, 1, 1}, 0, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := ahead(t, tc.jump, tc.dgrams...)
			if st.Gaps != tc.gaps || st.Drops[DropSeqJump] != tc.seqJumps || st.PeerNext != tc.next || st.Desyncs != 0 {
				t.Fatalf("gaps %d seq_jump %d next +%d desyncs %d, want %d %d +%d 0",
					st.Gaps, st.Drops[DropSeqJump], st.PeerNext, st.Desyncs, tc.gaps, tc.seqJumps, tc.next)
			}
		})
	}
}

// After a forged jump the peer's own messages are late. Once they form a stream (two
// datagrams) and nothing was accepted in the window for altQuiet (boundary exact), the
// window moves back to them and a RESYNC is asked for; before that, they are dropped.
func TestDesyncBoundary(t *testing.T) {
	c, seq := established(t, Config{})
	c.Receive(enc(t, ctl(FlagAlive, seq+1000, 0, 0)), t0) // forged, in the window
	c.Outbox(t0)
	// The real peer: several messages in one datagram count as one.
	c.Receive(enc(t, ctl(FlagAlive, seq, 0, 0), ctl(FlagAlive, seq+1, 0, 0)), t0.Add(time.Second))
	at := t0.Add(altQuiet - 1)
	c.Receive(enc(t, ctl(FlagAlive, seq+2, 0, 0)), at)
	if s := c.Stats(); s.Desyncs != 0 || s.Drops[DropStale] != 3 {
		t.Fatalf("before altQuiet: %+v", s)
	}
	at = t0.Add(altQuiet)
	c.Receive(enc(t, data(seq+3, 7, 0)), at)
	s := c.Stats()
	if s.Desyncs != 1 || s.PeerNext != seq+4 || s.Drops[DropStale] != 3 {
		t.Fatalf("at altQuiet: %+v", s)
	}
	if u := c.Updates(); len(u) != 1 || u[0].Flow.SrcPort != 7 {
		t.Fatalf("the message that recovered the window was not delivered: %+v", u)
	}
	if r := find(msgs(t, c.Outbox(at)), FlagResync); len(r) != 1 {
		t.Fatal("no RESYNC after the desync")
	}
}

// A message of a stream outside the window does not take over while the window is
// alive: late duplicates and forged streams lose against a peer that keeps talking.
func TestNoDesyncWhileWindowAlive(t *testing.T) {
	c, seq := established(t, Config{})
	at := t0
	forged := seq + 1<<30
	for i := range 100 {
		at = at.Add(100 * time.Millisecond)
		c.Receive(enc(t, ctl(FlagAlive, seq, 0, 0)), at) // the real peer
		seq++
		c.Receive(enc(t, ctl(FlagAlive, forged, 0, 0)), at) // a forged stream
		forged++
		if i%10 == 0 {
			c.Receive(enc(t, ctl(FlagAlive, seq-5, 0, 0)), at) // a late duplicate
		}
	}
	if s := c.Stats(); s.Desyncs != 0 || s.PeerNext != seq || s.Drops[DropSeqJump] != 100 {
		t.Fatalf("%+v", s)
	}
}

// A HELLO flood starts at most one new peer session per sessionHoldoff (boundary
// exact), and so asks for at most one bulk per second; a real restarted peer, which
// keeps saying HELLO until it is answered, is taken after the holdoff.
func TestHelloFloodHoldoff(t *testing.T) {
	c, _ := established(t, Config{})
	base := c.Stats()
	for i := range 100 {
		c.Receive(enc(t, ctl(FlagAlive|FlagHello, uint32(7000+i), 0, 0)), t0.Add(time.Duration(i)*time.Millisecond))
	}
	s := c.Stats()
	if s.PeerSessions != base.PeerSessions || s.SessionHoldoffs != 100 {
		t.Fatalf("HELLOs in the holdoff: %+v", s)
	}
	if ms := msgs(t, c.Outbox(t0.Add(100*time.Millisecond))); len(find(ms, FlagHelloBack)) != 0 {
		t.Fatalf("a HELLO in the holdoff was answered: %+v", ms)
	}
	c.Receive(enc(t, ctl(FlagAlive|FlagHello, 9000, 0, 0)), t0.Add(sessionHoldoff-1))
	if s := c.Stats(); s.PeerSessions != base.PeerSessions {
		t.Fatalf("session 1ns before the holdoff ended: %+v", s)
	}
	c.Receive(enc(t, ctl(FlagAlive|FlagHello, 9001, 0, 0)), t0.Add(sessionHoldoff))
	if s := c.Stats(); s.PeerSessions != base.PeerSessions+1 || s.PeerNext != 9002 {
		t.Fatalf("no session at the end of the holdoff: %+v", s)
	}
	for i := range 100 {
		c.Receive(enc(t, ctl(FlagAlive|FlagHello, uint32(20000+i), 0, 0)), t0.Add(sessionHoldoff+time.Duration(i)*time.Millisecond))
	}
	if s := c.Stats(); s.PeerSessions != base.PeerSessions+1 || s.BulkRequests != base.BulkRequests+1 {
		t.Fatalf("second flood: %+v", s)
	}
}

// The HELLO flood in the simulation: both nodes still converge.
func TestSimForgedHelloFlood(t *testing.T) {
	for seed := uint64(1); seed <= simSeeds(3); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSim(t, seed, randomLoss(0.1), Config{})
			s.workload(100, 500*time.Millisecond, true)
			for range 300 {
				s.change(0)
				s.inject(1, ctl(FlagAlive|FlagHello, s.rng.Uint32(), 0, 0))
				s.run(5*time.Millisecond, time.Millisecond)
			}
			s.workload(100, 500*time.Millisecond, true)
			s.settle(30 * time.Second)
			if st := s.nodes[1].ch.Stats(); st.PeerSessions > 4 {
				t.Errorf("1.5 s of HELLO flood made %d peer sessions", st.PeerSessions)
			}
		})
	}
}

// A blind attacker sprays forged messages with random seqs (and random flags) at both
// nodes during a workload: the stream converges, and no forged message delivered an
// update (inject checks it).
func TestSimBlindSpray(t *testing.T) {
	s := newSim(t, 11, randomLoss(0.05), Config{})
	s.workload(100, 500*time.Millisecond, true)
	flags := []Flags{FlagAlive, FlagAck, FlagNack, FlagResync, FlagAlive | FlagHello}
	for k := range 20000 {
		if k%100 == 0 {
			s.change(0)
			s.change(1)
			s.run(5*time.Millisecond, time.Millisecond)
		}
		r := s.rng.Uint32()
		s.inject(k%2, ctl(flags[k%len(flags)], s.rng.Uint32(), r, r+s.rng.Uint32N(1<<20)))
	}
	s.workload(100, 500*time.Millisecond, true)
	s.settle(30 * time.Second)
	for i, nd := range s.nodes {
		t.Logf("node %d: bulks %d, stats %+v", i, s.bulks[i], nd.ch.Stats())
	}
}
