package conntracksync

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// batchOps returns a batch of updates in which keys repeat: a put and a
// delete of one key, a delete and a put, a flow that changes kind (plain
// IPv4, then with a helper, then plain again), and expectations between
// them.
func batchOps(rng *rand.Rand, flows []Flow, n int) []ftfw.Update {
	ups := make([]ftfw.Update, 0, n)
	x := &ftfw.Expect{}
	for range n {
		f := flows[rng.IntN(len(flows))]
		switch rng.IntN(6) {
		case 0:
			ups = append(ups, ftfw.Update{Op: ftfw.OpDel, Flow: toWire(&f, true)})
		case 1:
			f.Helper = "ftp"
			ups = append(ups, ftfw.Update{Op: ftfw.OpUpd, Flow: toWire(&f, true)})
		case 2:
			ups = append(ups, ftfw.Update{Op: ftfw.OpUpd, Exp: x})
		default:
			f.Mark = uint32(rng.IntN(4))
			ups = append(ups, ftfw.Update{Op: ftfw.OpNew, Flow: toWire(&f, true)})
		}
	}
	return ups
}

func sortedSnapshot(c *Cache) []Entry {
	s := c.Snapshot()
	slices.SortFunc(s, func(a, b Entry) int {
		ka, kb := a.Flow.Key(), b.Flow.Key()
		ca, cb := keyOf(&ka), keyOf(&kb)
		return slices.Compare(ca[:], cb[:])
	})
	return s
}

// Apply acts as the batch's flows put and deleted one at a time, in the
// batch's order, whatever the kinds of the flows and however often a key
// repeats in the batch (it packs the whole batch before writing the map).
func TestApplyBatchesInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	flows := SampleFlows(40) // few keys: every batch repeats some
	now := time.Unix(1_700_000_000, 0)
	one, apply := NewCache(), NewCache()
	for round := range 300 {
		ups := batchOps(rng, flows, 1+rng.IntN(60))
		at := now.Add(time.Duration(round) * time.Second)
		var batch []Flow
		var del []bool
		for _, u := range ups {
			if u.Exp != nil {
				continue
			}
			f := fromWire(&u.Flow)
			batch, del = append(batch, f), append(del, u.Op == ftfw.OpDel)
			if u.Op == ftfw.OpDel {
				one.Delete(f.Key())
			} else {
				one.Put(f, at)
			}
		}
		apply.Apply(batch, del, at)
		want := sortedSnapshot(one)
		if got := sortedSnapshot(apply); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: Apply holds %d flows, one at a time %d:\n%v\n%v", round, len(got), len(want), got, want)
		}
	}
	if one.Len() == 0 {
		t.Fatal("the batches left nothing: the test checks nothing")
	}
}
