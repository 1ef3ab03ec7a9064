package conntracksync

import (
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
	r := &Replicator{cfg: c, internal: NewCache()}
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
