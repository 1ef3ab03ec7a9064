package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/logfast"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// instance is one running vrrp_instance. Only the loop touches it.
type instance struct {
	// What an accepted advert touches comes first, in a few adjacent
	// cache lines (handleRxMsg): a backup with many instances finds each
	// one's fields out of the CPU's caches when its next advert comes.
	m         *vrrp.Machine
	conn      *conn
	ah        *ahInstance      // auth_type AH: key and sequence counter; nil otherwise
	check     vrrp.CheckConfig // what received adverts must look like
	rxPkt     vrrp.Packet      // decode buffer, reused
	advSrc    netip.Addr       // where the last accepted advert came from (skip_check_adv_addr, advaddr.go)
	lastHeard time.Time        // the last advert accepted from another router; zero = none yet
	rx        [32]uint64       // by vrrp.DropReason

	cfg    *config.Instance
	log    *slog.Logger
	advert vrrp.Packet  // template of the adverts we send
	dsts   []netip.Addr // multicast group, or the unicast peers

	addrs    []vip.Address // virtual_ipaddress + virtual_ipaddress_excluded
	watched  []vip.Address // addrs without no_track: their removal while master is noticed
	lost     []vip.Address // watched addresses removed behind our back while master, not yet restored
	routes   []vip.Route   // virtual_routes
	rules    []vip.Rule    // virtual_rules
	announce []time.Time   // pending GARP/NA rounds, ascending
	annDevs  []annDev      // what each round announces, per device
	mac      net.HardwareAddr
	vmac     *vip.VMAC // use_vmac: the VMAC (vmac.go); nil without

	due      time.Time // while the loop handles inst's timer: its deadline (timeline.go)
	takeover *takeover // a takeover's timeline, until its first announcement round takes it

	refreshAt time.Time // next garp_master_refresh round; zero = none
	extraAt   time.Time // next garp_extra_if round (garpextra.go); zero = none

	group       *syncGroup // nil when in no vrrp_sync_group
	member      int        // inst's index in group
	scripts     notify.Scripts
	faulted     bool      // a tracker (or the sync group) holds it in FAULT
	trackReason string    // why, in words, for logs and status
	deleted     bool      // removed by a reload: notified as DELETED (or FAULT)
	lowerUntil  time.Time // a lower-priority advert was answered with GARP/notify until then

	srcGone bool // track_src_ip: the configured source address is missing (conditions.go)

	op vrrp.Operator // the operator's hold: demote, maintenance (control_cmds.go)

	// counters, read by status
	since        time.Time
	lastReason   vrrp.Reason
	transitions  uint64
	advertsSent  uint64
	sendErrors   uint64
	vipErrors    uint64
	announceSent uint64
	announceErrs uint64
	lastErr      string
	addrWarned   bool

	// VIPs a master does not hold alone (vipstate.go)
	leftAddrs    uint64               // virtual addresses an earlier run left, removed at start-up
	leftRoutes   uint64               // likewise virtual routes
	leftRules    uint64               // likewise virtual rules
	vipsRemoved  uint64               // watched VIPs found removed behind our back while master
	vipsRestored uint64               // of those, put back when the instance was next master
	vipLogged    map[string]time.Time // logVIP: when a line about each VIP was last logged
	rl           *rateLogs            // the daemon's, for lines that can repeat per packet or event
	// lower-priority adverts heard as master; those inside the GARP/notify
	// window; and the ones that ended a split brain (notify_master again)
	lowerPrio, lowerThrottled, splitBrainHeals uint64
	// transitions into MASTER, and out of it into BACKUP or FAULT
	becomeMaster, releaseMaster uint64
	// adverts of priority 0 sent (one per advert) and accepted
	priZeroSent, priZeroRx uint64
}

// newInstance builds an instance and attaches it to its socket (opening
// the socket if no other instance uses it yet).
func (d *Daemon) newInstance(ic *config.Instance, cfg *config.Config) (*instance, error) {
	inst := &instance{
		cfg: ic,
		log: d.log.With("instance", ic.Name, "vrid", ic.VRID, "iface", ic.Interface),
		rl:  d.rateLogs(),
	}
	d.initConditions(inst)
	ifi, err := d.host.Interface(ic.Interface)
	switch {
	case err == nil:
		inst.mac = ifi.HardwareAddr
	case !cfg.Global.DynamicInterfaces: // else it waits for it (dynamic.go)
		return nil, fmt.Errorf("%s: vrrp_instance %s: interface %s: %w", ic.Pos, ic.Name, ic.Interface, err)
	}
	if err == nil {
		if err := d.setupVMAC(inst); err != nil {
			return nil, fmt.Errorf("%s: vrrp_instance %s: %w", ic.Pos, ic.Name, err)
		}
	} else if vmacOf(d.cfg, ic) != nil {
		inst.log.Warn(fmt.Sprintf("(%s) use_vmac: interface %s is absent at start; the instance waits for it and runs without a VMAC until vigild is restarted", ic.Name, ic.Interface))
	}

	c, err := d.attachConn(inst)
	if err != nil {
		return nil, fmt.Errorf("%s: vrrp_instance %s: %w", ic.Pos, ic.Name, err)
	}
	inst.conn = c
	mcfg := machineConfig(ic, c.c.LocalAddr())
	if err := mcfg.Validate(); err != nil {
		d.detach(inst)
		return nil, fmt.Errorf("%s: vrrp_instance %s: %w", ic.Pos, ic.Name, err)
	}
	inst.m = vrrp.NewMachine(mcfg)
	inst.buildPackets(c.c.LocalAddr())
	inst.buildAddrs()
	inst.scripts = d.notifyScripts(ic.Notify)
	d.holdFromFile(inst)
	return inst, nil
}

// machineConfig maps a configured instance onto the state machine's view.
func machineConfig(ic *config.Instance, local netip.Addr) vrrp.Config {
	c := vrrp.Config{
		VRID:              uint8(ic.VRID),
		Priority:          uint8(ic.Priority),
		AdvertInterval:    ic.AdvertInterval,
		Version:           ic.Version,
		Preempt:           ic.Preempt,
		PreemptDelay:      ic.PreemptDelay,
		WantMaster:        ic.WantMaster,
		Accept:            ic.Accept,
		LocalAddr:         local,
		DownTimerAdverts:  ic.DownTimerAdverts,
		LowerPrioNoAdvert: ic.LowerPrioNoAdvert,
		SyncGroup:         ic.SyncGroup != "",
	}
	c.HigherPrioSendAdvert = ic.HigherPrioSendAdvert
	return c
}

// buildPackets prepares the advert template and the receive checks.
func (inst *instance) buildPackets(local netip.Addr) {
	ic := inst.cfg
	var addrs []netip.Addr
	for _, a := range ic.VIPs {
		addrs = append(addrs, a.Prefix.Addr())
	}
	p := vrrp.Packet{
		Version:  ic.Version,
		Type:     vrrp.TypeAdvertisement,
		VRID:     uint8(ic.VRID),
		Priority: uint8(ic.Priority),
		Addrs:    addrs,
	}
	chk := vrrp.CheckConfig{
		Version:     ic.Version,
		VRID:        uint8(ic.VRID),
		Addrs:       addrs,
		StrictAddrs: ic.Strict,
		Self:        local,
	}
	p.SetAdvertInterval(ic.AdvertInterval)
	if ic.Version == 2 {
		chk.AdvertIntSeconds = p.AdvertIntSeconds
		if ic.Auth != nil && ic.Auth.Type == "PASS" {
			p.AuthType = vrrp.AuthPassword
			copy(p.AuthData[:], ic.Auth.Pass)
			chk.AuthType = p.AuthType
			chk.AuthData = p.AuthData
		}
		if ahPass(ic) != "" {
			p.AuthType, chk.AuthType = vrrp.AuthAH, vrrp.AuthAH
		}
	}
	inst.setupAH()
	for _, peer := range ic.UnicastPeers {
		chk.Peers = append(chk.Peers, peer.Addr)
		chk.PeerTTLs = append(chk.PeerTTLs, vrrp.TTLRange{Min: peer.MinTTL, Max: peer.MaxTTL})
		inst.dsts = append(inst.dsts, peer.Addr)
	}
	if len(inst.dsts) == 0 {
		inst.dsts = []netip.Addr{mcastGroup(ic)}
	}
	inst.advert = p
	inst.check = chk
}

func mcastGroup(ic *config.Instance) netip.Addr {
	if ic.McastDstIP.IsValid() {
		return ic.McastDstIP
	}
	return vrrp.DefaultGroup(ic.IPv6)
}

// buildAddrs converts the configured addresses and routes into vip's types.
func (inst *instance) buildAddrs() {
	ic := inst.cfg
	inst.addrs = inst.addrs[:0]
	inst.annDevs = inst.annDevs[:0]
	for _, list := range [][]config.Address{ic.VIPs, ic.ExcludedVIPs} {
		for _, a := range list {
			dev := inst.vipDev(a)
			inst.addrs = append(inst.addrs, vipAddress(a, dev))
			inst.annDevs = addAnnounce(inst.annDevs, inst.vipIface(), dev, a.Prefix.Addr())
		}
	}
	inst.rules = inst.rules[:0]
	for _, r := range ic.Rules {
		inst.rules = append(inst.rules, vipRule(r))
	}
	inst.routes = inst.routes[:0]
	for _, r := range ic.Routes {
		inst.routes = append(inst.routes, vipRoute(r))
	}
	inst.buildWatched()
}

// annDev is what one announcement round sends on one device.
type annDev struct {
	dev   string
	addrs []netip.Addr
}

// addAnnounce adds addr, held on dev, to the per-device announcement list
// of an instance on iface. Like keepalived, every virtual address, excluded
// or not, is announced on its own device with that device's MAC: a NAT
// director's gateway address on the inside interface must reach the real
// servers after a failover, or they keep sending to the old director. The
// instance's own interface comes first.
func addAnnounce(devs []annDev, iface, dev string, addr netip.Addr) []annDev {
	i := slices.IndexFunc(devs, func(g annDev) bool { return g.dev == dev })
	if i < 0 {
		g := annDev{dev: dev}
		if dev == iface {
			devs = slices.Insert(devs, 0, g)
			i = 0
		} else {
			devs = append(devs, g)
			i = len(devs) - 1
		}
	}
	devs[i].addrs = append(devs[i].addrs, addr)
	return devs
}

// vipAddress, vipRoute and vipRule convert configured lines into vip's
// types. IPv6 addresses are always added without DAD: a VIP must work the
// moment it moves.
func vipAddress(a config.Address, dev string) vip.Address {
	return vip.Address{
		Prefix:        a.Prefix,
		Dev:           dev,
		Broadcast:     a.Broadcast,
		BroadcastAuto: a.BroadcastAuto,
		Scope:         a.Scope,
		Label:         a.Label,
		Peer:          a.Peer,
		NoDAD:         a.NoDAD || a.Prefix.Addr().Is6(),
		NoPrefixRoute: a.NoPrefixRoute,
		Home:          a.Home,
		MngTmpAddr:    a.MngTmpAddr,
		AutoJoin:      a.AutoJoin,
		PreferredLft:  a.PreferredLft,
	}
}

func vipRoute(r config.Route) vip.Route {
	v := vip.Route{
		Dst:      r.Dst,
		Src:      r.Src,
		Via:      r.Via,
		Dev:      r.Dev,
		Table:    r.Table,
		Metric:   r.Metric,
		Scope:    r.Scope,
		Type:     r.Type,
		OnLink:   r.OnLink,
		Protocol: r.Protocol,
		Tos:      r.Tos,
		Realm:    r.Realm,
		Metrics:  vip.RouteMetrics(r.Metrics),
	}
	for _, h := range r.NextHops {
		v.NextHops = append(v.NextHops, vip.NextHop(h))
	}
	return v
}

func vipRule(r config.Rule) vip.Rule {
	return vip.Rule{
		From: r.From, To: r.To, IPv6: r.IPv6, Table: r.Table, Priority: r.Preference,
		IIF: r.IIF, OIF: r.OIF, FwMark: r.FWMark, FwMask: r.FWMask,
		Not: r.Not, Goto: r.Goto, Type: r.Type, Tos: r.Tos, Realm: r.Realm, IPProto: r.IPProto,
		Sport:    vip.PortRange{Start: r.Sport[0], End: r.Sport[1]},
		Dport:    vip.PortRange{Start: r.Dport[0], End: r.Dport[1]},
		UIDRange: vip.UIDRange{Start: r.UIDRange[0], End: r.UIDRange[1]}, HasUIDRange: r.HasUIDRange,
		SuppressPrefixLen: r.SuppressPrefixLen, HasSuppressPrefixLen: r.HasSuppressPrefixLen,
		SuppressIfGroup: r.SuppressIfGroup, HasSuppressIfGroup: r.HasSuppressIfGroup,
		Protocol: r.Protocol,
	}
}

// sameMachine reports whether ic can keep inst's running state machine and
// socket: everything the machine, the socket or the receive checks depend
// on is unchanged, except the advertised addresses, a priority below 255
// and the unicast peers, which updateInstance changes in place.
func (inst *instance) sameMachine(ic *config.Instance, vmac string) bool {
	if connKeyOf(ic, vmac) != inst.conn.key || vmac != inst.vmacName() {
		return false
	}
	local := inst.m.Config().LocalAddr
	a, b := machineConfig(ic, local), inst.m.Config()
	if a.Priority != b.Priority && a.Priority != vrrp.PriorityOwner && b.Priority != vrrp.PriorityOwner {
		a.Priority = b.Priority
	}
	if a != b {
		return false
	}
	probe := &instance{cfg: ic}
	probe.buildPackets(local)
	chkA, chkB := probe.check, inst.check
	chkA.Addrs, chkB.Addrs = nil, nil
	advA, advB := probe.advert, inst.advert
	advA.Addrs, advB.Addrs, advA.Priority, advB.Priority = nil, nil, 0, 0
	if inst.conn.key.unicast {
		// The peers are neither the machine's nor the socket's: a unicast
		// socket receives from anyone, vrrp.Accept filters by peer, and
		// each advert is written to every peer in turn. keepalived applies
		// a changed unicast_peer block without a transition.
		chkA.Peers, chkA.PeerTTLs, chkB.Peers, chkB.PeerTTLs = nil, nil, nil, nil
		return reflect.DeepEqual(chkA, chkB) && reflect.DeepEqual(advA, advB) && ahPass(ic) == ahPass(inst.cfg)
	}
	return reflect.DeepEqual(chkA, chkB) && reflect.DeepEqual(advA, advB) && slices.Equal(probe.dsts, inst.dsts) &&
		ahPass(ic) == ahPass(inst.cfg)
}

// updateInstance switches a running instance to a configuration that
// differs only in addresses, routes, priority, announcements or scripts.
// A master adds the new addresses and removes the ones that are gone.
func (d *Daemon) updateInstance(inst *instance, ic *config.Instance, now time.Time) {
	oldAddrs := slices.Clone(inst.addrs)
	oldRoutes := slices.Clone(inst.routes)
	oldRules := slices.Clone(inst.rules)
	inst.cfg = ic
	oldDsts := slices.Clone(inst.dsts)
	inst.dsts = inst.dsts[:0]
	inst.buildPackets(inst.m.Config().LocalAddr)
	if !slices.Equal(oldDsts, inst.dsts) {
		inst.log.Info(fmt.Sprintf("(%s) unicast peers changed, applied without restart", ic.Name), "peers", inst.dsts)
	}
	inst.buildAddrs()
	inst.scripts = d.notifyScripts(ic.Notify)
	// A new base priority reaches the machine through apply's evaluate.
	if inst.m.State() != vrrp.StateMaster ||
		reflect.DeepEqual(oldAddrs, inst.addrs) && reflect.DeepEqual(oldRoutes, inst.routes) &&
			reflect.DeepEqual(oldRules, inst.rules) {
		return
	}
	var goneAddrs []vip.Address
	for _, a := range oldAddrs {
		if !slices.ContainsFunc(inst.addrs, func(b vip.Address) bool { return reflect.DeepEqual(a, b) }) {
			goneAddrs = append(goneAddrs, a)
		}
	}
	var goneRoutes []vip.Route
	for _, r := range oldRoutes {
		if !slices.ContainsFunc(inst.routes, func(b vip.Route) bool { return reflect.DeepEqual(r, b) }) {
			goneRoutes = append(goneRoutes, r)
		}
	}
	var goneRules []vip.Rule
	for _, r := range oldRules {
		if !slices.Contains(inst.rules, r) {
			goneRules = append(goneRules, r)
		}
	}
	vips := d.host.VIPs
	d.kw.submit(func(ctx context.Context) func(time.Time) {
		errs := []error{
			vips.RemoveRules(ctx, goneRules),
			vips.RemoveRoutes(ctx, goneRoutes),
			vips.RemoveAddresses(ctx, goneAddrs),
		}
		return func(time.Time) { inst.vipFailed(errs...) }
	})
	d.fw.sync() // new addresses are blocked before they go up (firewall.go)
	d.addVIPs(inst, nil)
	d.scheduleAnnounce(inst, now)
	// Tell the backups about the new address list at once.
	inst.sendAdvert(inst.m.Priority())
}

// deadline is the instance's earliest timer: the machine's, or the next
// announcement round.
func (inst *instance) deadline() (time.Time, bool) {
	next, ok := inst.m.Deadline()
	if len(inst.announce) > 0 && (!ok || inst.announce[0].Before(next)) {
		next, ok = inst.announce[0], true
	}
	if !inst.refreshAt.IsZero() && (!ok || inst.refreshAt.Before(next)) {
		next, ok = inst.refreshAt, true
	}
	if t, due := inst.extraIfDeadline(); due && (!ok || t.Before(next)) {
		next, ok = t, true
	}
	return next, ok
}

// handleRx handles a reader's batch, advert by advert in the order read.
func (d *Daemon) handleRx(b *rxBatch) {
	if b.n < 0 {
		b.conn.readErrors++
	}
	for i := range b.n {
		d.handleRxMsg(b.conn, b.msgs[i].Buf[:b.msgs[i].N], b.msgs[i].Meta, b.at[i])
	}
}

// handleRxMsg demultiplexes one advert received on c at now to its
// instance, checks it and feeds it to the machine.
func (d *Daemon) handleRxMsg(c *conn, raw []byte, meta vrrp.RecvMeta, now time.Time) {
	// Only an advert that proves itself quiet keeps the turn quiet; every
	// other way out of here leaves it not.
	quiet := d.quiet
	d.quiet = false
	vrid, ok := vrrp.PeekVRID(raw)
	if c.key.ah {
		vrid, ok = peekAHVRID(raw)
	}
	if !ok {
		c.rx[vrrp.DropLength]++
		return
	}
	inst := c.byVRID.get(vrid)
	if inst == nil {
		// Every raw socket on an interface sees every advert: one that
		// belongs to an instance on a sibling socket is not ours to count.
		if !d.servedElsewhere(c, vrid) {
			c.unknownVRID++
		}
		return
	}
	var ahSeq uint32
	if inst.ah != nil {
		if raw, ahSeq, ok = d.openAH(inst, raw, meta, now); !ok {
			return
		}
	}
	r := inst.skipAddrCheck(vrrp.Accept(&inst.rxPkt, raw, meta, inst.check), meta.Src)
	inst.rx[r]++
	if r.Drops() {
		// Counted above; the line is rate-limited, as an attacker on the
		// segment sets the rate.
		if inst.rl.allow(slog.LevelDebug, "dropped adverts", inst.cfg.Name, r.String(), now) {
			inst.log.Debug(fmt.Sprintf("(%s) dropped advert from %s: %s (further ones are summarised)", inst.cfg.Name, meta.Src, r),
				"from", meta.Src, "reason", r.String())
		}
		return
	}
	inst.advertAccepted(meta.Src)
	if inst.rxPkt.Priority == 0 {
		inst.priZeroRx++
	}
	if r == vrrp.WarnAddrList && !inst.addrWarned {
		inst.addrWarned = true
		inst.log.Warn(fmt.Sprintf("(%s) received an advert from %s whose address list differs from ours (logged once)", inst.cfg.Name, meta.Src))
	}
	ev := vrrp.AdvertReceived{Priority: inst.rxPkt.Priority, MaxAdvertInterval: inst.rxPkt.AdvertInterval(), Src: meta.Src}
	was, execs := inst.m.State(), d.execs
	inst.heardAH(ev, ahSeq)
	d.handleAdvert(inst, ev, now)
	d.advertHeard(inst, ev, was == vrrp.StateMaster, now)
	d.quiet = quiet && d.quietAdvert(inst, was, execs)
}

// quietAdvert reports whether the advert inst just handled did no more
// than restart a backup's Master_Down timer to or past the deadline the
// loop's timer is armed for: inst was a backup and still is, and no action
// was carried out (execs, the count before it: no transition, no send, no
// sync group's event, no announcement, no job for the worker). Such an
// advert, the steady state of every backup, cannot need the timer sooner.
// A priority-0 advert, or a shorter advert interval learnt from the
// master, moves the deadline earlier and is not quiet.
func (d *Daemon) quietAdvert(inst *instance, was vrrp.State, execs uint64) bool {
	if was != vrrp.StateBackup || inst.m.State() != vrrp.StateBackup || d.execs != execs {
		return false
	}
	t, ok := inst.m.Deadline()
	return ok && !t.Before(d.armed)
}

// advertHeard follows up an accepted advert once the machine has handled
// it: a master that stays master over a lower-priority advert answers as
// keepalived does (lowerPriorityAdvert), and every advert from another
// router is remembered for the split-brain rule.
func (d *Daemon) advertHeard(inst *instance, ev vrrp.AdvertReceived, wasMaster bool, now time.Time) {
	if wasMaster && inst.m.State() == vrrp.StateMaster && ev.Priority > 0 && inst.lowerThanUs(ev) {
		d.lowerPriorityAdvert(inst, ev.Src, ev.Priority, now)
	}
	inst.lastHeard = now
}

// lowerThanUs reports whether an advert loses to us as RFC 5798 §6.4.3
// and keepalived order them: a lower priority, or our priority from a
// lower primary address.
func (inst *instance) lowerThanUs(ev vrrp.AdvertReceived) bool {
	mine := inst.m.Priority()
	if ev.Priority != mine {
		return ev.Priority < mine
	}
	src := ev.Src.Unmap().WithZone("")
	local := inst.m.Config().LocalAddr.Unmap().WithZone("")
	return src.Compare(local) < 0
}

// lowerPriorityAdvert: as master we heard an advert that loses to ours
// (another router that is, or was a moment ago, master too). Besides the
// advert the machine sent to make it back down (unless
// lower_prio_no_advert), do what keepalived does: re-announce our addresses
// (garp_lower_prio_repeat rounds, none when it is 0) and notify
// MASTER_RX_LOWER_PRI (notify_master_rx_lower_pri and the FIFOs); both at
// most once per max(garp_lower_prio_delay, advert_int), so that a flood of
// adverts cannot fork a script per packet (the rest are counted).
//
// Only when the advert ends a real split brain (splitBrainHealed: we have
// been master, hearing nothing from any other router, for a whole
// Master_Down_Interval) is notify_master run again, because the other
// router's notify_master ran after ours; the re-announcement then goes out
// whatever the window says. The advert that crosses our own takeover (the
// old master's last one, still in flight) is not one: its sender was
// master before us, and our notify_master already ran after its.
func (d *Daemon) lowerPriorityAdvert(inst *instance, src netip.Addr, prio uint8, now time.Time) {
	inst.lowerPrio++
	healed := splitBrainHealed(inst.since, inst.lastHeard, now, inst.m.MasterDownInterval())
	if healed {
		inst.splitBrainHeals++
		inst.log.Info(fmt.Sprintf("(%s) Received advert from %s with lower priority %d, ours %d, after %v of silence: split brain healed, notifying MASTER again",
			inst.cfg.Name, src, prio, inst.m.Priority(), silence(inst.lastHeard, inst.since, now)))
	}
	if !healed && now.Before(inst.lowerUntil) {
		inst.lowerThrottled++
	} else {
		ic := inst.cfg
		inst.lowerUntil = now.Add(max(ic.GARPLowerPrioDelay, ic.AdvertInterval))
		if !healed && inst.rl.allow(slog.LevelInfo, "lower-priority adverts answered", ic.Name, "", now) {
			election := ""
			if !ic.LowerPrioNoAdvert {
				election = ", forcing new election"
			}
			inst.log.Info(fmt.Sprintf("(%s) Received advert from %s with lower priority %d, ours %d%s", ic.Name, src, prio, inst.m.Priority(), election))
		}
		if ic.GARPLowerPrioRepeat > 0 {
			inst.announce = append(inst.announce, vip.Schedule(now, vip.GARPConfig{
				Repeat:   ic.GARPLowerPrioRepeat,
				Interval: inst.garpInterval(&d.cfg.Global),
			})...)
			slices.SortFunc(inst.announce, func(a, b time.Time) int { return a.Compare(b) })
		}
		d.notifyInstance(inst, notify.StateMasterRxLowerPri, "lower_priority_advert", now)
	}
	if healed {
		d.notifyInstance(inst, notify.StateMaster, "split_brain_healed", now)
	}
}

// servedElsewhere reports whether another socket on c's interface and family
// serves vrid.
func (d *Daemon) servedElsewhere(c *conn, vrid uint8) bool {
	for _, o := range d.conns {
		if o != c && o.key.ifname == c.key.ifname && o.key.ipv6 == c.key.ipv6 && o.byVRID.get(vrid) != nil {
			return true
		}
	}
	return false
}

// exec carries out the machine's actions in order. What they mean to a
// sync group (a Transition, a RequestMaster) joins the loop's work queue,
// so exec never gives the machine another event while it runs.
func (d *Daemon) exec(inst *instance, acts []vrrp.Action, now time.Time) {
	d.execs += uint64(len(acts))
	defer func() { d.takeoverJobs = nil }()
	if d.timerTakeover(inst) && slices.ContainsFunc(acts, func(a vrrp.Action) bool { _, ok := a.(vrrp.AddVIPs); return ok }) {
		// Every job of a takeover's turn (the firewall's block, the
		// addresses, the GARP / NA rounds) is the loop's to run if the
		// worker leaves it waiting (kernelWork.runStarved).
		d.kw.setTakeoverTurn(true)
		defer d.kw.setTakeoverTurn(false)
	}
	early := d.addressesFirst(acts)
	if early {
		d.execAddVIPs(inst, now)
	}
	for _, a := range acts {
		switch a := a.(type) {
		case vrrp.SendAdvert:
			inst.sendAdvert(a.Priority)
		case vrrp.AddVIPs:
			if !early {
				d.execAddVIPs(inst, now)
			}
		case vrrp.RemoveVIPs:
			d.removeVIPs(inst)
			d.fw.unblock(inst)
		case vrrp.Announce:
			d.scheduleAnnounce(inst, now)
			d.runAnnouncements(inst, now) // the first round now, not one loop turn later
		case vrrp.Transition:
			d.transition(inst, a, now)
		case vrrp.RequestMaster:
			if g := inst.group; g != nil {
				d.queue = append(d.queue, step{group: g, gev: vrrp.MemberRequestsMaster{Member: inst.member, Reason: a.Reason}})
			}
		}
	}
}

// addressesFirst reports whether exec hands a takeover's AddVIPs (the
// machine emits one, right after its advert) to the worker before that
// advert. When the worker is idle, its netlink call then runs on another
// CPU while the loop sends the advert, instead of after it; the GARP / NA
// still follows the advert, as RFC 5798 §6.4.1 and §6.4.2 order them
// (Announce comes after both). Not with conntrack sync: the commit that
// must precede the VIPs would hold the advert back.
func (d *Daemon) addressesFirst(acts []vrrp.Action) bool {
	if d.ct != nil || len(acts) < 2 || !d.kw.idle() {
		return false
	}
	_, advert := acts[0].(vrrp.SendAdvert)
	_, addrs := acts[1].(vrrp.AddVIPs)
	return advert && addrs
}

// execAddVIPs carries out an AddVIPs: the conntrack commit, the firewall's
// block, then the addresses.
func (d *Daemon) execAddVIPs(inst *instance, now time.Time) {
	if d.ct != nil {
		d.ct.beforeVIPs(inst, now)
	}
	d.fw.block(inst)
	d.addVIPs(inst, d.startTakeover(inst))
}

func (inst *instance) sendAdvert(prio uint8) {
	inst.advert.Priority = prio
	if prio == 0 {
		inst.priZeroSent++
	}
	if inst.ah != nil {
		inst.sendAH()
		return
	}
	for _, dst := range inst.dsts {
		inst.sent(dst, inst.conn.c.WriteTo(&inst.advert, dst))
	}
}

// sent counts one advert sent to dst, or logs (rate-limited) why not.
func (inst *instance) sent(dst netip.Addr, err error) {
	if err != nil {
		inst.sendErrors++
		if inst.rl.allow(slog.LevelWarn, "advert send failures", inst.cfg.Name, "", time.Now()) {
			inst.log.Warn(fmt.Sprintf("(%s) failed to send advert to %s", inst.cfg.Name, dst), "err", err, "errors", inst.sendErrors)
		}
		return
	}
	inst.advertsSent++
}

// addVIPs hands the worker the addition of inst's addresses, routes and
// rules; the VIPs lost while master that it puts back are counted when it
// is done. tk, when not nil, is the takeover's timeline, which the job
// stamps around the address addition. A takeover's, handed to an idle
// worker, is the first of the jobs its first GARP / NA round waits for
// (takeoverJobs).
func (d *Daemon) addVIPs(inst *instance, tk *takeover) {
	vips := d.host.VIPs
	addrs, routes, rules := slices.Clone(inst.addrs), slices.Clone(inst.routes), slices.Clone(inst.rules)
	lost := slices.Clone(inst.lost)
	job := func(ctx context.Context) func(time.Time) {
		if tk != nil {
			tk.addStart = time.Now()
			tk.workerCPU = currentCPU()
		}
		errs := []error{vips.AddAddresses(ctx, addrs)}
		if tk != nil {
			tk.addDone = time.Now()
			tk.addErr = errs[0] != nil
		}
		var back []vip.Address
		if len(lost) > 0 {
			var err error
			back, err = vips.Present(ctx, lost)
			errs = append(errs, err)
		}
		if len(routes) > 0 {
			errs = append(errs, vips.AddRoutes(ctx, routes))
		}
		if len(rules) > 0 {
			errs = append(errs, vips.AddRules(ctx, rules))
		}
		return func(now time.Time) {
			inst.vipFailed(errs...)
			d.restored(inst, back, now)
		}
	}
	// The loop waits for a takeover's first jobs, unless another backup
	// falls due within the wait: the IPv4 and IPv6 instances of one
	// router fall due tens of µs apart, and the second one's takeover
	// waited for the first one's GARP round to be out before the loop
	// ran it. Its jobs queue behind the first one's anyway; its advert
	// need not.
	if tk != nil && d.kw.idle() {
		if next := d.earliestTakeover(); next.IsZero() || !next.Before(time.Now().Add(takeoverWait)) {
			d.takeoverJobs = inst
		}
	}
	d.kw.submitAs(vipsJobKey{inst}, []any{vipsJobKey{inst}}, job)
}

// takeoverWait is how long the loop waits for a takeover's first kernel
// jobs (its address addition, its first GARP / NA round) when they are the
// worker's only ones (Daemon.takeoverJobs, kernelWork.submitWait) and no
// other backup falls due within it (addVIPs): well above the tens of
// microseconds they take, well below the shortest advert interval.
const takeoverWait = time.Millisecond

// removeVIPs hands the worker the removal of inst's addresses, routes and
// rules, and stops its announcements.
func (d *Daemon) removeVIPs(inst *instance) {
	vips := d.host.VIPs
	addrs, routes, rules := slices.Clone(inst.addrs), slices.Clone(inst.routes), slices.Clone(inst.rules)
	d.kw.submitAs(vipsJobKey{inst}, []any{vipsJobKey{inst}, announceJobKey{inst}}, func(ctx context.Context) func(time.Time) {
		var errs []error
		if len(rules) > 0 {
			errs = append(errs, vips.RemoveRules(ctx, rules))
		}
		if len(routes) > 0 {
			errs = append(errs, vips.RemoveRoutes(ctx, routes))
		}
		errs = append(errs, vips.RemoveAddresses(ctx, addrs))
		return func(time.Time) { inst.vipFailed(errs...) }
	})
	inst.announce = nil
	inst.refreshAt = time.Time{}
	inst.takeover = nil
}

// vipFailed records the errors among errs (nil ones are skipped).
func (inst *instance) vipFailed(errs ...error) {
	for _, err := range errs {
		if err != nil {
			inst.vipError(err)
		}
	}
}

func (inst *instance) vipError(err error) {
	inst.vipErrors++
	inst.lastErr = err.Error()
	// Each distinct error is logged once per interval; the last one is in
	// the status.
	if inst.rl.allow(slog.LevelError, "address or route change failures", inst.cfg.Name, err.Error(), time.Now()) {
		inst.log.Error(fmt.Sprintf("(%s) address or route change failed", inst.cfg.Name), "err", err)
	}
}

// scheduleAnnounce plans the GARP/NA bursts after becoming master
// (garp_master_repeat rounds now, again after garp_master_delay) and the
// first refresh.
func (d *Daemon) scheduleAnnounce(inst *instance, now time.Time) {
	ic := inst.cfg
	inst.announce = vip.Schedule(now, vip.GARPConfig{
		Repeat:   ic.GARPMasterRepeat,
		Interval: inst.garpInterval(&d.cfg.Global),
		Delay:    ic.GARPMasterDelay,
	})
	inst.refreshAt = time.Time{}
	if ic.GARPMasterRefresh > 0 {
		inst.refreshAt = now.Add(ic.GARPMasterRefresh)
	}
	inst.scheduleExtraIf(now)
}

// garpInterval is the global spacing of inst's announcement rounds:
// vrrp_garp_interval, or vrrp_gna_interval for IPv6.
func (inst *instance) garpInterval(g *config.Global) time.Duration {
	if inst.cfg.IPv6 {
		return g.GNAInterval
	}
	return g.GARPInterval
}

// runAnnouncements sends the announcement rounds that are due.
func (d *Daemon) runAnnouncements(inst *instance, now time.Time) {
	d.runExtraIf(inst, now)
	for len(inst.announce) > 0 && !now.Before(inst.announce[0]) {
		inst.announce = inst.announce[1:]
		d.announceOnce(inst)
	}
	if !inst.refreshAt.IsZero() && !now.Before(inst.refreshAt) {
		ic := inst.cfg
		inst.announce = append(inst.announce, vip.Schedule(now, vip.GARPConfig{
			Repeat:   max(ic.GARPMasterRefreshRepeat, 1),
			Interval: inst.garpInterval(&d.cfg.Global),
		})...)
		inst.refreshAt = now.Add(ic.GARPMasterRefresh)
		d.runAnnouncements(inst, now)
	}
}

// announceOnce hands the worker one round of gratuitous ARP / unsolicited
// NA, behind the address changes handed over before it: on the instance's
// interface with its MAC, and on every other device holding a virtual
// address with that device's own MAC, which the Announcer looks up in the
// worker (mac nil). The round counts once, as failed if any device failed.
func (d *Daemon) announceOnce(inst *instance) {
	if len(inst.annDevs) == 0 {
		return
	}
	tk := inst.takeover
	inst.takeover = nil
	d.announceDevs(inst, slices.Clone(inst.annDevs), inst.mac, tk) // buildAddrs reuses the backing array
}

// announceDevs hands the worker one round of gratuitous ARP / unsolicited
// NA on each of devs: on the interface of inst's VIPs saying mac owns the
// addresses (nil: its own MAC), elsewhere with each device's own MAC. tk,
// when not nil, is the takeover this round completes: stamped when the
// round is out, logged by the loop.
func (d *Daemon) announceDevs(inst *instance, devs []annDev, mac net.HardwareAddr, tk *takeover) {
	ann, ifname := d.host.Announcer, inst.vipIface()
	job := func(context.Context) func(time.Time) {
		if tk != nil {
			tk.annStart = time.Now()
		}
		var errs []error
		for _, g := range devs {
			var m net.HardwareAddr
			if g.dev == ifname {
				m = mac
			}
			// The R flag is read only for NAs: its read (a system call)
			// would delay the GARP of an IPv4-only round.
			router := slices.ContainsFunc(g.addrs, netip.Addr.Is6) && ann.IPv6Forwarding(g.dev)
			errs = append(errs, ann.Announce(g.dev, g.addrs, m, router))
		}
		err := errors.Join(errs...)
		if tk != nil {
			tk.announced = time.Now()
			tk.announceErred = err != nil
		}
		return func(now time.Time) {
			if tk != nil {
				inst.logTakeover(inst.log, tk)
			}
			if err != nil {
				inst.announceErrs++
				if inst.rl.allow(slog.LevelWarn, "gratuitous ARP / NA failures", inst.cfg.Name, "", now) {
					inst.log.Warn(fmt.Sprintf("(%s) gratuitous ARP / NA failed", inst.cfg.Name), "err", err)
				}
				return
			}
			inst.announceSent++
		}
	}
	if tk != nil {
		tk.annQueued = time.Now()
	}
	if tk != nil && d.takeoverJobs == inst {
		d.takeoverJobs = nil
		d.kw.submitWait(announceJobKey{inst}, nil, job, takeoverWait)
		return
	}
	d.kw.submitAs(announceJobKey{inst}, nil, job)
	if tk != nil {
		// The loop does not wait for the takeover's jobs (another
		// takeover is due within the wait), but runs them now if the
		// worker left them waiting, rather than after its turn.
		for d.kw.runStarved() {
		}
	}
}

// transition logs the state change the way keepalived does, so that the
// lines operators grep for stay the same.
func (d *Daemon) transition(inst *instance, t vrrp.Transition, now time.Time) {
	inst.transitions++
	d.settle.changed(now)
	switch {
	case t.To == vrrp.StateMaster:
		inst.becomeMaster++
	case t.From == vrrp.StateMaster && (t.To == vrrp.StateBackup || t.To == vrrp.StateFault):
		inst.releaseMaster++ // keepalived counts no release when it stops
	}
	inst.since = now
	inst.lastReason = t.Reason
	logfast.Info(inst.log, fmt.Sprintf("(%s) Entering %s STATE", inst.cfg.Name, t.To),
		"from", t.From.String(), "reason", t.Reason.String(), "priority", inst.m.Priority())
	if t.To != vrrp.StateMaster {
		inst.announce = nil
		inst.refreshAt = time.Time{}
	}
	if t.To == vrrp.StateBackup {
		d.prepareAnnounce(inst)
	}
	if d.ct != nil {
		d.ct.transition(inst, t, now)
	}
	d.lvs.transition(inst, t)
	why := t.Reason.String()
	if inst.trackReason != "" && (t.To == vrrp.StateFault || t.Reason == vrrp.ReasonFaultCleared) {
		why += ": " + inst.trackReason
	}
	state := notifyState(t.To)
	if t.To == vrrp.StateInit {
		state = notify.StateStop
		if inst.deleted {
			state = notify.StateFault
			if inst.scripts.Deleted != nil {
				state = notify.StateDeleted
			}
		}
	}
	d.notifyInstance(inst, state, why, now)
	d.opTransition(inst, t, now)
	if g := inst.group; g != nil {
		d.queue = append(d.queue, step{group: g, gev: vrrp.MemberTransitioned{Member: inst.member, Transition: t}})
	}
}
