package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vrrp"
)

// processScanInterval is how often /proc is scanned for track_process.
const processScanInterval = time.Second

// tracking runs what instances and sync groups track: vrrp_script runs,
// track files, processes and interfaces. The checkers post results to
// channels the loop reads; the debounce cores and the priority arithmetic
// (package check) are called only by the loop.
type tracking struct {
	log *slog.Logger

	results chan check.RunResult
	runner  *check.Runner
	scripts map[string]*trackedScript // referenced vrrp_scripts, by name

	watcher  *check.Watcher // nil when Host.InterfaceEvents replaces it
	ifEvents <-chan check.IfaceEvent
	ifUp     map[string]bool // interface name → up (IFF_UP and IFF_RUNNING)

	files *check.FileWatcher
	paths map[string]string // track_file name → path, what files watches

	procMon *check.ProcessMonitor
	procs   map[string]*check.ProcessTracker
	specs   map[string]check.ProcessSpec

	// held names the instances that started in FAULT only because a
	// weight-0 script had not reported yet. keepalived tells no one about
	// an instance until such a script's first result: the FAULT is
	// notified when the result is a failure, never when it is a success
	// (the instance then goes to BACKUP as if it had waited in INIT).
	held map[string]bool

	// rl rate-limits the lines that repeat with every script run or
	// netlink event; kept across reloads.
	rl *rateLogs
}

type trackedScript struct {
	cfg     *config.Script
	tracker *check.Tracker
	run     check.Script
}

// trackedNames collects what cfg's instances and groups reference.
func trackedNames(cfg *config.Config) (scripts, files, procs map[string]bool, ifaces []string) {
	scripts, files, procs = map[string]bool{}, map[string]bool{}, map[string]bool{}
	add := func(refs []config.TrackRef, into map[string]bool) {
		for _, r := range refs {
			into[r.Name] = true
		}
	}
	for _, ic := range cfg.Instances {
		add(ic.TrackScripts, scripts)
		add(ic.TrackFiles, files)
		add(ic.TrackProcesses, procs)
		ifaces = append(ifaces, ic.Interface)
		for _, r := range ic.TrackInterfaces {
			ifaces = append(ifaces, r.Name)
		}
	}
	for _, g := range cfg.SyncGroups {
		add(g.TrackScripts, scripts)
		add(g.TrackFiles, files)
		add(g.TrackProcesses, procs)
		for _, r := range g.TrackInterfaces {
			ifaces = append(ifaces, r.Name)
		}
	}
	for _, v := range cfg.VirtualServers { // FILE_CHECK reads track files too (lvs.go)
		for _, r := range v.RealServers {
			for _, c := range r.Checkers {
				if c.Kind == "FILE_CHECK" && c.TrackFile != "" {
					files[c.TrackFile] = true
				}
			}
		}
	}
	slices.Sort(ifaces)
	return scripts, files, procs, slices.Compact(ifaces)
}

// newTracking starts the checkers cfg needs. Scripts start running only
// when the loop asks (their first run is due at once). With prev (a
// reload), the script runner and the interface watcher are kept, and so is
// the state of every tracker whose configuration did not change, so that a
// reload does not send instances through FAULT while checks start over.
func newTracking(log *slog.Logger, cfg *config.Config, now time.Time, prev *tracking, host Host) (*tracking, error) {
	t := &tracking{
		log:     log,
		scripts: map[string]*trackedScript{},
		ifUp:    map[string]bool{},
		procs:   map[string]*check.ProcessTracker{},
		held:    map[string]bool{},
	}
	if prev != nil {
		maps.Copy(t.held, prev.held)
		t.rl = prev.rl
	} else {
		t.rl = newRateLogs(log)
	}
	scripts, files, procs, ifaces := trackedNames(cfg)
	if prev != nil {
		t.results, t.runner, t.watcher, t.ifEvents = prev.results, prev.runner, prev.watcher, prev.ifEvents
	} else {
		t.ifEvents = host.InterfaceEvents
		if t.ifEvents == nil {
			var err error
			if t.watcher, err = check.NewWatcher(check.WatcherConfig{Log: log}); err != nil {
				return nil, fmt.Errorf("daemon: interface tracking: %w", err)
			}
			t.ifEvents = t.watcher.Events()
		}
		t.results = make(chan check.RunResult, 64)
		t.runner = check.NewRunner(check.RunnerConfig{Log: log, Results: t.results})
	}
	for _, name := range ifaces {
		if up, ok := prevIface(prev, name); ok {
			t.ifUp[name] = up
		} else {
			t.ifUp[name] = ifaceUp(host, name)
		}
	}
	var errs []error
	for name := range scripts {
		sc := cfg.Scripts[name]
		if sc == nil || sc.Cmd == nil || len(sc.Cmd.Argv) == 0 {
			continue // config warned about the unknown name
		}
		if prev != nil {
			if old := prev.scripts[name]; old != nil && sameScript(old.cfg, sc) {
				t.scripts[name] = old
				continue
			}
		}
		s, err := newTrackedScript(sc, cfg, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.scripts[name] = s
	}
	paths := map[string]string{}
	for name := range files {
		if tf := cfg.TrackFiles[name]; tf != nil {
			paths[name] = tf.File
		}
	}
	specs := map[string]check.ProcessSpec{}
	for name := range procs {
		if tp := cfg.TrackProcesses[name]; tp != nil {
			specs[name] = processSpec(tp)
		}
	}
	if prev != nil && reflect.DeepEqual(paths, prev.paths) {
		t.files, t.paths = prev.files, prev.paths
	} else {
		for name := range files {
			if tf := cfg.TrackFiles[name]; tf != nil && tf.InitFile {
				if err := check.InitTrackFile(tf.File, int64(tf.InitValue), tf.Overwrite); err != nil {
					errs = append(errs, fmt.Errorf("%s: track_file %s: %w", tf.Pos, name, err))
				}
			}
		}
		t.paths = paths
		if len(paths) > 0 {
			var err error
			if t.files, err = check.NewFileWatcher(paths, log); err != nil {
				errs = append(errs, fmt.Errorf("daemon: track files: %w", err))
			}
		}
	}
	if prev != nil && reflect.DeepEqual(specs, prev.specs) {
		t.procMon, t.procs, t.specs = prev.procMon, prev.procs, prev.specs
	} else {
		t.specs = specs
		for name, spec := range specs {
			t.procs[name] = check.NewProcessTracker(spec)
		}
		if len(specs) > 0 {
			t.procMon = check.NewProcessMonitor(specs, processScanInterval, "/proc", log)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.closeExcept(prev)
		return nil, err
	}
	return t, nil
}

func prevIface(prev *tracking, name string) (up, ok bool) {
	if prev == nil {
		return false, false
	}
	up, ok = prev.ifUp[name]
	return up, ok
}

// sameScript compares two vrrp_script blocks, positions aside.
func sameScript(a, b *config.Script) bool {
	x, y := *a, *b
	x.Pos, y.Pos = config.Pos{}, config.Pos{}
	if x.Cmd != nil && y.Cmd != nil {
		cx, cy := *x.Cmd, *y.Cmd
		cx.Pos, cy.Pos = config.Pos{}, config.Pos{}
		x.Cmd, y.Cmd = &cx, &cy
	}
	return reflect.DeepEqual(x, y)
}

func newTrackedScript(sc *config.Script, cfg *config.Config, now time.Time) (*trackedScript, error) {
	user, group := sc.User, sc.Group
	if user == "" {
		user, group = sc.Cmd.User, sc.Cmd.Group
	}
	if user == "" {
		user, group = cfg.Global.ScriptUser, cfg.Global.ScriptGroup
	}
	uid, gid, err := check.LookupCredential(user, group)
	if err != nil {
		return nil, fmt.Errorf("%s: vrrp_script %s: %w", sc.Pos, sc.Name, err)
	}
	return &trackedScript{
		cfg: sc,
		tracker: check.NewTracker(check.TrackerConfig{
			Interval: sc.Interval, Rise: sc.Rise, Fall: sc.Fall, InitFail: sc.InitFail,
		}, now),
		run: check.Script{
			Name: sc.Name, Argv: sc.Cmd.Argv, Timeout: sc.Timeout,
			Credential: uid != 0 || gid != 0, UID: uid, GID: gid,
			AllowUnsafe: !cfg.Global.EnableScriptSecurity,
		},
	}, nil
}

func processSpec(tp *config.TrackProcess) check.ProcessSpec {
	s := check.ProcessSpec{
		Process:        tp.Process,
		Params:         tp.Args,
		FullCommand:    tp.FullCommand,
		Quorum:         tp.Quorum,
		QuorumMax:      tp.QuorumMax,
		ForkDelay:      tp.ForkDelay,
		TerminateDelay: tp.TerminateDelay,
	}
	switch tp.ParamMatch {
	case "initial":
		s.ParamMatch = check.ParamMatchInitial
	case "partial":
		s.ParamMatch = check.ParamMatchPartial
	}
	return s
}

// ifaceUp reads an interface's state directly (used before the watcher's
// first events arrive).
func ifaceUp(host Host, name string) bool {
	ifi, err := host.Interface(name)
	return err == nil && ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0
}

// close stops every checker.
func (t *tracking) close() { t.closeExcept(nil) }

// closeExcept stops the checkers that keep is not using (after a reload,
// keep is the new tracking; nil stops everything).
func (t *tracking) closeExcept(keep *tracking) {
	if t.runner != nil && (keep == nil || keep.runner != t.runner) {
		t.runner.Close()
	}
	if t.watcher != nil && (keep == nil || keep.watcher != t.watcher) {
		t.watcher.Close()
	}
	if t.files != nil && (keep == nil || keep.files != t.files) {
		t.files.Close()
	}
	if t.procMon != nil && (keep == nil || keep.procMon != t.procMon) {
		t.procMon.Close()
	}
}

// Channels the loop selects on; nil (never ready) when not in use.
func (t *tracking) ifaceEvents() <-chan check.IfaceEvent { return t.ifEvents }

func (t *tracking) fileEvents() <-chan check.FileEvent {
	if t.files == nil {
		return nil
	}
	return t.files.Events()
}

func (t *tracking) processCounts() <-chan check.ProcessCount {
	if t.procMon == nil {
		return nil
	}
	return t.procMon.Counts()
}

// deadline is the earliest script run or process-delay expiry.
func (t *tracking) deadline() (time.Time, bool) {
	var next time.Time
	ok := false
	for _, s := range t.scripts {
		if d := s.tracker.Deadline(); !ok || d.Before(next) {
			next, ok = d, true
		}
	}
	for _, p := range t.procs {
		if d, pending := p.Deadline(); pending && (!ok || d.Before(next)) {
			next, ok = d, true
		}
	}
	if d, pending := t.rl.deadline(); pending && (!ok || d.Before(next)) {
		next, ok = d, true
	}
	return next, ok
}

// fire starts the scripts that are due and expires process delays. It
// reports whether any tracked state changed.
func (t *tracking) fire(now time.Time) bool {
	changed := false
	t.rl.flush(now)
	for _, s := range t.scripts {
		if now.Before(s.tracker.Deadline()) {
			continue
		}
		if s.tracker.Start(now) {
			if err := t.runner.Run(s.run); err != nil && t.rl.allow(slog.LevelWarn, "script starts failed", s.cfg.Name, "", now) {
				t.log.Warn(fmt.Sprintf("VRRP_Script(%s) could not be run", s.cfg.Name), "err", err)
			}
		} else if t.rl.allow(slog.LevelWarn, "script runs skipped", s.cfg.Name, "still running", now) {
			t.log.Warn(fmt.Sprintf("VRRP_Script(%s) still running at its next interval, skipping a run", s.cfg.Name))
		}
	}
	for name, p := range t.procs {
		if c, ok := p.Tick(now); ok {
			t.logProcess(name, c)
			changed = true
		}
	}
	return changed
}

// scriptResult feeds one run's result to its debounce core.
func (t *tracking) scriptResult(r check.RunResult, now time.Time) bool {
	s := t.scripts[r.Name]
	if s == nil {
		return false
	}
	c, ok := s.tracker.Handle(r.Result, now)
	if !ok {
		if !r.Result.OK() && t.rl.allow(slog.LevelDebug, "failed script runs", r.Name, "", now) {
			t.log.Debug(fmt.Sprintf("VRRP_Script(%s) %s", r.Name, r.Result))
		}
		return false
	}
	switch c.To {
	case check.StateOK:
		t.log.Info(fmt.Sprintf("VRRP_Script(%s) succeeded", r.Name))
	case check.StateFailed:
		t.log.Info(fmt.Sprintf("VRRP_Script(%s) %s", r.Name, r.Result))
	}
	return true
}

// ifaceEvent updates the interface table; it reports whether a tracked
// interface changed state.
func (t *tracking) ifaceEvent(e check.IfaceEvent) bool {
	name := e.Name
	old, tracked := t.ifUp[name]
	up := e.Up
	switch e.Kind {
	case check.IfaceRemoved:
		up = false
	case check.IfaceRenamed:
		if _, was := t.ifUp[e.OldName]; was {
			t.ifUp[e.OldName] = false
			t.log.Warn(fmt.Sprintf("Interface %s renamed to %s", e.OldName, e.Name))
		}
	case check.AddrAdded, check.AddrRemoved:
		return false
	}
	if !tracked || old == up {
		return false
	}
	t.ifUp[name] = up
	word := "down"
	if up {
		word = "up"
	}
	// A flapping link changes state at its own rate: rate-limited, the
	// current state is in the status.
	if t.rl.allow(slog.LevelInfo, "tracked interface changes", name, "", time.Now()) {
		t.log.Info(fmt.Sprintf("Netlink reports %s %s", name, word))
	}
	return true
}

func (t *tracking) processCount(pc check.ProcessCount, now time.Time) bool {
	p := t.procs[pc.Name]
	if p == nil {
		return false
	}
	c, ok := p.Observe(pc.Count, now)
	if ok {
		t.logProcess(pc.Name, c)
	}
	return ok
}

func (t *tracking) logProcess(name string, c check.Change) {
	word := "lost quorum"
	if c.To == check.StateOK {
		word = "has quorum"
	}
	t.log.Info(fmt.Sprintf("Track process %s %s", name, word))
}

// refs turns configured track references into check.Refs with the current
// states. kind's default weight comes from the tracked object (scripts,
// files, processes); an interface's is 0.
func (t *tracking) refs(cfg *config.Config, out []check.Ref, ifaces, scripts, files, procs []config.TrackRef) []check.Ref {
	for _, r := range ifaces {
		st := check.StateFailed
		if t.ifUp[r.Name] {
			st = check.StateOK
		}
		out = append(out, check.Ref{Kind: check.KindInterface, Name: r.Name, Weight: r.Weight, Reverse: r.Reverse, State: st})
	}
	for _, r := range scripts {
		s := t.scripts[r.Name]
		if s == nil {
			continue
		}
		w, rev := s.cfg.Weight, s.cfg.Reverse
		if r.HasWeight {
			w, rev = r.Weight, r.Reverse
		}
		out = append(out, check.Ref{Kind: check.KindScript, Name: r.Name, Weight: w, Reverse: rev, State: s.tracker.State()})
	}
	for _, r := range files {
		tf := cfg.TrackFiles[r.Name]
		if tf == nil || t.files == nil {
			continue
		}
		w, rev := tf.Weight, tf.Reverse
		if r.HasWeight {
			w, rev = r.Weight, r.Reverse
		}
		v, _ := t.files.Value(r.Name)
		out = append(out, check.Ref{Kind: check.KindFile, Name: r.Name, Weight: w, Reverse: rev, Value: v})
	}
	for _, r := range procs {
		tp, p := cfg.TrackProcesses[r.Name], t.procs[r.Name]
		if tp == nil || p == nil {
			continue
		}
		w, rev := tp.Weight, tp.Reverse
		if r.HasWeight {
			w, rev = r.Weight, r.Reverse
		}
		st := p.State()
		if st == check.StateInit {
			st = check.StateFailed // no scan yet: no quorum known
		}
		out = append(out, check.Ref{Kind: check.KindProcess, Name: r.Name, Weight: w, Reverse: rev, State: st})
	}
	return out
}

// vrrpReason maps a tracker's reason onto the machine's typed reason.
func vrrpReason(r check.Reason) vrrp.Reason {
	switch r.Kind {
	case check.KindInterface:
		return vrrp.ReasonInterfaceDown
	case check.KindScript:
		return vrrp.ReasonTrackScript
	case check.KindFile:
		return vrrp.ReasonTrackFile
	case check.KindCondition:
		return vrrp.ReasonFault
	}
	return vrrp.ReasonTracking
}
