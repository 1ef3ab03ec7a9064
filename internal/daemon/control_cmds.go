package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/safefile"
	"github.com/vigil-ha/vigil/vrrp"
)

// operators is the daemon's side of vigilctl demote, promote, maintenance
// and events. The rules are vrrp.Operator's (one per instance); this
// resolves targets, feeds the machines, persists maintenance and hands
// transitions to the events Hub.
type operators struct {
	hub *ctl.Hub // the events stream; safe for concurrent use

	// The loop's: the instances in maintenance by name (those of the file
	// that name no instance of the running configuration included) and
	// the number of changes made to it.
	maint    map[string]bool
	maintGen uint64

	wmu     sync.Mutex // serializes writes of the file; guards the fields below
	written uint64     // the maintGen of the last write
	fileErr string     // why the file could not be read or written last ("" if it could)
}

// maintenanceFile is the name of the file in Options.StateDir that holds
// the instances in maintenance.
const maintenanceFile = "maintenance.json"

// maxMaintenanceFile bounds what is read of it.
const maxMaintenanceFile = 64 << 10

// maintenanceDoc is the file's content.
type maintenanceDoc struct {
	Maintenance []string `json:"maintenance"`
}

// loadMaintenance reads the instances in maintenance from dir (none when
// dir is "" or the file is absent). The directory must be one only root
// (or our user) can change and the file a regular file of ours that no
// one else may write, at most maxMaintenanceFile bytes of the JSON
// maintenanceDoc: anything else is an error, and vigild starts with no
// instance in maintenance rather than guess.
func loadMaintenance(dir string) (map[string]bool, error) {
	m := map[string]bool{}
	if dir == "" {
		return m, nil
	}
	path := filepath.Join(dir, maintenanceFile)
	sd, err := safefile.OpenDir(dir, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("maintenance file %s: %w", path, err)
	}
	sd.Close()
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("maintenance file %s: %w", path, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return m, fmt.Errorf("maintenance file %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return m, fmt.Errorf("maintenance file %s: not a regular file", path)
	case st.Uid != uint32(os.Geteuid()) && st.Uid != 0:
		return m, fmt.Errorf("maintenance file %s: owned by uid %d, not by us", path, st.Uid)
	case st.Mode&0o022 != 0:
		return m, fmt.Errorf("maintenance file %s: writable by others (mode %#o)", path, st.Mode&0o777)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxMaintenanceFile+1))
	if err != nil {
		return m, fmt.Errorf("maintenance file %s: %w", path, err)
	}
	if len(b) > maxMaintenanceFile {
		return m, fmt.Errorf("maintenance file %s: longer than %d bytes", path, maxMaintenanceFile)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var doc maintenanceDoc
	if err := dec.Decode(&doc); err != nil {
		return m, fmt.Errorf("maintenance file %s: %w", path, err)
	}
	for _, n := range doc.Maintenance {
		if n == "" || len(n) > 128 || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return map[string]bool{}, fmt.Errorf("maintenance file %s: bad instance name %q", path, n)
		}
		m[n] = true
	}
	return m, nil
}

// initOperators sets up the events Hub and the maintenance set from
// Options.StateDir; an unreadable file is logged and leaves none in
// maintenance.
func (d *Daemon) initOperators() {
	d.ops.hub = ctl.NewHub(0)
	m, err := loadMaintenance(d.opts.StateDir)
	if err != nil {
		d.log.Error("Maintenance file refused: no instance starts in maintenance", "err", err)
		d.ops.fileErr = err.Error()
	}
	d.ops.maint = m
	for _, n := range slices.Sorted(maps.Keys(m)) {
		if !slices.ContainsFunc(d.cfg.Instances, func(ic *config.Instance) bool { return ic.Name == n }) {
			d.log.Warn("Maintenance file names no vrrp_instance of the configuration; kept for when it comes back", "instance", n)
		}
	}
}

// holdFromFile puts a new instance in maintenance if the file says so.
func (d *Daemon) holdFromFile(inst *instance) {
	if !d.ops.maint[inst.cfg.Name] {
		return
	}
	if _, err := inst.op.SetMaintenance(true, inst.m.State(), inst.cfg.Priority == vrrp.PriorityOwner); err != nil {
		inst.log.Warn(fmt.Sprintf("(%s) stays out of maintenance: %v", inst.cfg.Name, err))
		return
	}
	inst.log.Info(fmt.Sprintf("(%s) in maintenance (vigilctl maintenance off ends it)", inst.cfg.Name))
}

// heldPriority is the priority inst's operator hold leaves of the tracked
// priority p, and the reason to log when it holds (ReasonNone otherwise).
func (inst *instance) heldPriority(p uint8) (uint8, vrrp.Reason) {
	if inst.cfg.Priority == vrrp.PriorityOwner {
		return p, vrrp.ReasonNone
	}
	return inst.op.Priority(p), inst.op.Reason()
}

// opTransition tells inst's hold of a transition and the events clients
// of it; a demotion that ends (the instance became master: the peer was
// lost) gives the tracked priority back.
func (d *Daemon) opTransition(inst *instance, t vrrp.Transition, now time.Time) {
	was := inst.op.Demoted()
	inst.op.Transitioned(t)
	if was && !inst.op.Demoted() {
		inst.log.Info(fmt.Sprintf("(%s) demotion ends: master again after the peer was lost", inst.cfg.Name))
		if d.trk != nil {
			p, _, _ := check.Priority(uint8(inst.cfg.Priority), inst.trackRefs(d, nil))
			if p, _ = inst.heldPriority(p); p != inst.m.Priority() {
				d.queue = append(d.queue, step{inst: inst, ev: vrrp.SetPriority{Priority: p, Reason: vrrp.ReasonPromote}})
			}
		}
	}
	ev := ctl.Event{Time: now, Instance: inst.cfg.Name, From: t.From.String(), To: t.To.String(),
		Reason: t.Reason.String(), Priority: int(inst.m.Priority())}
	if inst.group != nil {
		ev.Group = inst.group.cfg.Name
	}
	d.ops.hub.Publish(ev)
}

// targets resolves a command's target: an instance, a sync group's
// members, or every instance.
func (d *Daemon) targets(name string) ([]*instance, error) {
	if name == ctl.TargetAll {
		return slices.Clone(d.instances), nil
	}
	for _, inst := range d.instances {
		if inst.cfg.Name == name {
			return []*instance{inst}, nil
		}
	}
	for _, g := range d.groups {
		if g.cfg.Name == name {
			return slices.Clone(g.members), nil
		}
	}
	return nil, fmt.Errorf("no vrrp_instance or vrrp_sync_group named %q", name)
}

// Operate runs demote, promote or maintenance (see vrrp.Operator for what
// each does) on the loop; a refusal changes nothing. Maintenance is
// written to the state directory before it returns (outside the loop).
func (d *Daemon) Operate(ctx context.Context, req ctl.Request) ([]string, error) {
	type answer struct {
		done []string
		err  error
		file []byte // the maintenance file to write, if it changed
		gen  uint64
	}
	ch := make(chan answer, 1)
	if !d.post(ctx, func(now time.Time) {
		var a answer
		before := d.ops.maintGen
		a.done, a.err = d.operate(req, now)
		if d.ops.maintGen != before && d.opts.StateDir != "" {
			a.file, a.gen = d.maintenanceBytes(), d.ops.maintGen
		}
		ch <- a
	}) {
		return nil, ctx.Err()
	}
	var a answer
	select {
	case a = <-ch:
	case <-d.stop:
		return nil, errors.New("vigild is stopping")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if a.file != nil {
		if err := d.writeMaintenance(a.file, a.gen); err != nil {
			d.log.Error("Maintenance file not written: the change holds until vigild stops", "err", err)
			return a.done, fmt.Errorf("applied, but not saved for the next start: %w", err)
		}
	}
	return a.done, a.err
}

// maintenanceBytes is the file's content for the current set; loop only.
func (d *Daemon) maintenanceBytes() []byte {
	doc := maintenanceDoc{Maintenance: slices.Sorted(maps.Keys(d.ops.maint))}
	if doc.Maintenance == nil {
		doc.Maintenance = []string{}
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n')
}

// writeMaintenance writes the file of generation gen through safefile
// (the directory created 0700 if missing, refused if others may change
// it; what is at the name replaced, never written into), unless a later
// generation has been written already.
func (d *Daemon) writeMaintenance(b []byte, gen uint64) error {
	d.ops.wmu.Lock()
	defer d.ops.wmu.Unlock()
	if gen <= d.ops.written {
		return nil
	}
	dir := d.opts.StateDir
	sd, err := safefile.OpenDir(dir, 0o700)
	if err == nil {
		defer sd.Close()
		var replaced string
		replaced, err = sd.WriteFile(maintenanceFile, b, 0o600)
		if replaced != "" {
			d.log.Warn("Maintenance file replaced what was at its path", "file", filepath.Join(dir, maintenanceFile), "was", replaced)
		}
	}
	if err != nil {
		d.ops.fileErr = err.Error()
		return err
	}
	d.ops.written, d.ops.fileErr = gen, ""
	return nil
}

// operate is Operate on the loop.
func (d *Daemon) operate(req ctl.Request, now time.Time) ([]string, error) {
	insts, err := d.targets(req.Target)
	if err != nil {
		return nil, err
	}
	if len(insts) == 0 {
		return nil, errors.New("no vrrp_instance is running")
	}
	owner := func(inst *instance) bool { return inst.cfg.Priority == vrrp.PriorityOwner }
	var done []string
	var release []step
	switch req.Cmd {
	case ctl.CmdDemote:
		// All or nothing: every target must be a master that can be.
		for _, inst := range insts {
			probe := inst.op
			if _, err := probe.Demote(inst.m.State(), owner(inst)); err != nil {
				return nil, fmt.Errorf("%s: %w", inst.cfg.Name, err)
			}
		}
		for _, inst := range insts {
			ev, _ := inst.op.Demote(inst.m.State(), owner(inst))
			release = append(release, step{inst: inst, ev: ev})
			done = append(done, fmt.Sprintf("%s: demoted, hands over now (priority %d until it is master again or promoted)",
				inst.cfg.Name, vrrp.PriorityHeld))
		}
	case ctl.CmdMaintenanceOn:
		for _, inst := range insts {
			if owner(inst) {
				return nil, fmt.Errorf("%s: %w", inst.cfg.Name, vrrp.ErrOwner)
			}
		}
		for _, inst := range insts {
			was := inst.m.State()
			if inst.op.Maintenance() {
				done = append(done, inst.cfg.Name+": already in maintenance")
				continue
			}
			ev, _ := inst.op.SetMaintenance(true, was, false)
			d.ops.maint[inst.cfg.Name] = true
			if ev != nil {
				release = append(release, step{inst: inst, ev: ev})
				done = append(done, fmt.Sprintf("%s: maintenance on, hands over now (priority %d)", inst.cfg.Name, vrrp.PriorityHeld))
			} else {
				done = append(done, fmt.Sprintf("%s: maintenance on (%s, priority %d)", inst.cfg.Name, was, vrrp.PriorityHeld))
			}
		}
		d.ops.maintGen++
	case ctl.CmdMaintenanceOff:
		for _, inst := range insts {
			if !inst.op.Maintenance() {
				done = append(done, inst.cfg.Name+": not in maintenance")
				continue
			}
			inst.op.SetMaintenance(false, inst.m.State(), owner(inst))
			delete(d.ops.maint, inst.cfg.Name)
			done = append(done, inst.cfg.Name+": maintenance off")
		}
		if req.Target == ctl.TargetAll {
			clear(d.ops.maint) // names no running instance has too
		}
		d.ops.maintGen++
	case ctl.CmdPromote:
		for _, inst := range insts {
			wasMaint := inst.op.Maintenance()
			if inst.op.Promote() != nil {
				continue
			}
			if wasMaint {
				delete(d.ops.maint, inst.cfg.Name)
				d.ops.maintGen++
			}
			done = append(done, inst.cfg.Name+": promoted (preempts only if its priority wins)")
		}
		if len(done) == 0 {
			return nil, fmt.Errorf("%s: %w", req.Target, vrrp.ErrNotHeld)
		}
	default:
		return nil, fmt.Errorf("%s: not an instance command", req.Cmd)
	}
	// The held priorities first, so that the hand-over's Master_Down_Timer
	// runs at the held priority; then every release before the sync
	// groups hear of any (so each member sends its priority-0 advert).
	if d.started {
		d.evaluate(now) // else start's evaluate applies them
	}
	if len(release) > 0 {
		d.queue = append(d.queue, release...)
		d.drain(now)
	}
	for _, inst := range insts {
		inst.log.Info(fmt.Sprintf("(%s) %s by the operator", inst.cfg.Name, req.Cmd),
			"state", inst.m.State().String(), "priority", inst.m.Priority())
	}
	return done, nil
}

// Subscribe is the events stream (ctl.Hub.Subscribe).
func (d *Daemon) Subscribe() (<-chan ctl.Event, func()) { return d.ops.hub.Subscribe() }

// audit logs a control command: who (the socket's peer credentials), what
// and how it ended. status is logged at debug level (monitoring polls it);
// everything else at info, a failure at warn.
func (d *Daemon) audit(p ctl.Peer, req ctl.Request, err error) {
	args := []any{"uid", p.UID, "gid", p.GID, "pid", p.PID, "command", req.String()}
	switch {
	case err != nil:
		d.log.Warn("Control command refused", append(args, "err", err)...)
	case req.Cmd == ctl.CmdStatus:
		d.log.Debug("Control command", args...)
	default:
		d.log.Info("Control command", args...)
	}
}

// opStatus fills the operator parts of a status snapshot; loop only.
func (d *Daemon) opStatus(s *ctl.Status) {
	s.EventSubscribers, s.EventsDropped = d.ops.hub.Stats()
	d.ops.wmu.Lock()
	s.MaintenanceError = d.ops.fileErr
	d.ops.wmu.Unlock()
	for i, inst := range d.instances {
		s.Instances[i].Demoted, s.Instances[i].Maintenance = inst.op.Demoted(), inst.op.Maintenance()
	}
}
