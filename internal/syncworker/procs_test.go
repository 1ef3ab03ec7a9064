package syncworker

import (
	"context"
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

// A commit runs with CommitProcs Ps (as many as there are CPUs, if
// fewer), and the process's one P comes back after the last of two
// commits that overlap, not after the first.
func TestCommitWithProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(WorkerProcs))
	want := min(CommitProcs, runtime.NumCPU())
	if want <= WorkerProcs {
		t.Fatalf("this test needs %d CPUs to see the Ps raised; the machine lets it use %d", CommitProcs, runtime.NumCPU())
	}
	first := procsCommit{started: make(chan int, 1), release: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = CommitWithProcs(context.Background(), first)
	}()
	if got := <-first.started; got != want {
		t.Errorf("a commit ran with %d Ps, want %d", got, want)
	}
	second := procsCommit{started: make(chan int, 1)}
	if _, err := CommitWithProcs(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if got := <-second.started; got != want {
		t.Errorf("an overlapping commit ran with %d Ps, want %d", got, want)
	}
	if got := runtime.GOMAXPROCS(0); got != want {
		t.Errorf("with a commit still running, the process has %d Ps, want %d", got, want)
	}
	close(first.release)
	<-done
	if got := runtime.GOMAXPROCS(0); got != WorkerProcs {
		t.Errorf("after the commits the process has %d Ps, want its %d back", got, WorkerProcs)
	}
}
