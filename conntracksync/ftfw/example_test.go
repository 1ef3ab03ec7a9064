package ftfw_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// Two Channels wired back to back on a fake clock: the shape of the replicator's loop
// (Receive what the socket read, apply Updates, answer Events, send Outbox, sleep until
// Deadline).
func Example() {
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	fw1 := ftfw.NewChannel(ftfw.Config{}, now)
	fw2 := ftfw.NewChannel(ftfw.Config{}, now)
	table := map[ftfw.Key]ftfw.Flow{} // fw1's internal cache
	external := map[ftfw.Key]ftfw.Flow{}

	f := ftfw.Flow{Src: netip.MustParseAddr("192.0.2.10"), Dst: netip.MustParseAddr("203.0.113.2"),
		Proto: ftfw.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPState: 3, Status: 0x0e,
		HasTimeout: true, TimeoutSecs: 432000}
	table[f.Key()] = f
	if err := fw1.Send(ftfw.OpNew, &f); err != nil {
		panic(err)
	}

	for range 20 {
		for _, d := range fw1.Outbox(now) {
			fw2.Receive(d, now)
		}
		for _, d := range fw2.Outbox(now) {
			fw1.Receive(d, now)
		}
		for _, ev := range fw1.Events() {
			if ev.Kind == ftfw.EventSendBulk {
				for _, e := range table { // a bulk: the whole internal cache
					fw1.Send(ftfw.OpUpd, &e)
				}
			}
		}
		fw2.Events()
		for _, u := range fw2.Updates() {
			if u.Op == ftfw.OpDel {
				delete(external, u.Flow.Key())
			} else {
				external[u.Flow.Key()] = u.Flow
			}
		}
		next := fw1.Deadline()
		if d := fw2.Deadline(); d.Before(next) {
			next = d
		}
		now = next.Add(time.Millisecond)
	}
	got := external[f.Key()]
	fmt.Println(len(external), got.Src, got.SrcPort, "->", got.Dst, got.DstPort, fw1.Stats().Unacked)
	// Output: 1 192.0.2.10 40000 -> 203.0.113.2 443 0
}
