package twin

import (
	"context"
	"maps"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// The expectation table of the twin (conntracksync.ExpectKernel): PutExpect
// and DeleteExpect are a helper's doing and are reported to FollowExpect;
// CommitExpect links each expectation to its master flow, which must be in
// the table, and reports nothing.

var _ ct.ExpectKernel = (*Kernel)(nil)

type expChange struct {
	del bool
	x   ct.Expect
}

// PutExpect creates an expectation as a helper does: it is reported.
func (k *Kernel) PutExpect(x ct.Expect) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.expLocked()[x.Key()] = x
	k.expQueue = append(k.expQueue, expChange{x: x})
	k.wakeExpLocked()
}

// DeleteExpect removes an expectation as its use or expiry does: it is
// reported.
func (k *Kernel) DeleteExpect(x ct.Expect) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.expLocked()[x.Key()]; ok {
		delete(k.exps, x.Key())
		k.expQueue = append(k.expQueue, expChange{del: true, x: old})
		k.wakeExpLocked()
	}
}

// Expects returns a copy of the expectation table.
func (k *Kernel) Expects() map[ftfw.ExpKey]ct.Expect {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.expLocked())
}

func (k *Kernel) expLocked() map[ftfw.ExpKey]ct.Expect {
	if k.exps == nil {
		k.exps = map[ftfw.ExpKey]ct.Expect{}
		k.expWake = make(chan struct{}, 1)
	}
	return k.exps
}

func (k *Kernel) wakeExpLocked() {
	select {
	case k.expWake <- struct{}{}:
	default:
	}
}

// FollowExpect dumps the expectation table into t.Cache (once
// t.ReadAfter, when set, is closed), then reports queued changes until
// ctx ends.
func (k *Kernel) FollowExpect(ctx context.Context, t ct.ExpectTable) error {
	if err := ct.AwaitRead(ctx, t.ReadAfter); err != nil {
		return err
	}
	k.mu.Lock()
	snap := make([]ct.Expect, 0, len(k.expLocked()))
	for _, x := range k.exps {
		snap = append(snap, x)
	}
	k.expQueue = nil
	wake := k.expWake
	k.mu.Unlock()
	t.Replace(snap, time.Now())
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
		k.mu.Lock()
		q := k.expQueue
		k.expQueue = nil
		k.mu.Unlock()
		for i := range q {
			x := &q[i].x
			switch {
			case q[i].del:
				if t.Cache.Delete(x) && t.OnUpdate != nil {
					t.OnUpdate(ct.UpdateDelete, x)
				}
			case t.Cache.Put(x, time.Now()) && t.OnUpdate != nil:
				t.OnUpdate(ct.UpdateNew, x)
			}
		}
	}
}

// CommitExpect creates the expectations whose master flow is in the table
// (the others count as NoMaster), with the timeouts of
// conntracksync.ExpectTimeoutSec. Nothing is reported to FollowExpect.
func (k *Kernel) CommitExpect(ctx context.Context, entries []ct.ExpectEntry, now time.Time, commitTimeout time.Duration) (ct.ExpectCommitStats, []bool, error) {
	st := ct.ExpectCommitStats{Entries: len(entries)}
	if err := ctx.Err(); err != nil {
		return st, nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	ok := make([]bool, len(entries))
	for i := range entries {
		x := entries[i].Expect
		m := x.Master
		master := ct.Key{Orig: ct.Tuple{Src: m.Src, Dst: m.Dst, Proto: m.Proto, SrcPort: m.SrcPort, DstPort: m.DstPort}}
		if _, found := k.table[master]; !found {
			st.NoMaster++
			continue
		}
		x.HasTimeout, x.TimeoutSecs = true, ct.ExpectTimeoutSec(&entries[i], now, commitTimeout)
		k.expLocked()[x.Key()] = x
		ok[i] = true
		st.Committed++
	}
	return st, ok, nil
}
