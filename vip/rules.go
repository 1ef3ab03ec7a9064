package vip

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one virtual_rules line: a policy routing rule that sends matching
// packets to a routing table ("ip rule add from A to B iif X oif Y fwmark
// M/K priority P table T").
type Rule struct {
	// From and To select by source and destination prefix; either may be
	// unset (any).
	From, To netip.Prefix
	// IPv6 chooses the family when neither From nor To is set.
	IPv6 bool
	// Table is the routing table to look up (1-0xffffffff, 254 is main).
	Table int
	// Priority is the rule's preference. 0 means "let the kernel choose"
	// (and then any priority counts as present); priority 0 itself, the
	// local table's slot, cannot be requested.
	Priority int
	// IIF and OIF select by incoming and outgoing interface.
	IIF, OIF string
	// FwMark and FwMask select by firewall mark; FwMask 0 with a FwMark
	// means all bits (0xffffffff), as the kernel does.
	FwMark, FwMask uint32
	// Not inverts the selector (`ip rule add not ...`).
	Not bool
	// Goto, when not 0, makes the rule jump to the rule with this
	// preference instead of looking up a table (Table is then 0).
	Goto int
	// Type is the rule's action when it is not a table lookup or goto
	// (`ip rule add ... type T`): "blackhole", "unreachable", "prohibit"
	// or "nop"; Table and Goto are then 0. "" and "unicast" look up Table.
	Type string
	// Tos selects by TOS / DS field.
	Tos uint8
	// Realm is FRA_FLOW (`realms FROM/TO`): FROM<<16 | TO.
	Realm uint32
	// IPProto selects by IP protocol number (`ipproto`); 0 is any.
	IPProto int
	// Sport and Dport select by port range; the zero range is any.
	Sport, Dport PortRange
	// UIDRange selects by the socket's owner, when HasUIDRange.
	UIDRange    UIDRange
	HasUIDRange bool
	// SuppressPrefixLen, when HasSuppressPrefixLen, rejects a lookup
	// result whose prefix is this long or shorter.
	SuppressPrefixLen    int
	HasSuppressPrefixLen bool
	// SuppressIfGroup, when HasSuppressIfGroup, rejects a lookup result
	// whose device is in this interface group.
	SuppressIfGroup    int
	HasSuppressIfGroup bool
	// Protocol is the rule's FRA_PROTOCOL (who installed it); 0 sends
	// none.
	Protocol uint8
}

// PortRange is an inclusive range of ports; Start 0 with End 0 is unset.
type PortRange struct{ Start, End uint16 }

// UIDRange is an inclusive range of user IDs.
type UIDRange struct{ Start, End uint32 }

func (r Rule) is6() bool {
	switch {
	case r.From.IsValid():
		return r.From.Addr().Is6()
	case r.To.IsValid():
		return r.To.Addr().Is6()
	}
	return r.IPv6
}

func (r Rule) mask() uint32 {
	if r.FwMark != 0 && r.FwMask == 0 {
		return 0xffffffff
	}
	return r.FwMask
}

// String renders the rule the way `ip rule` would take it.
func (r Rule) String() string {
	var b strings.Builder
	if r.is6() {
		b.WriteString("-6 ")
	}
	b.WriteString("from ")
	if r.From.IsValid() {
		b.WriteString(r.From.String())
	} else {
		b.WriteString("all")
	}
	if r.To.IsValid() {
		b.WriteString(" to " + r.To.String())
	}
	if r.IIF != "" {
		b.WriteString(" iif " + r.IIF)
	}
	if r.OIF != "" {
		b.WriteString(" oif " + r.OIF)
	}
	if r.FwMark != 0 || r.FwMask != 0 {
		fmt.Fprintf(&b, " fwmark %#x/%#x", r.FwMark, r.mask())
	}
	if r.Not {
		b.WriteString(" not")
	}
	if r.Tos != 0 {
		fmt.Fprintf(&b, " tos %#x", r.Tos)
	}
	if r.IPProto != 0 {
		b.WriteString(" ipproto " + strconv.Itoa(r.IPProto))
	}
	if r.Sport != (PortRange{}) {
		fmt.Fprintf(&b, " sport %d-%d", r.Sport.Start, r.Sport.End)
	}
	if r.Dport != (PortRange{}) {
		fmt.Fprintf(&b, " dport %d-%d", r.Dport.Start, r.Dport.End)
	}
	if r.HasUIDRange {
		fmt.Fprintf(&b, " uidrange %d-%d", r.UIDRange.Start, r.UIDRange.End)
	}
	if r.Realm != 0 {
		fmt.Fprintf(&b, " realms %d/%d", r.Realm>>16, r.Realm&0xffff)
	}
	if r.Priority != 0 {
		b.WriteString(" priority " + strconv.Itoa(r.Priority))
	}
	switch {
	case r.Goto != 0:
		b.WriteString(" goto " + strconv.Itoa(r.Goto))
	case r.action() != frActToTable:
		b.WriteString(" type " + r.Type)
	default:
		b.WriteString(" table " + strconv.Itoa(r.Table))
	}
	if r.HasSuppressPrefixLen {
		b.WriteString(" suppress_prefixlength " + strconv.Itoa(r.SuppressPrefixLen))
	}
	if r.HasSuppressIfGroup {
		b.WriteString(" suppress_ifgroup " + strconv.Itoa(r.SuppressIfGroup))
	}
	if r.Protocol != 0 {
		b.WriteString(" protocol " + strconv.Itoa(int(r.Protocol)))
	}
	return b.String()
}

// Validate checks the rule without kernel access. Errors wrap ErrInvalid.
func (r Rule) Validate() error { return r.validate() }

func (r Rule) validate() error {
	if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is6() != r.To.Addr().Is6() {
		return fmt.Errorf("%w: from %s and to %s are different families", ErrInvalid, r.From, r.To)
	}
	for _, p := range []netip.Prefix{r.From, r.To} {
		if p.IsValid() && p != p.Masked() {
			return fmt.Errorf("%w: %s has host bits set", ErrInvalid, p)
		}
	}
	suppress := r.HasSuppressPrefixLen || r.HasSuppressIfGroup
	switch act := r.action(); act {
	case -1:
		return fmt.Errorf("%w: rule type %q", ErrInvalid, r.Type)
	case frActToTable:
		if r.Table <= 0 || int64(r.Table) > 0xffffffff {
			return fmt.Errorf("%w: table %d", ErrInvalid, r.Table)
		}
	case frActGoto:
		switch {
		case r.Table != 0:
			return fmt.Errorf("%w: goto %d with table %d", ErrInvalid, r.Goto, r.Table)
		case r.Goto < 0 || int64(r.Goto) > 0xffffffff:
			return fmt.Errorf("%w: goto %d", ErrInvalid, r.Goto)
		case suppress:
			return fmt.Errorf("%w: suppress_* needs a table lookup", ErrInvalid)
		}
	default:
		if r.Table != 0 || r.Goto != 0 || suppress {
			return fmt.Errorf("%w: a %s rule takes no table, goto or suppress_*", ErrInvalid, r.Type)
		}
	}
	for _, pr := range []PortRange{r.Sport, r.Dport} {
		if pr.Start > pr.End {
			return fmt.Errorf("%w: port range %d-%d", ErrInvalid, pr.Start, pr.End)
		}
	}
	if r.HasUIDRange && r.UIDRange.Start > r.UIDRange.End {
		return fmt.Errorf("%w: uidrange %d-%d", ErrInvalid, r.UIDRange.Start, r.UIDRange.End)
	}
	if r.IPProto < 0 || r.IPProto > 255 || r.SuppressPrefixLen < 0 || r.SuppressPrefixLen > 128 || r.SuppressIfGroup < 0 {
		return fmt.Errorf("%w: ipproto %d, suppress_prefixlength %d or suppress_ifgroup %d out of range", ErrInvalid, r.IPProto, r.SuppressPrefixLen, r.SuppressIfGroup)
	}
	if r.Priority < 0 || int64(r.Priority) > 0xffffffff {
		return fmt.Errorf("%w: priority %d", ErrInvalid, r.Priority)
	}
	return nil
}

// Rule actions (fib_rule_hdr.action, include/uapi/linux/fib_rules.h).
const (
	frActToTable     = 1
	frActGoto        = 2
	frActNop         = 3
	frActBlackhole   = 6
	frActUnreachable = 7
	frActProhibit    = 8
)

// action is the rule's FR_ACT_* value, or -1 for an unknown Type.
func (r Rule) action() int {
	switch r.Type {
	case "", "unicast":
		if r.Goto != 0 {
			return frActGoto
		}
		return frActToTable
	case "blackhole":
		return frActBlackhole
	case "unreachable":
		return frActUnreachable
	case "prohibit":
		return frActProhibit
	case "nop":
		return frActNop
	}
	return -1
}
