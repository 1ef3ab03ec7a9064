package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// Vigild is a vigild process started by a test inside the VM, in the
// test's own network namespace (the VM's), with its configuration, pid
// file and control socket in a directory of its own. It is stopped with
// SIGTERM, and killed if it does not stop, at test end.
type Vigild struct {
	Dir, Conf, Control string

	cmd  *exec.Cmd
	log  string // its stdout and stderr
	done chan struct{}
	err  error // set before done is closed
}

// StartVigild writes conf and runs command (a vigild binary, or a test
// binary that runs vigild's main when told so: {"env", "X=1",
// os.Args[0]}) with -n -l -D, the file, pid file and control socket
// flags, then args.
func StartVigild(t testing.TB, command []string, conf string, args ...string) *Vigild {
	t.Helper()
	dir := t.TempDir()
	v := &Vigild{Dir: dir, Conf: filepath.Join(dir, "keepalived.conf"), Control: filepath.Join(dir, "ctl.sock"),
		log: filepath.Join(dir, "vigild.log"), done: make(chan struct{})}
	if err := os.WriteFile(v.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(v.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	full := append(append([]string(nil), command[1:]...), "-n", "-l", "-D", "-f", v.Conf,
		"-p", filepath.Join(dir, "vigild.pid"), "--control", v.Control)
	v.cmd = exec.Command(command[0], append(full, args...)...)
	v.cmd.Stdout, v.cmd.Stderr = out, out
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("vm: starting vigild: %v", err)
	}
	go func() {
		v.err = v.cmd.Wait()
		close(v.done)
	}()
	t.Cleanup(func() {
		if v.Stop(30*time.Second) != nil {
			v.cmd.Process.Kill()
			<-v.done
		}
		t.Logf("vigild output:\n%s", v.Output())
	})
	return v
}

// Output is what vigild has logged so far.
func (v *Vigild) Output() string {
	b, err := os.ReadFile(v.log)
	if err != nil {
		return "<vm: " + err.Error() + ">"
	}
	return string(b)
}

// Stop sends SIGTERM and waits up to timeout for vigild to exit; it
// returns the exit error (nil for status 0).
func (v *Vigild) Stop(timeout time.Duration) error {
	select {
	case <-v.done:
		return v.err
	default:
	}
	if err := v.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-v.done:
		return v.err
	case <-time.After(timeout):
		return context.DeadlineExceeded
	}
}

// Status asks vigild for its status over its control socket.
func (v *Vigild) Status() (ctl.Status, error) {
	c := ctl.Client{Path: v.Control, DialTimeout: 2 * time.Second, Timeout: 5 * time.Second}
	return c.Status(context.Background())
}

// IPVSADM returns `ipvsadm -Ln` (the VM's /sbin/ipvsadm, an oracle
// independent of vigil's netlink code), failing t if it fails.
func IPVSADM(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln: %v\n%s", err, out)
	}
	return string(out)
}

// WaitIPVS polls `ipvsadm -Ln` until ok accepts it, failing t with the
// last output after timeout.
func WaitIPVS(t testing.TB, timeout time.Duration, what string, ok func(ipvsadm string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := IPVSADM(t)
		if ok(out) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("vm: %s: not seen within %v; ipvsadm -Ln:\n%s", what, timeout, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// HasDest reports whether ipvsadm output lists dest ("198.51.100.2:8080")
// as a destination.
func HasDest(ipvsadm, dest string) bool {
	for _, l := range strings.Split(ipvsadm, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "->" && f[1] == dest {
			return true
		}
	}
	return false
}
