package daemon

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKernelStandbyKeepsOffLoopCPU: the worker on standby runs on a thread
// whose affinity mask leaves out the CPU the loop asked for the standby
// from, so that the loop, woken there, and the worker taking its address
// addition run side by side; once the standby is over the worker's mask
// is whole again. The "loop" is this test's goroutine, locked to a thread
// held on one CPU.
func TestKernelStandbyKeepsOffLoopCPU(t *testing.T) {
	withPs(t, 2)
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	if all.Count() < 2 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the affinity mask has %d CPU(s); the standby's placement needs two", all.Count())
		}
		t.Skipf("the affinity mask has %d CPU(s); the standby's placement needs two", all.Count())
	}
	loop := -1
	for c := 0; loop < 0; c++ {
		if all.IsSet(c) {
			loop = c
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var one unix.CPUSet
	one.Set(loop)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &all)
	if c := currentCPU(); c != loop {
		t.Fatalf("this thread runs on CPU %d, pinned to %d", c, loop)
	}

	k := newKernelWork()
	go k.run()
	defer func() {
		k.close()
		<-k.done
	}()
	type seen struct {
		mask unix.CPUSet
		cpu  int
	}
	got := make(chan seen, 1)
	probe := func(context.Context) func(time.Time) {
		var s seen
		if err := unix.SchedGetaffinity(0, &s.mask); err != nil {
			t.Error(err)
		}
		s.cpu = currentCPU()
		got <- s
		return nil
	}
	wait := func(what string) seen {
		t.Helper()
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the job did not run", what)
			return seen{}
		}
	}

	k.standbyUntil(time.Now().Add(time.Minute))
	time.Sleep(20 * time.Millisecond) // the worker has reached its spin
	queueSilently(k, probe)           // taken by the spinner, on its thread
	s := wait("on standby")
	if s.mask.IsSet(loop) || s.cpu == loop {
		t.Errorf("on standby the worker ran on CPU %d with a mask of %d CPU(s) holding the loop's CPU %d: want it kept off", s.cpu, s.mask.Count(), loop)
	}
	if s.mask.Count() != all.Count()-1 {
		t.Errorf("on standby the worker's mask has %d CPU(s), want every one but the loop's: %d", s.mask.Count(), all.Count()-1)
	}

	k.standbyUntil(time.Time{})
	time.Sleep(20 * time.Millisecond) // the worker has parked
	k.do(probe)
	if s := wait("after the standby"); s.mask != all {
		t.Errorf("after the standby the worker's mask has %d CPU(s), want the whole %d back", s.mask.Count(), all.Count())
	}
}

// TestCPUPinRefusedMask: a mask the kernel refuses (here one of a CPU that
// is not there, as a narrower cpuset would make it) leaves the thread's
// own mask as it was, and the pin stops asking (ok false) instead of
// making the refused call at every turn of the spin; release unlocks.
func TestCPUPinRefusedMask(t *testing.T) {
	runtime.LockOSThread() // release unlocks it, as for a pin that locked it
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	var absent unix.CPUSet
	absent.Set(1023)
	p := cpuPin{held: true, ok: true, avoid: -1, old: absent}
	p.avoidCPU(0)
	if p.ok || p.avoid != -1 {
		t.Errorf("after a refused mask: ok %v, avoid %d; want ok false, avoid -1", p.ok, p.avoid)
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the thread's mask changed: %d CPU(s), had %d", after.Count(), before.Count())
	}
	p.release()
	if p.held {
		t.Error("still held after release")
	}
}
