//go:build !linux

package ctl

import (
	"errors"
	"net"
)

// peerUID is only implemented on Linux; elsewhere every peer is refused.
func peerUID(net.Conn) (uint32, error) { return 0, errors.ErrUnsupported }
