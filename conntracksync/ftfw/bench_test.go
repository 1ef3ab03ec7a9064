package ftfw

import (
	"net/netip"
	"testing"
	"time"
)

// benchFlow is the 84-byte TCP entry `conntrack -I` produces (see the golden capture).
func benchFlow(i int) Flow {
	return Flow{Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Dst: netip.AddrFrom4([4]byte{203, 0, 113, byte(i >> 8)}),
		Proto: ProtoTCP, SrcPort: uint16(i), DstPort: 80, Status: 0xe, TCPState: 3,
		HasTimeout: true, TimeoutSecs: 120, HasMark: true, HasSynproxy: true}
}

// benchFlows returns n distinct benchFlow flows.
func benchFlows(n int) []Flow {
	flows := make([]Flow, n)
	for i := range flows {
		flows[i] = benchFlow(i)
		flows[i].SrcPort = uint16(i)
		flows[i].Src = netip.AddrFrom4([4]byte{192, 0, 2, byte(i >> 16)})
	}
	return flows
}

func BenchmarkEncodeEntry(b *testing.B) {
	m := Message{Type: TypeNew, Seq: 1, Flow: benchFlow(1)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = m.AppendBinary(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeEntry(b *testing.B) {
	m := Message{Type: TypeNew, Seq: 1, Flow: benchFlow(1)}
	buf, _ := m.AppendBinary(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var out Message
	for b.Loop() {
		if err := out.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChannelPerEntry: one op is one entry through the whole pure path, lossless:
// Send, Outbox (encode, pack), Receive on the peer (walk, decode, window), Updates, and
// the ACKs back. Flows are distinct, in rounds of 1000.
func BenchmarkChannelPerEntry(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	tx, rx := benchPair(b, now)
	flows := make([]Flow, 1000)
	for i := range flows {
		flows[i] = benchFlow(i)
	}
	delivered := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := tx.Send(OpUpd, &flows[i%len(flows)]); err != nil {
			b.Fatal(err)
		}
		i++
		if i%len(flows) == 0 {
			now = now.Add(time.Millisecond)
			for _, d := range tx.Outbox(now) {
				rx.Receive(d, now)
			}
			delivered += len(rx.Updates())
			now = now.Add(30 * time.Millisecond) // past AckDelay
			for _, d := range rx.Outbox(now) {
				tx.Receive(d, now)
			}
		}
	}
	if i >= len(flows) && delivered == 0 {
		b.Fatal("nothing delivered")
	}
}

// BenchmarkBulk100k: a bulk of 100k entries through the pure path on long-lived
// channels, sender and receiver, ACKs included (conntrackd needs about 75 ms for the
// same bulk, sockets included). Reports the messages per datagram, which conntrackd
// fills to 17 for these 84-byte entries. "send" queues the bulk through Send (per-Key
// entries), "sendbulk" through SendBulk (the arena the Replicator uses).
func BenchmarkBulk100k(b *testing.B) {
	for _, bulk := range []bool{false, true} {
		name := "send"
		if bulk {
			name = "sendbulk"
		}
		b.Run(name, func(b *testing.B) { benchBulk(b, bulk) })
	}
}

func benchBulk(b *testing.B, bulk bool) {
	const n = 100_000
	flows := benchFlows(n)
	now := time.Unix(1_700_000_000, 0)
	tx, rx := benchPair(b, now)
	b.ReportAllocs()
	var dgrams, msgs int
	for b.Loop() {
		for i := range flows {
			if bulk {
				_ = tx.SendBulk(OpUpd, &flows[i])
			} else {
				_ = tx.Send(OpUpd, &flows[i])
			}
		}
		got := 0
		dgrams, msgs = 0, 0
		for _, d := range tx.Outbox(now) {
			rx.Receive(d, now)
			dgrams++
			got += len(rx.Updates())
		}
		msgs = got
		if got != n {
			b.Fatalf("delivered %d of %d", got, n)
		}
		now = now.Add(50 * time.Millisecond)
		for _, d := range rx.Outbox(now) {
			tx.Receive(d, now)
		}
		if s := tx.Stats(); s.Unacked != 0 {
			b.Fatalf("%d unacked after the ACKs", s.Unacked)
		}
	}
	b.ReportMetric(float64(msgs)/float64(dgrams), "msgs/datagram")
}

// benchPair returns two channels with default Config that have completed the
// handshake with each other at now.
func benchPair(b testing.TB, now time.Time) (tx, rx *Channel) {
	b.Helper()
	tx, rx = NewChannel(Config{}, now), NewChannel(Config{}, now)
	for range 3 {
		for _, d := range tx.Outbox(now) {
			rx.Receive(d, now)
		}
		for _, d := range rx.Outbox(now) {
			tx.Receive(d, now)
		}
	}
	if !tx.Established() {
		b.Fatal("no handshake")
	}
	return tx, rx
}
