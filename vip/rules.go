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
}

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
	if r.Priority != 0 {
		b.WriteString(" priority " + strconv.Itoa(r.Priority))
	}
	b.WriteString(" table " + strconv.Itoa(r.Table))
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
	if r.Table <= 0 || int64(r.Table) > 0xffffffff {
		return fmt.Errorf("%w: table %d", ErrInvalid, r.Table)
	}
	if r.Priority < 0 || int64(r.Priority) > 0xffffffff {
		return fmt.Errorf("%w: priority %d", ErrInvalid, r.Priority)
	}
	return nil
}
