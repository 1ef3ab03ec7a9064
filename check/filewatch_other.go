//go:build !linux

package check

import (
	"errors"
	"log/slog"
)

// FileEvent reports a track file's new value.
type FileEvent struct {
	Name  string
	Path  string
	Value int64
	Err   error
}

// FileWatcher is only implemented on Linux.
type FileWatcher struct{}

// NewFileWatcher is only implemented on Linux.
func NewFileWatcher(files map[string]string, log *slog.Logger) (*FileWatcher, error) {
	return nil, errors.ErrUnsupported
}

// Events is nil.
func (w *FileWatcher) Events() <-chan FileEvent { return nil }

// Value finds nothing.
func (w *FileWatcher) Value(name string) (int64, bool) { return 0, false }

// Close does nothing.
func (w *FileWatcher) Close() {}
