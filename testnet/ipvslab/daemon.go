package ipvslab

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// Stop sends SIGTERM and waits for the daemon to exit; see Terminate.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if err := d.Terminate(); err != nil {
		t.Fatal(err)
	}
}

// Terminate sends SIGTERM and waits up to a minute for the daemon to
// exit. A vigild that does not is sent SIGQUIT, and the error holds the
// start of the goroutine dump the Go runtime prints for it.
func (d *Daemon) Terminate() error {
	if err := d.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("ipvslab: SIGTERM %s: %w", d.Kind, err)
	}
	_, err := d.Wait(60 * time.Second)
	if err == nil {
		return nil
	}
	if d.Kind != Vigild {
		return fmt.Errorf("ipvslab: %s after SIGTERM: %w", d.Kind, err)
	}
	logged := len(d.Output())
	_ = d.Signal(syscall.SIGQUIT)
	_, _ = d.Wait(10 * time.Second)
	return fmt.Errorf("ipvslab: vigild after SIGTERM: %w; its goroutines (SIGQUIT), one stack per kind:\n%s", err, summarise(d.Output()[logged:]))
}

// dumpNoise is what differs between goroutines with the same stack:
// argument values, pc offsets and the creating goroutine's number.
var dumpNoise = regexp.MustCompile(`(?m)\([^()\n]*\)$| \+0x[0-9a-f]+| in goroutine [0-9]+`)

// summarise shortens a Go goroutine dump: goroutines with the same state
// and the same stack are shown once, with their count.
func summarise(dump string) string {
	type kind struct {
		stack string
		n     int
	}
	var order []string
	kinds := map[string]*kind{}
	for _, block := range strings.Split(dump, "\n\n") {
		head, stack, ok := strings.Cut(strings.TrimSpace(block), "\n")
		if !ok || !strings.HasPrefix(head, "goroutine ") {
			continue
		}
		// "goroutine 7 [select, 2 minutes]:" -> "[select]"
		state, _, _ := strings.Cut(head[strings.IndexByte(head, '[')+1:], "]")
		state, _, _ = strings.Cut(state, ",")
		state = "[" + state + "]"
		stack = dumpNoise.ReplaceAllString(stack, "")
		key := state + "\n" + stack
		if kinds[key] == nil {
			kinds[key] = &kind{stack: stack}
			order = append(order, key)
		}
		kinds[key].n++
	}
	var b strings.Builder
	for _, key := range order {
		state, _, _ := strings.Cut(key, "\n")
		fmt.Fprintf(&b, "%d goroutine(s) %s\n%s\n\n", kinds[key].n, state, kinds[key].stack)
	}
	return b.String()
}
