package ftfw

import (
	"math/rand/v2"
	"testing"
)

// rsQueue against a plain slice: a queue that grows and shrinks in random steps, every
// item checked. While it stays within the spares' reach its segments are reused, so it
// allocates no more than its longest stretch needs, however many items go through.
func TestRSQueue(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q rsQueue
	var model []uint32
	next := uint32(0)
	maxLen := 0
	for phase := range 400 {
		target := r.IntN(6 * rsSegLen)
		for len(model) != target {
			if len(model) < target {
				for range min(r.IntN(50)+1, target-len(model)) {
					q.push(rsItem{seq: next, ref: ^next})
					model = append(model, next)
					next++
				}
			} else {
				for range min(r.IntN(60)+1, len(model)-target) {
					q.popFront()
					model = model[1:]
				}
			}
			maxLen = max(maxLen, len(model))
			if q.len() != len(model) {
				t.Fatalf("phase %d: len %d, want %d", phase, q.len(), len(model))
			}
		}
		for i, s := range model {
			if it := q.at(i); it.seq != s || it.ref != ^s {
				t.Fatalf("phase %d: item %d is seq %d ref %x, want %d", phase, i, it.seq, it.ref, s)
			}
		}
	}
	if limit := maxLen/rsSegLen + 2; q.made > limit {
		t.Errorf("%d segments allocated for a queue at most %d long (%d items went through), want at most %d", q.made, maxLen, next, limit)
	}
	if int(next) < 20*maxLen {
		t.Fatalf("only %d items went through a queue at most %d long: the test shows no reuse", next, maxLen)
	}
	for q.len() > 0 {
		q.popFront()
	}
	q.trim()
	if len(q.segs) > 1 || len(q.spare) != 0 || q.head != 0 {
		t.Fatalf("an emptied, trimmed queue keeps %d segments, %d spare, head %d", len(q.segs), len(q.spare), q.head)
	}
	q.push(rsItem{seq: 7})
	if q.len() != 1 || q.at(0).seq != 7 {
		t.Fatal("the trimmed queue does not take items again")
	}
}
