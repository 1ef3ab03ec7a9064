package daemon

import "testing"

// TestVRIDTable: a socket's instances by VRID count what they hold, and a
// removal clears a slot only for the instance that holds it (a reload
// frees a VRID for the instance that replaces the old one).
func TestVRIDTable(t *testing.T) {
	var v vridTable
	a, b := &instance{}, &instance{}
	v.set(0, a)
	v.set(255, b)
	v.set(255, b) // again: still one
	if v.n != 2 || v.get(0) != a || v.get(255) != b || v.get(1) != nil {
		t.Fatalf("after two: n %d, 0 %p, 255 %p, 1 %p", v.n, v.get(0), v.get(255), v.get(1))
	}
	v.remove(0, b) // not b's
	v.remove(1, nil)
	if v.n != 2 || v.get(0) != a {
		t.Fatalf("a removal by another instance changed the table: n %d, 0 %p", v.n, v.get(0))
	}
	v.set(0, b) // replaced in place
	v.remove(0, b)
	v.remove(255, b)
	if v.n != 0 || v.get(0) != nil || v.get(255) != nil {
		t.Fatalf("after removing both: n %d", v.n)
	}
}
