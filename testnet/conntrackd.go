package testnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ConntrackdConfig is what varies between the conntrackd.conf files the
// tests and benchmarks run: FTFW over UDP on one sync link. Zero values
// pick the default named on each field. [ConntrackdConfig.Render] is the
// project's one conntrackd.conf template.
type ConntrackdConfig struct {
	Local, Peer string // IPv4 addresses of this node and its peer on the sync link
	Interface   string // the sync link
	Port        int    // UDP port (3780)

	ResendQueueSize int // Mode FTFW ResendQueueSize (131072, conntrackd's default)
	ACKWindowSize   int // Mode FTFW ACKWindowSize (300, conntrackd's default)
	SocketBuffer    int // UDP SndSocketBuffer and RcvSocketBuffer in bytes (8388608)
	HashSize        int // General HashSize (32768)
	HashLimit       int // General HashLimit (524288)
	NetlinkBuffer   int // NetlinkBufferSize in bytes (8388608); the growth limit is twice it

	// ModeExtra is added inside the Mode FTFW block, one setting a line
	// (for example "DisableExternalCache On").
	ModeExtra string
	// TCPOnly restricts what conntrackd replicates to TCP (Filter From
	// Userspace: Protocol Accept TCP).
	TCPOnly bool
	// ExpectationSync, when not "", is the value of Sync's Options {
	// ExpectationSync } ("On", or a helper list such as "{ ftp }").
	ExpectationSync string
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Render returns the configuration with its log file, lock file and
// control socket in dir. The scheduler clause is invalid on purpose (RR
// with priority 0): conntrackd refuses it and keeps SCHED_OTHER instead of
// its default SCHED_RR 99, which would starve everything else on a small
// machine. Addresses of the sync link itself are never replicated.
func (c ConntrackdConfig) Render(dir string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("Sync {")
	w("\tMode FTFW {")
	w("\t\tResendQueueSize %d", orDefault(c.ResendQueueSize, 131072))
	w("\t\tACKWindowSize %d", orDefault(c.ACKWindowSize, 300))
	for _, line := range strings.Split(strings.TrimSpace(c.ModeExtra), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			w("\t\t%s", line)
		}
	}
	w("\t}")
	w("\tUDP {")
	w("\t\tIPv4_address %s", c.Local)
	w("\t\tIPv4_Destination_Address %s", c.Peer)
	w("\t\tPort %d", orDefault(c.Port, 3780))
	w("\t\tInterface %s", c.Interface)
	buf := orDefault(c.SocketBuffer, 8388608)
	w("\t\tSndSocketBuffer %d", buf)
	w("\t\tRcvSocketBuffer %d", buf)
	w("\t\tChecksum on")
	w("\t}")
	if c.ExpectationSync != "" {
		w("\tOptions {")
		w("\t\tExpectationSync %s", c.ExpectationSync)
		w("\t}")
	}
	w("}")
	w("General {")
	w("\tSystemd off")
	w("\tScheduler {")
	w("\t\tType RR")
	w("\t\tPriority 0")
	w("\t}")
	w("\tHashSize %d", orDefault(c.HashSize, 32768))
	w("\tHashLimit %d", orDefault(c.HashLimit, 524288))
	w("\tLogFile %s", filepath.Join(dir, "conntrackd.log"))
	w("\tSyslog off")
	w("\tLockFile %s", filepath.Join(dir, "lock"))
	w("\tUNIX {")
	w("\t\tPath %s", filepath.Join(dir, "ctl"))
	w("\t}")
	nl := orDefault(c.NetlinkBuffer, 8388608)
	w("\tNetlinkBufferSize %d", nl)
	w("\tNetlinkBufferSizeMaxGrowth %d", 2*nl)
	w("\tNetlinkOverrunResync 1")
	w("\tFilter From Userspace {")
	if c.TCPOnly {
		w("\t\tProtocol Accept {")
		w("\t\t\tTCP")
		w("\t\t}")
	}
	w("\t\tAddress Ignore {")
	w("\t\t\tIPv4_address 127.0.0.1")
	w("\t\t\tIPv4_address %s", c.Local)
	w("\t\t\tIPv4_address %s", c.Peer)
	w("\t\t}")
	w("\t}")
	w("}")
	return b.String()
}

// Conntrackd is one conntrackd started by [Host.Conntrackd].
type Conntrackd struct {
	*Proc
	host *Host
	Dir  string // its directory: conntrackd.conf, conntrackd.log, lock, ctl
	Conf string // path of its conntrackd.conf
}

// Conntrackd writes cfg to conntrackd.conf in a new t.TempDir() (mode
// 0755, so that scripts run by other users can reach the control socket)
// and starts Debian's conntrackd inside the namespace with it, then waits
// until it answers on its control socket. The process is a [Proc]:
// stopped by t.Cleanup, its output in Output.
func (h *Host) Conntrackd(t testing.TB, cfg ConntrackdConfig) *Conntrackd {
	t.Helper()
	return h.ConntrackdText(t, cfg.Render)
}

// ConntrackdText is [Host.Conntrackd] with a whole conntrackd.conf of the
// caller's (a sample file adjusted, say): conf returns its text given the
// directory, which should hold its log file, lock file and control socket
// (Client talks to the socket there, "ctl").
func (h *Host) ConntrackdText(t testing.TB, conf func(dir string) string) *Conntrackd {
	t.Helper()
	need(t, "conntrackd")
	dir := t.TempDir()
	c := &Conntrackd{host: h, Dir: dir, Conf: filepath.Join(dir, "conntrackd.conf")}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testnet: Conntrackd: %v", err)
	}
	if err := os.WriteFile(c.Conf, []byte(conf(dir)), 0o644); err != nil {
		t.Fatalf("testnet: Conntrackd: %v", err)
	}
	c.Proc = h.Start(t, "conntrackd", "-C", c.Conf)
	Eventually(t, 15*time.Second, func() bool {
		_, err := c.Client(t.Context(), "-s")
		return err == nil
	}, "conntrackd in %s did not answer on its control socket; log:\n%s", h.Name(), lazy(c.Log))
	return c
}

// Client runs a conntrackd client command (-s, -e, -i, -c, -n, -f, ...)
// against c inside its namespace and returns its standard output.
func (c *Conntrackd) Client(ctx context.Context, args ...string) ([]byte, error) {
	cmd := c.host.Command(ctx, "conntrackd", append([]string{"-C", c.Conf}, args...)...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return out, fmt.Errorf("conntrackd %s in %s: %v: %s", strings.Join(args, " "), c.host.Name(), err, ee.Stderr)
	}
	return out, err
}

// Log returns conntrackd's log file and its console output.
func (c *Conntrackd) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "conntrackd.log"))
	return string(b) + c.Output()
}

// ExternalCount is the number of entries in conntrackd's external cache,
// read from `conntrackd -s`; -1 when it does not answer.
func (c *Conntrackd) ExternalCount(ctx context.Context) int {
	out, err := c.Client(ctx, "-s")
	if err != nil {
		return -1
	}
	s := string(out)
	i := strings.Index(s, "cache external:")
	if i < 0 {
		return -1
	}
	s = s[i:]
	const active = "current active connections:"
	j := strings.Index(s, active)
	if j < 0 {
		return -1
	}
	f := strings.Fields(s[j+len(active):])
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return -1
	}
	return v
}
