package daemon

import (
	"log/slog"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/internal/syncworker"
)

// remoteReplicator returns the replicator of rc run in a sync worker
// started from exe. rc is first checked as the worker will check it (the
// key file read included), so that a configuration the worker would
// refuse fails the load, with the block's position, as it does when the
// replicator runs in the daemon; the worker logs its warnings itself.
func remoteReplicator(log *slog.Logger, rc conntracksync.Config, exe string) (replicator, error) {
	quiet := slog.New(slog.DiscardHandler)
	if _, err := conntracksync.New(quiet, rc, conntracksync.Parts{Kernel: ctnetlink.ForReplicator(quiet, rc)}); err != nil {
		return nil, err
	}
	return syncworker.NewRemote(log, rc, exe), nil
}

// SyncWorkerMain runs this process as a sync worker (the daemon started
// it with syncworker.WorkerEnv set) and returns its exit code.
func SyncWorkerMain() int {
	return syncworker.WorkerMain(func(log *slog.Logger, cfg conntracksync.Config) (syncworker.Runner, error) {
		return conntracksync.New(log, cfg, conntracksync.Parts{Kernel: ctnetlink.ForReplicator(log, cfg)})
	})
}
