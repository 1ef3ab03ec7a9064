//go:build !linux

package check

import (
	"errors"
	"log/slog"

	"github.com/vishvananda/netns"
)

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	Namespace *netns.NsHandle
	Log       *slog.Logger
	Buffer    int
}

// WatcherStats counts the Watcher's troubles.
type WatcherStats struct{ Errors, Resyncs, Events uint64 }

// Watcher is only implemented on Linux.
type Watcher struct{}

// NewWatcher is only implemented on Linux.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) { return nil, errors.ErrUnsupported }

// Events is nil.
func (w *Watcher) Events() <-chan IfaceEvent { return nil }

// Iface finds nothing.
func (w *Watcher) Iface(name string) (Iface, bool) { return Iface{}, false }

// Stats is zero.
func (w *Watcher) Stats() WatcherStats { return WatcherStats{} }

// Close does nothing.
func (w *Watcher) Close() {}
