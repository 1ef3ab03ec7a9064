//go:build !linux

package conntracksync

import "errors"

// OpenUDP returns errors.ErrUnsupported outside Linux.
func OpenUDP(cfg *Config) (Link, error) { return nil, errors.ErrUnsupported }
