package check

import (
	"errors"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

func newTestRunner(t *testing.T) (*Runner, chan RunResult) {
	t.Helper()
	ch := make(chan RunResult, 16)
	r := NewRunner(RunnerConfig{Results: ch, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(r.Close)
	return r, ch
}

func await(t *testing.T, ch chan RunResult) RunResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no result within 30 s")
	}
	return RunResult{}
}

// TestRunnerExitCodes: exit 0 is success, non-zero is failure with its
// status, a signal the script sends itself is a failure naming the signal,
// a missing program is a start error; each lands in its counter.
func TestRunnerExitCodes(t *testing.T) {
	dir := t.TempDir()
	r, ch := newTestRunner(t)
	cases := []struct {
		name string
		argv []string
		want Result
	}{
		{"ok", []string{testnet.WriteScript(t, dir, "ok", "exit 0")}, Result{Outcome: OutcomeSuccess}},
		{"three", []string{testnet.WriteScript(t, dir, "three", "exit 3")}, Result{Outcome: OutcomeFailure, ExitCode: 3}},
		{"args", []string{testnet.WriteScript(t, dir, "args", `[ "$1" = "a b" ] && [ "$2" = c ] && exit 7; exit 1`), "a b", "c"}, Result{Outcome: OutcomeFailure, ExitCode: 7}},
		{"signal", []string{testnet.WriteScript(t, dir, "sig", "kill -KILL $$")}, Result{Outcome: OutcomeFailure, Signal: int(syscall.SIGKILL)}},
		{"missing", []string{filepath.Join(dir, "does-not-exist")}, Result{Outcome: OutcomeError}},
		{"inpath", []string{"true"}, Result{Outcome: OutcomeSuccess}},
	}
	for _, c := range cases {
		if err := r.Run(Script{Name: c.name, Argv: c.argv, Timeout: 20 * time.Second}); err != nil {
			t.Fatalf("%s: Run: %v", c.name, err)
		}
		got := await(t, ch)
		if got.Name != c.name {
			t.Fatalf("result for %q, want %q", got.Name, c.name)
		}
		got.Result.Err = ""
		if got.Result != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got.Result, c.want)
		}
	}
	st := r.Stats()
	if st.Succeeded != 2 || st.Failed != 3 || st.Errors != 1 || st.TimedOut != 0 || st.Started != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestRunnerTimeoutKillsGroup: a script that ignores SIGTERM and leaves a
// child sleeping is killed at its timeout, child included (the whole
// process group), the run is counted as a timeout, and the caller is never
// blocked: Run returns at once and a concurrent ticker keeps ticking while
// the script hangs.
func TestRunnerTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	hang := testnet.WriteScript(t, dir, "hang", `trap '' TERM
sleep 1000 &
echo $! > `+pidFile+`
while :; do sleep 1; done`)
	r, ch := newTestRunner(t)

	var ticks atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				ticks.Add(1)
			case <-stop:
				return
			}
		}
	}()

	if err := r.Run(Script{Name: "hang", Argv: []string{hang}, Timeout: 300 * time.Millisecond, KillGrace: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// Run returned while the script is still running: it did not wait.
	if st := r.Stats(); st.Running != 1 {
		t.Fatalf("running %d right after Run, want 1", st.Running)
	}
	if err := r.Run(Script{Name: "hang", Argv: []string{hang}}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Run of a running script: %v, want ErrBusy", err)
	}
	before := ticks.Load()
	res := await(t, ch)
	if res.Result.Outcome != OutcomeTimeout {
		t.Fatalf("result %v, want timeout", res.Result)
	}
	if after := ticks.Load(); after-before < 10 {
		t.Errorf("ticker advanced only %d ticks while the script hung: the caller was blocked", after-before)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("child pid file: %v", err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if child <= 0 {
		t.Fatalf("bad child pid %q", b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the timed-out script still alive: the group was not killed", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := r.Stats()
	if st.TimedOut != 1 || st.Busy != 1 || st.Running != 0 {
		t.Errorf("stats %+v, want 1 timeout, 1 busy, 0 running", st)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestRunnerCredentials runs a script as nobody:nogroup and checks what
// id(1) reports from inside it: uid, gid and the single supplementary group.
func TestRunnerCredentials(t *testing.T) {
	testnet.NeedRoot(t)
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("SKIPPING: no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "vigil-cred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "id")
	s := testnet.WriteScript(t, dir, "id.sh", "echo $(id -u) $(id -g) $(id -G) > "+out)
	r, ch := newTestRunner(t)
	if err := r.Run(Script{Name: "id", Argv: []string{s}, Credential: true, UID: uint32(uid), GID: uint32(gid), Timeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if res := await(t, ch); !res.Result.OK() {
		t.Fatalf("script as nobody: %v", res.Result)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := u.Uid + " " + u.Gid + " " + u.Gid
	if got := strings.TrimSpace(string(b)); got != want {
		t.Errorf("id inside the script: %q, want %q", got, want)
	}
}

// TestTrackerWithRealScripts drives the pure tracker from real runs: a
// script whose exit status follows a file, with fall 2 and rise 2.
func TestTrackerWithRealScripts(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	s := testnet.WriteScript(t, dir, "chk", "test -e "+flag)
	r, ch := newTestRunner(t)
	tr := NewTracker(TrackerConfig{Interval: time.Second, Rise: 2, Fall: 2}, time.Now())
	step := func(exists bool) State {
		t.Helper()
		if exists {
			os.WriteFile(flag, nil, 0o644)
		} else {
			os.Remove(flag)
		}
		if !tr.Start(time.Now()) {
			t.Fatal("tracker refused to start")
		}
		if err := r.Run(Script{Name: "chk", Argv: []string{s}, Timeout: 20 * time.Second}); err != nil {
			t.Fatal(err)
		}
		res := await(t, ch)
		tr.Handle(res.Result, res.End)
		return tr.State()
	}
	var got []State
	for _, e := range []bool{true, false, false, true, true} {
		got = append(got, step(e))
	}
	want := []State{StateOK, StateOK, StateFailed, StateFailed, StateOK}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("states %v, want %v", got, want)
		}
	}
}

// TestRunnerCloseLeavesNothing: Close kills a running script and its
// goroutines end.
func TestRunnerCloseLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	before := runtime.NumGoroutine()
	ch := make(chan RunResult) // never read: Close must not hang on it
	r := NewRunner(RunnerConfig{Results: ch, Log: slog.New(slog.DiscardHandler)})
	s := testnet.WriteScript(t, dir, "sleep", "exec sleep 1000")
	if err := r.Run(Script{Name: "s", Argv: []string{s}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(Script{Name: "quick", Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := r.Run(Script{Name: "x", Argv: []string{"true"}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
