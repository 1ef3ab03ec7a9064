package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// Status is the daemon's state as vigilctl shows it. Counters only grow.
type Status struct {
	RouterID       string           `json:"router_id"`
	Time           time.Time        `json:"time"`
	Instances      []InstanceStatus `json:"instances"`
	Sockets        []SocketStatus   `json:"sockets"`
	Addresses      vip.ManagerStats `json:"addresses"`
	Tracking       TrackingStatus   `json:"tracking"`
	Groups         []GroupStatus    `json:"groups,omitempty"`
	Notify         notify.Stats     `json:"notify"`
	Conntrack      *CTStatus        `json:"conntrack,omitempty"`
	Reloads        uint64           `json:"reloads"`
	ReloadFailures uint64           `json:"reload_failures"`
	ReloadError    string           `json:"reload_error,omitempty"` // why the last reload was refused or applied in part
	StaticErrors   uint64           `json:"static_errors"`
	// ControlRefused counts control-socket clients refused for their uid.
	ControlRefused uint64 `json:"control_refused"`
}

// InstanceStatus is one vrrp_instance.
type InstanceStatus struct {
	Name           string            `json:"name"`
	Interface      string            `json:"interface"`
	VRID           int               `json:"vrid"`
	Family         string            `json:"family"`
	Version        int               `json:"version"`
	State          string            `json:"state"`
	Priority       int               `json:"priority"`
	BasePriority   int               `json:"base_priority"`
	Master         string            `json:"master,omitempty"`
	MasterPriority int               `json:"master_priority,omitempty"`
	Since          time.Time         `json:"since"`
	Reason         string            `json:"reason"`
	Transitions    uint64            `json:"transitions"`
	AdvertsSent    uint64            `json:"adverts_sent"`
	SendErrors     uint64            `json:"send_errors"`
	Received       map[string]uint64 `json:"received"` // by verdict: "ok" = accepted
	VIPs           []string          `json:"vips"`
	VIPErrors      uint64            `json:"vip_errors"`
	Announcements  uint64            `json:"announcements"`
	AnnounceErrors uint64            `json:"announce_errors"`
	LastError      string            `json:"last_error,omitempty"`
	Group          string            `json:"group,omitempty"`
	Faulted        bool              `json:"faulted"`
	TrackReason    string            `json:"track_reason,omitempty"`

	// StartupRemoved counts the virtual addresses, routes and rules an
	// earlier run left on the host, removed when vigild started.
	StartupRemoved LeftoverCounts `json:"startup_removed"`
	// VIPsRemoved counts the VIPs (without no_track) found removed from
	// the host by someone else while the instance was MASTER; each time,
	// the instance released MASTER as keepalived does.
	VIPsRemoved uint64 `json:"vips_removed_while_master"`
	// VIPsRestored counts those of them that vigild put back when the
	// instance next became MASTER.
	VIPsRestored uint64 `json:"vips_restored"`
	// LowerPriorityAdverts counts adverts heard as master that lose to
	// ours; LowerPriorityThrottled those of them inside the window that
	// answers one with GARP/NA and MASTER_RX_LOWER_PRI; SplitBrainHeals
	// those that ended a split brain and ran notify_master again.
	LowerPriorityAdverts   uint64 `json:"lower_priority_adverts"`
	LowerPriorityThrottled uint64 `json:"lower_priority_throttled"`
	SplitBrainHeals        uint64 `json:"split_brain_heals"`
}

// LeftoverCounts counts virtual addresses, routes and rules removed at
// start-up.
type LeftoverCounts struct {
	Addresses uint64 `json:"addresses"`
	Routes    uint64 `json:"routes"`
	Rules     uint64 `json:"rules"`
}

// TrackingStatus is what instances track.
type TrackingStatus struct {
	Scripts    []ScriptStatus    `json:"scripts,omitempty"`
	Runner     check.RunnerStats `json:"runner"`
	Interfaces map[string]bool   `json:"interfaces"` // tracked interface → up
}

// ScriptStatus is one vrrp_script.
type ScriptStatus struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Runs    uint64 `json:"runs"`
	Skipped uint64 `json:"skipped"`
	Last    string `json:"last"`
}

// GroupStatus is one vrrp_sync_group.
type GroupStatus struct {
	Name    string   `json:"name"`
	State   string   `json:"state"`
	Members []string `json:"members"`
}

// SocketStatus is one VRRP socket.
type SocketStatus struct {
	Interface   string `json:"interface"`
	Family      string `json:"family"`
	Unicast     bool   `json:"unicast"`
	Source      string `json:"source"`
	UnknownVRID uint64 `json:"unknown_vrid"`
	ReadErrors  uint64 `json:"read_errors"`
	Short       uint64 `json:"short"`
	Reopens     uint64 `json:"reopens"`
}

// Status returns a snapshot of the daemon's state, built by the loop when
// asked (building it on every event cost more than the adverts
// themselves). While the loop is not running it returns the last
// snapshot. Safe for concurrent use.
func (d *Daemon) Status() Status {
	ch := make(chan Status, 1)
	select {
	case d.reqs <- func(time.Time) { ch <- d.snapshot() }:
		select {
		case s := <-ch:
			return s
		case <-d.stop:
		}
	case <-d.stop:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// publish stores a snapshot for Status to return once the loop has ended.
func (d *Daemon) publish() {
	s := d.snapshot()
	d.mu.Lock()
	d.status = s
	d.mu.Unlock()
}

// snapshot builds the status from the loop's state; loop only.
func (d *Daemon) snapshot() Status {
	s := Status{
		RouterID:       d.cfg.Global.RouterID,
		Time:           time.Now(),
		Reloads:        d.reloads,
		ReloadFailures: d.reloadFailures,
		ReloadError:    d.reloadError,
		StaticErrors:   d.staticErrors,
		ControlRefused: d.controlRefused.Load(),
	}
	for _, inst := range d.instances {
		ic := inst.cfg
		is := InstanceStatus{
			Name:           ic.Name,
			Interface:      ic.Interface,
			VRID:           ic.VRID,
			Family:         family(ic.IPv6),
			Version:        ic.Version,
			State:          inst.m.State().String(),
			Priority:       int(inst.m.Priority()),
			BasePriority:   ic.Priority,
			Since:          inst.since,
			Reason:         inst.lastReason.String(),
			Transitions:    inst.transitions,
			AdvertsSent:    inst.advertsSent,
			SendErrors:     inst.sendErrors,
			Received:       map[string]uint64{},
			VIPErrors:      inst.vipErrors,
			Announcements:  inst.announceSent,
			AnnounceErrors: inst.announceErrs,
			LastError:      inst.lastErr,
		}
		if inst.group != nil {
			is.Group = inst.group.cfg.Name
		}
		is.Faulted, is.TrackReason = inst.faulted, inst.trackReason
		is.StartupRemoved = LeftoverCounts{Addresses: inst.leftAddrs, Routes: inst.leftRoutes, Rules: inst.leftRules}
		is.VIPsRemoved, is.VIPsRestored = inst.vipsRemoved, inst.vipsRestored
		is.LowerPriorityAdverts, is.LowerPriorityThrottled = inst.lowerPrio, inst.lowerThrottled
		is.SplitBrainHeals = inst.splitBrainHeals
		if a, p := inst.m.Master(); a.IsValid() {
			is.Master, is.MasterPriority = a.String(), int(p)
		}
		for _, r := range vrrp.DropReasons() {
			if n := inst.rx[r]; n > 0 {
				is.Received[r.String()] = n
			}
		}
		for _, a := range inst.addrs {
			is.VIPs = append(is.VIPs, a.Prefix.String()+" dev "+a.Dev)
		}
		s.Instances = append(s.Instances, is)
	}
	if m, ok := d.host.VIPs.(interface{ Stats() vip.ManagerStats }); ok {
		s.Addresses = m.Stats()
	}
	if d.ct != nil {
		s.Conntrack = d.ct.status()
	}
	if d.notifier != nil {
		s.Notify = d.notifier.Stats()
	}
	s.Tracking = TrackingStatus{Runner: d.trk.runner.Stats(), Interfaces: maps.Clone(d.trk.ifUp)}
	for _, name := range slices.Sorted(maps.Keys(d.trk.scripts)) {
		sc := d.trk.scripts[name]
		last := ""
		if sc.tracker.Runs() > 0 {
			last = sc.tracker.Last().String()
		}
		s.Tracking.Scripts = append(s.Tracking.Scripts, ScriptStatus{
			Name: name, State: sc.tracker.State().String(), Runs: sc.tracker.Runs(), Skipped: sc.tracker.Skipped(), Last: last,
		})
	}
	for _, g := range d.groups {
		gs := GroupStatus{Name: g.cfg.Name, State: g.core.State().String()}
		for _, m := range g.members {
			gs.Members = append(gs.Members, m.cfg.Name)
		}
		s.Groups = append(s.Groups, gs)
	}
	for _, c := range d.conns {
		s.Sockets = append(s.Sockets, SocketStatus{
			Interface:   c.key.ifname,
			Family:      family(c.key.ipv6),
			Unicast:     c.key.unicast,
			Source:      c.c.LocalAddr().String(),
			UnknownVRID: c.unknownVRID,
			ReadErrors:  c.readErrors,
			Short:       c.rx[vrrp.DropLength],
			Reopens:     c.reopens,
		})
	}
	return s
}

func family(v6 bool) string {
	if v6 {
		return "inet6"
	}
	return "inet"
}

// ServeControl answers vigilctl on the unix socket at path until ctx ends.
// Each connection sends one command line ("status", "reload" or
// "reload --force") and gets one JSON document back. The socket is created
// 0600 (see listenControl) and a peer that is neither root nor vigild's own
// user is refused and counted in Status.ControlRefused.
func (d *Daemon) ServeControl(ctx context.Context, path string) error {
	l, err := listenControl(path)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		if uid, ok, err := controlAllowed(c); !ok {
			d.controlRefused.Add(1)
			go refuseControl(c, uid, err)
			continue
		}
		go d.serveOne(ctx, c)
	}
}

func (d *Daemon) serveOne(ctx context.Context, c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	enc := json.NewEncoder(c)
	enc.SetIndent("", "  ")
	switch strings.TrimSpace(line) {
	case "status":
		enc.Encode(d.Status())
	case "reload", "reload --force":
		reload := d.Reload
		if strings.TrimSpace(line) == "reload --force" {
			reload = d.ForceReload
		}
		if err := reload(ctx); err != nil {
			enc.Encode(map[string]string{"result": "failed", "error": err.Error()})
			return
		}
		enc.Encode(map[string]string{"result": "ok"})
	default:
		enc.Encode(map[string]string{"result": "failed", "error": "unknown command " + strings.TrimSpace(line)})
	}
}
