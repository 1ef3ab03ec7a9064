//go:build !linux

package conntracksync

import (
	"context"
	"errors"
	"log/slog"
)

// Replicator needs Linux (ctnetlink); elsewhere every method fails with
// errors.ErrUnsupported, so that pure packages importing this one build.
type Replicator struct{}

// New returns errors.ErrUnsupported outside Linux.
func New(log *slog.Logger, cfg Config) (*Replicator, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	return nil, errors.ErrUnsupported
}

// Run returns errors.ErrUnsupported.
func (r *Replicator) Run(ctx context.Context) error { return errors.ErrUnsupported }

// Commit returns errors.ErrUnsupported.
func (r *Replicator) Commit(ctx context.Context) (CommitStats, error) {
	return CommitStats{}, errors.ErrUnsupported
}

// FlushExternal does nothing.
func (r *Replicator) FlushExternal() int { return 0 }

// RequestResync does nothing.
func (r *Replicator) RequestResync() {}

// SendBulk does nothing.
func (r *Replicator) SendBulk() {}

// Dump returns nothing.
func (r *Replicator) Dump() (internal, external []Entry) { return nil, nil }

// Stats returns zero stats.
func (r *Replicator) Stats() Stats { return Stats{} }
