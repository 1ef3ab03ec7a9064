package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vip/nftfilter"
	"github.com/vigil-ha/vigil/vrrp"
)

// firewall keeps vigil's nftables VIP filter (package nftfilter) in step
// with the instances, as keepalived's vrrp_firewall does: a master that is
// not the address owner and has no accept mode (no_accept, or vrrp_strict's
// default) has its addresses put in the drop sets before they are added and
// taken out after they are removed. The scripts go through the kernel
// worker, so they keep their place among the address changes. The loop
// owns every field and calls every method.
type firewall struct {
	cfg     nftfilter.Config
	blocked map[*instance]bool // masters whose addresses are in the sets
	up      bool               // this run has created the table
	applied string             // the last Sync script committed; "" after a failure
	errors  uint64

	log       *slog.Logger
	kw        *kernelWork
	apply     nftfilter.Applier
	instances func() []*instance // the daemon's, as they are now
}

// needsFilter is keepalived's rule: the address owner always accepts.
func needsFilter(ic *config.Instance) bool {
	return ic.Priority != vrrp.PriorityOwner && !ic.Accept
}

func filterConfig(g *config.Global) nftfilter.Config {
	return nftfilter.Config{Table: g.NFTables, Priority: g.NFTablesPriority, Counters: g.NFTablesCounters}
}

// start replaces any table an earlier run left with a fresh, empty one
// when an instance may need it, and removes it otherwise: a killed vigild
// leaves its table, whose sets would drop traffic to addresses this run
// accepts.
func (fw *firewall) start(g *config.Global) {
	fw.cfg, fw.blocked = filterConfig(g), map[*instance]bool{}
	if fw.wanted() {
		table := fw.cfg.Table
		if table == "" {
			table = nftfilter.DefaultTable
		}
		fw.log.Info("no_accept/strict specified: traffic to the VIPs of a master that is not the address owner is dropped with nftables", "table", "inet "+table)
		fw.setup()
		return
	}
	fw.remove(fw.cfg, true)
}

// wanted reports whether any instance may need the filter. The
// nftables keyword only names the table: as in keepalived, it creates
// nothing by itself.
func (fw *firewall) wanted() bool {
	return slices.ContainsFunc(fw.instances(), func(inst *instance) bool { return needsFilter(inst.cfg) })
}

func (fw *firewall) setup() {
	elems := fw.elems()
	script, err := nftfilter.Ruleset(fw.cfg, elems)
	if err != nil {
		fw.failed(err)
		return
	}
	// The new table holds elems: the Sync script for them would change
	// nothing.
	fw.up = true
	fw.applied, _ = nftfilter.Sync(fw.cfg, elems)
	fw.submit(script, "creating the VIP filter table", func() { fw.up, fw.applied = false, "" })
}

// remove deletes the table; quiet makes a missing nft binary no error
// (nothing asked for the filter, so nothing can be left of it without nft).
func (fw *firewall) remove(cfg nftfilter.Config, quiet bool) {
	script, err := nftfilter.Teardown(cfg)
	if err != nil {
		fw.failed(err)
		return
	}
	apply := fw.apply
	fw.kw.submit(func(ctx context.Context) func(time.Time) {
		err := apply.Apply(ctx, script)
		return func(time.Time) {
			if err != nil && !(quiet && errors.Is(err, nftfilter.ErrNoNft)) {
				fw.failed(fmt.Errorf("removing the VIP filter table: %w", err))
			}
		}
	})
}

// block puts inst's addresses in the drop sets, before they are added.
func (fw *firewall) block(inst *instance) {
	if !needsFilter(inst.cfg) || fw.blocked[inst] {
		return
	}
	inst.log.Debug(fmt.Sprintf("(%s) setting firewall drop rule", inst.cfg.Name))
	if fw.blocked == nil {
		fw.blocked = map[*instance]bool{}
	}
	fw.blocked[inst] = true
	fw.sync()
}

// unblock takes inst's addresses out of the drop sets, after they are
// removed.
func (fw *firewall) unblock(inst *instance) {
	if !fw.blocked[inst] {
		return
	}
	delete(fw.blocked, inst)
	inst.log.Debug(fmt.Sprintf("(%s) removing firewall drop rule", inst.cfg.Name))
	fw.sync()
}

// reload follows a reload: a new table name or priority rebuilds the
// table, and the sets follow the masters' new addresses.
func (fw *firewall) reload(g *config.Global) {
	cfg := filterConfig(g)
	if cfg != fw.cfg && fw.up {
		fw.remove(fw.cfg, false)
		fw.up = false
	}
	fw.cfg = cfg
	for inst := range fw.blocked {
		if !slices.Contains(fw.instances(), inst) || !needsFilter(inst.cfg) {
			delete(fw.blocked, inst)
		}
	}
	fw.sync()
}

// sync makes the sets hold the addresses of every blocked master.
func (fw *firewall) sync() {
	if !fw.up {
		if len(fw.blocked) > 0 || fw.wanted() {
			fw.setup()
		}
		return
	}
	script, err := nftfilter.Sync(fw.cfg, fw.elems())
	if err != nil {
		fw.failed(err)
		return
	}
	if script == fw.applied {
		return
	}
	fw.applied = script
	fw.submit(script, "updating the VIP filter", func() { fw.applied = "" })
}

// stop removes the table, after every instance has stopped.
func (fw *firewall) stop() {
	if fw.up {
		fw.remove(fw.cfg, false)
		fw.up = false
	}
}

func (fw *firewall) elems() []nftfilter.Elem {
	var out []nftfilter.Elem
	for _, inst := range fw.instances() {
		if !fw.blocked[inst] {
			continue
		}
		for _, a := range inst.addrs {
			out = append(out, nftfilter.Elem{Addr: a.Prefix.Addr(), Ifname: a.Dev})
		}
	}
	return out
}

func (fw *firewall) submit(script, what string, failed func()) {
	apply := fw.apply
	fw.kw.submit(func(ctx context.Context) func(time.Time) {
		err := apply.Apply(ctx, script)
		return func(time.Time) {
			if err != nil {
				failed()
				fw.failed(fmt.Errorf("%s: %w", what, err))
			}
		}
	})
}

func (fw *firewall) failed(err error) {
	fw.errors++
	fw.log.Error("VIP filter (no_accept) change failed; traffic to the VIPs is not dropped", "err", err, "errors", fw.errors)
}
