package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// Metrics are served in the Prometheus text exposition format (version
// 0.0.4), written here rather than with prometheus/client_golang: that
// library linked protobuf and its runtime collectors into every vigild,
// 4.5 MB of resident memory and 8 MB of binary for an endpoint that is off
// by default. The format is a few lines: a HELP and a TYPE line per
// family, then one sample per label set.

// metricWriter writes metric families; the first error sticks.
type metricWriter struct {
	w   *bufio.Writer
	err error
}

func (m *metricWriter) family(name, typ, help string) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
}

// sample writes name{k1="v1",...} value; labels alternate key, value.
func (m *metricWriter) sample(name string, value float64, labels ...string) {
	if m.err != nil {
		return
	}
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	b.WriteByte('\n')
	_, m.err = m.w.WriteString(b.String())
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// writeMetrics renders s.
func writeMetrics(out io.Writer, s Status) error {
	m := &metricWriter{w: bufio.NewWriter(out)}
	inst := func(in InstanceStatus, extra ...string) []string {
		return append([]string{"family", in.Family, "instance", in.Name, "interface", in.Interface, "vrid", strconv.Itoa(in.VRID)}, extra...)
	}
	perInstance := []struct {
		name, typ, help string
		value           func(InstanceStatus) float64
	}{
		{"vigil_vrrp_state", "gauge", "VRRP state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.", func(in InstanceStatus) float64 { return float64(stateNumber(in.State)) }},
		{"vigil_vrrp_priority", "gauge", "Effective priority.", func(in InstanceStatus) float64 { return float64(in.Priority) }},
		{"vigil_vrrp_base_priority", "gauge", "Configured priority.", func(in InstanceStatus) float64 { return float64(in.BasePriority) }},
		{"vigil_vrrp_adverts_sent_total", "counter", "Adverts sent.", func(in InstanceStatus) float64 { return float64(in.AdvertsSent) }},
		{"vigil_vrrp_advert_send_errors_total", "counter", "Adverts that could not be sent.", func(in InstanceStatus) float64 { return float64(in.SendErrors) }},
		{"vigil_vrrp_transitions_total", "counter", "State transitions.", func(in InstanceStatus) float64 { return float64(in.Transitions) }},
		{"vigil_vip_errors_total", "counter", "Failed address or route changes.", func(in InstanceStatus) float64 { return float64(in.VIPErrors) }},
		{"vigil_announcements_total", "counter", "Gratuitous ARP / unsolicited NA rounds sent.", func(in InstanceStatus) float64 { return float64(in.Announcements) }},
		{"vigil_vips_removed_while_master_total", "counter", "VIPs removed from the host by someone else while master.", func(in InstanceStatus) float64 { return float64(in.VIPsRemoved) }},
		{"vigil_vips_restored_total", "counter", "VIPs removed while master that were put back when master again.", func(in InstanceStatus) float64 { return float64(in.VIPsRestored) }},
	}
	for _, f := range perInstance {
		m.family(f.name, f.typ, f.help)
		for _, in := range s.Instances {
			m.sample(f.name, f.value(in), inst(in)...)
		}
	}
	m.family("vigil_startup_removed_total", "counter", "Virtual addresses, routes and rules an earlier run left on the host, removed at start-up.")
	for _, in := range s.Instances {
		c := in.StartupRemoved
		m.sample("vigil_startup_removed_total", float64(c.Addresses), inst(in, "kind", "address")...)
		m.sample("vigil_startup_removed_total", float64(c.Routes), inst(in, "kind", "route")...)
		m.sample("vigil_startup_removed_total", float64(c.Rules), inst(in, "kind", "rule")...)
	}
	m.family("vigil_vrrp_adverts_received_total", "counter", "Adverts received, by verdict (ok = accepted).")
	for _, in := range s.Instances {
		for _, r := range vrrp.DropReasons() {
			m.sample("vigil_vrrp_adverts_received_total", float64(in.Received[r.String()]), inst(in, "verdict", r.String())...)
		}
	}
	m.family("vigil_vrrp_unknown_vrid_total", "counter", "Adverts for a VRID no instance serves.")
	for _, so := range s.Sockets {
		m.sample("vigil_vrrp_unknown_vrid_total", float64(so.UnknownVRID), "family", so.Family, "interface", so.Interface)
	}
	m.family("vigil_vrrp_read_errors_total", "counter", "Socket read errors.")
	for _, so := range s.Sockets {
		m.sample("vigil_vrrp_read_errors_total", float64(so.ReadErrors), "family", so.Family, "interface", so.Interface)
	}
	m.family("vigil_script_runs_total", "counter", "vrrp_script processes started.")
	m.sample("vigil_script_runs_total", float64(s.Tracking.Runner.Started))
	m.family("vigil_script_timeouts_total", "counter", "vrrp_script runs killed at their timeout.")
	m.sample("vigil_script_timeouts_total", float64(s.Tracking.Runner.TimedOut))
	m.family("vigil_notify_runs_total", "counter", "Notify scripts run, by result.")
	results := map[string]uint64{"succeeded": s.Notify.Succeeded, "failed": s.Notify.Failed,
		"timed_out": s.Notify.TimedOut, "error": s.Notify.Errors, "dropped": s.Notify.Dropped}
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.sample("vigil_notify_runs_total", float64(results[k]), "result", k)
	}
	m.family("vigil_reloads_total", "counter", "Configuration reloads applied.")
	m.sample("vigil_reloads_total", float64(s.Reloads))
	m.family("vigil_reload_failures_total", "counter", "Reloads refused or applied in part.")
	m.sample("vigil_reload_failures_total", float64(s.ReloadFailures))
	m.family("vigil_control_refused_total", "counter", "Control-socket clients refused for their uid.")
	m.sample("vigil_control_refused_total", float64(s.ControlRefused))
	if ct := s.Conntrack; ct != nil {
		m.family("vigil_conntrack_cache_entries", "gauge", "Conntrack replication cache sizes.")
		m.sample("vigil_conntrack_cache_entries", float64(ct.Internal), "cache", "internal")
		m.sample("vigil_conntrack_cache_entries", float64(ct.External), "cache", "external")
		m.family("vigil_conntrack_retransmits_total", "counter", "Sync messages sent again.")
		m.sample("vigil_conntrack_retransmits_total", float64(ct.Retransmits))
		m.family("vigil_conntrack_commits_total", "counter", "External cache commits into the kernel.")
		m.sample("vigil_conntrack_commits_total", float64(ct.Commits))
		m.family("vigil_conntrack_auth_drops_total", "counter", "Sync datagrams refused by the keyed channel: forged, replayed or from a replaced peer session.")
		m.sample("vigil_conntrack_auth_drops_total", float64(ct.AuthDrops))
	}
	if m.err != nil {
		return m.err
	}
	return m.w.Flush()
}

func stateNumber(s string) int {
	for _, st := range []vrrp.State{vrrp.StateInit, vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault} {
		if st.String() == s {
			return int(st)
		}
	}
	return -1
}

// ServeMetrics serves /metrics on addr until ctx ends.
func (d *Daemon) ServeMetrics(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	src := &cachedStatus{get: d.Status, now: time.Now, maxAge: metricsMaxAge}
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, src.status())
	})
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

// metricsMaxAge is how long one status snapshot answers /metrics: every
// snapshot is built by the loop, and scrapes come every few seconds, so a
// flood of requests must not turn into a flood of loop work.
const metricsMaxAge = 250 * time.Millisecond

// cachedStatus hands out one snapshot to every request within maxAge of it;
// concurrent requests wait for the one snapshot being taken instead of each
// asking the loop.
type cachedStatus struct {
	get    func() Status
	now    func() time.Time
	maxAge time.Duration

	mu   sync.Mutex // guards the fields below, and is held while get runs
	last Status
	at   time.Time
}

func (c *cachedStatus) status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.at.IsZero() || now.Sub(c.at) >= c.maxAge || now.Before(c.at) {
		c.last, c.at = c.get(), now
	}
	return c.last
}
