package syncworker

import (
	"context"
	"runtime"
	"sync"

	"github.com/vigil-ha/vigil/conntracksync"
)

// CommitProcs is the worker's GOMAXPROCS while a commit runs. A commit
// is a pipeline: one goroutine encodes the next datagrams while another
// waits in the kernel for the last ones' inserts. With one P the encoder
// runs only after the runtime takes the P from the writer's system call,
// which put 100k flows' commit 6–37 % over the kernel's insert floor;
// with two Ps for the commit, 1–10 % over in the same runs
// (docs/performance.md, "Two Ps for the commit").
const CommitProcs = 2

// commitProcs counts the commits that run: the first raises GOMAXPROCS
// to CommitProcs, the last gives back what it was.
var commitProcs struct {
	sync.Mutex
	n    int
	prev int // 0: not raised
}

func raiseProcs() {
	commitProcs.Lock()
	defer commitProcs.Unlock()
	if commitProcs.n++; commitProcs.n > 1 {
		return
	}
	// Not more Ps than the CPUs the process may use: on one CPU the
	// second P would only take turns with the first.
	want := min(CommitProcs, runtime.NumCPU())
	if cur := runtime.GOMAXPROCS(0); cur < want {
		commitProcs.prev = runtime.GOMAXPROCS(want)
	}
}

func lowerProcs() {
	commitProcs.Lock()
	defer commitProcs.Unlock()
	if commitProcs.n--; commitProcs.n == 0 && commitProcs.prev > 0 {
		runtime.GOMAXPROCS(commitProcs.prev)
		commitProcs.prev = 0
	}
}

// Committer is the commit a worker runs.
type Committer interface {
	Commit(ctx context.Context) (conntracksync.CommitStats, error)
}

// CommitWithProcs runs c's commit with CommitProcs Ps, and the process's
// Ps as they were after it (after the last of several at once).
func CommitWithProcs(ctx context.Context, c Committer) (conntracksync.CommitStats, error) {
	raiseProcs()
	defer lowerProcs()
	return c.Commit(ctx)
}
