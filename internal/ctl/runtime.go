package ctl

import (
	"bufio"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// The process_* and go_* families every Prometheus client exports, with
// the names, types and help texts of client_golang's process and Go
// collectors, so that the dashboards and alerts written for those work on
// vigild. They describe vigild itself, not its configuration: they are
// read when a scrape comes, not from the status snapshot.

// processStats is what the kernel says about vigild (process_linux.go).
type processStats struct {
	CPUSeconds      float64 // user + system
	VirtualBytes    float64
	ResidentBytes   float64
	StartTime       float64 // seconds since the Unix epoch
	OpenFDs         float64
	MaxFDs          float64 // the soft limit
	MaxVirtualBytes float64 // the soft limit; 2^64-1 when unlimited
}

// runtimeStats is what the Go runtime says about vigild.
type runtimeStats struct {
	goroutines, threads, gomaxprocs          float64
	allocBytes, allocBytesTotal, sysBytes    float64
	heapInuseBytes, heapObjects, nextGCBytes float64
	gcCount                                  uint64
	gcPauseTotal                             time.Duration
	gcPauseQuantiles                         [5]time.Duration // min, 25%, 50%, 75%, max
	lastGC                                   time.Time
}

// scalar is a family of one sample without labels, read from a T.
type scalar[T any] struct {
	name  string
	typ   metricType
	help  string
	value func(*T) float64
}

// processMetrics are client_golang's process collector's families (but
// the network ones, which are the namespace's, not the process's).
var processMetrics = []scalar[processStats]{
	{"process_cpu_seconds_total", counter, "Total user and system CPU time spent in seconds.", func(p *processStats) float64 { return p.CPUSeconds }},
	{"process_open_fds", gauge, "Number of open file descriptors.", func(p *processStats) float64 { return p.OpenFDs }},
	{"process_max_fds", gauge, "Maximum number of open file descriptors.", func(p *processStats) float64 { return p.MaxFDs }},
	{"process_virtual_memory_bytes", gauge, "Virtual memory size in bytes.", func(p *processStats) float64 { return p.VirtualBytes }},
	{"process_virtual_memory_max_bytes", gauge, "Maximum amount of virtual memory available in bytes.", func(p *processStats) float64 { return p.MaxVirtualBytes }},
	{"process_resident_memory_bytes", gauge, "Resident memory size in bytes.", func(p *processStats) float64 { return p.ResidentBytes }},
	{"process_start_time_seconds", gauge, "Start time of the process since unix epoch in seconds.", func(p *processStats) float64 { return p.StartTime }},
}

// goMetrics are client_golang's Go collector's default families, but for
// go_gc_duration_seconds and go_info (writeRuntimeMetrics).
var goMetrics = []scalar[runtimeStats]{
	{"go_goroutines", gauge, "Number of goroutines that currently exist.", func(r *runtimeStats) float64 { return r.goroutines }},
	{"go_threads", gauge, "Number of OS threads created.", func(r *runtimeStats) float64 { return r.threads }},
	{"go_sched_gomaxprocs_threads", gauge, gomaxprocsHelp(), func(r *runtimeStats) float64 { return r.gomaxprocs }},
	{"go_memstats_alloc_bytes", gauge, "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", func(r *runtimeStats) float64 { return r.allocBytes }},
	{"go_memstats_alloc_bytes_total", counter, "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", func(r *runtimeStats) float64 { return r.allocBytesTotal }},
	{"go_memstats_sys_bytes", gauge, "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", func(r *runtimeStats) float64 { return r.sysBytes }},
	{"go_memstats_heap_inuse_bytes", gauge, "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", func(r *runtimeStats) float64 { return r.heapInuseBytes }},
	{"go_memstats_heap_objects", gauge, "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", func(r *runtimeStats) float64 { return r.heapObjects }},
	{"go_memstats_next_gc_bytes", gauge, "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", func(r *runtimeStats) float64 { return r.nextGCBytes }},
	{"go_memstats_last_gc_time_seconds", gauge, "Number of seconds since 1970 of last garbage collection.", func(r *runtimeStats) float64 { return unixSeconds(r.lastGC) }},
}

// The two go_* families that are not one plain sample.
const (
	gcDurationName = "go_gc_duration_seconds"
	goInfoName     = "go_info"
)

// runtimeSamples are the runtime/metrics read for each scrape, in the
// order readRuntime reads them.
var runtimeSamples = []string{
	"/sched/goroutines:goroutines",
	"/sched/threads/total:threads",
	"/sched/gomaxprocs:threads",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/gc/heap/allocs:bytes",
	"/memory/classes/total:bytes",
	"/gc/heap/objects:objects",
	"/gc/heap/goal:bytes",
}

// readRuntime reads the runtime's metrics and its GC pause summary.
func readRuntime() runtimeStats {
	samples := make([]rtmetrics.Sample, len(runtimeSamples))
	for i, name := range runtimeSamples {
		samples[i].Name = name
	}
	rtmetrics.Read(samples)
	v := func(i int) float64 {
		switch samples[i].Value.Kind() {
		case rtmetrics.KindUint64:
			return float64(samples[i].Value.Uint64())
		case rtmetrics.KindFloat64:
			return samples[i].Value.Float64()
		}
		return 0 // not supported by this runtime
	}
	r := runtimeStats{
		goroutines:      v(0),
		threads:         v(1),
		gomaxprocs:      v(2),
		allocBytes:      v(3),
		heapInuseBytes:  v(3) + v(4),
		allocBytesTotal: v(5),
		sysBytes:        v(6),
		heapObjects:     v(7),
		nextGCBytes:     v(8),
	}
	var gc debug.GCStats
	gc.PauseQuantiles = r.gcPauseQuantiles[:]
	debug.ReadGCStats(&gc)
	r.gcCount, r.gcPauseTotal, r.lastGC = uint64(gc.NumGC), gc.PauseTotal, gc.LastGC
	return r
}

// gomaxprocsHelp is client_golang's help for go_sched_gomaxprocs_threads:
// the runtime's own description and where it comes from.
func gomaxprocsHelp() string {
	const name = "/sched/gomaxprocs:threads"
	for _, d := range rtmetrics.All() {
		if d.Name == name {
			return d.Description + " Sourced from " + name + "."
		}
	}
	return "The current runtime.GOMAXPROCS setting. Sourced from " + name + "."
}

// writeScalars writes one family per row, read from src.
func writeScalars[T any](w *bufio.Writer, b []byte, rows []scalar[T], src *T) []byte {
	for _, m := range rows {
		b = appendSample(b[:0], m.name, nil, nil, m.value(src))
		writeFamily(w, m.name, m.typ, m.help, b)
	}
	return b
}

// writeRuntimeMetrics writes the process_* families (when the kernel
// answers) and the go_* families.
func writeRuntimeMetrics(w *bufio.Writer) {
	var b []byte
	if p, err := readProcess(); err == nil {
		b = writeScalars(w, b, processMetrics, &p)
	}
	r := readRuntime()
	b = writeScalars(w, b, goMetrics, &r)

	// A summary: the pause quantiles of the last cycles (at most 256, as
	// the runtime keeps them), then the sum and count of all pauses.
	b = b[:0]
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		b = appendSample(b, gcDurationName, quantileLabel, []string{q}, r.gcPauseQuantiles[i].Seconds())
	}
	b = appendSample(b, gcDurationName+"_sum", nil, nil, r.gcPauseTotal.Seconds())
	b = appendSample(b, gcDurationName+"_count", nil, nil, float64(r.gcCount))
	writeFamily(w, gcDurationName, summary, "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", b)

	b = appendSample(b[:0], goInfoName, []string{"version"}, []string{runtime.Version()}, 1)
	writeFamily(w, goInfoName, gauge, "Information about the Go environment.", b)
}

var quantileLabel = []string{"quantile"}
