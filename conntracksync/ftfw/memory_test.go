package ftfw

import (
	"runtime"
	"testing"
)

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The memory a Channel holds per message sent and not yet acknowledged is bounded: a
// resend queue of 100k in-flight messages (the peer has acknowledged none) costs what
// the messages' bytes and a compact reference to each cost, not a decoded flow per
// message. Measured: about 330 bytes per Send message, its entry, message slot and
// slot in the map of Key hashes included, and 130 per bulk message, the datagrams of
// 84 bytes per message included. Keyed by the Key itself (a 48-byte map slot) and with
// a slice header in each entry, a Send message cost 412; the Channel of an earlier
// design, which kept a 750-byte entry per Send message and a 56-byte resend-queue item
// with two pointers per message, needed about 1,160 and 240.
func TestInFlightMemoryPerMessage(t *testing.T) {
	const n = 100_000
	flows := benchFlows(n)
	for _, tc := range []struct {
		name  string
		bulk  bool
		bound uint64 // bytes per in-flight message
	}{
		{"send", false, 370},
		{"sendbulk", true, 160},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, _ := established(t, Config{ResendQueueSize: 2 * n})
			before := heapInUse()
			for i := range flows {
				var err error
				if tc.bulk {
					err = tx.SendBulk(OpUpd, &flows[i])
				} else {
					err = tx.Send(OpUpd, &flows[i])
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			sent := 0
			for _, d := range tx.Outbox(t0) {
				sent += len(d)
			}
			after := heapInUse()
			if st := tx.Stats(); st.Unacked != n || st.Queued != 0 {
				t.Fatalf("%d unacknowledged, %d queued; want %d and 0", st.Unacked, st.Queued, n)
			}
			per := (int64(after) - int64(before)) / n
			t.Logf("%d bytes of heap per in-flight message (%d bytes of datagrams per message)", per, sent/n)
			if per > int64(tc.bound) {
				t.Errorf("%d bytes of heap per in-flight message, want at most %d", per, tc.bound)
			}
			runtime.KeepAlive(tx)
		})
	}
}
