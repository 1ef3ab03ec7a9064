//go:build !linux

package ctl

import (
	"errors"
	"net"
)

// peerCred is only implemented on Linux; elsewhere every peer is refused.
func peerCred(net.Conn) (Peer, error) { return Peer{}, errors.ErrUnsupported }
