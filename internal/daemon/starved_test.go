package daemon

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// recordingJob is a job that writes name+" ran" into *log, and whose
// outcome writes name+" applied".
func recordingJob(log *[]string, name string) kernelJob {
	return func(context.Context) func(time.Time) {
		*log = append(*log, name+" ran")
		return func(time.Time) { *log = append(*log, name+" applied") }
	}
}

// queueTakeover queues job as a takeover's turn does.
func queueTakeover(k *kernelWork, job kernelJob) {
	k.setTakeoverTurn(true)
	k.submitAs(nil, nil, job)
	k.setTakeoverTurn(false)
}

// TestKernelRunStarved: a takeover's job that no worker takes falls to
// the loop (runStarved) once it has waited starvedAfter, and the
// takeover's jobs queued behind it follow at once (the loop's claim), in
// order, each outcome applied as it ends; a job that is not a takeover's
// stays for the worker, which, started late, takes it. The worker leaves
// the takeover's jobs to the loop until the loop releases its claim. The
// worker here is a goroutine that has not started: a thread the kernel
// does not run.
func TestKernelRunStarved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernelWork()
		var got []string
		job := func(name string) kernelJob { return recordingJob(&got, name) }

		start := time.Now()
		queueTakeover(k, job("add"))
		if k.runStarved() {
			t.Fatal("a job queued just now ran on the loop")
		}
		if at, ok := k.starvedAt(time.Time{}, false); !ok || at.Sub(start) != starvedAfter {
			t.Fatalf("starvedAt: %v, %v; want %v after the job was queued", at.Sub(start), ok, starvedAfter)
		}
		later := start.Add(time.Hour)
		if at, _ := k.starvedAt(start.Add(time.Microsecond), true); at != start.Add(time.Microsecond) {
			t.Errorf("starvedAt did not keep a sooner deadline: %v", at.Sub(start))
		}
		if at, _ := k.starvedAt(later, true); at.Sub(start) != starvedAfter {
			t.Errorf("starvedAt kept a later deadline: %v", at.Sub(start))
		}

		time.Sleep(starvedAfter)
		queueTakeover(k, job("announce"))  // queued just now: it follows the first
		k.submitAs(nil, nil, job("plain")) // not a takeover's: the worker's
		for k.runStarved() {
		}
		if want := []string{"add ran", "add applied", "announce ran", "announce applied"}; !slices.Equal(got, want) {
			t.Fatalf("the loop ran %q, want %q", got, want)
		}
		if n := k.loopRuns(); n != 2 {
			t.Errorf("loopRuns %d, want 2", n)
		}
		if at, ok := k.starvedAt(later, true); !ok || at != later {
			t.Errorf("with a plain job at the head, starvedAt moved the deadline to %v", at.Sub(start))
		}

		time.Sleep(time.Second)
		if k.runStarved() {
			t.Fatal("the loop ran a job that is not a takeover's")
		}
		go k.run() // the worker starts at last, and takes the plain job
		k.apply(<-k.results, time.Now())
		if got[len(got)-1] != "plain applied" {
			t.Fatalf("the worker ran %q", got)
		}

		// The claim holds until the loop releases it: the worker leaves a
		// takeover's job queued now, and the loop runs it at once.
		queueTakeover(k, job("round"))
		synctest.Wait()
		if got[len(got)-1] != "plain applied" {
			t.Fatalf("the worker took %q while the loop held the claim", got[len(got)-1])
		}
		if !k.runStarved() || got[len(got)-1] != "round applied" {
			t.Fatalf("the loop did not run the claimed job: %q", got)
		}

		// Released, a takeover's job is the worker's again.
		k.releaseClaim()
		queueTakeover(k, job("later"))
		k.apply(<-k.results, time.Now())
		if got[len(got)-1] != "later applied" {
			t.Fatalf("after the release the worker ran %q", got)
		}
		k.finish()
		if n := k.loopRuns(); n != 3 {
			t.Errorf("loopRuns %d, want 3", n)
		}
	})
}

// TestKernelRunStarvedNotWhileBusy: while the worker runs a job, the
// takeover's job queued behind it is not the loop's, however long it
// waits: running it would break the queue's order. The worker takes it
// once its job ends.
func TestKernelRunStarvedNotWhileBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernelWork()
		go k.run()
		defer k.finish()
		release := make(chan struct{})
		var got []string
		k.do(func(context.Context) func(time.Time) {
			<-release
			got = append(got, "busy")
			return nil
		})
		synctest.Wait()
		queueTakeover(k, func(context.Context) func(time.Time) {
			got = append(got, "takeover")
			return nil
		})
		time.Sleep(time.Second)
		if k.runStarved() {
			t.Fatal("the loop ran a job while the worker ran the one before it")
		}
		if _, ok := k.starvedAt(time.Time{}, false); ok {
			t.Error("starvedAt set a wake-up while the worker is busy")
		}
		close(release)
		synctest.Wait()
		if !slices.Equal(got, []string{"busy", "takeover"}) || k.loopRuns() != 0 {
			t.Errorf("ran %q, %d on the loop; want busy, takeover, none on the loop", got, k.loopRuns())
		}
	})
}

// twoInstancesConf is pairConf's VI_1 at priority 150 and a VI_2 like it
// (VRID 52, 192.0.2.253): with no master heard, both fall due together.
var twoInstancesConf = prio(pairConf, "150") +
	strings.NewReplacer("VI_1", "VI_2", "virtual_router_id 51", "virtual_router_id 52", "192.0.2.254", "192.0.2.253").Replace(prio(pairConf, "150"))

// TestLoopRunsStarvedTakeover: a worker whose thread does not run (here
// one that, once the jobs of the start are done, does not run until 10 s)
// leaves a takeover's jobs to the loop: the address addition and the
// five GARP rounds (garp_master_repeat) of each instance. With one
// instance, the loop waits for them (submitWait) for takeoverWait, then
// runs them itself; with two falling due together (no wait), it wakes
// starvedAfter after the first job was queued and runs the twelve. The
// status counts them. Without the loop's part the addresses wait the
// 10 s for the worker.
func TestLoopRunsStarvedTakeover(t *testing.T) {
	down := 3*time.Second + time.Duration(256-150)*time.Second/256
	for _, tc := range []struct {
		name, conf string
		vips       []string
		after      time.Duration
		jobs       uint64
	}{
		{"one instance", prio(pairConf, "150"), []string{"192.0.2.254/24"}, takeoverWait, 6},
		{"two instances", twoInstancesConf, []string{"192.0.2.254/24", "192.0.2.253/24"}, starvedAfter, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ev := &ctEvents{}
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				base := viptest.NewKernel("eth0", "eth1")
				a := newNode(t, wire, base, "192.0.2.1", "fe80::1", tc.conf, Options{})
				a.d.host.VIPs = &slowKernel{Kernel: base, ev: ev}
				a.d.host.Announcer = &timedAnnouncements{Announcements: viptest.NewAnnouncements(base), kernel: base, ev: ev}
				a.d.startWorker = func(k *kernelWork) {
					go func() {
						// The jobs of the start (leftovers, statics, the
						// announcement sockets) are done; then the
						// thread does not run until 10 s.
						time.Sleep(time.Second)
						workerDrain(k)
						time.Sleep(9 * time.Second)
						k.run()
					}()
				}
				start := time.Now()
				a.start(t)
				sleepUntil(start, down+time.Second)
				for _, v := range tc.vips {
					if !a.has(v) {
						t.Errorf("%s not added a second after the takeover", v)
					}
				}
				add, addAt := ev.first("add")
				ann, _ := ev.first("announce")
				if add < 0 || ann < add {
					t.Fatalf("events %q: want an addition, then an announcement", ev.get())
				}
				if d := addAt.Sub(start) - down; d != tc.after {
					t.Errorf("the first address was added %v after the deadline, want %v", d, tc.after)
				}
				if n := a.d.Status().WorkerJobsOnLoop; n != tc.jobs {
					t.Errorf("worker_jobs_on_loop %d, want %d", n, tc.jobs)
				}
			})
		})
	}
}

// workerDrain runs, as the worker would, the jobs waiting in k now.
func workerDrain(k *kernelWork) {
	for {
		k.mu.Lock()
		if len(k.jobs) == 0 || k.onLoop {
			k.mu.Unlock()
			return
		}
		job := k.takeLocked()
		k.mu.Unlock()
		k.runTaken(job)
	}
}

// TestKernelCloseReleasesClaim: at shutdown the jobs the loop had claimed
// go back to the worker, which runs them before it ends; without that, the
// loop's wait for the worker (finish) would never end.
func TestKernelCloseReleasesClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernelWork()
		var ran []string
		job := func(name string) kernelJob { return recordingJob(&ran, name) }
		queueTakeover(k, job("add"))
		time.Sleep(starvedAfter)
		if !k.runStarved() {
			t.Fatal("the starved job did not run on the loop")
		}
		queueTakeover(k, job("round")) // claimed: the worker leaves it
		go k.run()
		synctest.Wait()
		if want := []string{"add ran", "add applied"}; !slices.Equal(ran, want) {
			t.Fatalf("before shutdown: %q, want only the loop's add", ran)
		}
		k.finish()
		if want := []string{"add ran", "add applied", "round ran", "round applied"}; !slices.Equal(ran, want) {
			t.Errorf("%q, want %q", ran, want)
		}
	})
}
