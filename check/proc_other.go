//go:build !linux

package check

import "errors"

// ScanProc is only implemented on Linux.
func ScanProc(procRoot string) ([]Proc, error) { return nil, errors.ErrUnsupported }
