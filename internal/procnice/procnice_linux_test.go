package procnice

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSet: a process with several threads sets its nice value to 7 (a
// rise, which needs no privilege), then starts more threads; every
// thread, those started before Set and after it, has 7. A program it
// starts with Start has the value the process had before Set; one started
// with exec.Cmd.Start has 7. It runs in a child process (this test binary
// again), so the test process keeps its own value, which is what the
// child had before Set. Reset gives every thread that value back.
func TestSet(t *testing.T) {
	if os.Getenv("PROCNICE_CHILD") == "1" {
		child(t)
		return
	}
	out := childOutput(t, "TestSet", "PROCNICE_CHILD=1")
	var before, after int
	nices, resets, spawned := []int{}, []int{}, map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "threads-before":
			before, _ = strconv.Atoi(f[1])
		case "threads-after":
			after, _ = strconv.Atoi(f[1])
		case "nice":
			n, _ := strconv.Atoi(f[1])
			nices = append(nices, n)
		case "reset-nice":
			n, _ := strconv.Atoi(f[1])
			resets = append(resets, n)
		case "start-child-nice", "plain-child-nice":
			spawned[f[0]], _ = strconv.Atoi(f[1])
		}
	}
	if before < 2 || after <= before {
		t.Fatalf("the child had %d threads at Set and %d after: the test needs more after\n%s", before, after, out)
	}
	if len(nices) != after {
		t.Fatalf("%d nice values for %d threads\n%s", len(nices), after, out)
	}
	for i, n := range nices {
		if n != 7 {
			t.Errorf("thread %d of %d has nice %d, want 7", i, after, n)
		}
	}
	own := niceOf(t, "/proc/self/stat")
	if n, ok := spawned["start-child-nice"]; !ok || n != own {
		t.Errorf("a program started with Start has nice %d (reported: %v), want the child's value before Set, %d\n%s", n, ok, own, out)
	}
	if n, ok := spawned["plain-child-nice"]; !ok || n != 7 {
		t.Errorf("a program started with exec.Cmd.Start has nice %d (reported: %v), want 7\n%s", n, ok, out)
	}
	if len(resets) < after {
		t.Errorf("%d threads after Reset, want at least %d\n%s", len(resets), after, out)
	}
	for i, n := range resets {
		if n != own {
			t.Errorf("after Reset, thread %d has nice %d, want %d", i, n, own)
		}
	}
}

// niceOf reads the nice value from a /proc/.../stat file's text.
func niceOf(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return statNice(t, string(b))
}

// statNice is the nice value of a /proc/.../stat line: after the
// command's closing parenthesis, state is the first field and nice the
// 17th.
func statNice(t *testing.T, s string) int {
	t.Helper()
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatalf("stat %q: %v", s, err)
	}
	return n
}

// child runs in the child process: threads blocked in a system call
// before Set, Set(7), more such threads after it, then one line per
// thread with its nice value.
func child(t *testing.T) {
	var r, w [2]int
	if err := syscall.Pipe(r[:]); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Pipe(w[:]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	// block starts n goroutines, each on a thread of its own, blocked
	// reading fd until it is closed.
	block := func(n int, fd int) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				var b [1]byte
				syscall.Read(fd, b[:])
			}()
		}
	}
	settle := func(want int) int {
		deadline := time.Now().Add(10 * time.Second)
		for {
			tids, err := threads()
			if err != nil {
				t.Fatal(err)
			}
			if len(tids) >= want || time.Now().After(deadline) {
				return len(tids)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	base, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	block(3, r[0])
	before := settle(len(base) + 3)
	if err := Set(7); err != nil {
		t.Fatal(err)
	}
	block(3, w[0])
	settle(before + 3)
	// Programs started after Set: each prints its own stat line.
	for _, sp := range []struct {
		name  string
		start func(*exec.Cmd) error
	}{{"start-child-nice", Start}, {"plain-child-nice", (*exec.Cmd).Start}} {
		var out strings.Builder
		cmd := exec.Command("cat", "/proc/self/stat")
		cmd.Stdout = &out
		if err := sp.start(cmd); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		println(sp.name, statNice(t, out.String()))
	}
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	println("threads-before", before)
	println("threads-after", len(tids))
	for _, tid := range tids {
		println("nice", niceOf(t, "/proc/self/task/"+strconv.Itoa(tid)+"/stat"))
	}
	if err := Reset(); err != nil {
		t.Fatal(err)
	}
	tids, err = threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		println("reset-nice", niceOf(t, "/proc/self/task/"+strconv.Itoa(tid)+"/stat"))
	}
	syscall.Close(r[1])
	syscall.Close(w[1])
	wg.Wait()
}

// TestSetRange: values outside -20..19 are refused before any call.
func TestSetRange(t *testing.T) {
	for _, n := range []int{-21, 20} {
		if err := Set(n); err == nil {
			t.Errorf("Set(%d) = nil, want an error", n)
		}
	}
}

// TestStartBesideSet starts programs with Start while another goroutine
// sets and resets the nice value over and over, as a reload can while the
// daemon starts its sync worker or a script: each program must start at
// the process's original value. Set must not reach the forking thread
// between Start's look at the state and its fork.
func TestStartBesideSet(t *testing.T) {
	if os.Getenv("PROCNICE_RACE_CHILD") == "1" {
		raceChild(t)
		return
	}
	out := childOutput(t, "TestStartBesideSet", "PROCNICE_RACE_CHILD=1")
	own := niceOf(t, "/proc/self/stat")
	started, wrong := 0, 0
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "started-nice" {
			started++
			if n, _ := strconv.Atoi(f[1]); n != own {
				wrong++
			}
		}
	}
	if started < 200 {
		t.Fatalf("%d programs started, want 200\n%s", started, out)
	}
	if wrong > 0 {
		t.Errorf("%d of %d programs started with Start beside Set and Reset had another nice value than %d", wrong, started, own)
	}
}

// raceChild runs in TestStartBesideSet's child: Set(5) and Reset in a
// loop on one goroutine, 200 programs started with Start on another, one
// line per program with its nice value.
func raceChild(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := Set(5); err != nil {
				done <- err
				return
			}
			if err := Reset(); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 200 {
		var out strings.Builder
		cmd := exec.Command("cat", "/proc/self/stat")
		cmd.Stdout = &out
		if err := Start(cmd); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		println("started-nice", statNice(t, out.String()))
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// childOutput runs test alone in a child process of the test binary with
// env added, and returns what it printed: the nice values a test sets are
// the whole process's, so each runs in a process of its own.
func childOutput(t *testing.T, test, env string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return string(out)
}
