package ftfw

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// A bulk sent while the table keeps changing (new, updated and deleted flows, some of
// them in the bulk) over a lossy link converges to the sender's table: retransmitted
// bulk messages never bring back a state that a later Send replaced.
func TestSimBulkWithChangesUnderLoss(t *testing.T) {
	for _, loss := range []float64{0, 0.1, 0.3} {
		for seed := uint64(1); seed <= simSeeds(4); seed++ {
			t.Run(fmt.Sprintf("loss%v/seed%d", loss, seed), func(t *testing.T) {
				t.Parallel() // each seed its own simulation, all CPU
				s := newSim(t, seed, randomLoss(loss), Config{NoResyncOnSession: true})
				s.run(time.Second, 10*time.Millisecond)
				s.settle(60 * time.Second)
				nd := s.nodes[0]
				for range 3000 { // flows the peer has never heard of
					f := s.flow(s.nextKey, 0)
					s.nextKey++
					nd.table[f.Key()] = f
				}
				s.bulk(0)
				s.workload(300, 300*time.Millisecond, false)
				s.bulk(0) // a second bulk while the first is still in flight
				s.workload(300, 300*time.Millisecond, false)
				s.settle(120 * time.Second)
				if st := nd.ch.Stats(); len(nd.ch.bulk.chunks) != 0 || st.Queued != 0 {
					t.Fatalf("bulk chunks not freed: %d left, stats %+v", len(nd.ch.bulk.chunks), st)
				}
			})
		}
	}
}

// A Send of a Key after SendBulk of it, before the round, replaces it: the peer gets
// one message for the Key, the newer one.
func TestBulkSupersededBySend(t *testing.T) {
	s := newSim(t, 1, nil, Config{NoResyncOnSession: true})
	s.run(time.Second, 10*time.Millisecond)
	s.settle(time.Second)
	before := s.nodes[1].ch.Stats().DataReceived
	f := s.flow(1, 0)
	g := s.flow(2, 0)
	for _, x := range []Flow{f, g} {
		if err := s.nodes[0].ch.SendBulk(OpUpd, &x); err != nil {
			t.Fatal(err)
		}
	}
	f.TimeoutSecs = 7
	s.nodes[0].table[f.Key()] = f
	s.nodes[0].table[g.Key()] = g
	s.send(0, OpUpd, f)
	s.settle(time.Second)
	if got := s.nodes[1].ch.Stats().DataReceived - before; got != 2 {
		t.Fatalf("peer received %d data messages, want 2 (f once, g once)", got)
	}
	if got := s.nodes[1].ext[f.Key()].TimeoutSecs; got != 7 {
		t.Fatalf("peer holds timeout %d for the flow sent after the bulk, want 7", got)
	}
}

// A bulk message NACKed after a Send of its Key is not retransmitted.
func TestBulkNotRetransmittedAfterSend(t *testing.T) {
	tx, peerSeq := established(t, Config{})
	now := t0
	f := benchFlow(1)
	if err := tx.SendBulk(OpUpd, &f); err != nil {
		t.Fatal(err)
	}
	ms := msgs(t, tx.Outbox(now))
	if len(ms) != 1 || ms[0].Flow.TimeoutSecs != 120 {
		t.Fatalf("first round: %+v", ms)
	}
	bulkSeq := ms[0].Seq
	f.TimeoutSecs = 9
	if err := tx.Send(OpUpd, &f); err != nil {
		t.Fatal(err)
	}
	tx.Receive(enc(t, ctl(FlagNack, peerSeq, bulkSeq, bulkSeq)), now)
	ms = msgs(t, tx.Outbox(now))
	var data []Message
	for _, m := range ms {
		if m.Type != TypeCtl {
			data = append(data, m)
		}
	}
	if len(data) != 1 || data[0].Flow.TimeoutSecs != 9 {
		t.Fatalf("after NACK of the bulk message: %+v, want only the newer message (timeout 9)", data)
	}
}

// A bulk goes out as conntrackd would pack it: each message byte for byte what
// Message.AppendBinary makes with its seq (consecutive) and flags, as many messages per
// datagram as fit in MaxDatagram, in SendBulk's order. With a resend queue smaller than
// the bulk, a datagram is sent in parts as the peer's ACKs make room, and nothing is
// lost or repeated.
func TestBulkDatagramsAsPacked(t *testing.T) {
	const n = 3000
	flows := benchFlows(n)
	for _, room := range []int{0, 250} {
		t.Run(fmt.Sprintf("room%d", room), func(t *testing.T) {
			tx, peerSeq := established(t, Config{ResendQueueSize: room})
			for i := range flows {
				if err := tx.SendBulk(OpUpd, &flows[i]); err != nil {
					t.Fatal(err)
				}
			}
			limit := MaxDatagram(1500, false)
			next, seq := 0, uint32(0)
			for round := 0; next < n; round++ {
				if round > n {
					t.Fatalf("%d of %d messages after %d rounds", next, n, round)
				}
				out := tx.Outbox(t0)
				first, last := uint32(0), uint32(0)
				for _, d := range out {
					if len(d) > limit {
						t.Fatalf("datagram of %d bytes, at most %d", len(d), limit)
					}
					k := 0
					Walk(d, func(b []byte) bool {
						if Type(b[0]&0x0f) == TypeCtl {
							return true
						}
						_, _, _, s, _ := Header(b)
						if next > 0 && s != seq+1 {
							t.Fatalf("message %d has seq %d after %d", next, s, seq)
						}
						seq = s
						if first == 0 {
							first = s
						}
						last = s
						want, err := (&Message{Type: TypeUpd, Seq: s, Flow: flows[next]}).AppendBinary(nil)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(b, want) {
							t.Fatalf("message %d:\n got % x\nwant % x", next, b, want)
						}
						next++
						k++
						return true
					})
					if room == 0 && k != 17 && next != n {
						t.Fatalf("a datagram of %d messages of 84 bytes, want 17", k)
					}
				}
				if first == 0 {
					t.Fatalf("round %d sent no bulk message (%d of %d sent)", round, next, n)
				}
				tx.Receive(enc(t, ctl(FlagAck, peerSeq, first, last)), t0)
				peerSeq++
			}
			if st := tx.Stats(); st.Unacked != 0 || st.Queued != 0 || len(tx.bulk.chunks) != 0 {
				t.Fatalf("after the last ACK: %d unacknowledged, %d queued, %d chunks", st.Unacked, st.Queued, len(tx.bulk.chunks))
			}
		})
	}
}

// The resend queue of a bulk whose acknowledgements are handled between its rounds
// cycles through a few segments' memory instead of taking fresh memory for every
// message (without acknowledgements each segment is new, as it must be), never moves an
// item, and gives its segments back, but one, once the peer has acknowledged the bulk.
func TestResendQueueFollowsTheWindow(t *testing.T) {
	const n, round = 120_000, 8192 // n within the default ResendQueueSize
	flows := benchFlows(n)
	for _, acks := range []bool{true, false} {
		t.Run(fmt.Sprintf("acks=%v", acks), func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			tx, rx := benchPair(t, now)
			// The handshake acknowledged: the bulk starts on an empty resend queue.
			now = now.Add(time.Second)
			for range 2 {
				for _, d := range rx.Outbox(now) {
					tx.Receive(d, now)
				}
				for _, d := range tx.Outbox(now) {
					rx.Receive(d, now)
				}
			}
			if got := tx.Stats().Unacked; got != 0 {
				t.Fatalf("%d messages unacknowledged after the handshake", got)
			}
			var first *rsItem // the oldest unacknowledged item after the first round
			var firstSeq uint32
			for i := range flows {
				if err := tx.SendBulk(OpUpd, &flows[i]); err != nil {
					t.Fatal(err)
				}
				if (i+1)%round != 0 && i != n-1 {
					continue
				}
				for _, d := range tx.Outbox(now) {
					rx.Receive(d, now)
				}
				if first == nil {
					first, firstSeq = tx.rs.at(0), tx.rs.at(0).seq
				}
				if acks {
					for _, d := range rx.Outbox(now) {
						tx.Receive(d, now)
					}
				}
			}
			if !acks {
				if got := tx.Stats().Unacked; got != n {
					t.Fatalf("%d messages in the resend queue, want the bulk's %d", got, n)
				}
				if first != tx.rs.at(0) || first.seq != firstSeq {
					t.Errorf("the oldest item moved or changed: seq %d, was %d", tx.rs.at(0).seq, firstSeq)
				}
			}
			// The handshake's segment serves the bulk's first items.
			whole := (n + rsSegLen - 1) / rsSegLen
			if limit := round/rsSegLen + 2; acks && tx.rs.made > limit {
				t.Errorf("%d segments allocated for a bulk acknowledged round by round, want at most %d (the whole bulk takes %d)", tx.rs.made, limit, whole)
			}
			if !acks && tx.rs.made < whole {
				t.Errorf("%d segments for %d unacknowledged messages, want %d", tx.rs.made, n, whole)
			}
			now = now.Add(time.Second)
			for _, d := range rx.Outbox(now) {
				tx.Receive(d, now)
			}
			tx.Outbox(now)
			if st := tx.Stats(); st.Unacked != 0 || len(tx.rs.segs) > 1 || len(tx.rs.spare) != 0 || len(tx.bulk.chunks) != 0 {
				t.Fatalf("after the ACKs: %d unacked, %d segments and %d spare, %d chunks", st.Unacked, len(tx.rs.segs), len(tx.rs.spare), len(tx.bulk.chunks))
			}
		})
	}
}

// A bulk whose acknowledgements are handled between its rounds reuses the
// chunks they free: a few chunks' memory for the whole table instead of
// fresh memory for all of it. A freed chunk is not reused before the next
// Outbox (the last Outbox's datagrams may alias it until then), and an idle
// Channel keeps none. Without acknowledgements between rounds every chunk
// is new, as before.
func TestBulkReusesAcknowledgedChunks(t *testing.T) {
	const n, round = 150_000, 8192
	flows := benchFlows(n)
	for _, acks := range []bool{true, false} {
		t.Run(fmt.Sprintf("acks=%v", acks), func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			tx, rx := benchPair(t, now)
			bufs := map[*byte]bool{}
			chunks := 0
			delivered := 0
			var last [][]byte // the last Outbox's datagrams, as returned
			var lastCopy [][]byte
			intact := func(when string) {
				for i := range last {
					if !bytes.Equal(last[i], lastCopy[i]) {
						t.Fatalf("%s: datagram %d of the last Outbox changed before the next Outbox", when, i)
					}
				}
			}
			exchange := func() {
				last = tx.Outbox(now)
				lastCopy = lastCopy[:0]
				for _, d := range last {
					lastCopy = append(lastCopy, bytes.Clone(d))
					rx.Receive(d, now)
					delivered += len(rx.Updates())
				}
				if acks {
					for _, d := range rx.Outbox(now) {
						tx.Receive(d, now)
					}
				}
			}
			for i := range flows {
				k := len(tx.bulk.chunks)
				if err := tx.SendBulk(OpUpd, &flows[i]); err != nil {
					t.Fatal(err)
				}
				if len(tx.bulk.chunks) > k || (k > 0 && tx.bulk.chunks[k-1].first != tx.bulk.chunks[len(tx.bulk.chunks)-1].first) {
					chunks++
					bufs[&tx.bulk.chunks[len(tx.bulk.chunks)-1].buf[:1][0]] = true
				}
				if (i+1)%round == 0 {
					intact("after SendBulk")
					exchange()
				}
			}
			intact("at the end")
			for range 3 {
				now = now.Add(time.Second)
				exchange()
				for _, d := range rx.Outbox(now) {
					tx.Receive(d, now)
				}
			}
			if delivered != n {
				t.Fatalf("delivered %d of %d", delivered, n)
			}
			if acks && len(bufs) > bulkSpareMax+3 {
				t.Errorf("%d chunks used %d buffers: the acknowledged chunks were not reused", chunks, len(bufs))
			}
			if !acks && len(bufs) != chunks {
				t.Errorf("without acknowledgements between rounds %d chunks used %d buffers", chunks, len(bufs))
			}
			if chunks < 8 {
				t.Fatalf("only %d chunks: the bulk is too small to show the reuse", chunks)
			}
			if st := tx.Stats(); st.Unacked != 0 || len(tx.bulk.chunks)+len(tx.bulk.held)+len(tx.bulk.spare) != 0 {
				t.Fatalf("after the bulk: %d unacked, %d chunks, %d held, %d spare", st.Unacked, len(tx.bulk.chunks), len(tx.bulk.held), len(tx.bulk.spare))
			}
		})
	}
}

// A chunk freed by acknowledgements is not reused while the datagrams of
// the last Outbox may still alias it: only after the next Outbox.
func TestBulkChunkHeldUntilNextOutbox(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tx, rx := benchPair(t, now)
	flows := benchFlows(60_000)
	next := 0
	// fill queues bulk messages until the Channel starts a new chunk, and
	// returns it.
	fill := func() *bulkChunk {
		t.Helper()
		lastChunk := func() *bulkChunk {
			if k := len(tx.bulk.chunks); k > 0 {
				return tx.bulk.chunks[k-1]
			}
			return nil
		}
		for ; next < len(flows); next++ {
			before := lastChunk()
			if err := tx.SendBulk(OpUpd, &flows[next]); err != nil {
				t.Fatal(err)
			}
			if c := lastChunk(); c != before {
				next++
				return c
			}
		}
		t.Fatal("out of flows")
		return nil
	}
	exchange := func() [][]byte {
		out := tx.Outbox(now)
		for _, d := range out {
			rx.Receive(d, now)
		}
		now = now.Add(30 * time.Millisecond) // past the receiver's AckDelay
		for _, d := range rx.Outbox(now) {
			tx.Receive(d, now)
		}
		return out
	}
	first := fill()
	fill() // a second chunk: the first is closed, all of it goes out below
	firstBuf := &first.buf[:1][0]
	out := exchange()
	held := map[*byte]bool{}
	for _, c := range tx.bulk.held {
		held[&c.buf[:1][0]] = true
	}
	if !held[firstBuf] || len(tx.bulk.spare) != 0 {
		t.Fatalf("the acknowledged first chunk is not held (%d held, %d spare, %d chunks left, %d unacked)",
			len(tx.bulk.held), len(tx.bulk.spare), len(tx.bulk.chunks), tx.Stats().Unacked)
	}
	var keep [][]byte
	for _, d := range out {
		keep = append(keep, bytes.Clone(d))
	}
	third := fill()
	if held[&third.buf[:1][0]] {
		t.Fatal("a chunk the last Outbox's datagrams alias was reused before the next Outbox")
	}
	for i := range out {
		if !bytes.Equal(out[i], keep[i]) {
			t.Fatalf("datagram %d of the last Outbox changed before the next Outbox", i)
		}
	}
	exchange()
	if fourth := fill(); !held[&fourth.buf[:1][0]] {
		t.Error("after the next Outbox no freed chunk was reused")
	}
	// Once the bulk is acknowledged, the next Outbox lets the spares go.
	exchange()
	exchange()
	if n := len(tx.bulk.chunks) + len(tx.bulk.held) + len(tx.bulk.spare); n != 0 || tx.Stats().Unacked != 0 {
		t.Fatalf("an idle Channel keeps %d chunks (%d unacked)", n, tx.Stats().Unacked)
	}
}
