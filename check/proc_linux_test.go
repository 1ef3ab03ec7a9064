package check

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestScanProcFindsRealProcesses starts two sleeps with a random argument
// and counts them through /proc with comm, full command and parameter
// matching; after killing one the count drops.
func TestScanProcFindsRealProcesses(t *testing.T) {
	sleep, tag := uniqueSleep(t, 1000)
	var cmds []*exec.Cmd
	for range 2 {
		c := exec.Command(sleep, tag)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	exact := ProcessSpec{Process: sleep, Params: []string{tag}, QuorumMax: -1}
	byComm := ProcessSpec{Process: "sleep", QuorumMax: -1}
	initial := ProcessSpec{Process: sleep, Params: []string{tag[:8]}, ParamMatch: ParamMatchInitial, QuorumMax: -1}
	count := func(s ProcessSpec) int {
		ps, err := ScanProc("/proc")
		if err != nil {
			t.Fatal(err)
		}
		return s.Count(ps)
	}
	if n := count(exact); n != 2 {
		t.Fatalf("exact match counted %d, want 2", n)
	}
	if n := count(initial); n != 2 {
		t.Fatalf("initial match counted %d, want 2", n)
	}
	if n := count(byComm); n < 2 {
		t.Fatalf("comm match counted %d, want ≥ 2", n)
	}
	cmds[0].Process.Kill()
	cmds[0].Wait() // reaped: no zombie left to skip
	deadline := time.Now().Add(10 * time.Second)
	for count(exact) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("count after kill %d, want 1", count(exact))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseStat(t *testing.T) {
	comm, st, ok := parseStat([]byte("42 (we ird) proc) S 1 2 3"))
	if !ok || comm != "we ird) proc" || st != 'S' {
		t.Errorf("parseStat = %q %c %v", comm, st, ok)
	}
	if _, _, ok := parseStat([]byte("42 (x")); ok {
		t.Error("truncated stat parsed")
	}
}

// TestProcessMonitor: a real process appears and disappears and the
// monitor posts the counts, which drive a ProcessTracker.
func TestProcessMonitor(t *testing.T) {
	sleep, tag := uniqueSleep(t, 2000)
	spec := ProcessSpec{Process: sleep, Params: []string{tag}, QuorumMax: -1}
	m := NewProcessMonitor(map[string]ProcessSpec{"p": spec}, 20*time.Millisecond, "/proc", nil)
	defer m.Close()
	tr := NewProcessTracker(spec)
	next := func() ProcessCount {
		t.Helper()
		select {
		case c := <-m.Counts():
			tr.Observe(c.Count, c.Time)
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("no count within 20 s")
		}
		return ProcessCount{}
	}
	if c := next(); c.Name != "p" || c.Count != 0 || tr.State() != StateFailed {
		t.Fatalf("first count %+v, state %v", c, tr.State())
	}
	c := exec.Command(sleep, tag)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	if got := next(); got.Count != 1 || tr.State() != StateOK {
		t.Fatalf("after start: %+v, state %v", got, tr.State())
	}
	c.Process.Kill()
	c.Wait()
	if got := next(); got.Count != 0 || tr.State() != StateFailed {
		t.Fatalf("after kill: %+v, state %v", got, tr.State())
	}
}

// uniqueSleep returns the path of sleep and an argument of whole seconds
// plus a random fraction, so that the command line is this test's alone.
// Without a sleep binary it skips, or fails under CI=true.
func uniqueSleep(t *testing.T, whole int) (sleep, tag string) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: no sleep binary: %v", err)
		}
		t.Skipf("SKIPPING: no sleep binary: %v", err)
	}
	var b [4]byte
	rand.Read(b[:])
	return sleep, fmt.Sprintf("%d.%d", whole, binary.BigEndian.Uint32(b[:]))
}
