package daemon

import (
	"context"
	"errors"
	"fmt"
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
// owns every field.
type firewall struct {
	cfg     nftfilter.Config
	blocked map[*instance]bool // masters whose addresses are in the sets
	up      bool               // this run has created the table
	applied string             // the last Sync script committed; "" after a failure
	errors  uint64
}

// needsFilter is keepalived's rule: the address owner always accepts.
func needsFilter(ic *config.Instance) bool {
	return ic.Priority != vrrp.PriorityOwner && !ic.Accept
}

func filterConfig(g *config.Global) nftfilter.Config {
	return nftfilter.Config{Table: g.NFTables, Priority: g.NFTablesPriority, Counters: g.NFTablesCounters}
}

// fwStart replaces any table an earlier run left with a fresh, empty one
// when an instance may need it, and removes it otherwise: a killed vigild
// leaves its table, whose sets would drop traffic to addresses this run
// accepts.
func (d *Daemon) fwStart() {
	d.fw = firewall{cfg: filterConfig(&d.cfg.Global), blocked: map[*instance]bool{}}
	if d.fwWanted() {
		table := d.fw.cfg.Table
		if table == "" {
			table = nftfilter.DefaultTable
		}
		d.log.Info("no_accept/strict specified: traffic to the VIPs of a master that is not the address owner is dropped with nftables", "table", "inet "+table)
		d.fwSetup()
		return
	}
	d.fwRemove(d.fw.cfg, true)
}

// fwWanted reports whether any instance may need the filter. The
// nftables keyword only names the table: as in keepalived, it creates
// nothing by itself.
func (d *Daemon) fwWanted() bool {
	return slices.ContainsFunc(d.instances, func(inst *instance) bool { return needsFilter(inst.cfg) })
}

func (d *Daemon) fwSetup() {
	elems := d.fwElems()
	script, err := nftfilter.Ruleset(d.fw.cfg, elems)
	if err != nil {
		d.fwFailed(err)
		return
	}
	// The new table holds elems: the Sync script for them would change
	// nothing.
	d.fw.up = true
	d.fw.applied, _ = nftfilter.Sync(d.fw.cfg, elems)
	d.fwSubmit(script, "creating the VIP filter table", func() { d.fw.up, d.fw.applied = false, "" })
}

// fwRemove deletes the table; quiet makes a missing nft binary no error
// (nothing asked for the filter, so nothing can be left of it without nft).
func (d *Daemon) fwRemove(cfg nftfilter.Config, quiet bool) {
	script, err := nftfilter.Teardown(cfg)
	if err != nil {
		d.fwFailed(err)
		return
	}
	apply := d.host.Firewall
	d.kw.submit(func(ctx context.Context) func(time.Time) {
		err := apply.Apply(ctx, script)
		return func(time.Time) {
			if err != nil && !(quiet && errors.Is(err, nftfilter.ErrNoNft)) {
				d.fwFailed(fmt.Errorf("removing the VIP filter table: %w", err))
			}
		}
	})
}

// fwBlock puts inst's addresses in the drop sets, before they are added.
func (d *Daemon) fwBlock(inst *instance) {
	if !needsFilter(inst.cfg) || d.fw.blocked[inst] {
		return
	}
	inst.log.Debug(fmt.Sprintf("(%s) setting firewall drop rule", inst.cfg.Name))
	if d.fw.blocked == nil {
		d.fw.blocked = map[*instance]bool{}
	}
	d.fw.blocked[inst] = true
	d.fwSync()
}

// fwUnblock takes inst's addresses out of the drop sets, after they are
// removed.
func (d *Daemon) fwUnblock(inst *instance) {
	if !d.fw.blocked[inst] {
		return
	}
	delete(d.fw.blocked, inst)
	inst.log.Debug(fmt.Sprintf("(%s) removing firewall drop rule", inst.cfg.Name))
	d.fwSync()
}

// fwReload follows a reload: a new table name or priority rebuilds the
// table, and the sets follow the masters' new addresses.
func (d *Daemon) fwReload() {
	cfg := filterConfig(&d.cfg.Global)
	if cfg != d.fw.cfg && d.fw.up {
		d.fwRemove(d.fw.cfg, false)
		d.fw.up = false
	}
	d.fw.cfg = cfg
	for inst := range d.fw.blocked {
		if !slices.Contains(d.instances, inst) || !needsFilter(inst.cfg) {
			delete(d.fw.blocked, inst)
		}
	}
	d.fwSync()
}

// fwSync makes the sets hold the addresses of every blocked master.
func (d *Daemon) fwSync() {
	if !d.fw.up {
		if len(d.fw.blocked) > 0 || d.fwWanted() {
			d.fwSetup()
		}
		return
	}
	script, err := nftfilter.Sync(d.fw.cfg, d.fwElems())
	if err != nil {
		d.fwFailed(err)
		return
	}
	if script == d.fw.applied {
		return
	}
	d.fw.applied = script
	d.fwSubmit(script, "updating the VIP filter", func() { d.fw.applied = "" })
}

// fwStop removes the table, after every instance has stopped.
func (d *Daemon) fwStop() {
	if d.fw.up {
		d.fwRemove(d.fw.cfg, false)
		d.fw.up = false
	}
}

func (d *Daemon) fwElems() []nftfilter.Elem {
	var out []nftfilter.Elem
	for _, inst := range d.instances {
		if !d.fw.blocked[inst] {
			continue
		}
		for _, a := range inst.addrs {
			out = append(out, nftfilter.Elem{Addr: a.Prefix.Addr(), Ifname: a.Dev})
		}
	}
	return out
}

func (d *Daemon) fwSubmit(script, what string, failed func()) {
	apply := d.host.Firewall
	d.kw.submit(func(ctx context.Context) func(time.Time) {
		err := apply.Apply(ctx, script)
		return func(time.Time) {
			if err != nil {
				failed()
				d.fwFailed(fmt.Errorf("%s: %w", what, err))
			}
		}
	})
}

func (d *Daemon) fwFailed(err error) {
	d.fw.errors++
	d.log.Error("VIP filter (no_accept) change failed; traffic to the VIPs is not dropped", "err", err, "errors", d.fw.errors)
}
