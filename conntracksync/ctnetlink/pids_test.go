package ctnetlink

import (
	"slices"
	"testing"
)

// Every change of the port ids reaches the listener's rebuild, which then
// sees the set as changed: an added id before add returns (before the new
// socket writes anything), a removed one gone.
func TestPidSetChanges(t *testing.T) {
	var p pidSet
	p.add(7) // no listener yet: nothing to call
	var seen [][]uint32
	p.onChange(func() {
		l := p.list()
		slices.Sort(l)
		seen = append(seen, l)
	})
	p.add(9)
	p.add(3)
	p.remove(7)
	want := [][]uint32{{7, 9}, {3, 7, 9}, {3, 9}}
	if !slices.EqualFunc(seen, want, slices.Equal[[]uint32]) {
		t.Fatalf("the filter was rebuilt from %v, want %v", seen, want)
	}
	if !p.has(9) || p.has(7) || p.has(0) {
		t.Fatalf("has: 9 %v, 7 %v, 0 %v", p.has(9), p.has(7), p.has(0))
	}
}
