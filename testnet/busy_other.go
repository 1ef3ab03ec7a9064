//go:build !linux

package testnet

import "errors"

var errNoAffinity = errors.New("CPU affinity is Linux's")

// AllowedCPUs is not available elsewhere than Linux.
func AllowedCPUs() ([]int, error) { return nil, errNoAffinity }

// BusyCPUs is not available elsewhere than Linux.
func BusyCPUs([]int) (func(), error) { return nil, errNoAffinity }

// PinToCPU is not available elsewhere than Linux.
func PinToCPU(pid, cpu int) error { return errNoAffinity }
