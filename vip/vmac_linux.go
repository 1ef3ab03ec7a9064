package vip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// EnsureVMAC makes sure the macvlan v exists on its parent, in private mode
// (as keepalived creates them), with the virtual router MAC, and is up. A
// matching interface is left as it is (only brought up if it is down), so
// calling it again changes nothing. An interface with that name that is
// not such a macvlan is ErrConflict and is not touched; a missing parent is
// ErrNoDevice. It returns the interface index. The sysctls keepalived sets
// with a VMAC (VMAC.Sysctls) are the caller's job.
func (m *Manager) EnsureVMAC(ctx context.Context, v VMAC) (int, error) {
	idx, err := m.ensureVMAC(ctx, v)
	if err != nil {
		m.stats.errors.Add(1)
		return 0, fmt.Errorf("vip: vmac %s on %s: %w", v.Name, v.Parent, err)
	}
	return idx, nil
}

func (m *Manager) ensureVMAC(ctx context.Context, v VMAC) (int, error) {
	if err := v.Validate(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle()
	if err != nil {
		return 0, err
	}
	c := newLinkCache(h)
	parent, err := c.link(v.Parent)
	if err != nil {
		return 0, err
	}
	existing, err := h.LinkByName(v.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{
				Name:         v.Name,
				ParentIndex:  parent.Attrs().Index,
				HardwareAddr: v.MAC(),
			},
			Mode: netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := h.LinkAdd(mv); err != nil {
			return 0, err
		}
		l, err := h.LinkByName(v.Name)
		if err != nil {
			return 0, err
		}
		if err := h.LinkSetUp(l); err != nil {
			return 0, err
		}
		m.log.Info("vip: created VMAC", "iface", v.Name, "parent", v.Parent, "mac", v.MAC().String())
		return l.Attrs().Index, nil
	case err != nil:
		return 0, err
	}
	mv, ok := existing.(*netlink.Macvlan)
	if !ok || mv.Attrs().ParentIndex != parent.Attrs().Index || !bytes.Equal(mv.Attrs().HardwareAddr, v.MAC()) {
		return 0, fmt.Errorf("%w: interface %s exists (%s, mac %s) and is not macvlan of %s with %s",
			ErrConflict, v.Name, existing.Type(), existing.Attrs().HardwareAddr, v.Parent, v.MAC())
	}
	if existing.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(existing); err != nil {
			return 0, err
		}
	}
	return existing.Attrs().Index, nil
}

// RemoveVMAC deletes the macvlan named name if it is one (a macvlan with a
// VRRP virtual router MAC). Absent is not an error; any other interface is
// ErrConflict and is not touched.
func (m *Manager) RemoveVMAC(ctx context.Context, name string) error {
	if err := m.removeVMAC(ctx, name); err != nil {
		m.stats.errors.Add(1)
		return fmt.Errorf("vip: remove vmac %s: %w", name, err)
	}
	return nil
}

func (m *Manager) removeVMAC(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle()
	if err != nil {
		return err
	}
	l, err := h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := l.(*netlink.Macvlan); !ok || !isVirtualRouterMAC(l.Attrs().HardwareAddr) {
		return fmt.Errorf("%w: %s is a %s with mac %s, not a VMAC", ErrConflict, name, l.Type(), l.Attrs().HardwareAddr)
	}
	if err := h.LinkDel(l); err != nil {
		return err
	}
	m.log.Info("vip: removed VMAC", "iface", name)
	return nil
}
