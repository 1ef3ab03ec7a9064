//go:build !linux

package notify

import "errors"

// FIFO is only implemented on Linux.
type FIFO struct{}

// OpenFIFO is only implemented on Linux.
func OpenFIFO(cfg FIFOConfig) (*FIFO, error) { return nil, errors.ErrUnsupported }

// Path is empty.
func (f *FIFO) Path() string { return "" }

// Write fails.
func (f *FIFO) Write(ev Event) error { return errors.ErrUnsupported }

// WriteLine fails.
func (f *FIFO) WriteLine(line string) error { return errors.ErrUnsupported }

// Stats is zero.
func (f *FIFO) Stats() FIFOStats { return FIFOStats{} }

// Close does nothing.
func (f *FIFO) Close() error { return nil }
