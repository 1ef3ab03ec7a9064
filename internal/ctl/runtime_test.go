package ctl_test

import (
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// testStart is a moment after this test process started.
var testStart = time.Now()

// find returns the value of name's first sample whose labels include the
// given name/value pairs.
func find(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
				continue next
			}
		}
		return value(m), true
	}
	return 0, false
}

// TestRuntimeFamilies: the endpoint serves the process_* and go_* families
// under client_golang's names and types, with values that describe this
// very process: it started before the test's first line ran and less than
// a minute before, has files open, memory, goroutines and threads, and the
// GC summary counts the collections the runtime made.
func TestRuntimeFamilies(t *testing.T) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fams, text := parseExposition(t, ctl.Status{}, false)
	types := map[string]dto.MetricType{
		"process_cpu_seconds_total":        dto.MetricType_COUNTER,
		"process_open_fds":                 dto.MetricType_GAUGE,
		"process_max_fds":                  dto.MetricType_GAUGE,
		"process_virtual_memory_bytes":     dto.MetricType_GAUGE,
		"process_virtual_memory_max_bytes": dto.MetricType_GAUGE,
		"process_resident_memory_bytes":    dto.MetricType_GAUGE,
		"process_start_time_seconds":       dto.MetricType_GAUGE,
		"go_goroutines":                    dto.MetricType_GAUGE,
		"go_threads":                       dto.MetricType_GAUGE,
		"go_sched_gomaxprocs_threads":      dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes":          dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes_total":    dto.MetricType_COUNTER,
		"go_memstats_sys_bytes":            dto.MetricType_GAUGE,
		"go_memstats_heap_inuse_bytes":     dto.MetricType_GAUGE,
		"go_memstats_heap_objects":         dto.MetricType_GAUGE,
		"go_memstats_next_gc_bytes":        dto.MetricType_GAUGE,
		"go_memstats_last_gc_time_seconds": dto.MetricType_GAUGE,
		"go_gc_duration_seconds":           dto.MetricType_SUMMARY,
		"go_info":                          dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		f := fams[name]
		if f == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if f.GetType() != typ || f.GetHelp() == "" {
			t.Errorf("%s: type %v help %q, want %v", name, f.GetType(), f.GetHelp(), typ)
		}
	}
	if t.Failed() {
		t.Fatalf("exposition:\n%s", text)
	}
	get := func(name string) float64 { v, _ := find(fams, name); return v }

	start := time.Unix(0, int64(get("process_start_time_seconds")*1e9))
	// The start time is counted in 1/100 s from a boot time in whole
	// seconds: allow a second of rounding.
	if start.After(testStart.Add(time.Second)) || start.Before(testStart.Add(-time.Minute)) {
		t.Errorf("process_start_time_seconds %v, want within the minute before %v", start, testStart)
	}
	if fds := get("process_open_fds"); fds < 3 || fds > get("process_max_fds") {
		t.Errorf("process_open_fds %v (max %v)", fds, get("process_max_fds"))
	}
	if rss, vsz := get("process_resident_memory_bytes"), get("process_virtual_memory_bytes"); rss < 1<<20 || vsz < rss {
		t.Errorf("resident %v, virtual %v bytes", rss, vsz)
	}
	if cpu := get("process_cpu_seconds_total"); cpu < 0 || cpu > time.Since(testStart).Seconds()*float64(runtime.NumCPU())+1 {
		t.Errorf("process_cpu_seconds_total %v", cpu)
	}
	if g := get("go_goroutines"); g < 1 || g > float64(runtime.NumGoroutine()+10) {
		t.Errorf("go_goroutines %v, runtime says %d", g, runtime.NumGoroutine())
	}
	if th := get("go_threads"); th < 1 {
		t.Errorf("go_threads %v", th)
	}
	if p := get("go_sched_gomaxprocs_threads"); p != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("go_sched_gomaxprocs_threads %v, want %d", p, runtime.GOMAXPROCS(0))
	}
	if a, in := get("go_memstats_alloc_bytes"), get("go_memstats_heap_inuse_bytes"); a <= 0 || in < a || get("go_memstats_alloc_bytes_total") < a {
		t.Errorf("alloc %v, heap in use %v, allocated in all %v", a, in, get("go_memstats_alloc_bytes_total"))
	}
	gc := fams["go_gc_duration_seconds"].GetMetric()[0].GetSummary()
	if gc.GetSampleCount() < uint64(ms.NumGC) || len(gc.GetQuantile()) != 5 || gc.GetSampleSum() <= 0 {
		t.Errorf("go_gc_duration_seconds: count %d (runtime: at least %d), sum %v, %d quantiles",
			gc.GetSampleCount(), ms.NumGC, gc.GetSampleSum(), len(gc.GetQuantile()))
	}
	for i, q := range gc.GetQuantile() {
		if i > 0 && q.GetValue() < gc.GetQuantile()[i-1].GetValue() {
			t.Errorf("go_gc_duration_seconds quantiles not ascending: %v", gc.GetQuantile())
		}
	}
	if last := get("go_memstats_last_gc_time_seconds"); last < float64(testStart.Unix()) {
		t.Errorf("go_memstats_last_gc_time_seconds %v, before the test started", last)
	}
	if v, ok := find(fams, "go_info", "version", runtime.Version()); !ok || v != 1 {
		t.Errorf("go_info{version=%q} = %v, %v", runtime.Version(), v, ok)
	}
}
