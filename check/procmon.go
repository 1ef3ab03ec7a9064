package check

import (
	"log/slog"
	"sync"
	"time"
)

// ProcessCount is how many processes match a vrrp_track_process now.
type ProcessCount struct {
	Name  string
	Count int
	Time  time.Time
}

// ProcessMonitor scans /proc every interval for a set of ProcessSpecs and
// posts a ProcessCount whenever a count changes (and once per spec after
// the first scan). Feed the counts to a ProcessTracker per spec. It polls,
// where keepalived listens on the proc connector; fork_delay and
// terminate_delay shorter than the interval therefore have no effect.
type ProcessMonitor struct {
	specs    map[string]ProcessSpec
	interval time.Duration
	root     string
	log      *slog.Logger
	out      chan ProcessCount
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// NewProcessMonitor starts scanning procRoot ("/proc") every interval;
// Close stops it.
func NewProcessMonitor(specs map[string]ProcessSpec, interval time.Duration, procRoot string, log *slog.Logger) *ProcessMonitor {
	if log == nil {
		log = slog.Default()
	}
	if interval <= 0 {
		panic("check: ProcessMonitor interval must be positive")
	}
	m := &ProcessMonitor{specs: specs, interval: interval, root: procRoot, log: log,
		out: make(chan ProcessCount, len(specs)+16), stop: make(chan struct{}), done: make(chan struct{})}
	go m.runScan()
	return m
}

// Counts delivers changed counts; closed by Close.
func (m *ProcessMonitor) Counts() <-chan ProcessCount { return m.out }

// Close stops the scanning goroutine and closes Counts.
func (m *ProcessMonitor) Close() {
	m.once.Do(func() { close(m.stop) })
	<-m.done
}

// runScan scans until Close; owned by the ProcessMonitor.
func (m *ProcessMonitor) runScan() {
	defer close(m.done)
	defer close(m.out)
	last := map[string]int{}
	first := true
	tk := time.NewTicker(m.interval)
	defer tk.Stop()
	for {
		procs, err := ScanProc(m.root)
		if err != nil {
			m.log.Warn("check: process scan failed", "err", err)
		} else {
			now := time.Now()
			for name, spec := range m.specs {
				n := spec.Count(procs)
				if old, ok := last[name]; first || !ok || old != n {
					last[name] = n
					select {
					case m.out <- ProcessCount{Name: name, Count: n, Time: now}:
					case <-m.stop:
						return
					}
				}
			}
			first = false
		}
		select {
		case <-tk.C:
		case <-m.stop:
			return
		}
	}
}
