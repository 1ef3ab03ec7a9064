package check

import (
	"fmt"
	"net/netip"
	"slices"
)

// IfaceEventKind is what happened to an interface.
type IfaceEventKind uint8

// Interface event kinds.
const (
	IfaceAdded   IfaceEventKind = iota + 1 // a link appeared (also each link present at start)
	IfaceRemoved                           // a link was deleted
	IfaceUp                                // became up: IFF_UP and IFF_RUNNING (carrier), keepalived's test
	IfaceDown                              // stopped being up
	IfaceRenamed                           // same index, new name (OldName has the old one)
	AddrAdded                              // an address appeared on the link
	AddrRemoved                            // an address went away
)

func (k IfaceEventKind) String() string {
	switch k {
	case IfaceAdded:
		return "added"
	case IfaceRemoved:
		return "removed"
	case IfaceUp:
		return "up"
	case IfaceDown:
		return "down"
	case IfaceRenamed:
		return "renamed"
	case AddrAdded:
		return "address added"
	case AddrRemoved:
		return "address removed"
	}
	return fmt.Sprintf("IfaceEventKind(%d)", uint8(k))
}

// IfaceEvent is one change seen on the netlink subscription.
type IfaceEvent struct {
	Kind    IfaceEventKind
	Index   int
	Name    string       // the current name
	OldName string       // IfaceRenamed only
	Up      bool         // the link's up state after the event
	Addr    netip.Prefix // AddrAdded / AddrRemoved only
}

func (e IfaceEvent) String() string {
	switch e.Kind {
	case IfaceRenamed:
		return fmt.Sprintf("interface %s (index %d) renamed from %s", e.Name, e.Index, e.OldName)
	case AddrAdded, AddrRemoved:
		return fmt.Sprintf("interface %s: %s %s", e.Name, e.Kind, e.Addr)
	}
	return fmt.Sprintf("interface %s (index %d) %s", e.Name, e.Index, e.Kind)
}

// Iface is the Watcher's view of one link.
type Iface struct {
	Index   int
	Name    string
	AdminUp bool // IFF_UP
	Running bool // IFF_RUNNING (carrier)
	Addrs   []netip.Prefix
}

// Up is keepalived's FLAGS_UP: administratively up and running.
func (i Iface) Up() bool { return i.AdminUp && i.Running }

// ifaceTable is the pure state of the Watcher: it applies link and address
// observations and returns the events they imply.
type ifaceTable struct {
	links map[int]*Iface
	// addrs seen before their link (possible in a dump race), by index
	early map[int][]netip.Prefix
}

func newIfaceTable() *ifaceTable {
	return &ifaceTable{links: map[int]*Iface{}, early: map[int][]netip.Prefix{}}
}

// link applies a link observation; deleted means RTM_DELLINK.
func (t *ifaceTable) link(index int, name string, adminUp, running, deleted bool) []IfaceEvent {
	cur, ok := t.links[index]
	if deleted {
		if !ok {
			return nil
		}
		delete(t.links, index)
		var ev []IfaceEvent
		for _, a := range cur.Addrs {
			ev = append(ev, IfaceEvent{Kind: AddrRemoved, Index: index, Name: cur.Name, Addr: a})
		}
		if cur.Up() {
			ev = append(ev, IfaceEvent{Kind: IfaceDown, Index: index, Name: cur.Name})
		}
		return append(ev, IfaceEvent{Kind: IfaceRemoved, Index: index, Name: cur.Name})
	}
	if !ok {
		n := &Iface{Index: index, Name: name, AdminUp: adminUp, Running: running}
		t.links[index] = n
		ev := []IfaceEvent{{Kind: IfaceAdded, Index: index, Name: name, Up: n.Up()}}
		if n.Up() {
			ev = append(ev, IfaceEvent{Kind: IfaceUp, Index: index, Name: name, Up: true})
		}
		for _, a := range t.early[index] {
			n.Addrs = append(n.Addrs, a)
			ev = append(ev, IfaceEvent{Kind: AddrAdded, Index: index, Name: name, Up: n.Up(), Addr: a})
		}
		delete(t.early, index)
		return ev
	}
	var ev []IfaceEvent
	if cur.Name != name {
		ev = append(ev, IfaceEvent{Kind: IfaceRenamed, Index: index, Name: name, OldName: cur.Name, Up: cur.Up()})
		cur.Name = name
	}
	wasUp := cur.Up()
	cur.AdminUp, cur.Running = adminUp, running
	switch {
	case !wasUp && cur.Up():
		ev = append(ev, IfaceEvent{Kind: IfaceUp, Index: index, Name: name, Up: true})
	case wasUp && !cur.Up():
		ev = append(ev, IfaceEvent{Kind: IfaceDown, Index: index, Name: name})
	}
	return ev
}

// addr applies an address observation.
func (t *ifaceTable) addr(index int, p netip.Prefix, added bool) []IfaceEvent {
	cur, ok := t.links[index]
	if !ok {
		if added && !slices.Contains(t.early[index], p) {
			t.early[index] = append(t.early[index], p)
		} else if !added {
			t.early[index] = slices.DeleteFunc(t.early[index], func(q netip.Prefix) bool { return q == p })
		}
		return nil
	}
	i := slices.Index(cur.Addrs, p)
	switch {
	case added && i < 0:
		cur.Addrs = append(cur.Addrs, p)
		return []IfaceEvent{{Kind: AddrAdded, Index: index, Name: cur.Name, Up: cur.Up(), Addr: p}}
	case !added && i >= 0:
		cur.Addrs = slices.Delete(cur.Addrs, i, i+1)
		return []IfaceEvent{{Kind: AddrRemoved, Index: index, Name: cur.Name, Up: cur.Up(), Addr: p}}
	}
	return nil
}

// snapshot copies one link by name.
func (t *ifaceTable) byName(name string) (Iface, bool) {
	for _, l := range t.links {
		if l.Name == name {
			c := *l
			c.Addrs = slices.Clone(l.Addrs)
			return c, true
		}
	}
	return Iface{}, false
}
