package syncworker

import (
	"context"
	"log/slog"
	"runtime"
	"testing"

	"github.com/vigil-ha/vigil/conntracksync"
)

// procsCommit records the Ps its commit ran with; it waits for release
// before it returns when release is set.
type procsCommit struct {
	started chan int
	release chan struct{}
}

func (c procsCommit) Commit(context.Context) (conntracksync.CommitStats, error) {
	c.started <- runtime.GOMAXPROCS(0)
	if c.release != nil {
		<-c.release
	}
	return conntracksync.CommitStats{}, nil
}

// A commit runs with CommitProcs Ps, and the process's one P comes back
// after the last of two commits that overlap, not after the first. On a
// machine with one CPU the Ps are not raised.
func TestCommitWithProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(WorkerProcs))
	defer func(f func() int) { numCPU = f }(numCPU)
	for _, cpus := range []int{4, CommitProcs, 1} {
		numCPU = func() int { return cpus }
		want := min(CommitProcs, cpus)
		first := procsCommit{started: make(chan int, 1), release: make(chan struct{})}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = CommitWithProcs(context.Background(), slog.New(slog.DiscardHandler), first)
		}()
		if got := <-first.started; got != want {
			t.Errorf("%d CPUs: a commit ran with %d Ps, want %d", cpus, got, want)
		}
		second := procsCommit{started: make(chan int, 1)}
		if _, err := CommitWithProcs(context.Background(), slog.New(slog.DiscardHandler), second); err != nil {
			t.Fatal(err)
		}
		if got := <-second.started; got != want {
			t.Errorf("%d CPUs: an overlapping commit ran with %d Ps, want %d", cpus, got, want)
		}
		if got := runtime.GOMAXPROCS(0); got != want {
			t.Errorf("%d CPUs: with a commit still running, the process has %d Ps, want %d", cpus, got, want)
		}
		close(first.release)
		<-done
		if got := runtime.GOMAXPROCS(0); got != WorkerProcs {
			t.Errorf("%d CPUs: after the commits the process has %d Ps, want its %d back", cpus, got, WorkerProcs)
		}
	}
}
