package syncworker

import (
	"context"
	"log/slog"
	"runtime"
	"sync"

	"github.com/vigil-ha/vigil/conntracksync"
)

// CommitProcs is the worker's GOMAXPROCS while a commit runs. A commit
// is a pipeline of three goroutines: one reads the external cache, one
// writes into the kernel, which inserts inside its write, and one puts
// what the kernel took into the internal cache. With one P the other two
// wait while the writer is in the kernel, until the runtime takes the P
// from its system call. In eight runs each at 100k flows the commit
// took 1.06–1.37 times the kernel's insert floor with one P, and 1.01–1.10
// times with two for the commit (docs/performance.md, "Two Ps for the
// commit").
const CommitProcs = 2

// commitProcs counts the commits that run: the first raises GOMAXPROCS
// to CommitProcs, the last gives back what it was.
var commitProcs struct {
	sync.Mutex
	n    int
	prev int // 0: not raised
}

// numCPU is the number of CPUs the process may use (a variable for the
// tests).
var numCPU = runtime.NumCPU

func raiseProcs() {
	commitProcs.Lock()
	defer commitProcs.Unlock()
	if commitProcs.n++; commitProcs.n > 1 {
		return
	}
	// Not more Ps than the CPUs the process may use: on one CPU the
	// second P would only take turns with the first.
	want := min(CommitProcs, numCPU())
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
// Ps as they were after it (after the last of several at once). It logs
// the Ps the commit runs with to log, at debug.
func CommitWithProcs(ctx context.Context, log *slog.Logger, c Committer) (conntracksync.CommitStats, error) {
	raiseProcs()
	defer lowerProcs()
	log.Debug("sync worker: commit", "procs", runtime.GOMAXPROCS(0))
	return c.Commit(ctx)
}
