// Package notifytest holds test helpers for notify scripts and FIFOs that
// work the same against vigil and against keepalived: a recorder script
// that logs its argv, a FIFO reader, and a runner for Debian's keepalived
// inside a testnet namespace. For tests only.
//
// Concurrency: Recorder and FIFOReader are safe for concurrent use; each
// FIFOReader owns one goroutine that t.Cleanup stops.
package notifytest

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/testnet"
)

// sep separates arguments in a recorder log line (ASCII unit separator).
const sep = "\x1f"

// Recorder is a shell script that appends its arguments, as one line, to
// DIR/TAG.log where TAG is its first argument. Use one tag per configured
// script ("/path/rec master", "/path/rec any") so that each script has its
// own log: keepalived starts notify scripts concurrently, so only the order
// within one script's log is meaningful.
type Recorder struct {
	Path string // the script
	Dir  string // where the logs go
}

// NewRecorder writes the recorder script into a fresh directory that only
// its owner can write (so that script security lets root run it) and
// returns it; the logs go to a subdirectory any user can write (scripts
// may run as nobody).
func NewRecorder(t testing.TB) *Recorder {
	t.Helper()
	top, err := os.MkdirTemp("", "vigil-rec-")
	if err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	dir := filepath.Join(top, "logs")
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	p := filepath.Join(top, "rec")
	// One printf of the whole line to an O_APPEND file: lines never interleave.
	script := `#!/bin/sh
line=""
for a in "$@"; do line="$line$a$(printf '\037')"; done
printf '%s\n' "$line" >> "` + dir + `/$1.log"
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	return &Recorder{Path: p, Dir: dir}
}

// Command is the config text for a script with this tag: "PATH TAG".
func (r *Recorder) Command(tag string) string { return r.Path + " " + tag }

// Argv is the notify.Command argv for this tag.
func (r *Recorder) Argv(tag string) []string { return []string{r.Path, tag} }

// Calls returns the argvs (without argv[0], tag first) the script was
// called with under tag, in order.
func (r *Recorder) Calls(tag string) [][]string {
	calls, _ := ReadArgvLog(filepath.Join(r.Dir, tag+".log"))
	return calls
}

// WaitCalls waits until tag has at least n calls and returns them.
func (r *Recorder) WaitCalls(t testing.TB, tag string, n int, timeout time.Duration) [][]string {
	t.Helper()
	var calls [][]string
	deadline := time.Now().Add(timeout)
	for {
		calls = r.Calls(tag)
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("notifytest: recorder %s: want %d calls within %v, have %q", tag, n, timeout, calls)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadArgvLog parses a recorder log.
func ReadArgvLog(path string) ([][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		out = append(out, strings.Split(strings.TrimSuffix(line, sep), sep))
	}
	return out, nil
}

// FIFOReader collects the lines written to a FIFO.
type FIFOReader struct {
	path string
	f    *os.File
	done chan struct{}

	mu    sync.Mutex // mu guards lines
	lines []string
}

// ReadFIFO creates the FIFO at path if it does not exist, opens it
// read-write (so it never sees EOF when writers come and go) and collects
// its lines until t ends.
func ReadFIFO(t testing.TB, path string) *FIFOReader {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("notifytest: mkfifo %s: %v", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("notifytest: open %s: %v", path, err)
	}
	r := &FIFOReader{path: path, f: f, done: make(chan struct{})}
	go r.runRead()
	t.Cleanup(func() {
		f.Close()
		<-r.done
	})
	return r
}

// runRead reads lines until the file is closed by the test's cleanup.
func (r *FIFOReader) runRead() {
	defer close(r.done)
	sc := bufio.NewScanner(r.f)
	for sc.Scan() {
		r.mu.Lock()
		r.lines = append(r.lines, sc.Text()+"\n")
		r.mu.Unlock()
	}
}

// Lines returns the lines read so far, each with its newline.
func (r *FIFOReader) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// WaitLine waits for a line equal to want (newline included) and returns
// all lines read so far.
func (r *FIFOReader) WaitLine(t testing.TB, want string, timeout time.Duration) []string {
	t.Helper()
	testnet.Eventually(t, timeout, func() bool { return slices.Contains(r.Lines(), want) },
		"FIFO %s: no line %q", r.path, want)
	return r.Lines()
}

// Events parses every line read so far.
func (r *FIFOReader) Events() ([]notify.Event, error) {
	var out []notify.Event
	for _, l := range r.Lines() {
		ev, err := notify.ParseFIFOLine(l)
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}
