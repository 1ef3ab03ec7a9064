//go:build !linux

package ctl

import "errors"

// readProcess: the process_* families come from /proc, which only Linux
// has; elsewhere they are left out.
func readProcess() (processStats, error) { return processStats{}, errors.ErrUnsupported }
