package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// These tests drive vigilctl's demote, promote, maintenance and events
// through Daemon.Operate and Subscribe, on the twins in a synctest bubble
// (the loop tests' pair of routers).

// settledPair starts a (priority 150, with opts) and b (100) on a fresh
// wire with text and lets them settle: a is master.
func settledPair(t *testing.T, text string, opts Options) (a, b *node, wire *vrrptest.Wire) {
	t.Helper()
	wire = vrrptest.NewWire(vrrptest.WireOptions{})
	a = startNodeWith(t, wire, "192.0.2.1", "fe80::1", prio(text, "150"), opts)
	b = startNode(t, wire, "192.0.2.2", "fe80::2", prio(text, "100"))
	time.Sleep(10 * time.Second)
	synctest.Wait()
	return a, b, wire
}

func (n *node) operate(t *testing.T, cmd ctl.Command, target string) ([]string, error) {
	t.Helper()
	done, err := n.d.Operate(context.Background(), ctl.Request{Cmd: cmd, Target: target})
	synctest.Wait()
	return done, err
}

func (n *node) instStatus(t *testing.T, name string) ctl.InstanceStatus {
	t.Helper()
	for _, in := range n.d.Status().Instances {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no instance %s", name)
	return ctl.InstanceStatus{}
}

// TestLoopDemote: the demoted master goes BACKUP at once at priority 1;
// the peer takes over after its Skew_Time (the priority-0 advert), not
// before; the demoted router stays BACKUP while the peer speaks, takes
// over when the peer is lost (Master_Down_Interval at priority 1), and
// then the demotion is over: priority 150 again. Events report each
// transition as it happens.
func TestLoopDemote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, _ := settledPair(t, pairConf, Options{})
		evs, cancel := a.d.Subscribe()
		defer cancel()
		if _, err := b.operate(t, ctl.CmdDemote, "VI_1"); err == nil || !strings.Contains(err.Error(), "not master (BACKUP)") {
			t.Errorf("demote of a backup: %v", err)
		}
		if _, err := a.operate(t, ctl.CmdDemote, "VI_9"); err == nil || !strings.Contains(err.Error(), `no vrrp_instance or vrrp_sync_group named "VI_9"`) {
			t.Errorf("demote of an unknown instance: %v", err)
		}
		at := time.Now()
		done, err := a.operate(t, ctl.CmdDemote, "VI_1")
		if err != nil || len(done) != 1 {
			t.Fatalf("demote: %q, %v", done, err)
		}
		in := a.instStatus(t, "VI_1")
		if in.State != "BACKUP" || !in.Demoted || in.Priority != vrrp.PriorityHeld || a.has("192.0.2.254/24") {
			t.Fatalf("right after demote: %+v, VIP %v", in, a.has("192.0.2.254/24"))
		}
		ev := <-evs
		if ev.Instance != "VI_1" || ev.From != "MASTER" || ev.To != "BACKUP" || ev.Reason != "demote" || ev.Priority != 1 || !ev.Time.Equal(at) {
			t.Errorf("event %+v", ev)
		}
		skew := time.Duration(256-100) * time.Second / 256
		sleepUntil(at, skew-time.Millisecond)
		if b.state("VI_1") != "BACKUP" {
			t.Fatal("peer took over before its Skew_Time")
		}
		sleepUntil(at, skew+time.Millisecond)
		if b.state("VI_1") != "MASTER" || !b.has("192.0.2.254/24") {
			t.Fatalf("peer %s one Skew_Time after demote", b.state("VI_1"))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if in := a.instStatus(t, "VI_1"); in.State != "BACKUP" || !in.Demoted {
			t.Fatalf("a minute after demote: %+v", in)
		}
		// The peer is lost (cut off the wire: no priority-0 advert).
		lost := time.Now()
		for _, c := range b.conns {
			c.SetIsolated(true)
		}
		// Master_Down_Interval at priority 1, from the last advert heard.
		mdi := 3*time.Second + time.Duration(256-1)*time.Second/256
		sleepUntil(lost, mdi-time.Second-time.Millisecond)
		if a.state("VI_1") != "BACKUP" {
			t.Fatal("took over before Master_Down_Interval")
		}
		sleepUntil(lost, mdi+time.Millisecond)
		in = a.instStatus(t, "VI_1")
		if in.State != "MASTER" || in.Demoted || in.Priority != 150 || !a.has("192.0.2.254/24") {
			t.Fatalf("after the peer was lost: %+v", in)
		}
		// The transition happens at the held priority; the demotion ends
		// with it.
		select {
		case ev := <-evs:
			if ev.From != "BACKUP" || ev.To != "MASTER" || ev.Reason != "master_down" || ev.Priority != 1 {
				t.Errorf("event %+v, want BACKUP to MASTER for master_down", ev)
			}
		default:
			t.Error("no event for the takeover")
		}
	})
}

// TestLoopDemoteGroup: demote of a sync group hands every member over,
// each with its priority-0 advert: the peer takes both over after its
// Skew_Time.
func TestLoopDemoteGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, _ := settledPair(t, groupConf, Options{})
		at := time.Now()
		done, err := a.operate(t, ctl.CmdDemote, "G1")
		if err != nil || len(done) != 2 {
			t.Fatalf("demote G1: %q, %v", done, err)
		}
		sleepUntil(at, time.Duration(256-100)*time.Second/256+time.Millisecond)
		for _, in := range []string{"IN", "OUT"} {
			if a.state(in) != "BACKUP" || b.state(in) != "MASTER" {
				t.Errorf("%s one Skew_Time after demote G1: a %s b %s", in, a.state(in), b.state(in))
			}
		}
		if _, err := a.operate(t, ctl.CmdDemote, "G1"); !errors.Is(err, vrrp.ErrNotMaster) {
			t.Errorf("demote G1 again: %v", err)
		}
		// Promote: 150 beats 100, preempt is on: both come back.
		if _, err := a.operate(t, ctl.CmdPromote, "G1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, in := range []string{"IN", "OUT"} {
			if a.state(in) != "MASTER" || b.state(in) != "BACKUP" {
				t.Errorf("%s after promote G1: a %s b %s", in, a.state(in), b.state(in))
			}
		}
		if _, err := a.operate(t, ctl.CmdPromote, "G1"); !errors.Is(err, vrrp.ErrNotHeld) {
			t.Errorf("promote of what is not held: %v", err)
		}
	})
}

// TestLoopMaintenance: maintenance on hands the master over and is
// written to the state directory; a vigild started again on it comes up
// in maintenance and stays BACKUP; maintenance off lets it preempt.
// Every command is audited.
func TestLoopMaintenance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		a, b, wire := settledPair(t, pairConf, Options{StateDir: dir, Log: log})
		if _, err := a.operate(t, ctl.CmdMaintenanceOn, ctl.TargetAll); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if in := a.instStatus(t, "VI_1"); in.State != "BACKUP" || !in.Maintenance || in.Priority != 1 || b.state("VI_1") != "MASTER" {
			t.Fatalf("after maintenance on: a %+v, b %s", in, b.state("VI_1"))
		}
		raw, err := os.ReadFile(filepath.Join(dir, maintenanceFile))
		if err != nil || !strings.Contains(string(raw), `"VI_1"`) {
			t.Fatalf("maintenance file: %q, %v", raw, err)
		}
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("state directory: %v, %v", fi.Mode(), err)
		}
		a.stop()
		a2 := startNodeWith(t, wire, "192.0.2.1", "fe80::1", prio(pairConf, "150"), Options{StateDir: dir, Log: log})
		time.Sleep(time.Minute)
		synctest.Wait()
		if in := a2.instStatus(t, "VI_1"); in.State != "BACKUP" || !in.Maintenance || in.Priority != 1 || b.state("VI_1") != "MASTER" {
			t.Fatalf("restarted in maintenance: a %+v, b %s", in, b.state("VI_1"))
		}
		if _, err := a2.operate(t, ctl.CmdMaintenanceOff, "VI_1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if in := a2.instStatus(t, "VI_1"); in.State != "MASTER" || in.Maintenance || in.Priority != 150 || b.state("VI_1") != "BACKUP" {
			t.Fatalf("after maintenance off: a %+v, b %s", in, b.state("VI_1"))
		}
		raw, _ = os.ReadFile(filepath.Join(dir, maintenanceFile))
		if strings.Contains(string(raw), "VI_1") {
			t.Errorf("maintenance file after off: %q", raw)
		}
		controlHandler{a2.d}.Audit(ctl.Peer{UID: 0, GID: 0, PID: 4242}, ctl.Request{Cmd: ctl.CmdMaintenanceOff, Target: "VI_1"}, nil)
		if !strings.Contains(logs.String(), `msg="Control command" uid=0 gid=0 pid=4242 command="maintenance off VI_1"`) {
			t.Errorf("no audit line in:\n%s", logs.String())
		}
	})
}

// TestMaintenanceFileHostile: what is not a plain file of ours with the
// expected document is refused whole, and vigild starts with nothing in
// maintenance.
func TestMaintenanceFileHostile(t *testing.T) {
	for name, tc := range map[string]func(dir string) error{
		"symlink": func(dir string) error { return os.Symlink("/etc/passwd", filepath.Join(dir, maintenanceFile)) },
		"group-writable": func(dir string) error {
			p := filepath.Join(dir, maintenanceFile)
			if err := os.WriteFile(p, []byte(`{"maintenance":["VI_1"]}`), 0o600); err != nil {
				return err
			}
			return os.Chmod(p, 0o620)
		},
		"fifo":          func(dir string) error { return unix.Mkfifo(filepath.Join(dir, maintenanceFile), 0o600) },
		"unknown field": func(dir string) error { return write(dir, `{"maintenance":["VI_1"],"x":1}`) },
		"bad name":      func(dir string) error { return write(dir, `{"maintenance":["VI 1"]}`) },
		"not json":      func(dir string) error { return write(dir, "VI_1\n") },
		"too long": func(dir string) error {
			return write(dir, `{"maintenance":["`+strings.Repeat("x", maxMaintenanceFile)+`"]}`)
		},
	} {
		dir := t.TempDir()
		if err := tc(dir); err != nil {
			t.Fatal(err)
		}
		if m, err := loadMaintenance(dir); err == nil || len(m) != 0 {
			t.Errorf("%s: %v, %v; want an error and nothing in maintenance", name, m, err)
		}
	}
	dir := t.TempDir()
	if err := write(dir, `{"maintenance":["VI_1","G_2"]}`); err != nil {
		t.Fatal(err)
	}
	if m, err := loadMaintenance(dir); err != nil || !m["VI_1"] || !m["G_2"] || len(m) != 2 {
		t.Errorf("good file: %v, %v", m, err)
	}
	if m, err := loadMaintenance(filepath.Join(dir, "absent")); err != nil || len(m) != 0 {
		t.Errorf("absent directory: %v, %v", m, err)
	}
}

func write(dir, s string) error {
	return os.WriteFile(filepath.Join(dir, maintenanceFile), []byte(s), 0o600)
}

// TestLoopMaintenanceThroughReload: maintenance holds through a reload
// that changes the priority (the instance kept) and one that restarts the
// instance (a new advert interval); promote then lets the new priority
// preempt.
func TestLoopMaintenanceThroughReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &reloadable{files: map[string]string{confPath: prio(pairConf, "150")}}
		a, b, _ := settledPair(t, pairConf, Options{Reload: src.load})
		if _, err := a.operate(t, ctl.CmdMaintenanceOn, "VI_1"); err != nil {
			t.Fatal(err)
		}
		for _, next := range []string{prio(pairConf, "200"), strings.Replace(prio(pairConf, "200"), "advert_int 1", "advert_int 2", 1)} {
			src.files[confPath] = next
			if err := a.d.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Second)
			synctest.Wait()
			if in := a.instStatus(t, "VI_1"); in.State != "BACKUP" || !in.Maintenance || in.Priority != 1 || in.BasePriority != 200 || b.state("VI_1") != "MASTER" {
				t.Fatalf("after a reload: a %+v, b %s", in, b.state("VI_1"))
			}
		}
		if _, err := a.operate(t, ctl.CmdPromote, "VI_1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if in := a.instStatus(t, "VI_1"); in.State != "MASTER" || in.Priority != 200 {
			t.Fatalf("promoted: %+v", in)
		}
	})
}
