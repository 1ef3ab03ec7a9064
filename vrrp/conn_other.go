//go:build !linux

package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
)

// ListenIPv4 is implemented on Linux only; elsewhere it returns an error
// wrapping errors.ErrUnsupported.
func ListenIPv4(ifname string, opts ConnOptions) (Conn, error) {
	return nil, fmt.Errorf("vrrp: listen ipv4 on %s: %w", ifname, errors.ErrUnsupported)
}

// ListenIPv6 is implemented on Linux only; elsewhere it returns an error
// wrapping errors.ErrUnsupported.
func ListenIPv6(ifname string, opts ConnOptions) (Conn, error) {
	return nil, fmt.Errorf("vrrp: listen ipv6 on %s: %w", ifname, errors.ErrUnsupported)
}

// PrimaryAddr is implemented on Linux only; elsewhere it returns an error
// wrapping errors.ErrUnsupported.
func PrimaryAddr(ifname string, is6 bool, notFrom ...netip.Addr) (netip.Addr, error) {
	return netip.Addr{}, fmt.Errorf("vrrp: primary address of %s: %w", ifname, errors.ErrUnsupported)
}
