package conntracksync

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// checkKinds reports the first way c's two maps disagree with each other
// or with entries4: a key in both, or entries4 not the count of the flows
// in entries whose addresses are both IPv4.
func checkKinds(t *testing.T, c *Cache, step int) {
	t.Helper()
	n4 := 0
	for ck := range c.entries {
		if !ck.both4() {
			continue
		}
		n4++
		f := decoded(c.entries[ck].enc)
		k := f.Key()
		if k4, ok := key4Of(&k); ok {
			if _, both := c.v4[k4]; both {
				t.Fatalf("step %d: %v is in both maps", step, k)
			}
		}
	}
	if n4 != c.entries4 {
		t.Fatalf("step %d: entries4 = %d, but entries holds %d flows with IPv4 at both ends", step, c.entries4, n4)
	}
}

func decoded(enc string) Flow {
	var f Flow
	decodeCompact(enc, &f)
	return f
}

// The cache holds every flow in exactly one of its two maps, and counts
// the IPv4 flows of the compact one (entries4), whatever the order of
// puts, events, batches, deletions, sweeps, flushes and moves, with keys
// that change kind: a plain IPv4 flow that gains a helper goes into the
// compact map, and back when it loses it. Each step is checked against a
// plain map of the flows.
func TestCacheKindsAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pool := SampleFlows(60)
	for i := range pool {
		pool[i].ensureReply()
	}
	// variant returns flow i as a plain IPv4 flow where it can be one, or
	// with a helper (never plain).
	variant := func(i int, helper bool) Flow {
		f := pool[i]
		if helper {
			f.Helper = "ftp"
		}
		f.Mark = uint32(rng.IntN(4))
		return f
	}
	now := time.Unix(1_700_000_000, 0)
	c := NewCache()
	model := map[Key]Flow{}
	keep := func(f Flow) { model[f.Key()] = f }
	for step := range 5_000 {
		at := now.Add(time.Duration(step) * time.Millisecond)
		i := rng.IntN(len(pool))
		switch op := rng.IntN(100); {
		case op < 30:
			f := variant(i, rng.IntN(3) == 0)
			c.Put(f, at)
			keep(f)
		case op < 45:
			f := variant(i, rng.IntN(3) == 0)
			g := f
			c.PutEvent(&g, at, rng.IntN(2) == 0, func(f, old *Flow) {})
			keep(f)
		case op < 60:
			n := 1 + rng.IntN(8)
			batch, del := make([]Flow, n), make([]bool, n)
			for j := range batch {
				batch[j] = variant(rng.IntN(len(pool)), rng.IntN(3) == 0)
				del[j] = rng.IntN(4) == 0
			}
			c.Apply(batch, del, at)
			for j := range batch {
				if del[j] {
					delete(model, batch[j].Key())
				} else {
					keep(batch[j])
				}
			}
		case op < 80:
			k := pool[i].Key()
			if _, ok := c.Delete(k); ok != (model[k] != Flow{}) {
				t.Fatalf("step %d: Delete(%v) found %v, the model %v", step, k, ok, model[k] != Flow{})
			}
			delete(model, k)
		case op < 84:
			c.BeginDump()
			for j := range pool {
				if rng.IntN(2) == 0 {
					f := variant(j, rng.IntN(3) == 0)
					c.Put(f, at)
					keep(f)
				} else {
					delete(model, pool[j].Key())
				}
			}
			c.Sweep()
		case op < 88:
			proto := pool[i].Orig.Proto
			c.deleteWhere(func(k *Key) bool { return k.Orig.Proto == proto })
			for k := range model {
				if k.Orig.Proto == proto {
					delete(model, k)
				}
			}
		case op < 90:
			c.Flush()
			clear(model)
		case op < 92:
			c.Release()
			clear(model)
		case op < 96:
			taken := c.takeAll()
			checkKinds(t, taken, step)
			if c.Len() != 0 || c.entries4 != 0 {
				t.Fatalf("step %d: after takeAll the cache holds %d flows, entries4 %d", step, c.Len(), c.entries4)
			}
			c.mergeFrom(taken, func(*Key) bool { return false })
		default:
			o := NewCache()
			for j := range pool {
				o.Put(pool[j], at)
			}
			c.reserveLike(o)
		}
		checkKinds(t, c, step)
		if c.Len() != len(model) {
			t.Fatalf("step %d: the cache holds %d flows, the model %d", step, c.Len(), len(model))
		}
		for k, want := range model {
			e, ok := c.Get(k)
			if !ok || !reflect.DeepEqual(e.Flow, want) {
				t.Fatalf("step %d: Get(%v) = %+v, %v; want %+v", step, k, e.Flow, ok, want)
			}
			if !c.Has(&k) {
				t.Fatalf("step %d: Has(%v) is false", step, k)
			}
		}
	}
}
