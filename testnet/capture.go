package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
	return h.CaptureBuffered(t, ifname, filter, 0)
}

// CaptureBuffered is Capture with a kernel capture buffer of bufKiB KiB
// (tcpdump -B; 0: libpcap's default of 2 MiB). A sender that puts
// hundreds of frames on a veth in one burst overruns the default buffer
// before tcpdump is scheduled to drain it, and the frames it drops are
// missing from the file.
func (h *Host) CaptureBuffered(t testing.TB, ifname, filter string, bufKiB int) *Capture {
	t.Helper()
	need(t, "tcpdump")
	path := filepath.Join(t.TempDir(), h.name+"-"+ifname+".pcap")
	args := []string{"-i", ifname, "-n", "-U", "--immediate-mode", "--time-stamp-precision=nano", "-Z", "root", "-w", path}
	// Prefer the adapter's own clock when the interface has one (veths do
	// not; they use the kernel's host timestamps).
	if out, err := h.Command(context.Background(), "tcpdump", "-J", "-i", ifname).CombinedOutput(); err == nil && strings.Contains(string(out), "adapter_unsynced") {
		args = append(args, "-j", "adapter_unsynced")
	}
	if bufKiB > 0 {
		args = append(args, "-B", strconv.Itoa(bufKiB))
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

// Packets returns the frames tcpdump has written so far, without stopping
// it (a record still being written is left out). After Stop it returns
// Stop's frames.
func (c *Capture) Packets() ([]Packet, error) {
	c.mu.Lock()
	if c.stopped {
		defer c.mu.Unlock()
		return c.pkts, nil
	}
	c.mu.Unlock()
	f, err := os.Open(c.path)
	if err != nil {
		return nil, fmt.Errorf("testnet: capture: %w", err)
	}
	defer f.Close()
	_, pkts, err := ReadPcap(f)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // torn tail: tcpdump is writing it now
	}
	return pkts, err
}

// WaitPacket waits up to timeout for a captured frame for which match
// returns true and returns the first one; it fails the test if none comes.
// The capture keeps running.
func (c *Capture) WaitPacket(t testing.TB, timeout time.Duration, match func(Packet) bool) Packet {
	t.Helper()
	var found Packet
	var n int
	var lastErr error
	Eventually(t, timeout, func() bool {
		pkts, err := c.Packets()
		n, lastErr = len(pkts), err
		for _, p := range pkts {
			if match(p) {
				found = p
				return true
			}
		}
		return false
	}, "capture %s: %v", c.path, lazy(func() string {
		return fmt.Sprintf("no matching frame among %d captured (last read error: %v)", n, lastErr)
	}))
	return found
}

// lazy formats as the string its function returns when it is formatted.
type lazy func() string

func (l lazy) String() string { return l() }
