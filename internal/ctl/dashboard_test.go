package ctl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardFile is the Grafana dashboard the repository ships.
var dashboardFile = filepath.Join("..", "..", "etc", "grafana-vigil.json")

// servedAlways is every family name /metrics serves without options:
// vigil's table, the process_* and go_* families, and a summary's _sum and
// _count series. keepalived-exporter's names are left out: a dashboard of
// ours must not need --metrics-keepalived-names.
func servedAlways() map[string]bool {
	names := map[string]bool{gcDurationName: true, gcDurationName + "_sum": true, gcDurationName + "_count": true, goInfoName: true}
	for _, m := range metrics {
		names[m.name] = true
	}
	for _, m := range processMetrics {
		names[m.name] = true
	}
	for _, m := range goMetrics {
		names[m.name] = true
	}
	return names
}

var (
	promqlStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	grafanaVars    = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promqlTokens   = regexp.MustCompile(`[0-9][0-9A-Za-z.]*|[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "bool": true, "offset": true, "Inf": true, "NaN": true, "inf": true, "nan": true,
	}
)

// promqlNames returns the metric names a PromQL expression (with Grafana
// variables) reads: every identifier that is not inside a string, label
// matcher, range or grouping clause, not a number or duration, not a
// keyword, and not a function (followed by "(").
func promqlNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlRanges.ReplaceAllString(e, " ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	e = grafanaVars.ReplaceAllString(e, " ")
	var names []string
	for _, loc := range promqlTokens.FindAllStringIndex(e, -1) {
		tok := e[loc[0]:loc[1]]
		if tok[0] >= '0' && tok[0] <= '9' || promqlKeywords[tok] {
			continue
		}
		if rest := strings.TrimLeft(e[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function
		}
		names = append(names, tok)
	}
	return names
}

// TestPromQLNames: the extractor the dashboard test relies on finds the
// metric names, and only them, in the shapes of expression a dashboard
// uses.
func TestPromQLNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`vigil_vrrp_state{job=~"$job"}`, []string{"vigil_vrrp_state"}},
		{`time() - vigil_vrrp_last_transition_timestamp_seconds`, []string{"vigil_vrrp_last_transition_timestamp_seconds"}},
		{`sum by (job, verdict) (rate(vigil_vrrp_adverts_received_total{verdict!~"ok|x"}[$__rate_interval])) > 0`, []string{"vigil_vrrp_adverts_received_total"}},
		{`histogram_quantile(0.9, rate(a_bucket[5m] offset 1h30m)) / on (job) group_left (x) b * 1e3`, []string{"a_bucket", "b"}},
		{`label_values(vigil_reloads_total, job)`, []string{"vigil_reloads_total", "job"}},
		{`count without (le) (c{a="{b}", c='d'}) and bool d_total`, []string{"c", "d_total"}},
	} {
		if got := promqlNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("promqlNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// dashboardQueries returns every PromQL expression of a Grafana dashboard:
// the panels' targets (rows' nested panels too) and the query variables.
func dashboardQueries(v any, in string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if e, ok := x["expr"].(string); ok {
			out = append(out, e)
		}
		if x["type"] == "query" && in == "list" { // a templating variable
			switch q := x["query"].(type) {
			case string:
				out = append(out, q)
			case map[string]any:
				if s, ok := q["query"].(string); ok {
					out = append(out, s)
				}
			}
		}
		for k, e := range x {
			out = append(out, dashboardQueries(e, k)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, dashboardQueries(e, in)...)
		}
	}
	return out
}

// TestDashboardNamesExported: every metric name in the PromQL of
// etc/grafana-vigil.json is a family vigild serves (label_values' label
// argument aside), and the dashboard covers what an operator's wall
// shows: states, transitions, priority, adverts and drops, real servers,
// checker failures, conntrack lag and backlog.
func TestDashboardNamesExported(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	queries := dashboardQueries(doc, "")
	if len(queries) < 20 {
		t.Fatalf("%s: only %d queries found", dashboardFile, len(queries))
	}
	served := servedAlways()
	used := map[string]bool{}
	for _, q := range queries {
		names := promqlNames(q)
		if strings.HasPrefix(strings.TrimSpace(q), "label_values(") && len(names) > 1 {
			names = names[:len(names)-1] // label_values(metric, label)
		}
		for _, n := range names {
			used[n] = true
			if !served[n] {
				t.Errorf("%s: %q reads %s, which vigild does not serve", dashboardFile, q, n)
			}
		}
	}
	for _, want := range []string{
		"vigil_vrrp_state", "vigil_vrrp_become_master_total", "vigil_vrrp_release_master_total", "vigil_vrrp_priority",
		"vigil_vrrp_adverts_sent_total", "vigil_vrrp_adverts_received_total", "vigil_ipvs_real_server_up",
		"vigil_healthcheck_failures_total", "vigil_conntrack_lag_seconds", "vigil_conntrack_backlog",
	} {
		if !used[want] {
			t.Errorf("%s does not show %s", dashboardFile, want)
		}
	}
}
