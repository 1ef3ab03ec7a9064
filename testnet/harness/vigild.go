package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
)

// Settle is how long the Wait helpers give vigild to reach a state: long
// enough for a loaded shared machine, never a speed claim.
const Settle = 15 * time.Second

// Command is the command line that runs vigild, before the flags
// [StartVigild] adds: a built binary ({"/path/vigild"}), or a test binary
// that runs vigild's main when told so ({"env", "X=1", os.Args[0]}).
type Command []string

// Vigild is one vigild running in a namespace. One started otherwise (a
// daemon-mode vigild) may be described by Host, Dir, Conf and Control
// alone, with Proc nil: the status methods work, the signal methods do not.
type Vigild struct {
	*testnet.Proc
	Host    *testnet.Host
	Dir     string // a t.TempDir() of its own: the configuration, pid file and control socket
	Conf    string // path of its keepalived.conf
	Control string // path of its control socket
}

// StartVigild writes conf to keepalived.conf in a new t.TempDir() and
// starts vigild on h with it, in the foreground and logging to the console
// (-n -l), with its own pid file and control socket in that directory.
// args are appended (for example "-D" or "-i", "r1"). The process is
// stopped by t.Cleanup.
func StartVigild(t testing.TB, h *testnet.Host, cmd Command, conf string, args ...string) *Vigild {
	t.Helper()
	if len(cmd) == 0 {
		t.Fatalf("harness: StartVigild: empty command")
	}
	dir := t.TempDir()
	v := &Vigild{Host: h, Dir: dir, Conf: filepath.Join(dir, "keepalived.conf"), Control: filepath.Join(dir, "ctl.sock")}
	if err := os.WriteFile(v.Conf, []byte(conf), 0o644); err != nil {
		t.Fatalf("harness: StartVigild: %v", err)
	}
	full := append(append([]string(nil), cmd[1:]...), "-n", "-l", "-f", v.Conf,
		"-p", filepath.Join(dir, "vigild.pid"), "--control", v.Control)
	v.Proc = h.Start(t, cmd[0], append(full, args...)...)
	return v
}

// Reload sends vigild SIGHUP (reload its configuration).
func (v *Vigild) Reload() error { return v.Signal(syscall.SIGHUP) }

// Stop sends vigild SIGTERM: a master sends priority 0 and leaves.
func (v *Vigild) Stop() error { return v.Signal(syscall.SIGTERM) }

// Status asks vigild once for its status over its control socket.
func (v *Vigild) Status() (ctl.Status, error) { return ReadStatus(v.Control) }

// MustStatus returns vigild's status, retrying for a few seconds while it
// starts; it fails the test when vigild does not answer.
func (v *Vigild) MustStatus(t testing.TB) ctl.Status {
	t.Helper()
	var s ctl.Status
	var err error
	for range 50 {
		if s, err = v.Status(); err == nil {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := "(not started by StartVigild: no output)"
	if v.Proc != nil {
		out = v.Output()
	}
	t.Fatalf("harness: vigild status on %s: %v\n%s", v.Host.Name(), err, out)
	return s
}

// Instance returns the named instance's status; it fails the test when
// vigild does not answer or has no such instance.
func (v *Vigild) Instance(t testing.TB, name string) ctl.InstanceStatus {
	t.Helper()
	s := v.MustStatus(t)
	for _, in := range s.Instances {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("harness: vigild on %s has no instance %s: %+v", v.Host.Name(), name, s)
	return ctl.InstanceStatus{}
}

// Conntrack returns vigild's conntrack replication status; it fails the
// test when vigild does not answer or shows none.
func (v *Vigild) Conntrack(t testing.TB) ctl.CTStatus {
	t.Helper()
	s := v.MustStatus(t)
	if s.Conntrack == nil {
		t.Fatalf("harness: vigild on %s shows no conntrack status", v.Host.Name())
	}
	return *s.Conntrack
}

// WaitInstance waits up to timeout until cond holds for the named
// instance, and returns its last status; what describes cond in the
// failure message.
func (v *Vigild) WaitInstance(t testing.TB, timeout time.Duration, name, what string, cond func(ctl.InstanceStatus) bool) ctl.InstanceStatus {
	t.Helper()
	var s ctl.InstanceStatus
	testnet.Eventually(t, timeout, func() bool {
		s = v.Instance(t, name)
		return cond(s)
	}, "%s %s: %s; last status %s", v.Host.Name(), name, what, Lazy(func() string { return Describe(s) }))
	return s
}

// WaitState waits up to [Settle] until the named instance is in state
// ("MASTER", "BACKUP", "FAULT", "INIT").
func (v *Vigild) WaitState(t testing.TB, name, state string) ctl.InstanceStatus {
	t.Helper()
	return v.WaitInstance(t, Settle, name, "state "+state, func(s ctl.InstanceStatus) bool { return s.State == state })
}

// Describe renders the fields of an instance's status that tests wait on.
func Describe(s ctl.InstanceStatus) string {
	return fmt.Sprintf("state=%s prio=%d/%d faulted=%v track_reason=%q reason=%q transitions=%d vips=%v",
		s.State, s.Priority, s.BasePriority, s.Faulted, s.TrackReason, s.Reason, s.Transitions, s.VIPs)
}

// Lazy formats as the string its function returns, when formatted: a
// failure message's last value, computed only when the message is shown.
type Lazy func() string

func (l Lazy) String() string { return l() }
