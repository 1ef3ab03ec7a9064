package ctl

import (
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/notify/mail"
	"github.com/vigil-ha/vigil/vip"
)

// Status is vigild's state as vigilctl, the metrics endpoint and the
// SIGUSR1 dump show it: the answer to the status command. Its JSON keys
// are snake_case and stable: operators' scripts read them. Counters
// (uint64 fields) only grow, and every one of them is also a metric.
type Status struct {
	RouterID       string           `json:"router_id"`
	Time           time.Time        `json:"time"`
	Instances      []InstanceStatus `json:"instances"`
	Sockets        []SocketStatus   `json:"sockets"`
	Addresses      vip.ManagerStats `json:"addresses"`
	Tracking       TrackingStatus   `json:"tracking"`
	Groups         []GroupStatus    `json:"groups,omitempty"`
	Notify         notify.Stats     `json:"notify"`
	Mail           mail.Stats       `json:"mail"`
	Conntrack      *CTStatus        `json:"conntrack,omitempty"`
	Arbiter        *ArbiterStatus   `json:"arbiter,omitempty"`
	LVS            *LVSStatus       `json:"lvs,omitempty"`
	Reloads        uint64           `json:"reloads"`
	ReloadFailures uint64           `json:"reload_failures"`
	ReloadError    string           `json:"reload_error,omitempty"` // why the last reload was refused or applied in part
	StaticErrors   uint64           `json:"static_errors"`
	// ControlRefused counts control-socket clients refused for their uid.
	ControlRefused uint64 `json:"control_refused"`
	// WorkerStandbys counts the kernel worker's standbys: the times it
	// was kept from parking shortly before a backup's Master_Down
	// deadline, so that a takeover's addresses start at once.
	WorkerStandbys uint64 `json:"worker_standbys"`
	// WorkerJobsOnLoop counts a takeover's kernel jobs (its firewall
	// block, address addition, GARP / NA rounds) that the loop ran
	// itself, as the kernel worker had left them waiting: a sign of a
	// machine whose CPUs were all busy at a takeover.
	WorkerJobsOnLoop uint64 `json:"worker_jobs_on_loop"`
	// EventSubscribers is the number of events clients connected now;
	// EventsDropped counts those dropped for falling behind.
	EventSubscribers int    `json:"event_subscribers"`
	EventsDropped    uint64 `json:"events_dropped"`
	// MaintenanceError is why the maintenance file could not be read or
	// written, last time it was ("" when it could).
	MaintenanceError string `json:"maintenance_error,omitempty"`
	// MailAlerts counts the e-mail alerts queued, by what they report.
	MailAlerts MailAlerts `json:"mail_alerts"`
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
	// Demoted: vigilctl demote holds the instance at the lowest priority
	// until it next becomes master or is promoted. Maintenance: vigilctl
	// maintenance on holds it there until maintenance off, across
	// restarts. Priority shows the held priority, BasePriority the
	// configured one.
	Demoted     bool `json:"demoted"`
	Maintenance bool `json:"maintenance"`

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

	// BecomeMaster counts the transitions into MASTER; ReleaseMaster those
	// out of MASTER into BACKUP or FAULT (not the stop at shutdown or
	// removal by a reload), as keepalived's become_master and
	// release_master count them. Since is the time of the latest
	// transition.
	BecomeMaster  uint64 `json:"become_master"`
	ReleaseMaster uint64 `json:"release_master"`
	// PriorityZeroSent counts the adverts of priority 0 sent (one per
	// advert, however many unicast peers it goes to), as keepalived's
	// pri_zero_sent; PriorityZeroReceived the accepted adverts of
	// priority 0 (a master giving up), keepalived's pri_zero_rcvd.
	PriorityZeroSent     uint64 `json:"priority_zero_sent"`
	PriorityZeroReceived uint64 `json:"priority_zero_received"`

	// ExcludedVIPs are those of VIPs that come from
	// virtual_ipaddress_excluded (not advertised), in the same form.
	ExcludedVIPs []string `json:"excluded_vips,omitempty"`
	// Trackers are what moves the instance's priority or holds it in
	// FAULT: its interface (unless dont_track_primary), its track_*
	// entries and its sync group's, each kind and name once (the first
	// listed wins).
	Trackers []TrackerStatus `json:"trackers,omitempty"`
}

// TrackerStatus is one tracked object as an instance sees it.
type TrackerStatus struct {
	// Kind is script, interface, file or process.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// State is up, down or init (a vrrp_script with no decisive result
	// yet). A track file is up while its value does not put the instance
	// in FAULT.
	State string `json:"state"`
	// Weight is the instance's weight for it (its own, or the tracked
	// object's default); Reverse inverts its sense, as keepalived's
	// reverse. 0 means a down tracker puts the instance in FAULT.
	Weight  int  `json:"weight"`
	Reverse bool `json:"reverse,omitempty"`
	// Value is a track file's last value (kind file only).
	Value int64 `json:"value,omitempty"`
	// Group is set for a tracker of the instance's sync group.
	Group bool `json:"group,omitempty"`
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
	// Running is true while a run of the script is under way.
	Running bool `json:"running"`
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

// CTStatus is the conntrack replication part of Status.
type CTStatus struct {
	TrackGroup string `json:"track_group"`
	// Master is true while the tracked group holds MASTER on this node
	// (its takeover's commit has run).
	Master bool `json:"master"`
	// Takeovers counts BACKUP→MASTER (or INIT→MASTER) changes of the
	// tracked group, each with one commit; LateCommits those whose commit
	// did not finish within the in-loop bound and completed after the VIPs.
	Takeovers   uint64 `json:"takeovers"`
	LateCommits uint64 `json:"late_commits"`
	// ResyncRequests counts the resyncs asked of the peer on leaving MASTER
	// and on coming back from FAULT.
	ResyncRequests uint64 `json:"resync_requests"`
	// LastTakeover is the latest takeover's commit, as the loop saw it.
	LastTakeover CTTakeover `json:"last_takeover"`
	// RunError is the last error that stopped the replicator ("" if none);
	// it is restarted after each.
	RunError string `json:"run_error,omitempty"`
	conntracksync.Stats
}

// CTTakeover describes the commit of one takeover.
type CTTakeover = conntracksync.TakeoverRecord

// MailAlerts counts the e-mail alerts queued for the SMTP server, by what
// they report: VRRP instances and sync groups, real servers (their
// checkers) and virtual servers (quorum).
type MailAlerts struct {
	VRRP          uint64 `json:"vrrp"`
	RealServer    uint64 `json:"real_server"`
	VirtualServer uint64 `json:"virtual_server"`
}
