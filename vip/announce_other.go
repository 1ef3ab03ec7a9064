//go:build !linux

package vip

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
)

// Announcer sends gratuitous ARPs and unsolicited NAs; Linux only.
type Announcer struct{}

// NewAnnouncer returns an Announcer whose Announce fails off Linux.
func NewAnnouncer(log *slog.Logger) *Announcer { return &Announcer{} }

// Announce returns errors.ErrUnsupported off Linux.
func (a *Announcer) Announce(ifname string, addrs []netip.Addr, mac net.HardwareAddr, router bool) error {
	return errors.ErrUnsupported
}

// Prepare returns errors.ErrUnsupported off Linux.
func (a *Announcer) Prepare(ifname string, addrs []netip.Addr) error {
	return errors.ErrUnsupported
}

// Close does nothing off Linux.
func (a *Announcer) Close() error { return nil }

// Stats is all zero off Linux.
func (a *Announcer) Stats() AnnouncerStats { return AnnouncerStats{} }

// IPv6Forwarding reports false: no such sysctl here.
func (a *Announcer) IPv6Forwarding(ifname string) bool { return false }
