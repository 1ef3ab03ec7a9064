package conntracksync

import (
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// bulkBenchReplicator is a Replicator that is never run, its internal cache
// holding n sample flows.
func bulkBenchReplicator(tb testing.TB, n int) *Replicator {
	tb.Helper()
	cfg := Config{LocalAddr: netip.MustParseAddr("198.51.100.1"), PeerAddr: netip.MustParseAddr("198.51.100.2")}
	c, err := cfg.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	r := &Replicator{cfg: c, internal: NewCache(), external: NewCache(),
		expInternal: NewExpectCache(), expExternal: NewExpectCache()}
	now := time.Unix(1_700_000_000, 0)
	for _, f := range SampleFlows(n) {
		r.internal.Put(f, now)
	}
	return r
}

// BenchmarkBulkDatagrams: the encoding of a bulk of 100k sample flows from
// the internal cache into datagrams (Replicator.BulkDatagrams), per entry.
func BenchmarkBulkDatagrams(b *testing.B) {
	const n = 100_000
	r := bulkBenchReplicator(b, n)
	b.ReportAllocs()
	var bytes int
	for b.Loop() {
		bytes = 0
		for _, d := range r.BulkDatagrams() {
			bytes += len(d)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
	b.ReportMetric(float64(bytes)/n, "bytes/entry")
}

// toWire4 gives what toWire gives for every flow a cache keeps as a
// fixed-size IPv4 record.
func TestToWire4MatchesToWire(t *testing.T) {
	flows := SampleFlows(3000)
	zoned := SampleFlows(40)
	for i := range zoned {
		zoned[i].Orig.ICMPID, zoned[i].Zone = 0, uint16(i+1)
		zoned[i].Reply.SrcPort += uint16(i)
	}
	flows = append(flows, zoned...)
	var four int
	for _, f := range flows {
		f.ensureReply()
		k, r, ok := pack4(&f)
		if !ok {
			continue
		}
		four++
		for _, st := range []bool{false, true} {
			if got, want := toWire4(&k, &r, st), toWire(&f, st); !reflect.DeepEqual(got, want) {
				t.Fatalf("flow %+v, sendTimeout %v:\n got %+v\nwant %+v", f, st, got, want)
			}
		}
	}
	if four < len(flows)/2 {
		t.Fatalf("only %d of %d flows were IPv4 records", four, len(flows))
	}
}

// BulkDatagrams holds the message toWire and Message.AppendBinary make for
// each flow of the cache, once, and nothing else.
func TestBulkDatagramsMessages(t *testing.T) {
	const n = 5000
	r := bulkBenchReplicator(t, n)
	want := map[string]int{}
	r.internal.Range(func(e *Entry) {
		m := ftfw.Message{Type: ftfw.TypeUpd, Flow: toWire(&e.Flow, true)}
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		want[string(b)]++
	})
	got := map[string]int{}
	var msgs int
	for _, d := range r.BulkDatagrams() {
		if _, drop := ftfw.Walk(d, func(msg []byte) bool {
			got[string(msg)]++
			msgs++
			return true
		}); drop != ftfw.DropNone {
			t.Fatalf("datagram dropped: %v", drop)
		}
	}
	if msgs != n || !reflect.DeepEqual(got, want) {
		t.Fatalf("%d messages in the datagrams, %d distinct; want %d distinct of %d flows", msgs, len(got), len(want), n)
	}
}

// BenchmarkBulkPipeline: a bulk of 100k sample flows through everything but
// the sockets, per entry: the sender's Replicator.bulk (the internal cache
// into its Channel's datagrams), the receiver's Replicator.receive of each
// datagram (decode, window, external cache), and the ACKs back. The
// receiver's external cache is flushed before each bulk, as a resync does.
// The bulk's sends run on a goroutine of their own (Replicator.bulk), so
// the receiver's work on one batch overlaps the encoding of the next, as
// it does on two nodes.
func BenchmarkBulkPipeline(b *testing.B) {
	const n = 100_000
	s := bulkBenchReplicator(b, n)
	r := bulkBenchReplicator(b, 0)
	r.log = slog.New(slog.DiscardHandler)
	s.log = r.log
	// Real time: Replicator.receive reads the clock.
	now := time.Now()
	tx, rx := ftfw.NewChannel(ftfw.Config{}, now), ftfw.NewChannel(ftfw.Config{}, now)
	deliver := func(from, to *ftfw.Channel, recv *Replicator) {
		for _, d := range from.Outbox(now) {
			if recv != nil {
				recv.receive(to, d)
			} else {
				to.Receive(d, now)
			}
		}
	}
	// The sender's flushes (during the bulk) go straight to the receiver.
	s.conn = &syncLink{paths: []pathLink{{name: "bench", l: benchLink{func(ds [][]byte) {
		for _, d := range ds {
			r.receive(rx, d)
		}
	}}}}}
	for range 3 {
		deliver(tx, rx, r)
		deliver(rx, tx, nil)
	}
	if !tx.Established() || !rx.Established() {
		b.Fatal("no handshake")
	}
	b.ReportAllocs()
	for b.Loop() {
		r.external.Flush()
		s.bulk(tx)
		s.flush(tx, time.Now())
		now = time.Now().Add(50 * time.Millisecond) // past the receiver's AckDelay
		deliver(rx, tx, nil)
		if got := r.external.Len(); got != n {
			b.Fatalf("external cache holds %d of %d", got, n)
		}
		if st := tx.Stats(); st.Unacked != 0 || st.Queued != 0 {
			b.Fatalf("%d unacknowledged, %d queued after the ACKs", st.Unacked, st.Queued)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

// benchLink is a Link whose Send hands the datagrams to a function.
type benchLink struct{ send func([][]byte) }

func (l benchLink) Send(ds [][]byte) (int, error) {
	l.send(ds)
	return 0, nil
}
func (benchLink) Receive([]Datagram) (int, error) { return 0, net.ErrClosed }
func (benchLink) Close() error                    { return nil }
