//go:build !linux

package testnet

import "errors"

// GroupsUniqueKB is only implemented on Linux.
func GroupsUniqueKB(pgids ...int) (int64, error) { return 0, errors.ErrUnsupported }
