package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// takeover is the timeline of one timer-driven takeover: when the timer
// that caused it was due, when the loop's timer woke (the timerfd's reader,
// or the Go timer), when the loop ran the machine, when the kernel worker
// began and finished adding the addresses, when its first GARP / NA round
// had been handed to the sockets, and when the loop handed that round to
// the worker and the worker began it (at the end of the line, after the
// outcomes, with the CPUs the loop ran the machine on and the worker
// began the addition on). It is always kept (a handful of clock reads per
// takeover) and logged at debug level (-D) once the first
// round is out, so that a benchmark can set vigild's own points beside a
// capture of the wire.
//
// Concurrency: the loop fills due, woke and ran before it hands the
// addresses to the worker, and annQueued before it hands over the first
// round; the worker fills the rest in the order of its jobs; the loop
// reads them in the announcement job's outcome, which the worker hands
// over after the last write.
type takeover struct {
	due, woke, ran        time.Time
	addStart, addDone     time.Time
	announced             time.Time
	annQueued, annStart   time.Time
	addErr, announceErred bool
	// loopCPU and workerCPU are where the loop ran the machine and where
	// the worker began the address addition (currentCPU; -1: unknown).
	loopCPU, workerCPU int
}

// timerWake is what the loop knows about its current timer wake-up, for
// the takeover it may start; zero outside fireTimers.
type timerWake struct {
	woke, ran time.Time
}

// timerTakeover reports whether inst's actions being executed come from
// its timer firing in this loop turn (a backup's Master_Down deadline, when
// they hold an AddVIPs); inst.due holds that timer's deadline.
func (d *Daemon) timerTakeover(inst *instance) bool {
	return !d.wake.ran.IsZero() && !inst.due.IsZero()
}

// startTakeover begins inst's timeline if the AddVIPs being executed comes
// from a timer of this loop turn; inst.due holds that timer's deadline.
func (d *Daemon) startTakeover(inst *instance) *takeover {
	if !d.timerTakeover(inst) {
		return nil
	}
	tk := &takeover{due: inst.due, woke: d.wake.woke, ran: d.wake.ran, loopCPU: currentCPU(), workerCPU: -1}
	inst.takeover = tk
	return tk
}

// logTakeover writes the debug line of a finished timeline: the due time
// as Unix nanoseconds, every later point in microseconds after it.
func (inst *instance) logTakeover(log *slog.Logger, tk *takeover) {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	us := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(t.Sub(tk.due))/float64(time.Microsecond))
	}
	log.Debug(fmt.Sprintf("(%s) takeover timeline", inst.cfg.Name),
		"due_unix_ns", tk.due.UnixNano(),
		"woke_us", us(tk.woke),
		"ran_us", us(tk.ran),
		"add_start_us", us(tk.addStart),
		"add_done_us", us(tk.addDone),
		"announced_us", us(tk.announced),
		"add_failed", tk.addErr,
		"announce_failed", tk.announceErred,
		"ann_queued_us", us(tk.annQueued),
		"ann_start_us", us(tk.annStart),
		"loop_cpu", tk.loopCPU,
		"worker_cpu", tk.workerCPU)
}

// LoggedTakeover is one takeover timeline read back from vigild's log
// (logTakeover's debug line): for the benchmarks and tests that set
// vigild's own points beside what they observe.
type LoggedTakeover struct {
	Instance string
	Due      time.Time // the timer's deadline
	// Woke, Ran, AddStart, AddDone and Announced are after Due; Complete
	// is false when any of them was not logged ("-").
	Woke, Ran, AddStart, AddDone, Announced time.Duration
	Complete                                bool
	// LoopCPU and WorkerCPU are the CPUs the loop and the worker ran on;
	// CPUsKnown is false when the line has neither, or either is unknown.
	LoopCPU, WorkerCPU int
	CPUsKnown          bool
}

// loggedTakeoverREs are ParseLoggedTakeovers' expressions, compiled at
// its first call: the daemon never reads its own log back, so vigild does
// not compile them at every start.
var loggedTakeoverREs = sync.OnceValues(func() (line, cpus *regexp.Regexp) {
	return regexp.MustCompile(`\((\S+?)\) takeover timeline.*? due_unix_ns=(\d+) woke_us=(\S+) ran_us=(\S+) add_start_us=(\S+) add_done_us=(\S+) announced_us=(\S+)`),
		regexp.MustCompile(` loop_cpu=(\d+) worker_cpu=(\d+)`)
})

// ParseLoggedTakeovers returns the takeover timelines logged in log, in
// their order.
func ParseLoggedTakeovers(log string) []LoggedTakeover {
	lineRE, cpusRE := loggedTakeoverREs()
	var out []LoggedTakeover
	for line := range strings.Lines(log) {
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			continue
		}
		tl := LoggedTakeover{Instance: m[1], Due: time.Unix(0, ns), Complete: true}
		for i, p := range []*time.Duration{&tl.Woke, &tl.Ran, &tl.AddStart, &tl.AddDone, &tl.Announced} {
			f, err := strconv.ParseFloat(m[3+i], 64)
			if err != nil {
				tl.Complete = false
				continue
			}
			*p = time.Duration(f * float64(time.Microsecond))
		}
		if c := cpusRE.FindStringSubmatch(line); c != nil {
			tl.LoopCPU, _ = strconv.Atoi(c[1])
			tl.WorkerCPU, _ = strconv.Atoi(c[2])
			tl.CPUsKnown = true
		}
		out = append(out, tl)
	}
	return out
}
