package ctl

import (
	"bufio"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/healthcheck"
	"github.com/vigil-ha/vigil/vrrp"
)

// Metrics are served in the Prometheus text exposition format (version
// 0.0.4), written here rather than with prometheus/client_golang: that
// library linked protobuf and its runtime collectors into every vigild,
// 4.5 MB of resident memory and 8 MB of binary for an endpoint that is off
// by default. The format is a few lines: a HELP and a TYPE line per
// family, then one sample per label set. Every family comes from one row
// of the table metrics; a family without samples (no conntrack_sync, say)
// is left out.

// metricType is a family's TYPE.
type metricType string

const (
	counter metricType = "counter"
	gauge   metricType = "gauge"
	summary metricType = "summary"
)

// emitFunc hands one sample to the writer: its value and its label values
// in the order of the family's labels.
type emitFunc func(v float64, labelValues ...string)

// metric is one row of the table: a metric family and how to read its
// samples from a status snapshot.
type metric struct {
	name   string
	typ    metricType
	help   string
	labels []string
	read   func(s *Status, emit emitFunc)
}

// instanceLabels are the labels of every per-instance family; extra
// labels follow them.
var instanceLabels = []string{"family", "instance", "interface", "vrid"}

func instanceValues(in *InstanceStatus, extra ...string) []string {
	return append([]string{in.Family, in.Name, in.Interface, strconv.Itoa(in.VRID)}, extra...)
}

// perInstance is a family with one sample per instance.
func perInstance(name string, typ metricType, help string, value func(*InstanceStatus) float64) metric {
	return metric{name, typ, help, instanceLabels, func(s *Status, emit emitFunc) {
		for i := range s.Instances {
			emit(value(&s.Instances[i]), instanceValues(&s.Instances[i])...)
		}
	}}
}

// perInstanceBy is a family with one sample per instance and value of
// the extra label.
func perInstanceBy(name, help, label string, values func(*InstanceStatus, func(v uint64, labelValue string))) metric {
	return metric{name, counter, help, append(slices.Clip(instanceLabels), label), func(s *Status, emit emitFunc) {
		for i := range s.Instances {
			in := &s.Instances[i]
			values(in, func(v uint64, lv string) { emit(float64(v), instanceValues(in, lv)...) })
		}
	}}
}

// perTracker is a gauge family with one sample per instance and tracked
// object.
func perTracker(name, help string, value func(*TrackerStatus) float64) metric {
	return metric{name, gauge, help, append(slices.Clip(instanceLabels), "kind", "name"), func(s *Status, emit emitFunc) {
		for i := range s.Instances {
			in := &s.Instances[i]
			for j := range in.Trackers {
				tr := &in.Trackers[j]
				emit(value(tr), instanceValues(in, tr.Kind, tr.Name)...)
			}
		}
	}}
}

// unixSeconds is t in seconds since the Unix epoch; 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// perSocket is a counter family with one sample per VRRP socket.
func perSocket(name, help string, value func(*SocketStatus) uint64) metric {
	return metric{name, counter, help, []string{"family", "interface", "transport", "source"}, func(s *Status, emit emitFunc) {
		for _, so := range s.Sockets {
			transport := "multicast"
			if so.Unicast {
				transport = "unicast"
			}
			emit(float64(value(&so)), so.Family, so.Interface, transport, so.Source)
		}
	}}
}

// perScript is a counter family with one sample per vrrp_script.
func perScript(name, help string, value func(*ScriptStatus) uint64) metric {
	return metric{name, counter, help, []string{"script"}, func(s *Status, emit emitFunc) {
		for _, sc := range s.Tracking.Scripts {
			emit(float64(value(&sc)), sc.Name)
		}
	}}
}

// global is a family with one sample and no labels.
func global(name string, typ metricType, help string, value func(*Status) float64) metric {
	return metric{name, typ, help, nil, func(s *Status, emit emitFunc) { emit(value(s)) }}
}

// globalBy is a counter family with one sample per value of one label.
func globalBy(name, help, label string, values func(*Status, func(v uint64, labelValue string))) metric {
	return metric{name, counter, help, []string{label}, func(s *Status, emit emitFunc) {
		values(s, func(v uint64, lv string) { emit(float64(v), lv) })
	}}
}

// conntrack is a family with one sample and no labels, present only with
// conntrack_sync.
func conntrack(name string, typ metricType, help string, value func(*CTStatus) float64) metric {
	return metric{name, typ, help, nil, func(s *Status, emit emitFunc) {
		if s.Conntrack != nil {
			emit(value(s.Conntrack))
		}
	}}
}

// conntrackBy is conntrack with one sample per value of one label.
func conntrackBy(name, help, label string, values func(*CTStatus, func(v uint64, labelValue string))) metric {
	return metric{name, counter, help, []string{label}, func(s *Status, emit emitFunc) {
		if s.Conntrack != nil {
			values(s.Conntrack, func(v uint64, lv string) { emit(float64(v), lv) })
		}
	}}
}

// pathMetric is one sample (or more, with extra labels) per sync path,
// labelled path.
func pathMetric(name string, typ metricType, help string, extra []string, value func(*conntracksync.PathStats, emitFunc)) metric {
	return metric{name, typ, help, append([]string{"path"}, extra...), func(s *Status, emit emitFunc) {
		if s.Conntrack != nil {
			for i := range s.Conntrack.Paths {
				value(&s.Conntrack.Paths[i], emit)
			}
		}
	}}
}

// arbiterGauge is a gauge of the arbitration, present only when it runs.
func arbiterGauge(name, help string, value func(*ArbiterStatus) float64) metric {
	return metric{name, gauge, help, nil, func(s *Status, emit emitFunc) {
		if s.Arbiter != nil {
			emit(value(s.Arbiter))
		}
	}}
}

// arbiterCounter is arbiterGauge for a counter.
func arbiterCounter(name, help string, value func(*ArbiterStatus) uint64) metric {
	return metric{name, counter, help, nil, func(s *Status, emit emitFunc) {
		if s.Arbiter != nil {
			emit(float64(value(s.Arbiter)))
		}
	}}
}

// channel is a counter of the conntrack sync channel (FTFW).
func channel(name, help string, value func(*ftfw.Stats) uint64) metric {
	return conntrack("vigil_conntrack_channel_"+name, counter, help, func(c *CTStatus) float64 { return float64(value(&c.Channel)) })
}

// byKey emits a map's counts in the order of its sorted keys.
func byKey(m map[string]uint64, emit func(uint64, string)) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		emit(m[k], k)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metrics is every family vigild exports. Counters in Status must each be
// read by a row here (TestMetricsCoverEveryCounter holds the table to it).
var metrics = []metric{
	// Instances.
	perInstance("vigil_vrrp_state", gauge, "VRRP state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.", func(in *InstanceStatus) float64 { return float64(stateNumber(in.State)) }),
	perInstance("vigil_vrrp_priority", gauge, "Effective priority.", func(in *InstanceStatus) float64 { return float64(in.Priority) }),
	perInstance("vigil_vrrp_base_priority", gauge, "Configured priority.", func(in *InstanceStatus) float64 { return float64(in.BasePriority) }),
	perInstance("vigil_vrrp_faulted", gauge, "1 while tracking holds the instance in FAULT.", func(in *InstanceStatus) float64 { return b2f(in.Faulted) }),
	perInstance("vigil_vrrp_maintenance", gauge, "1 while vigilctl maintenance holds the instance in BACKUP.", func(in *InstanceStatus) float64 { return b2f(in.Maintenance) }),
	perInstance("vigil_vrrp_demoted", gauge, "1 while a vigilctl demote holds the instance in BACKUP.", func(in *InstanceStatus) float64 { return b2f(in.Demoted) }),
	perInstance("vigil_vrrp_adverts_sent_total", counter, "Adverts sent.", func(in *InstanceStatus) float64 { return float64(in.AdvertsSent) }),
	perInstance("vigil_vrrp_advert_send_errors_total", counter, "Adverts that could not be sent.", func(in *InstanceStatus) float64 { return float64(in.SendErrors) }),
	perInstance("vigil_vrrp_transitions_total", counter, "State transitions.", func(in *InstanceStatus) float64 { return float64(in.Transitions) }),
	perInstance("vigil_vrrp_last_transition_timestamp_seconds", gauge, "Time of the latest state transition, in seconds since the Unix epoch (0 before the first).", func(in *InstanceStatus) float64 {
		return unixSeconds(in.Since)
	}),
	perInstance("vigil_vrrp_become_master_total", counter, "Transitions into MASTER (keepalived's become_master).", func(in *InstanceStatus) float64 { return float64(in.BecomeMaster) }),
	perInstance("vigil_vrrp_release_master_total", counter, "Transitions out of MASTER into BACKUP or FAULT (keepalived's release_master; the stop at shutdown is not one).", func(in *InstanceStatus) float64 { return float64(in.ReleaseMaster) }),
	perInstance("vigil_vrrp_priority_zero_adverts_sent_total", counter, "Adverts of priority 0 sent (one per advert, however many unicast peers it goes to).", func(in *InstanceStatus) float64 { return float64(in.PriorityZeroSent) }),
	perInstance("vigil_vrrp_priority_zero_adverts_received_total", counter, "Accepted adverts of priority 0 (a master giving up).", func(in *InstanceStatus) float64 { return float64(in.PriorityZeroReceived) }),
	perTracker("vigil_vrrp_tracker_up", "1 while the tracked object is up (a track file: while its value does not put the instance in FAULT), 0 while it is down or has not reported yet.", func(tr *TrackerStatus) float64 {
		return b2f(tr.State == "up")
	}),
	perTracker("vigil_vrrp_tracker_weight", "The instance's weight for the tracked object (0: down puts the instance in FAULT; its sense is inverted under reverse).", func(tr *TrackerStatus) float64 {
		return float64(tr.Weight)
	}),
	perInstanceBy("vigil_vrrp_adverts_received_total", "Adverts received, by verdict (ok = accepted).", "verdict", func(in *InstanceStatus, emit func(uint64, string)) {
		for _, r := range vrrp.DropReasons() {
			emit(in.Received[r.String()], r.String())
		}
		for _, k := range slices.Sorted(maps.Keys(in.Received)) {
			if !knownVerdict(k) {
				emit(in.Received[k], k)
			}
		}
	}),
	perInstance("vigil_vrrp_lower_priority_adverts_total", counter, "Adverts heard as master that lose to ours.", func(in *InstanceStatus) float64 { return float64(in.LowerPriorityAdverts) }),
	perInstance("vigil_vrrp_lower_priority_throttled_total", counter, "Lower-priority adverts inside the window that answers one with GARP/NA.", func(in *InstanceStatus) float64 { return float64(in.LowerPriorityThrottled) }),
	perInstance("vigil_split_brain_heals_total", counter, "Lower-priority adverts that ended a split brain (notify_master ran again).", func(in *InstanceStatus) float64 { return float64(in.SplitBrainHeals) }),
	perInstance("vigil_vip_errors_total", counter, "Failed address or route changes.", func(in *InstanceStatus) float64 { return float64(in.VIPErrors) }),
	perInstance("vigil_announcements_total", counter, "Gratuitous ARP / unsolicited NA rounds sent.", func(in *InstanceStatus) float64 { return float64(in.Announcements) }),
	perInstance("vigil_announce_errors_total", counter, "Gratuitous ARP / unsolicited NA rounds that failed.", func(in *InstanceStatus) float64 { return float64(in.AnnounceErrors) }),
	perInstance("vigil_vips_removed_while_master_total", counter, "VIPs removed from the host by someone else while master.", func(in *InstanceStatus) float64 { return float64(in.VIPsRemoved) }),
	perInstance("vigil_vips_restored_total", counter, "VIPs removed while master that were put back when master again.", func(in *InstanceStatus) float64 { return float64(in.VIPsRestored) }),
	perInstanceBy("vigil_startup_removed_total", "Virtual addresses, routes and rules an earlier run left on the host, removed at start-up.", "kind", func(in *InstanceStatus, emit func(uint64, string)) {
		emit(in.StartupRemoved.Addresses, "address")
		emit(in.StartupRemoved.Routes, "route")
		emit(in.StartupRemoved.Rules, "rule")
	}),

	// VRRP sockets.
	perSocket("vigil_vrrp_unknown_vrid_total", "Adverts for a VRID no instance serves.", func(so *SocketStatus) uint64 { return so.UnknownVRID }),
	perSocket("vigil_vrrp_read_errors_total", "Socket read errors.", func(so *SocketStatus) uint64 { return so.ReadErrors }),
	perSocket("vigil_vrrp_short_total", "Datagrams too short to be an advert.", func(so *SocketStatus) uint64 { return so.Short }),
	perSocket("vigil_vrrp_socket_reopens_total", "Times the socket was opened again (its interface recreated or its source changed).", func(so *SocketStatus) uint64 { return so.Reopens }),

	// Addresses, routes and rules.
	metric{"vigil_vip_changes_total", counter, "Virtual addresses, routes and rules the kernel accepted, by kind and operation.", []string{"kind", "op"}, func(s *Status, emit emitFunc) {
		a := &s.Addresses
		emit(float64(a.AddrsAdded), "address", "add")
		emit(float64(a.AddrsRemoved), "address", "remove")
		emit(float64(a.RoutesAdded), "route", "add")
		emit(float64(a.RoutesRemoved), "route", "remove")
		emit(float64(a.RulesAdded), "rule", "add")
		emit(float64(a.RulesRemoved), "rule", "remove")
	}},
	global("vigil_vip_change_errors_total", counter, "Virtual address, route or rule changes that failed.", func(s *Status) float64 { return float64(s.Addresses.Errors) }),
	global("vigil_vip_interface_lookups_total", counter, "Interfaces the address manager resolved by name to learn their index (cached after; a backup resolves its devices ahead of a takeover).", func(s *Status) float64 { return float64(s.Addresses.InterfaceLookups) }),

	// Tracking.
	global("vigil_script_runs_total", counter, "vrrp_script processes started.", func(s *Status) float64 { return float64(s.Tracking.Runner.Started) }),
	globalBy("vigil_script_results_total", "vrrp_script runs by result (error: could not start).", "result", func(s *Status, emit func(uint64, string)) {
		r := &s.Tracking.Runner
		emit(r.Succeeded, "succeeded")
		emit(r.Failed, "failed")
		emit(r.Errors, "error")
	}),
	global("vigil_script_timeouts_total", counter, "vrrp_script runs killed at their timeout.", func(s *Status) float64 { return float64(s.Tracking.Runner.TimedOut) }),
	global("vigil_script_refused_total", counter, "vrrp_script runs the script-security check refused (counted in the errors too).", func(s *Status) float64 { return float64(s.Tracking.Runner.Refused) }),
	global("vigil_script_busy_total", counter, "vrrp_script runs not started because the previous one still ran.", func(s *Status) float64 { return float64(s.Tracking.Runner.Busy) }),
	global("vigil_scripts_running", gauge, "vrrp_script processes running now.", func(s *Status) float64 { return float64(s.Tracking.Runner.Running) }),
	perScript("vigil_track_script_runs_total", "Runs of each vrrp_script.", func(sc *ScriptStatus) uint64 { return sc.Runs }),
	perScript("vigil_track_script_skipped_total", "Runs of each vrrp_script skipped (the previous one still ran).", func(sc *ScriptStatus) uint64 { return sc.Skipped }),
	metric{"vigil_track_script_up", gauge, "1 while the vrrp_script succeeds (after rise), 0 while it fails or has not reported yet.", []string{"script"}, func(s *Status, emit emitFunc) {
		for _, sc := range s.Tracking.Scripts {
			emit(b2f(sc.State == check.StateOK.String()), sc.Name)
		}
	}},
	metric{"vigil_track_script_running", gauge, "1 while a run of the vrrp_script is under way.", []string{"script"}, func(s *Status, emit emitFunc) {
		for _, sc := range s.Tracking.Scripts {
			emit(b2f(sc.Running), sc.Name)
		}
	}},

	// Notify scripts and FIFOs.
	global("vigil_notify_events_total", counter, "Events handed to notify.", func(s *Status) float64 { return float64(s.Notify.Events) }),
	global("vigil_notify_started_total", counter, "Notify scripts started (or attempted).", func(s *Status) float64 { return float64(s.Notify.Runs) }),
	globalBy("vigil_notify_runs_total", "Notify scripts run, by result.", "result", func(s *Status, emit func(uint64, string)) {
		n := &s.Notify
		emit(n.Dropped, "dropped")
		emit(n.Errors, "error")
		emit(n.Failed, "failed")
		emit(n.Succeeded, "succeeded")
		emit(n.TimedOut, "timed_out")
	}),
	global("vigil_notify_refused_total", counter, "Notify scripts the script-security check refused (counted as errors too).", func(s *Status) float64 { return float64(s.Notify.Refused) }),
	global("vigil_notify_pending", gauge, "Notify scripts queued or running now.", func(s *Status) float64 { return float64(s.Notify.Pending) }),
	global("vigil_notify_fifo_lines_total", counter, "Lines written to notify FIFOs.", func(s *Status) float64 { return float64(s.Notify.FIFOLines) }),
	global("vigil_notify_fifo_errors_total", counter, "Lines a notify FIFO refused (reader gone or behind).", func(s *Status) float64 { return float64(s.Notify.FIFOErrors) }),

	// E-mail alerts (smtp_alert).
	globalBy("vigil_mail_alerts_total", "E-mail alerts, by result: sent (accepted by the SMTP server), failed, dropped (queue full).", "result", func(s *Status, emit func(uint64, string)) {
		emit(s.Mail.Dropped, "dropped")
		emit(s.Mail.Failed, "failed")
		emit(s.Mail.Sent, "sent")
	}),
	globalBy("vigil_mail_alerts_queued_total", "E-mail alerts queued, by what they report: vrrp (instances and sync groups), real_server (checkers), virtual_server (quorum).", "about", func(s *Status, emit func(uint64, string)) {
		emit(s.MailAlerts.RealServer, "real_server")
		emit(s.MailAlerts.VirtualServer, "virtual_server")
		emit(s.MailAlerts.VRRP, "vrrp")
	}),
	global("vigil_mail_pending", gauge, "E-mail alerts waiting or being sent now.", func(s *Status) float64 { return float64(s.Mail.Pending) }),

	// IPVS and the real servers' health checkers.
	lvs("vigil_ipvs_programmed", gauge, "1 while vigild programs IPVS, 0 when it cannot (no IPVS in the kernel).", func(l *LVSStatus) float64 { return b2f(l.Error == "") }),
	lvs("vigil_ipvs_applies_total", counter, "IPVS table reconciliations.", func(l *LVSStatus) float64 { return float64(l.Applies) }),
	lvs("vigil_ipvs_apply_errors_total", counter, "IPVS reconciliations with a failed change.", func(l *LVSStatus) float64 { return float64(l.ApplyErrors) }),
	lvs("vigil_ipvs_changes_total", counter, "IPVS services and destinations added, edited or removed.", func(l *LVSStatus) float64 { return float64(l.Changes) }),
	lvs("vigil_ipvs_foreign_services", gauge, "IPVS services the configuration does not name (left alone).", func(l *LVSStatus) float64 { return float64(len(l.Foreign)) }),
	metric{"vigil_ipvs_scripts_total", counter, "notify_up/notify_down/quorum_up/quorum_down runs, by result.", []string{"result"}, func(s *Status, emit emitFunc) {
		if l := s.LVS; l != nil {
			emit(float64(l.Scripts.Runs), "started")
			emit(float64(l.Scripts.Succeeded), "succeeded")
			emit(float64(l.Scripts.Failed), "failed")
			emit(float64(l.Scripts.Errors), "error")
			emit(float64(l.Scripts.Dropped), "dropped")
		}
	}},
	perVS("vigil_ipvs_quorum_up", "1 while the virtual server has quorum.", func(v *VirtualServer) float64 { return b2f(v.QuorumUp) }),
	perVS("vigil_ipvs_sorry_server_active", "1 while the sorry server replaces the real servers.", func(v *VirtualServer) float64 { return b2f(v.SorryActive) }),
	perRS("vigil_ipvs_real_server_up", gauge, "1 while every checker of the real server succeeds.", func(r *RealServer) float64 { return b2f(r.Up) }),
	perRS("vigil_ipvs_real_server_weight", gauge, "Effective weight of the real server.", func(r *RealServer) float64 { return float64(r.Weight) }),
	perRS("vigil_ipvs_real_server_transitions_total", counter, "Up/down changes of the real server.", func(r *RealServer) float64 { return float64(r.Transitions) }),
	perChecker("vigil_healthcheck_up", gauge, "1 while the checker succeeds.", func(c *healthcheck.CheckerStats) float64 { return b2f(c.Up) }),
	perChecker("vigil_healthcheck_attempts_total", counter, "Checker attempts.", func(c *healthcheck.CheckerStats) float64 { return float64(c.Attempts) }),
	perChecker("vigil_healthcheck_successes_total", counter, "Checker attempts that succeeded.", func(c *healthcheck.CheckerStats) float64 { return float64(c.Successes) }),
	perChecker("vigil_healthcheck_failures_total", counter, "Checker attempts that failed.", func(c *healthcheck.CheckerStats) float64 { return float64(c.Failures) }),
	perChecker("vigil_healthcheck_skips_total", counter, "Checker attempts skipped for a local error.", func(c *healthcheck.CheckerStats) float64 { return float64(c.Skips) }),
	perChecker("vigil_healthcheck_transitions_total", counter, "Checker up/down changes.", func(c *healthcheck.CheckerStats) float64 { return float64(c.Transitions) }),
	perChecker("vigil_healthcheck_latency_seconds", gauge, "Duration of the checker's last attempt.", func(c *healthcheck.CheckerStats) float64 { return c.LastLatency.Seconds() }),

	// The daemon.
	global("vigil_reloads_total", counter, "Configuration reloads applied.", func(s *Status) float64 { return float64(s.Reloads) }),
	global("vigil_reload_failures_total", counter, "Reloads refused or applied in part.", func(s *Status) float64 { return float64(s.ReloadFailures) }),
	global("vigil_static_errors_total", counter, "Static addresses, routes or rules that could not be set.", func(s *Status) float64 { return float64(s.StaticErrors) }),
	global("vigil_control_refused_total", counter, "Control-socket clients refused for their uid.", func(s *Status) float64 { return float64(s.ControlRefused) }),
	global("vigil_worker_standbys_total", counter, "Times the kernel worker stood by shortly before a backup's Master_Down deadline.", func(s *Status) float64 { return float64(s.WorkerStandbys) }),
	global("vigil_worker_jobs_on_loop_total", counter, "Takeover jobs the loop ran itself because the kernel worker had left them waiting.", func(s *Status) float64 { return float64(s.WorkerJobsOnLoop) }),
	global("vigil_control_events_dropped_total", counter, "Events clients dropped for falling behind.", func(s *Status) float64 { return float64(s.EventsDropped) }),
	global("vigil_control_event_subscribers", gauge, "Events clients connected.", func(s *Status) float64 { return float64(s.EventSubscribers) }),

	// Arbitration over the sync link.
	arbiterGauge("vigil_arbiter_split", "1 while the two nodes' views disagree (both claim MASTER, or adverts are lost while both are alive).", func(a *ArbiterStatus) float64 { return b2f(a.Split) }),
	arbiterGauge("vigil_arbiter_held", "1 while the arbiter keeps our tracked instances from taking over.", func(a *ArbiterStatus) float64 { return b2f(a.Held) }),
	metric{"vigil_arbiter_mode", gauge, "1 for the arbiter's current mode.", []string{"mode"}, func(s *Status, emit emitFunc) {
		if a := s.Arbiter; a != nil {
			for _, m := range []string{"waiting", "agreed", "split", "heartbeat_lost"} {
				emit(b2f(a.Mode == m), m)
			}
		}
	}},
	arbiterCounter("vigil_arbiter_splits_total", "Splits that began.", func(a *ArbiterStatus) uint64 { return a.Splits }),
	arbiterCounter("vigil_arbiter_yields_total", "Hand-overs the arbiter asked of our masters.", func(a *ArbiterStatus) uint64 { return a.Yields }),
	arbiterCounter("vigil_arbiter_heartbeat_losts_total", "Times the peer's heartbeat was lost.", func(a *ArbiterStatus) uint64 { return a.HeartbeatLosts }),
	arbiterCounter("vigil_arbiter_reannounces_total", "GARP/NA rounds our masters sent when a split healed.", func(a *ArbiterStatus) uint64 { return a.Reannounces }),
	arbiterCounter("vigil_arbiter_heartbeats_sent_total", "Heartbeats sent to the peer.", func(a *ArbiterStatus) uint64 { return a.Sent }),
	arbiterCounter("vigil_arbiter_heartbeat_send_errors_total", "Heartbeats that could not be sent.", func(a *ArbiterStatus) uint64 { return a.SendErrors }),
	arbiterCounter("vigil_arbiter_heartbeats_received_total", "Authentic heartbeats received.", func(a *ArbiterStatus) uint64 { return a.Received }),
	arbiterCounter("vigil_arbiter_heartbeats_malformed_total", "Authentic heartbeats whose payload did not decode.", func(a *ArbiterStatus) uint64 { return a.Malformed }),
	arbiterCounter("vigil_arbiter_heartbeats_foreign_total", "Heartbeat datagrams from an address that is not the peer's.", func(a *ArbiterStatus) uint64 { return a.Foreign }),
	metric{"vigil_arbiter_heartbeat_drops_total", counter, "Heartbeats the authenticated envelope refused, by reason.", []string{"reason"}, func(s *Status, emit emitFunc) {
		if a := s.Arbiter; a != nil {
			byKey(a.Drops, func(v uint64, lv string) { emit(float64(v), lv) })
		}
	}},
	metric{"vigil_arbiter_witness_up", gauge, "1 while a witness answers.", []string{"instance", "address"}, func(s *Status, emit emitFunc) {
		if a := s.Arbiter; a != nil {
			for _, w := range a.Witnesses {
				emit(b2f(w.Up), w.Instance, w.Address)
			}
		}
	}},
	metric{"vigil_arbiter_witness_probes_total", counter, "Witness probes sent.", []string{"instance", "address"}, func(s *Status, emit emitFunc) {
		if a := s.Arbiter; a != nil {
			for _, w := range a.Witnesses {
				emit(float64(w.Probes), w.Instance, w.Address)
			}
		}
	}},
	metric{"vigil_arbiter_witness_failures_total", counter, "Witness probes without an answer.", []string{"instance", "address"}, func(s *Status, emit emitFunc) {
		if a := s.Arbiter; a != nil {
			for _, w := range a.Witnesses {
				emit(float64(w.Failures), w.Instance, w.Address)
			}
		}
	}},

	// Conntrack replication.
	metric{"vigil_conntrack_cache_entries", gauge, "Conntrack replication cache sizes.", []string{"cache"}, func(s *Status, emit emitFunc) {
		if ct := s.Conntrack; ct != nil {
			emit(float64(ct.Internal), "internal")
			emit(float64(ct.External), "external")
		}
	}},
	metric{"vigil_conntrack_expectations", gauge, "Conntrack expectations in the replication caches (ExpectationSync).", []string{"cache"}, func(s *Status, emit emitFunc) {
		if ct := s.Conntrack; ct != nil {
			emit(float64(ct.Expect.Internal), "internal")
			emit(float64(ct.Expect.External), "external")
		}
	}},
	conntrack("vigil_conntrack_expectations_committed_total", counter, "Replicated expectations committed into the kernel, linked to their masters.", func(c *CTStatus) float64 { return float64(c.Expect.Committed) }),
	conntrack("vigil_conntrack_expectations_no_master_total", counter, "Replicated expectations not committed: their master connection was not in the kernel.", func(c *CTStatus) float64 { return float64(c.Expect.NoMaster) }),
	conntrack("vigil_conntrack_expectations_failed_total", counter, "Replicated expectations the kernel refused for another reason.", func(c *CTStatus) float64 { return float64(c.Expect.CommitFailed) }),
	conntrackBy("vigil_conntrack_expectations_filtered_total", "Expectations whose helper is not listed: ours not replicated (local), the peer's not taken (peer).", "side", func(c *CTStatus, emit func(uint64, string)) {
		emit(c.Expect.Filtered, "local")
		emit(c.Expect.Refused, "peer")
	}),
	conntrack("vigil_conntrack_master", gauge, "1 while the tracked group holds MASTER here (its commit has run).", func(c *CTStatus) float64 { return b2f(c.Master) }),
	conntrack("vigil_conntrack_established", gauge, "1 while the peer answers our HELLO.", func(c *CTStatus) float64 { return b2f(c.Established) }),
	conntrack("vigil_conntrack_backlog", gauge, "Our updates queued or sent but not yet acknowledged.", func(c *CTStatus) float64 { return float64(c.Backlog) }),
	conntrack("vigil_conntrack_lag_seconds", gauge, "How long the backlog has not been empty.", func(c *CTStatus) float64 { return c.Lag.Seconds() }),
	conntrack("vigil_conntrack_takeovers_total", counter, "Takeovers of the tracked group, each with one commit.", func(c *CTStatus) float64 { return float64(c.Takeovers) }),
	conntrack("vigil_conntrack_late_commits_total", counter, "Takeover commits that finished after the VIPs went up.", func(c *CTStatus) float64 { return float64(c.LateCommits) }),
	conntrack("vigil_conntrack_last_takeover_timestamp_seconds", gauge, "When the latest takeover's commit started (Unix time; 0: none yet).", func(c *CTStatus) float64 { return unixSeconds(c.LastTakeover.Time) }),
	conntrack("vigil_conntrack_last_takeover_entries", gauge, "Replicated connections the latest takeover committed.", func(c *CTStatus) float64 { return float64(c.LastTakeover.Entries) }),
	conntrack("vigil_conntrack_last_takeover_warm", gauge, "Replicated connections the latest takeover found in the kernel already (warm standby): it wrote only the others.", func(c *CTStatus) float64 { return float64(c.LastTakeover.Warm) }),
	conntrack("vigil_conntrack_warm_standby", gauge, "1 while the warm standby writes the peer's connections into the kernel as they arrive (not MASTER).", func(c *CTStatus) float64 { return b2f(c.Warm.On) }),
	conntrack("vigil_conntrack_warm_written_total", counter, "The peer's connections the warm standby wrote into the kernel.", func(c *CTStatus) float64 { return float64(c.Warm.Written) }),
	conntrack("vigil_conntrack_warm_deleted_total", counter, "The peer's deletions the warm standby applied to the kernel.", func(c *CTStatus) float64 { return float64(c.Warm.Deleted) }),
	conntrack("vigil_conntrack_warm_failed_total", counter, "The peer's connections or deletions the kernel refused to the warm standby (written again at takeover).", func(c *CTStatus) float64 { return float64(c.Warm.Failed) }),
	conntrack("vigil_conntrack_warm_batches_total", counter, "The warm standby's writes into the kernel.", func(c *CTStatus) float64 { return float64(c.Warm.Batches) }),
	conntrack("vigil_conntrack_warm_write_errors_total", counter, "The warm standby's writes the kernel side could not make at all.", func(c *CTStatus) float64 { return float64(c.Warm.WriteErrors) }),
	conntrack("vigil_conntrack_warm_lost_total", counter, "The peer's connections that expired in this kernel while the peer held them (written again at takeover).", func(c *CTStatus) float64 { return float64(c.Warm.Lost) }),
	conntrack("vigil_conntrack_warm_holding", gauge, "1 while the warm standby, started without MASTER, waits for the peer's table before announcing its own connections.", func(c *CTStatus) float64 { return b2f(c.Warm.Holding) }),
	conntrack("vigil_conntrack_warm_retracted_total", counter, "The peer's connections the internal cache had taken for ours (read from the kernel before the peer's table came) and gave back.", func(c *CTStatus) float64 { return float64(c.Warm.Retracted) }),
	conntrack("vigil_conntrack_warm_withheld_total", counter, "Announcements of ours not sent: all while holding, then those of the peer's connections.", func(c *CTStatus) float64 { return float64(c.Warm.Withheld) }),
	conntrack("vigil_conntrack_warm_write_seconds_total", counter, "Time the warm standby spent writing into the kernel: the backup's cost of it.", func(c *CTStatus) float64 { return c.Warm.WriteTime.Seconds() }),
	conntrack("vigil_conntrack_warm_pending", gauge, "The peer's changes waiting for the warm standby's next write.", func(c *CTStatus) float64 { return float64(c.Warm.Pending) }),
	conntrack("vigil_conntrack_warm_lost", gauge, "The peer's connections missing from this kernel that the next takeover writes again.", func(c *CTStatus) float64 { return float64(c.Warm.LostNow) }),
	conntrack("vigil_conntrack_warm_last_commit_dirty", gauge, "Connections the latest commit wrote with a warm standby (its dirty set).", func(c *CTStatus) float64 { return float64(c.Warm.LastCommitDirty) }),
	conntrack("vigil_conntrack_warm_last_commit_warm", gauge, "Connections the latest commit found in the kernel already with a warm standby.", func(c *CTStatus) float64 { return float64(c.Warm.LastCommitWarm) }),
	conntrack("vigil_conntrack_last_takeover_failed", gauge, "Connections the kernel refused in the latest takeover's commit.", func(c *CTStatus) float64 { return float64(c.LastTakeover.Failed) }),
	conntrack("vigil_conntrack_last_takeover_wait_seconds", gauge, "How long the latest takeover's VIPs waited for its commit.", func(c *CTStatus) float64 { return c.LastTakeover.InLoop.Seconds() }),
	conntrack("vigil_conntrack_last_takeover_duration_seconds", gauge, "The latest takeover's whole commit, longer than the wait when it finished late.", func(c *CTStatus) float64 { return c.LastTakeover.Duration.Seconds() }),
	conntrack("vigil_conntrack_resync_requests_total", counter, "Resyncs asked of the peer on leaving MASTER or FAULT.", func(c *CTStatus) float64 { return float64(c.ResyncRequests) }),
	conntrack("vigil_conntrack_retransmits_total", counter, "Sync messages sent again.", func(c *CTStatus) float64 { return float64(c.Retransmits) }),
	conntrack("vigil_conntrack_resyncs_sent_total", counter, "RESYNC requests sent to the peer.", func(c *CTStatus) float64 { return float64(c.ResyncsSent) }),
	conntrack("vigil_conntrack_resyncs_received_total", counter, "RESYNC requests received from the peer.", func(c *CTStatus) float64 { return float64(c.ResyncsReceived) }),
	conntrack("vigil_conntrack_bulks_total", counter, "Full-cache sends to the peer.", func(c *CTStatus) float64 { return float64(c.Bulks) }),
	conntrack("vigil_conntrack_peer_sessions_total", counter, "Sessions with the peer.", func(c *CTStatus) float64 { return float64(c.PeerSessions) }),
	conntrack("vigil_conntrack_peer_restarts_total", counter, "Peer restarts seen.", func(c *CTStatus) float64 { return float64(c.PeerRestarts) }),
	conntrack("vigil_conntrack_commits_total", counter, "External cache commits into the kernel.", func(c *CTStatus) float64 { return float64(c.Commits) }),
	conntrack("vigil_conntrack_auth_drops_total", counter, "Sync datagrams refused by the keyed channel: forged, replayed or from a replaced peer session.", func(c *CTStatus) float64 { return float64(c.AuthDrops) }),
	conntrackBy("vigil_conntrack_drops_total", "Flows, updates and datagrams dropped, by reason.", "reason", func(c *CTStatus, emit func(uint64, string)) { byKey(c.Drops, emit) }),
	conntrack("vigil_conntrack_events_total", counter, "Kernel conntrack events received (the kernel filter drops those of our own commits uncounted).", func(c *CTStatus) float64 { return float64(c.Listener.Events) }),
	conntrack("vigil_conntrack_own_events_total", counter, "Kernel events caused by our own commits that the event socket's kernel filter let through (normally none).", func(c *CTStatus) float64 { return float64(c.Listener.OwnEvents) }),
	conntrack("vigil_conntrack_warm_events_total", counter, "Kernel events of the peer's connections that the warm standby keeps in the kernel (neither cached nor announced).", func(c *CTStatus) float64 { return float64(c.Listener.WarmEvents) }),
	conntrack("vigil_conntrack_dumps_total", counter, "Full dumps of the kernel table, the first included.", func(c *CTStatus) float64 { return float64(c.Listener.Dumps) }),
	conntrack("vigil_conntrack_redumps_total", counter, "Dumps after a receive error.", func(c *CTStatus) float64 { return float64(c.Listener.Redumps) }),
	conntrack("vigil_conntrack_recv_errors_total", counter, "Kernel event receive errors.", func(c *CTStatus) float64 { return float64(c.Listener.RecvErrors) }),
	conntrack("vigil_conntrack_decode_errors_total", counter, "Kernel events that could not be decoded.", func(c *CTStatus) float64 { return float64(c.Listener.DecodeErrors) }),
	conntrackBy("vigil_conntrack_filtered_total", "Kernel events not taken into the internal cache, by filter.", "reason", func(c *CTStatus, emit func(uint64, string)) {
		for i, n := range c.Listener.Filtered {
			emit(n, conntracksync.DropReason(i).String())
		}
	}),
	channel("messages_sent_total", "Sync messages sent.", func(c *ftfw.Stats) uint64 { return c.MsgsSent }),
	channel("data_sent_total", "Sync data messages sent.", func(c *ftfw.Stats) uint64 { return c.DataSent }),
	channel("retransmits_total", "Sync data messages sent again.", func(c *ftfw.Stats) uint64 { return c.Retransmits }),
	channel("acks_sent_total", "ACKs sent.", func(c *ftfw.Stats) uint64 { return c.AcksSent }),
	channel("nacks_sent_total", "NACKs sent.", func(c *ftfw.Stats) uint64 { return c.NacksSent }),
	channel("alives_sent_total", "ALIVE messages sent.", func(c *ftfw.Stats) uint64 { return c.AlivesSent }),
	channel("resyncs_sent_total", "RESYNC messages sent.", func(c *ftfw.Stats) uint64 { return c.ResyncsSent }),
	channel("messages_received_total", "Sync messages received.", func(c *ftfw.Stats) uint64 { return c.MsgsReceived }),
	channel("data_received_total", "Sync data messages received.", func(c *ftfw.Stats) uint64 { return c.DataReceived }),
	channel("acks_received_total", "ACKs received.", func(c *ftfw.Stats) uint64 { return c.AcksReceived }),
	channel("nacks_received_total", "NACKs received.", func(c *ftfw.Stats) uint64 { return c.NacksReceived }),
	channel("resyncs_received_total", "RESYNC messages received.", func(c *ftfw.Stats) uint64 { return c.ResyncsRcv }),
	channel("expect_received_total", "Expectation messages received from the peer.", func(c *ftfw.Stats) uint64 { return c.ExpectReceived }),
	channel("gaps_total", "Sequence gaps seen from the peer.", func(c *ftfw.Stats) uint64 { return c.Gaps }),
	channel("peer_sessions_total", "Peer sessions the channel started.", func(c *ftfw.Stats) uint64 { return c.PeerSessions }),
	channel("peer_restarts_total", "Peer restarts the channel saw.", func(c *ftfw.Stats) uint64 { return c.PeerRestarts }),
	channel("session_holdoffs_total", "HELLOs not taken for a new session because one started less than a second before.", func(c *ftfw.Stats) uint64 { return c.SessionHoldoffs }),
	channel("desyncs_total", "Times the receiver took up the peer's stream again after leaving its sequence window.", func(c *ftfw.Stats) uint64 { return c.Desyncs }),
	channel("bulk_requests_total", "Bulk requests (RESYNC, new sessions).", func(c *ftfw.Stats) uint64 { return c.BulkRequests }),
	channel("bulks_started_total", "Bulk sends started.", func(c *ftfw.Stats) uint64 { return c.BulksStarted }),
	channel("encode_errors_total", "Entries that could not be encoded (dropped).", func(c *ftfw.Stats) uint64 { return c.EncodeErrors }),
	pathMetric("vigil_conntrack_path_up", gauge, "1 while the sync path's interface is up (a path without one is always up).", nil, func(p *conntracksync.PathStats, emit emitFunc) { emit(b2f(p.Up), p.Name) }),
	pathMetric("vigil_conntrack_path_active", gauge, "1 on the sync path our datagrams go out on.", nil, func(p *conntracksync.PathStats, emit emitFunc) { emit(b2f(p.Active), p.Name) }),
	pathMetric("vigil_conntrack_path_datagrams_total", counter, "Sync datagrams per path: from the peer (in, accepted) and ours (out, sent).", []string{"direction"}, func(p *conntracksync.PathStats, emit emitFunc) {
		emit(float64(p.In), p.Name, "in")
		emit(float64(p.Out), p.Name, "out")
	}),
	pathMetric("vigil_conntrack_path_last_heard_timestamp_seconds", gauge, "When the peer was last heard on the path (Unix seconds; 0: never).", nil, func(p *conntracksync.PathStats, emit emitFunc) {
		v := 0.0
		if !p.LastHeard.IsZero() {
			v = float64(p.LastHeard.UnixNano()) / 1e9
		}
		emit(v, p.Name)
	}),
	conntrack("vigil_conntrack_path_switches_total", counter, "Changes of the active sync path.", func(c *CTStatus) float64 { return float64(c.PathSwitches) }),
	conntrackBy("vigil_conntrack_channel_drops_total", "Sync datagrams or messages the channel dropped, by reason.", "reason", func(c *CTStatus, emit func(uint64, string)) {
		for i, n := range c.Channel.Drops {
			emit(n, ftfw.DropReason(i).String())
		}
	}),
}

// knownVerdict reports whether k is the name of a vrrp.DropReason.
func knownVerdict(k string) bool {
	for _, r := range vrrp.DropReasons() {
		if r.String() == k {
			return true
		}
	}
	return false
}

func stateNumber(s string) int {
	for _, st := range []vrrp.State{vrrp.StateInit, vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault} {
		if st.String() == s {
			return int(st)
		}
	}
	return -1
}

// WriteMetrics writes vigil's families for s in the text exposition
// format (WriteExposition adds the others the endpoint serves).
func WriteMetrics(out io.Writer, s Status) error {
	w := bufio.NewWriter(out)
	writeTable(w, metrics, &s)
	return w.Flush()
}

// writeTable writes the families of rows, read from s.
func writeTable(w *bufio.Writer, rows []metric, s *Status) {
	var b []byte
	for _, m := range rows {
		b = b[:0]
		m.read(s, func(v float64, lv ...string) {
			if len(lv) != len(m.labels) {
				panic("ctl: metric " + m.name + ": label values do not match its labels")
			}
			b = appendSample(b, m.name, m.labels, lv, v)
		})
		writeFamily(w, m.name, m.typ, m.help, b)
	}
}

// writeFamily writes a family's HELP and TYPE lines and its samples, or
// nothing when it has no samples.
func writeFamily(w *bufio.Writer, name string, typ metricType, help string, samples []byte) {
	if len(samples) == 0 {
		return
	}
	w.WriteString("# HELP " + name + " " + helpEscaper.Replace(help) + "\n")
	w.WriteString("# TYPE " + name + " " + string(typ) + "\n")
	w.Write(samples)
}

// appendSample appends name{k1="v1",...} value and a newline to b.
func appendSample(b []byte, name string, labels, values []string, v float64) []byte {
	b = append(b, name...)
	if len(labels) > 0 {
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, l...)
			b = append(b, `="`...)
			b = append(b, labelEscaper.Replace(values[i])...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	return append(b, '\n')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)
