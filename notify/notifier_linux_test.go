package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/notify/notifytest"
	"github.com/vigil-ha/vigil/testnet"
)

var quiet = slog.New(slog.DiscardHandler)

// TestNotifyOrderUnderLoad: many events for several instances and a group,
// issued while every queue is held up by a gate: Notify returns for all of
// them without waiting (all runs are pending at once), and once the gate
// opens each instance's script sees its events in exactly the order they
// were issued.
func TestNotifyOrderUnderLoad(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	gated := testnet.WriteScript(t, dir, "gated", `while [ ! -e `+gate+` ]; do sleep 0.01; done
exec "$@"`)
	rec := notifytest.NewRecorder(t)
	n := notify.New(notify.Config{Log: quiet, Timeout: time.Minute})
	defer n.Close()

	names := []string{"VI_1", "VI_2", "VI_3", "VI_4"}
	const perName = 40
	states := []string{notify.StateBackup, notify.StateMaster, notify.StateFault}
	total := 0
	for i := range perName {
		for _, name := range names {
			ev := notify.Event{Kind: notify.KindInstance, Name: name, State: states[i%3], Priority: i + 1}
			s := notify.Scripts{Generic: &notify.Command{Argv: append([]string{gated}, rec.Argv(name)...)}}
			n.Notify(ev, s)
			total++
		}
		n.Notify(notify.Event{Kind: notify.KindGroup, Name: "G1", State: states[i%3]},
			notify.Scripts{Generic: &notify.Command{Argv: append([]string{gated}, rec.Argv("G1")...)}})
		total++
	}
	if st := n.Stats(); st.Pending != total || st.Events != uint64(total) {
		t.Fatalf("after issuing %d events: %+v; Notify must queue, not run", total, st)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (%+v)", err, n.Stats())
	}
	for _, name := range names {
		calls := rec.Calls(name)
		if len(calls) != perName {
			t.Fatalf("%s: %d calls, want %d", name, len(calls), perName)
		}
		for i, c := range calls {
			want := []string{name, "INSTANCE", name, states[i%3], strconv.Itoa(i + 1)}
			if !slices.Equal(c, want) {
				t.Fatalf("%s call %d: %q, want %q (order lost)", name, i, c, want)
			}
		}
	}
	g := rec.Calls("G1")
	for i, c := range g {
		if want := []string{"G1", "GROUP", "G1", states[i%3], "0"}; !slices.Equal(c, want) {
			t.Fatalf("G1 call %d: %q, want %q", i, c, want)
		}
	}
	if st := n.Stats(); st.Runs != uint64(total) || st.Succeeded != uint64(total) || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestNotifyTimeout: a hanging notify script is killed (with its child) at
// the timeout and counted; the next script of the same instance still runs
// afterwards, and another instance's script is not held up meanwhile.
func TestNotifyTimeout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	hang := testnet.WriteScript(t, dir, "hang", "sleep 1000 & echo $! > "+pidFile+"\nwait")
	rec := notifytest.NewRecorder(t)
	n := notify.New(notify.Config{Log: quiet, Timeout: 300 * time.Millisecond, KillGrace: 300 * time.Millisecond})
	defer n.Close()

	n.Notify(notify.Event{Kind: notify.KindInstance, Name: "VI_1", State: notify.StateMaster, Priority: 100},
		notify.Scripts{Master: &notify.Command{Argv: []string{hang}}, Generic: &notify.Command{Argv: rec.Argv("vi1")}})
	n.Notify(notify.Event{Kind: notify.KindInstance, Name: "VI_2", State: notify.StateBackup, Priority: 50},
		notify.Scripts{Generic: &notify.Command{Argv: rec.Argv("vi2")}})
	// VI_2 is not queued behind VI_1's hanging script.
	rec.WaitCalls(t, "vi2", 1, 30*time.Second)
	if got := rec.Calls("vi1"); len(got) != 0 {
		t.Fatalf("VI_1's generic script ran before its hanging notify_master finished: %q", got)
	}
	calls := rec.WaitCalls(t, "vi1", 1, 30*time.Second)
	if want := []string{"vi1", "INSTANCE", "VI_1", "MASTER", "100"}; !slices.Equal(calls[0], want) {
		t.Errorf("VI_1 generic call %q, want %q", calls[0], want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := n.Stats(); st.TimedOut != 1 || st.Succeeded != 2 {
		t.Errorf("stats %+v, want 1 timed out and 2 succeeded", st)
	}
	b, _ := os.ReadFile(pidFile)
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if child <= 0 {
		t.Fatalf("no child pid recorded: %q", b)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		return err != nil || strings.Contains(string(st), ") Z ")
	}, "child %d of the timed-out notify script survived", child)
}

// TestFIFOWrites: lines arrive whole and in order at a reader; with no
// reader the pipe fills and writes fail with ErrFIFOFull, counted, without
// blocking; the FIFO we created is removed on Close.
func TestFIFOWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	f, err := notify.OpenFIFO(notify.FIFOConfig{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o644&^currentUmask() {
		t.Fatalf("FIFO %v, %v", st.Mode(), err)
	}
	// Nobody reads: the pipe fills, writes fail instead of blocking.
	var full error
	for i := 0; i < 100000 && full == nil; i++ {
		full = f.Write(notify.Event{Kind: notify.KindInstance, Name: "VI_1", State: notify.StateMaster, Priority: 100})
	}
	if !errors.Is(full, notify.ErrFIFOFull) {
		t.Fatalf("writing to a full FIFO: %v, want ErrFIFOFull", full)
	}
	if s := f.Stats(); s.Errors != 1 || s.Lines == 0 {
		t.Errorf("stats %+v", s)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("FIFO still there after Close: %v", err)
	}
	if err := f.WriteLine("x\n"); !errors.Is(err, notify.ErrFIFOClosed) {
		t.Errorf("write after close: %v", err)
	}

	// An existing FIFO with a reader: lines arrive in order, and Close
	// leaves a FIFO it did not create.
	r := notifytest.ReadFIFO(t, path)
	f, err = notify.OpenFIFO(notify.FIFOConfig{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 50 {
		ev := notify.Event{Kind: notify.KindInstance, Name: "VI_" + strconv.Itoa(i), State: notify.StateBackup, Priority: i}
		want = append(want, notify.FIFOLine(ev))
		if err := f.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return len(r.Lines()) >= len(want) }, "lines at the reader")
	if got := r.Lines(); !slices.Equal(got, want) {
		t.Errorf("reader got %q", got)
	}
	f.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Close removed a FIFO it did not create: %v", err)
	}
}

func currentUmask() os.FileMode {
	dir, _ := os.MkdirTemp("", "umask")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "f")
	os.WriteFile(p, nil, 0o777)
	st, _ := os.Stat(p)
	return 0o777 &^ st.Mode().Perm()
}

// TestFIFOScript: notify_fifo_script is started once with the FIFO path as
// its last argument, reads the lines vigil writes, and gets SIGTERM on
// Close.
func TestFIFOScript(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	term := filepath.Join(dir, "term")
	script := testnet.WriteScript(t, dir, "reader", `trap 'echo term > `+term+`; exit 0' TERM
echo "args: $*" > `+out+`
while :; do
	if read -r line; then echo "$line" >> `+out+`; fi
done < "$2"`)
	path := filepath.Join(dir, "fifo")
	f, err := notify.OpenFIFO(notify.FIFOConfig{Path: path, Script: &notify.Command{Argv: []string{script, "first"}}, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := notify.New(notify.Config{Log: quiet, FIFOs: []notify.LineWriter{f}})
	defer n.Close()
	n.Notify(notify.Event{Kind: notify.KindInstance, Name: "VI_1", State: notify.StateMaster, Priority: 100}, notify.Scripts{})
	n.Notify(notify.Event{Kind: notify.KindGroup, Name: "G1", State: notify.StateMaster}, notify.Scripts{})
	want := "args: first " + path + "\nINSTANCE \"VI_1\" MASTER 100\nGROUP \"G1\" MASTER 0\n"
	testnet.Eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == want
	}, "FIFO script output, want %q", want)
	if st := n.Stats(); st.FIFOLines != 2 || st.FIFOErrors != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(term); err != nil || string(b) != "term\n" {
		t.Errorf("FIFO script did not get SIGTERM on Close: %q %v", b, err)
	}
}

// TestNotifierClose: Close kills a running notify script (its whole
// group), drops what was queued behind it, and leaves no goroutine; later
// Notify calls run nothing.
func TestNotifierClose(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	hang := testnet.WriteScript(t, dir, "hang", "echo $$ > "+pidFile+"\nexec sleep 1000")
	rec := notifytest.NewRecorder(t)
	before := runtime.NumGoroutine()
	n := notify.New(notify.Config{Log: quiet})
	ev := notify.Event{Kind: notify.KindInstance, Name: "VI_1", State: notify.StateFault, Priority: 100}
	n.Notify(ev, notify.Scripts{Fault: &notify.Command{Argv: []string{hang}}, Generic: &notify.Command{Argv: rec.Argv("after")}})
	testnet.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(pidFile); return err == nil }, "hanging script started")
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	n.Close()
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(st), ") Z ") {
		t.Errorf("script %d still running after Close", pid)
	}
	n.Notify(ev, notify.Scripts{Generic: &notify.Command{Argv: rec.Argv("after")}})
	testnet.Eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= before }, "goroutines back to %d (now %d)", before, runtime.NumGoroutine())
	if calls := rec.Calls("after"); len(calls) != 0 {
		t.Errorf("scripts ran after Close: %q", calls)
	}
	if st := n.Stats(); st.Events != 2 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}
