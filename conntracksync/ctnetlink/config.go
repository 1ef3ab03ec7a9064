package ctnetlink

import (
	"log/slog"

	ct "github.com/vigil-ha/vigil/conntracksync"
)

// Config configures a Kernel.
type Config struct {
	// ReadBuffer is the event socket's receive buffer in bytes; 0 = 64 MiB.
	ReadBuffer int
	// Netns is the path of the network namespace whose table is followed
	// and written ("" = the process's).
	Netns string
	// Workers is the number of netlink sockets a commit uses in parallel
	// (0 = one per two CPUs, at least 1, at most 4).
	Workers int
}

// ForReplicator returns the kernel side for a Replicator of cfg (its
// Netns, EventBuffer and CommitWorkers).
func ForReplicator(log *slog.Logger, cfg ct.Config) *Kernel {
	return New(log.With("part", "ctnetlink"), Config{ReadBuffer: cfg.EventBuffer, Netns: cfg.Netns, Workers: cfg.CommitWorkers})
}
