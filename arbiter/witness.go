package arbiter

// WitnessDownAfter is how many probes in a row a witness must miss to
// count as down; one answer brings it back.
const WitnessDownAfter = 3

// Witness is the verdict on one witness address from its probes' results.
// The zero value is a witness not yet probed, counted as up: a node does
// not give up mastership before its witnesses had a chance to answer.
type Witness struct {
	down     bool
	misses   int
	Probes   uint64 // probes reported
	Failures uint64 // of those, unanswered
}

// Up reports the verdict.
func (w *Witness) Up() bool { return !w.down }

// Result records one probe's result and reports whether the verdict
// changed.
func (w *Witness) Result(answered bool) bool {
	was := w.down
	w.Probes++
	if answered {
		w.misses, w.down = 0, false
	} else {
		w.Failures++
		w.misses++
		w.down = w.misses >= WitnessDownAfter
	}
	return was != w.down
}
