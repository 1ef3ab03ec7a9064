package ctl_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/ctl/ctltest"
)

// parseMetrics renders s and parses it with Prometheus' own text parser
// (legacy, strict names), failing the test on anything it refuses and on
// a series written twice, which the parser lets through.
func parseMetrics(t *testing.T, s ctl.Status) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	var b bytes.Buffer
	if err := ctl.WriteMetrics(&b, s); err != nil {
		t.Fatal(err)
	}
	return parseText(t, b)
}

// parseExposition is parseMetrics over everything the endpoint serves.
func parseExposition(t *testing.T, s ctl.Status, keepalivedNames bool) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	var b bytes.Buffer
	if err := ctl.WriteExposition(&b, s, keepalivedNames); err != nil {
		t.Fatal(err)
	}
	return parseText(t, b)
}

// parseText parses an exposition as parseMetrics does.
func parseText(t *testing.T, b bytes.Buffer) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, b.String())
	}
	for name, f := range fams {
		seen := map[string]bool{}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			k := strings.Join(ls, ",")
			if seen[k] {
				t.Errorf("%s{%s} written twice", name, k)
			}
			seen[k] = true
		}
	}
	return fams, b.String()
}

// value returns a sample's value whatever its family's type.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

// TestMetricsCoverEveryCounter: every counter in the status document (each
// given a value of its own) is the value of some sample, so a counter
// added to Status without a row in the metrics table fails here, with its
// JSON path.
func TestMetricsCoverEveryCounter(t *testing.T) {
	s, counters := ctltest.FilledStatus(1_000_000, "some_reason")
	if len(counters) < 100 {
		t.Fatalf("only %d counters filled", len(counters))
	}
	fams, text := parseMetrics(t, s)
	where := map[float64]string{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			where[value(m)] = name
		}
	}
	for _, c := range counters {
		if _, ok := where[float64(c.Value)]; !ok {
			t.Errorf("counter %s (%d) is in no metric", c.Path, c.Value)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}
}

// TestMetricsCountersAreCounters: a family whose samples come from Status
// counters is typed counter and named …_total, as Prometheus expects;
// gauges are not named _total.
func TestMetricsCountersAreCounters(t *testing.T) {
	s, counters := ctltest.FilledStatus(1_000_000, "some_reason")
	fams, _ := parseMetrics(t, s)
	isCounter := map[float64]bool{}
	for _, c := range counters {
		isCounter[float64(c.Value)] = true
	}
	for name, f := range fams {
		fromCounter := false
		for _, m := range f.GetMetric() {
			fromCounter = fromCounter || isCounter[value(m)]
		}
		switch {
		case fromCounter && (f.GetType() != dto.MetricType_COUNTER || !strings.HasSuffix(name, "_total")):
			t.Errorf("%s reads counters but is a %v", name, f.GetType())
		case f.GetType() == dto.MetricType_GAUGE && strings.HasSuffix(name, "_total"):
			t.Errorf("gauge %s is named like a counter", name)
		case f.GetHelp() == "":
			t.Errorf("%s has no help", name)
		}
	}
}

// TestMetricsExposition: the samples an operator's dashboards read, by
// name and labels, parsed by Prometheus' parser; label values that need
// escaping survive the round trip; without conntrack_sync no conntrack
// family is written, and nothing is written for families without samples.
func TestMetricsExposition(t *testing.T) {
	s := ctl.Status{
		Instances: []ctl.InstanceStatus{
			{Name: "VI_1", Interface: "eth0", VRID: 51, Family: "inet", State: "MASTER", Priority: 150, BasePriority: 150,
				AdvertsSent: 42, Received: map[string]uint64{"ok": 7, "ttl": 2}},
			{Name: `odd "name"\with` + "\nnewline", Interface: "eth1", VRID: 1, Family: "inet6", State: "FAULT", Faulted: true},
		},
		Sockets: []ctl.SocketStatus{
			{Interface: "eth0", Family: "inet", Source: "192.0.2.1", UnknownVRID: 3},
			{Interface: "eth0", Family: "inet", Unicast: true, Source: "192.0.2.1", UnknownVRID: 4},
		},
		Reloads: 2,
	}
	fams, text := parseMetrics(t, s)
	checkSamples(t, fams, []sample{
		{"vigil_vrrp_state", []string{"instance", "VI_1", "vrid", "51", "family", "inet", "interface", "eth0"}, 2},
		{"vigil_vrrp_state", []string{"instance", s.Instances[1].Name}, 3},
		{"vigil_vrrp_faulted", []string{"instance", s.Instances[1].Name}, 1},
		{"vigil_vrrp_priority", []string{"instance", "VI_1"}, 150},
		{"vigil_vrrp_adverts_sent_total", []string{"instance", "VI_1"}, 42},
		{"vigil_vrrp_adverts_received_total", []string{"instance", "VI_1", "verdict", "ok"}, 7},
		{"vigil_vrrp_adverts_received_total", []string{"instance", "VI_1", "verdict", "ttl"}, 2},
		{"vigil_vrrp_adverts_received_total", []string{"instance", "VI_1", "verdict", "checksum"}, 0},
		{"vigil_vrrp_unknown_vrid_total", []string{"transport", "multicast"}, 3},
		{"vigil_vrrp_unknown_vrid_total", []string{"transport", "unicast"}, 4},
		{"vigil_reloads_total", nil, 2},
	})
	for name := range fams {
		if strings.HasPrefix(name, "vigil_conntrack_") || name == "vigil_track_script_runs_total" {
			t.Errorf("%s written without its part of the status", name)
		}
	}
	if strings.Contains(text, "# HELP vigil_conntrack") {
		t.Errorf("a conntrack family without samples:\n%s", text)
	}
	// The line the metrics have always had, byte for byte.
	want := `vigil_vrrp_adverts_received_total{family="inet",instance="VI_1",interface="eth0",vrid="51",verdict="ok"} 7` + "\n"
	if !strings.Contains(text, want) {
		t.Errorf("exposition lacks %q:\n%s", want, text)
	}
}

// TestMetricsValues: values are written as Prometheus reads them back:
// large counters exactly up to 2^53, fractions, and no exponent notation.
func TestMetricsValues(t *testing.T) {
	for _, v := range []uint64{0, 1, 1_000_000, 1 << 53} {
		s := ctl.Status{Reloads: v}
		fams, text := parseMetrics(t, s)
		got := fams["vigil_reloads_total"].GetMetric()[0].GetCounter().GetValue()
		if got != float64(v) || strings.Contains(text, "e+") {
			t.Errorf("reloads %d read back as %v:\n%s", v, got, text)
		}
	}
	s := ctl.Status{Conntrack: &ctl.CTStatus{}}
	s.Conntrack.Lag = 1500_000_000 // 1.5 s
	fams, _ := parseMetrics(t, s)
	if got := fams["vigil_conntrack_lag_seconds"].GetMetric()[0].GetGauge().GetValue(); got != 1.5 {
		t.Errorf("lag 1.5 s read back as %v", got)
	}
}

// TestMetricsFamiliesSorted: every family's samples are contiguous and
// each family is written once (the parser refuses a second TYPE line; a
// second HELP would be caught here).
func TestMetricsFamiliesOnce(t *testing.T) {
	s, _ := ctltest.FilledStatus(1, "k")
	_, text := parseMetrics(t, s)
	var helps []string
	for line := range strings.Lines(text) {
		if name, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ = strings.Cut(name, " ")
			helps = append(helps, name)
		}
	}
	sorted := slices.Clone(helps)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(helps) {
		t.Errorf("a family written twice: %v", helps)
	}
	if len(helps) < 60 {
		t.Errorf("only %d families: %s", len(helps), fmt.Sprint(helps))
	}
}

// TestMetricsHandler: GET /metrics answers the exposition of the handler's
// snapshot with the text format's content type; other methods and paths
// are refused.
func TestMetricsHandler(t *testing.T) {
	h := ctl.MetricsHandler(ctl.MetricsConfig{Status: func() ctl.Status { return ctl.Status{Reloads: 5} }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" ||
		!strings.Contains(rec.Body.String(), "\nvigil_reloads_total 5\n") {
		t.Errorf("GET /metrics: %d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	for _, req := range []*http.Request{httptest.NewRequest("POST", "/metrics", nil), httptest.NewRequest("GET", "/", nil)} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 {
			t.Errorf("%s %s: %d", req.Method, req.URL.Path, rec.Code)
		}
	}
}

// TestMetricsConntrackPaths: the sync paths are labelled by name, with
// their link state, the active one, datagrams by direction and when the
// peer was last heard.
func TestMetricsConntrackPaths(t *testing.T) {
	s := ctl.Status{Conntrack: &ctl.CTStatus{}}
	s.Conntrack.PathSwitches = 3
	s.Conntrack.Paths = []conntracksync.PathStats{
		{Name: "eth2", Up: false, Active: false, In: 5, Out: 7},
		{Name: "backup", Up: true, Active: true, In: 11, Out: 13, LastHeard: time.Unix(1700000000, 500_000_000)},
	}
	fams, _ := parseMetrics(t, s)
	checkSamples(t, fams, []sample{
		{"vigil_conntrack_path_up", []string{"path", "eth2"}, 0},
		{"vigil_conntrack_path_up", []string{"path", "backup"}, 1},
		{"vigil_conntrack_path_active", []string{"path", "eth2"}, 0},
		{"vigil_conntrack_path_active", []string{"path", "backup"}, 1},
		{"vigil_conntrack_path_datagrams_total", []string{"path", "eth2", "direction", "in"}, 5},
		{"vigil_conntrack_path_datagrams_total", []string{"path", "backup", "direction", "out"}, 13},
		{"vigil_conntrack_path_last_heard_timestamp_seconds", []string{"path", "eth2"}, 0},
		{"vigil_conntrack_path_last_heard_timestamp_seconds", []string{"path", "backup"}, 1700000000.5},
		{"vigil_conntrack_path_switches_total", nil, 3},
	})
}

// sample is a sample's expected value: its family, some of its labels
// (name, value, ...) and the value.
type sample struct {
	name   string
	labels []string
	want   float64
}

// checkSamples finds each sample in fams and compares its value.
func checkSamples(t *testing.T, fams map[string]*dto.MetricFamily, samples []sample) {
	t.Helper()
	for _, tc := range samples {
		if v, ok := find(fams, tc.name, tc.labels...); !ok || v != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, v, ok, tc.want)
		}
	}
}

// TestMetricsLastTakeover: the latest takeover's commit is in the metrics
// as gauges (entries, refusals, the VIPs' wait, the whole commit, when),
// and absent without a conntrack_sync.
func TestMetricsLastTakeover(t *testing.T) {
	at := time.Unix(1796384206, 500_000_000)
	s := ctl.Status{Conntrack: &ctl.CTStatus{}}
	s.Conntrack.LastTakeover = conntracksync.TakeoverRecord{Time: at, Entries: 1843, Failed: 2,
		InLoop: 6100 * time.Microsecond, Duration: 450 * time.Millisecond}
	fams, text := parseMetrics(t, s)
	for name, want := range map[string]float64{
		"vigil_conntrack_last_takeover_timestamp_seconds": 1796384206.5,
		"vigil_conntrack_last_takeover_entries":           1843,
		"vigil_conntrack_last_takeover_failed":            2,
		"vigil_conntrack_last_takeover_wait_seconds":      0.0061,
		"vigil_conntrack_last_takeover_duration_seconds":  0.45,
	} {
		f := fams[name]
		if f == nil || len(f.GetMetric()) != 1 || f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s: %v", name, f)
			continue
		}
		if got := value(f.GetMetric()[0]); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}
	fams, _ = parseMetrics(t, ctl.Status{})
	if f := fams["vigil_conntrack_last_takeover_entries"]; f != nil && len(f.GetMetric()) > 0 {
		t.Errorf("without conntrack_sync: %v", f)
	}
}
