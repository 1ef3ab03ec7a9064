package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-ha/vigil/vrrp"
)

// metrics exposes the status snapshot as Prometheus metrics. It reads
// Status, so it never touches the loop's state.
type metrics struct {
	d *Daemon

	state, priority, basePriority      *prometheus.Desc
	advertsSent, sendErrors, received  *prometheus.Desc
	transitions, vipErrors, announces  *prometheus.Desc
	unknownVRID, readErrors            *prometheus.Desc
	scriptRuns, scriptTimeouts, notify *prometheus.Desc
	reloads, reloadFailures            *prometheus.Desc
	ctCache, ctRetransmits, ctCommits  *prometheus.Desc
}

func newMetrics(d *Daemon) *metrics {
	inst := []string{"instance", "vrid", "interface", "family"}
	return &metrics{
		d:              d,
		state:          prometheus.NewDesc("vigil_vrrp_state", "VRRP state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.", inst, nil),
		priority:       prometheus.NewDesc("vigil_vrrp_priority", "Effective priority.", inst, nil),
		basePriority:   prometheus.NewDesc("vigil_vrrp_base_priority", "Configured priority.", inst, nil),
		advertsSent:    prometheus.NewDesc("vigil_vrrp_adverts_sent_total", "Adverts sent.", inst, nil),
		sendErrors:     prometheus.NewDesc("vigil_vrrp_advert_send_errors_total", "Adverts that could not be sent.", inst, nil),
		received:       prometheus.NewDesc("vigil_vrrp_adverts_received_total", "Adverts received, by verdict (none = accepted).", append(inst, "verdict"), nil),
		transitions:    prometheus.NewDesc("vigil_vrrp_transitions_total", "State transitions.", inst, nil),
		vipErrors:      prometheus.NewDesc("vigil_vip_errors_total", "Failed address or route changes.", inst, nil),
		announces:      prometheus.NewDesc("vigil_announcements_total", "Gratuitous ARP / unsolicited NA rounds sent.", inst, nil),
		unknownVRID:    prometheus.NewDesc("vigil_vrrp_unknown_vrid_total", "Adverts for a VRID no instance serves.", []string{"interface", "family"}, nil),
		readErrors:     prometheus.NewDesc("vigil_vrrp_read_errors_total", "Socket read errors.", []string{"interface", "family"}, nil),
		scriptRuns:     prometheus.NewDesc("vigil_script_runs_total", "vrrp_script processes started.", nil, nil),
		scriptTimeouts: prometheus.NewDesc("vigil_script_timeouts_total", "vrrp_script runs killed at their timeout.", nil, nil),
		notify:         prometheus.NewDesc("vigil_notify_runs_total", "Notify scripts run, by result.", []string{"result"}, nil),
		reloads:        prometheus.NewDesc("vigil_reloads_total", "Configuration reloads applied.", nil, nil),
		reloadFailures: prometheus.NewDesc("vigil_reload_failures_total", "Reloads refused or applied in part.", nil, nil),
		ctCache:        prometheus.NewDesc("vigil_conntrack_cache_entries", "Conntrack replication cache sizes.", []string{"cache"}, nil),
		ctRetransmits:  prometheus.NewDesc("vigil_conntrack_retransmits_total", "Sync messages sent again.", nil, nil),
		ctCommits:      prometheus.NewDesc("vigil_conntrack_commits_total", "External cache commits into the kernel.", nil, nil),
	}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(m, ch) }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.d.Status()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	for _, in := range s.Instances {
		l := []string{in.Name, strconv.Itoa(in.VRID), in.Interface, in.Family}
		ch <- prometheus.MustNewConstMetric(m.state, gauge, float64(stateNumber(in.State)), l...)
		ch <- prometheus.MustNewConstMetric(m.priority, gauge, float64(in.Priority), l...)
		ch <- prometheus.MustNewConstMetric(m.basePriority, gauge, float64(in.BasePriority), l...)
		ch <- prometheus.MustNewConstMetric(m.advertsSent, counter, float64(in.AdvertsSent), l...)
		ch <- prometheus.MustNewConstMetric(m.sendErrors, counter, float64(in.SendErrors), l...)
		ch <- prometheus.MustNewConstMetric(m.transitions, counter, float64(in.Transitions), l...)
		ch <- prometheus.MustNewConstMetric(m.vipErrors, counter, float64(in.VIPErrors), l...)
		ch <- prometheus.MustNewConstMetric(m.announces, counter, float64(in.Announcements), l...)
		for _, r := range vrrp.DropReasons() {
			ch <- prometheus.MustNewConstMetric(m.received, counter, float64(in.Received[r.String()]), append(l, r.String())...)
		}
	}
	for _, so := range s.Sockets {
		ch <- prometheus.MustNewConstMetric(m.unknownVRID, counter, float64(so.UnknownVRID), so.Interface, so.Family)
		ch <- prometheus.MustNewConstMetric(m.readErrors, counter, float64(so.ReadErrors), so.Interface, so.Family)
	}
	ch <- prometheus.MustNewConstMetric(m.scriptRuns, counter, float64(s.Tracking.Runner.Started))
	ch <- prometheus.MustNewConstMetric(m.scriptTimeouts, counter, float64(s.Tracking.Runner.TimedOut))
	for result, n := range map[string]uint64{"succeeded": s.Notify.Succeeded, "failed": s.Notify.Failed,
		"timed_out": s.Notify.TimedOut, "error": s.Notify.Errors, "dropped": s.Notify.Dropped} {
		ch <- prometheus.MustNewConstMetric(m.notify, counter, float64(n), result)
	}
	ch <- prometheus.MustNewConstMetric(m.reloads, counter, float64(s.Reloads))
	ch <- prometheus.MustNewConstMetric(m.reloadFailures, counter, float64(s.ReloadFailures))
	if ct := s.Conntrack; ct != nil {
		ch <- prometheus.MustNewConstMetric(m.ctCache, gauge, float64(ct.Internal), "internal")
		ch <- prometheus.MustNewConstMetric(m.ctCache, gauge, float64(ct.External), "external")
		ch <- prometheus.MustNewConstMetric(m.ctRetransmits, counter, float64(ct.Retransmits))
		ch <- prometheus.MustNewConstMetric(m.ctCommits, counter, float64(ct.Commits))
	}
}

func stateNumber(s string) int {
	for _, st := range []vrrp.State{vrrp.StateInit, vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault} {
		if st.String() == s {
			return int(st)
		}
	}
	return -1
}

// ServeMetrics serves /metrics on addr (a private registry: only vigil's
// metrics and the Go runtime's) until ctx ends.
func (d *Daemon) ServeMetrics(ctx context.Context, addr string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newMetrics(d), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
