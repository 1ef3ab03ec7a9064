package ftfw

// The resend queue's storage. Items are in increasing seq order, in segments of
// rsSegLen items that are never copied or grown: the queue takes a new segment at its
// back when the last one is full and gives one up at its front when all its items are
// gone. A segment given up is kept for the back (at most rsSpareMax of them), so a
// queue acknowledged at its front while it is filled at its back (a bulk whose
// acknowledgements are handled between its rounds) cycles through the memory of its
// largest unacknowledged window, instead of holding fresh memory for every message
// sent. An array reserved for the whole bulk cost 2.4 MB at 100k entries, all of it
// written (zeroed) before the first message went out.

// rsSegShift sets rsSegLen (our tunable): 4,096 items of 24 bytes, 96 KiB a segment.
const (
	rsSegShift = 12
	rsSegLen   = 1 << rsSegShift
)

// rsSpareMax is how many emptied segments the queue keeps for reuse (our tunable):
// 32k items, the unacknowledged window of a bulk whose acknowledgements come back a few
// rounds late.
const rsSpareMax = 8

type rsQueue struct {
	segs  [][]rsItem // each of length rsSegLen
	head  int        // the first item's index in segs[0]
	n     int        // items
	spare [][]rsItem // emptied segments kept for reuse
	made  int        // segments ever allocated (for tests)
}

func (q *rsQueue) len() int { return q.n }

// at returns item i, counted from the front (0 <= i < len()).
func (q *rsQueue) at(i int) *rsItem {
	i += q.head
	return &q.segs[i>>rsSegShift][i&(rsSegLen-1)]
}

// push appends it at the back.
func (q *rsQueue) push(it rsItem) {
	i := q.head + q.n
	if i>>rsSegShift == len(q.segs) {
		q.segs = append(q.segs, q.newSeg())
	}
	q.segs[i>>rsSegShift][i&(rsSegLen-1)] = it
	q.n++
}

func (q *rsQueue) newSeg() []rsItem {
	if k := len(q.spare); k > 0 {
		s := q.spare[k-1]
		q.spare[k-1] = nil
		q.spare = q.spare[:k-1]
		return s
	}
	q.made++
	return make([]rsItem, rsSegLen)
}

// popFront drops the first item (len() > 0).
func (q *rsQueue) popFront() {
	q.head++
	q.n--
	if q.n == 0 && len(q.segs) == 1 {
		q.head = 0 // the one segment serves the next items from its start
		return
	}
	if q.head == rsSegLen {
		if len(q.spare) < rsSpareMax {
			q.spare = append(q.spare, q.segs[0])
		}
		k := copy(q.segs, q.segs[1:])
		q.segs[k] = nil
		q.segs = q.segs[:k]
		q.head = 0
	}
}

// trim lets the kept segments go, all but one when the queue is empty.
func (q *rsQueue) trim() {
	clear(q.spare)
	q.spare = q.spare[:0]
	if q.n == 0 && len(q.segs) > 1 {
		clear(q.segs[1:])
		q.segs = q.segs[:1]
		q.head = 0
	}
}
