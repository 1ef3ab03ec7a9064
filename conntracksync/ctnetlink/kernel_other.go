//go:build !linux

package ctnetlink

import (
	"context"
	"errors"
	"log/slog"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
)

// Kernel needs Linux; elsewhere Follow and Commit fail with
// errors.ErrUnsupported, so that packages importing this one build.
type Kernel struct{}

var _ ct.Kernel = (*Kernel)(nil)

// New returns a Kernel that fails.
func New(log *slog.Logger, cfg Config) *Kernel { return &Kernel{} }

// Follow returns errors.ErrUnsupported.
func (k *Kernel) Follow(ctx context.Context, t ct.Table) error { return errors.ErrUnsupported }

// CommitStream returns errors.ErrUnsupported.
func (k *Kernel) CommitStream(ctx context.Context, in <-chan []ct.Entry, out chan<- ct.CommitChunk, now time.Time, commitTimeout time.Duration) (ct.CommitStats, error) {
	return ct.CommitStats{}, errors.ErrUnsupported
}

// SetTimeouts returns errors.ErrUnsupported.
func (k *Kernel) SetTimeouts(ctx context.Context, flows []ct.Flow, timeoutSec uint32) (set, failed int, err error) {
	return 0, 0, errors.ErrUnsupported
}

// Release does nothing.
func (k *Kernel) Release() {}

// Stats returns zero stats.
func (k *Kernel) Stats() ct.ListenerStats { return ct.ListenerStats{} }

// FollowExpect returns errors.ErrUnsupported.
func (k *Kernel) FollowExpect(ctx context.Context, t ct.ExpectTable) error {
	return errors.ErrUnsupported
}

// CommitExpect returns errors.ErrUnsupported.
func (k *Kernel) CommitExpect(ctx context.Context, entries []ct.ExpectEntry, now time.Time, commitTimeout time.Duration) (ct.ExpectCommitStats, []bool, error) {
	return ct.ExpectCommitStats{Entries: len(entries)}, nil, errors.ErrUnsupported
}
