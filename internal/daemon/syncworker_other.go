//go:build !linux

package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/vigil-ha/vigil/conntracksync"
)

// remoteReplicator: conntrack sync is Linux's; elsewhere the replicator
// stays in the daemon.
func remoteReplicator(*slog.Logger, conntracksync.Config, string) (replicator, error) {
	return nil, nil
}

// SyncWorkerMain refuses: there is no sync worker on this system.
func SyncWorkerMain() int {
	fmt.Fprintf(os.Stderr, "vigild: no sync worker on %s\n", runtime.GOOS)
	return 2
}
