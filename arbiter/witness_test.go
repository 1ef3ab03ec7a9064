package arbiter_test

import (
	"testing"

	"github.com/vigil-ha/vigil/arbiter"
)

// TestWitness: up until WitnessDownAfter probes in a row go unanswered,
// back up at the first answer; each change reported once.
func TestWitness(t *testing.T) {
	var w arbiter.Witness
	steps := []struct {
		answered, changed, up bool
	}{
		{true, false, true},
		{false, false, true},
		{false, false, true},
		{true, false, true}, // an answer resets the count
		{false, false, true},
		{false, false, true},
		{false, true, false}, // the third miss in a row
		{false, false, false},
		{true, true, true},
	}
	for i, s := range steps {
		if changed := w.Result(s.answered); changed != s.changed || w.Up() != s.up {
			t.Fatalf("step %d: changed %v up %v, want %v %v", i, changed, w.Up(), s.changed, s.up)
		}
	}
	if w.Probes != 9 || w.Failures != 6 {
		t.Fatalf("probes %d failures %d", w.Probes, w.Failures)
	}
}
