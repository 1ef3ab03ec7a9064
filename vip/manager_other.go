//go:build !linux

package vip

import (
	"context"
	"errors"
	"log/slog"

	"github.com/vishvananda/netns"
)

// Manager reconciles virtual addresses and routes; Linux only.
type Manager struct{}

// NewManager returns errors.ErrUnsupported off Linux.
func NewManager(log *slog.Logger, opts ...Option) (*Manager, error) {
	return nil, errors.ErrUnsupported
}

// NewManagerAt returns errors.ErrUnsupported off Linux.
func NewManagerAt(log *slog.Logger, ns netns.NsHandle, opts ...Option) (*Manager, error) {
	return nil, errors.ErrUnsupported
}

// Close does nothing off Linux.
func (m *Manager) Close() error { return nil }

// Stats is all zero off Linux.
func (m *Manager) Stats() ManagerStats { return ManagerStats{} }

// AddAddresses returns errors.ErrUnsupported off Linux.
func (m *Manager) AddAddresses(ctx context.Context, addrs []Address) error {
	return errors.ErrUnsupported
}

// RemoveAddresses returns errors.ErrUnsupported off Linux.
func (m *Manager) RemoveAddresses(ctx context.Context, addrs []Address) error {
	return errors.ErrUnsupported
}

// Present returns errors.ErrUnsupported off Linux.
func (m *Manager) Present(ctx context.Context, addrs []Address) ([]Address, error) {
	return nil, errors.ErrUnsupported
}

// AddRoutes returns errors.ErrUnsupported off Linux.
func (m *Manager) AddRoutes(ctx context.Context, routes []Route) error {
	return errors.ErrUnsupported
}

// RemoveRoutes returns errors.ErrUnsupported off Linux.
func (m *Manager) RemoveRoutes(ctx context.Context, routes []Route) error {
	return errors.ErrUnsupported
}

// PresentRoutes returns errors.ErrUnsupported off Linux.
func (m *Manager) PresentRoutes(ctx context.Context, routes []Route) ([]Route, error) {
	return nil, errors.ErrUnsupported
}

// AddRules returns errors.ErrUnsupported off Linux.
func (m *Manager) AddRules(ctx context.Context, rules []Rule) error { return errors.ErrUnsupported }

// RemoveRules returns errors.ErrUnsupported off Linux.
func (m *Manager) RemoveRules(ctx context.Context, rules []Rule) error {
	return errors.ErrUnsupported
}

// PresentRules returns errors.ErrUnsupported off Linux.
func (m *Manager) PresentRules(ctx context.Context, rules []Rule) ([]Rule, error) {
	return nil, errors.ErrUnsupported
}

// EnsureVMAC returns errors.ErrUnsupported off Linux.
func (m *Manager) EnsureVMAC(ctx context.Context, v VMAC) (int, error) {
	return 0, errors.ErrUnsupported
}

// RemoveVMAC returns errors.ErrUnsupported off Linux.
func (m *Manager) RemoveVMAC(ctx context.Context, name string) error {
	return errors.ErrUnsupported
}

// InterfaceChanged does nothing off Linux: there is no index to forget.
func (m *Manager) InterfaceChanged(name string) {}

// ResolveInterfaces returns errors.ErrUnsupported off Linux.
func (m *Manager) ResolveInterfaces(ctx context.Context, names []string) error {
	return errors.ErrUnsupported
}
