package ipvslab

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// Kind names the daemon under test.
type Kind string

const (
	// Keepalived is Debian's keepalived 2.2.7, the reference.
	Keepalived Kind = "keepalived"
	// Vigild is vigil's daemon, a static build.
	Vigild Kind = "vigild"
)

// Kinds are the daemons every scenario runs against, the reference first.
var Kinds = []Kind{Keepalived, Vigild}

// VigildPath is where RunVM puts the static vigild inside the VM.
const VigildPath = "/usr/sbin/vigild"

// Daemon is a keepalived or vigild running in a director's namespace,
// logging to its Proc's output.
type Daemon struct {
	*testnet.Proc
	Kind Kind
	Host *testnet.Host
	Conf string // path of its keepalived.conf
}

// Start writes conf into a directory of its own and starts the daemon of
// kind k on h with it, in the foreground. The test's cleanup kills it if
// it still runs.
func Start(t testing.TB, h *testnet.Host, k Kind, conf string) *Daemon {
	t.Helper()
	switch k {
	case Keepalived:
		dir := t.TempDir()
		d := &Daemon{Kind: k, Host: h, Conf: filepath.Join(dir, "keepalived.conf")}
		if err := os.WriteFile(d.Conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		d.Proc = h.Start(t, "keepalived", "-n", "-l", "-D", "-G", "-f", d.Conf,
			"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
			"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
		return d
	case Vigild:
		v := harness.StartVigild(t, h, harness.Command{VigildPath}, conf)
		return &Daemon{Proc: v.Proc, Kind: k, Host: h, Conf: v.Conf}
	}
	t.Fatalf("ipvslab: unknown daemon %q", k)
	return nil
}

// Reload replaces the configuration file with conf and sends SIGHUP.
func (d *Daemon) Reload(t testing.TB, conf string) {
	t.Helper()
	if err := os.WriteFile(d.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("ipvslab: SIGHUP %s: %v", d.Kind, err)
	}
}

// Stop sends SIGTERM and waits for the daemon to exit.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if err := d.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("ipvslab: SIGTERM %s: %v", d.Kind, err)
	}
	if _, err := d.Wait(60 * time.Second); err != nil {
		t.Fatalf("ipvslab: %s after SIGTERM: %v", d.Kind, err)
	}
}
