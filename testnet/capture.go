package testnet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Capture is a running tcpdump started by [Host.Capture].
type Capture struct {
	proc *Proc
	path string

	mu sync.Mutex
	// mu guards the following fields.
	stopped bool
	pkts    []Packet
}

// Capture starts tcpdump on ifname inside the namespace, writing a classic
// pcap with nanosecond kernel timestamps to a file under t.TempDir(), packet
// by packet (-U, --immediate-mode). filter is a pcap-filter expression
// ("" captures everything). It returns once tcpdump says it is listening;
// frames sent after that are captured.
func (h *Host) Capture(t testing.TB, ifname, filter string) *Capture {
	t.Helper()
	need(t, "tcpdump")
	path := filepath.Join(t.TempDir(), h.name+"-"+ifname+".pcap")
	args := []string{"-i", ifname, "-n", "-U", "--immediate-mode", "--time-stamp-precision=nano", "-Z", "root", "-w", path}
	// Prefer the adapter's own clock when the interface has one (veths do
	// not; they use the kernel's host timestamps).
	if out, err := h.Command(context.Background(), "tcpdump", "-J", "-i", ifname).CombinedOutput(); err == nil && strings.Contains(string(out), "adapter_unsynced") {
		args = append(args, "-j", "adapter_unsynced")
	}
	if filter != "" {
		args = append(args, filter)
	}
	p := h.Start(t, "tcpdump", args...)
	p.WaitOutput(t, "listening on", 15*time.Second)
	return &Capture{proc: p, path: path}
}

// Path returns the pcap file's path.
func (c *Capture) Path() string { return c.path }

// Stop stops tcpdump (SIGINT, so it flushes) and returns the captured
// frames in capture order. Calling it again returns the same frames.
func (c *Capture) Stop(t testing.TB) []Packet {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.pkts
	}
	if err := c.proc.Signal(sigInt); err != nil && err != os.ErrProcessDone {
		t.Fatalf("testnet: stop capture: %v", err)
	}
	if _, err := c.proc.Wait(10 * time.Second); err != nil {
		t.Fatalf("testnet: stop capture: %v; tcpdump output:\n%s", err, c.proc.Output())
	}
	f, err := os.Open(c.path)
	if err != nil {
		t.Fatalf("testnet: stop capture: %v; tcpdump output:\n%s", err, c.proc.Output())
	}
	defer f.Close()
	_, pkts, err := ReadPcap(f)
	if err != nil {
		t.Fatalf("testnet: stop capture: %s: %v", c.path, err)
	}
	c.stopped, c.pkts = true, pkts
	return pkts
}
