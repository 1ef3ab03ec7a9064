package vip

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func ipNet(p netip.Prefix) *net.IPNet {
	if !p.IsValid() {
		return nil
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (r Rule) family() int {
	if r.is6() {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

// toNetlinkRule builds the RTM_NEWRULE / RTM_DELRULE request for r.
func (r Rule) toNetlinkRule() *netlink.Rule {
	n := netlink.NewRule()
	n.Family = r.family()
	n.Src, n.Dst = ipNet(r.From), ipNet(r.To)
	n.Table = r.Table
	if r.Priority != 0 {
		n.Priority = r.Priority
	}
	n.IifName, n.OifName = r.IIF, r.OIF
	if r.FwMark != 0 || r.FwMask != 0 {
		n.Mark = r.FwMark
		m := r.mask()
		n.Mask = &m
	}
	n.Invert = r.Not
	if r.Goto != 0 {
		n.Goto = r.Goto
	}
	if act := r.action(); act != frActToTable && act != frActGoto {
		n.Type = uint8(act)
	}
	n.Tos = uint(r.Tos)
	if r.Realm != 0 {
		n.Flow = int(r.Realm)
	}
	n.IPProto = r.IPProto
	if r.Sport != (PortRange{}) {
		n.Sport = netlink.NewRulePortRange(r.Sport.Start, r.Sport.End)
	}
	if r.Dport != (PortRange{}) {
		n.Dport = netlink.NewRulePortRange(r.Dport.Start, r.Dport.End)
	}
	if r.HasUIDRange {
		n.UIDRange = netlink.NewRuleUIDRange(r.UIDRange.Start, r.UIDRange.End)
	}
	if r.HasSuppressPrefixLen {
		n.SuppressPrefixlen = r.SuppressPrefixLen
	}
	if r.HasSuppressIfGroup {
		n.SuppressIfgroup = r.SuppressIfGroup
	}
	n.Protocol = r.Protocol
	return n
}

// optional normalises a kernel rule attribute that is -1 when unset
// (which may arrive as 0xffffffff): it reports the value and whether it
// is set.
func optional(v int) (int, bool) {
	if v < 0 || v == 0xffffffff {
		return 0, false
	}
	return v, true
}

func portRange(p *netlink.RulePortRange) PortRange {
	if p == nil {
		return PortRange{}
	}
	return PortRange{p.Start, p.End}
}

// matches reports whether the kernel rule k is r. netlink's rule dump
// leaves Type 0 (it does not read the action back), so a blackhole rule and
// an unreachable one with the same selectors and priority look alike here;
// Table and Goto still tell a lookup, a goto and the other actions apart.
func (r Rule) matches(k netlink.Rule) bool {
	kmask := uint32(0)
	if k.Mask != nil {
		kmask = *k.Mask
	}
	kgoto, _ := optional(k.Goto)
	kflow, _ := optional(k.Flow)
	spl, hasSPL := optional(k.SuppressPrefixlen)
	sig, hasSIG := optional(k.SuppressIfgroup)
	kuid, hasUID := UIDRange{}, k.UIDRange != nil
	if hasUID {
		kuid = UIDRange{k.UIDRange.Start, k.UIDRange.End}
	}
	wantType := uint8(r.action())
	return prefixOf(k.Src) == r.From && prefixOf(k.Dst) == r.To &&
		k.Table == r.Table && (r.Priority == 0 || k.Priority == r.Priority) &&
		k.IifName == r.IIF && k.OifName == r.OIF &&
		k.Mark == r.FwMark && kmask == r.mask() &&
		k.Invert == r.Not && kgoto == r.Goto && (k.Type == 0 || k.Type == wantType) &&
		k.Tos == uint(r.Tos) && uint32(kflow) == r.Realm && k.IPProto == r.IPProto &&
		portRange(k.Sport) == r.Sport && portRange(k.Dport) == r.Dport &&
		hasUID == r.HasUIDRange && kuid == r.UIDRange &&
		hasSPL == r.HasSuppressPrefixLen && spl == r.SuppressPrefixLen &&
		hasSIG == r.HasSuppressIfGroup && sig == r.SuppressIfGroup &&
		k.TunID == 0 && (r.Protocol == 0 || k.Protocol == r.Protocol)
}

func (c *linkCache) findRule(r Rule) (netlink.Rule, bool, error) {
	ks, err := c.h.RuleList(r.family())
	if err != nil {
		return netlink.Rule{}, false, err
	}
	for _, k := range ks {
		if r.matches(k) {
			return k, true, nil
		}
	}
	return netlink.Rule{}, false, nil
}

// AddRules adds each policy routing rule the kernel does not hold yet
// (same selectors, table and, if given, priority). Errors name the rule and
// are joined; the other rules are still applied. Rules naming an interface
// need not wait for it: the kernel keeps them inactive until it appears.
func (m *Manager) AddRules(ctx context.Context, rules []Rule) error {
	return m.reconcileRules(ctx, "add", rules)
}

// RemoveRules removes each rule that the kernel holds as described. Absent
// rules are not errors.
func (m *Manager) RemoveRules(ctx context.Context, rules []Rule) error {
	return m.reconcileRules(ctx, "remove", rules)
}

func (m *Manager) reconcileRules(ctx context.Context, op string, rules []Rule) error {
	return apply(ctx, m, op, "rules", rules, Rule.ruleName, func(c *linkCache, r Rule) error { return m.ruleOne(c, op, r) })
}

func (r Rule) ruleName() string { return "rule " + r.String() }

func (m *Manager) ruleOne(c *linkCache, op string, r Rule) error {
	if err := r.validate(); err != nil {
		return err
	}
	k, found, err := c.findRule(r)
	if err != nil {
		return err
	}
	switch {
	case op == "add" && found:
		m.log.Debug("vip: rule already present", "rule", r.String())
		return nil
	case op == "add":
		if err := c.h.RuleAdd(r.toNetlinkRule()); err != nil {
			return err
		}
		m.stats.rulesAdded.Add(1)
		m.log.Info("vip: added rule", "rule", r.String())
		return nil
	case !found:
		return nil
	default:
		del := r.toNetlinkRule()
		del.Priority = k.Priority // exactly the one we found
		if err := c.h.RuleDel(del); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		m.stats.rulesRemoved.Add(1)
		m.log.Info("vip: removed rule", "rule", r.String())
		return nil
	}
}

// PresentRules returns the entries of rules that the kernel holds as
// described, in input order.
func (m *Manager) PresentRules(ctx context.Context, rules []Rule) ([]Rule, error) {
	return present(ctx, m, "rules", rules, Rule.ruleName, func(c *linkCache, r Rule) (bool, error) {
		if err := r.validate(); err != nil {
			return false, err
		}
		_, found, err := c.findRule(r)
		return found, err
	})
}
