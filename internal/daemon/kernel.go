package daemon

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// netlinkTimeout bounds one job's address, route or rule changes.
const netlinkTimeout = 5 * time.Second

// kernelResults is how many outcomes the worker may hand over before the
// loop takes them: a takeover's announcement does not wait behind the
// loop's logging of the transition for the address job's outcome.
const kernelResults = 64

// kernelJob is one piece of kernel work: it runs on the worker and returns
// what the loop must do with its outcome (counters, logs, state), or nil.
type kernelJob func(ctx context.Context) func(now time.Time)

// kernelWork carries out the loop's address, route and rule changes, and
// the gratuitous ARP / NA rounds that must follow them, on one goroutine,
// in the order the loop handed them over. Handing a job over never blocks,
// so a netlink call that hangs (up to netlinkTimeout) delays the addresses
// but not the adverts of any instance; the loop waits for a takeover's
// first jobs, but a millisecond at most (submitWait), and runs them itself
// when the idle worker leaves them waiting (runStarved). One queue for all
// instances keeps every ordering the loop decides: a VIP is added before
// it is announced, a conntrack commit (run by the loop before it hands
// over the AddVIPs job) comes before the addresses, and when a reload
// restarts an instance the old one's removals come before the new one's
// additions.
//
// Concurrency: do and close are called by the loop only; run is the
// worker, started and waited for by Daemon.Run. Outcomes reach the loop
// over results (buffered, so the worker goes on to its next job while the
// loop is busy), which are read only in a turn of the loop's state: the
// loop goroutine's turn when ready says there are some (applyResults), a
// takeover's wait (submitWait), and shutdown's, until the worker has
// ended and the buffer is empty (finish). The loop runs a job
// itself only when a takeover's turn queued it and the idle worker has
// left it waiting (runStarved); the worker takes none meanwhile.
type kernelWork struct {
	mu   sync.Mutex // guards jobs, taken, closed, superseded, onLoop, onLoopRuns and claimed
	jobs []queuedJob
	// taken counts the jobs the worker (or the loop, runStarved) has
	// taken off jobs and the loop has not seen the end of: running, or
	// with an outcome not yet applied.
	taken      int
	closed     bool
	superseded uint64 // waiting jobs dropped for a newer one (doAs)
	// offered is bumped whenever a job becomes the worker's to take: one
	// was queued, or the loop ended a job of its own or its claim
	// (runStarved, releaseClaim). The
	// idle worker's spin watches it (guarded by mu, read atomically).
	offered uint64
	// onLoop: the loop runs the head job itself (runStarved); onLoopRuns
	// counts the jobs it ran so; claimed: the loop found the worker
	// starved in this turn, and runs every takeover's job itself until
	// it releases the claim before it sleeps (releaseClaim): the worker
	// leaves them. A worker that got the CPU back for a moment took the
	// next GARP round and, preempted in it, held the jobs behind it (the
	// IPv6 instance's addition) for 1.7–4.4 ms.
	onLoop     bool
	onLoopRuns uint64
	claimed    bool
	// takeoverTurn: the loop is carrying out a takeover (a backup's
	// Master_Down timer fired): the jobs it queues now are marked as a
	// takeover's (queuedJob.takeover). Set and read by the loop only.
	takeoverTurn bool
	// realTime: the loop runs in real time (a timerfd, two or more Ps),
	// and may spin for the few microseconds before a takeover's job falls
	// to it (submitWait); set by the loop before its first job.
	realTime bool

	// standby, when not zero, is the monotonic reading (nanoseconds since
	// epoch) up to which the idle worker spins instead of parking (see
	// standbyUntil); standbys counts the standbys asked for.
	standby  atomic.Int64
	epoch    time.Time
	standbys atomic.Uint64
	// loopCPU is the CPU the loop last asked for the standby from
	// (currentCPU; -1: unknown): the spinning worker keeps off it.
	loopCPU atomic.Int32

	wake    chan struct{} // a job was queued, or close was called
	results chan func(now time.Time)
	// ready is signalled after each send on results. The loop goroutine
	// waits for it, not for results: an outcome it took without the
	// loop's state would wait for that state while a takeover's turn
	// holding it on another goroutine (submitWait) applied the outcomes
	// queued behind it first.
	ready chan struct{}
	done  chan struct{} // closed when run returns

	// logs, when not nil, holds what the jobs log through the loggers it
	// wrapped; each job's records go to the loop with its outcome.
	logs *jobLog
}

// queuedJob is a job waiting for the worker, with the key it was queued
// under (nil: none, it is never superseded), when (nanoseconds since the
// epoch of its kernelWork), and whether a takeover's turn queued it
// (takeoverTurn), so that the loop runs it itself if the idle worker
// leaves it waiting (runStarved).
type queuedJob struct {
	key      any
	job      kernelJob
	at       int64
	takeover bool
}

// Keys of the jobs that a newer one supersedes while they wait: an
// instance's address, route and rule job (addVIPs, removeVIPs) carries its
// whole desired state, so only the last one queued matters; so does a
// check of its VIPs (checkVIPs). A round of gratuitous ARP / NA is dropped
// by a removal of the instance's addresses: announcing addresses about to
// go would point the segment at a router that no longer holds them.
type (
	vipsJobKey     struct{ inst *instance }
	checkJobKey    struct{ inst *instance }
	announceJobKey struct{ inst *instance }
)

func newKernelWork() *kernelWork {
	return &kernelWork{
		wake:    make(chan struct{}, 1),
		results: make(chan func(time.Time), kernelResults),
		ready:   make(chan struct{}, 1),
		done:    make(chan struct{}),
		epoch:   time.Now(),
	}
}

// do queues job behind every job queued before it.
func (k *kernelWork) do(job kernelJob) { k.doAs(nil, nil, job) }

// doAs queues job under key behind every job queued before it, after
// dropping the waiting jobs (not the running one) whose key is in
// supersedes. A job is only ever dropped for one queued after it, so the
// last state asked for is the one the worker leaves, and the queue of a
// stalled worker holds at most one such job per key however often an
// instance flaps. Dropped jobs hand the loop no outcome.
func (k *kernelWork) doAs(key any, supersedes []any, job kernelJob) {
	k.queue(queuedJob{key: key, job: job}, supersedes)
}

// queue is doAs for q, stamped with the time it was queued.
func (k *kernelWork) queue(q queuedJob, supersedes []any) {
	k.mu.Lock()
	if len(supersedes) > 0 {
		n := len(k.jobs)
		k.jobs = slices.DeleteFunc(k.jobs, func(q queuedJob) bool {
			return q.key != nil && slices.Contains(supersedes, q.key)
		})
		k.superseded += uint64(n - len(k.jobs))
	}
	q.at = int64(time.Since(k.epoch))
	q.takeover = q.takeover || k.takeoverTurn
	k.jobs = append(k.jobs, q)
	atomic.AddUint64(&k.offered, 1)
	k.mu.Unlock()
	k.signal()
}

// waiting reports how many jobs wait and how many were superseded.
func (k *kernelWork) waiting() (jobs int, superseded uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.jobs), k.superseded
}

// close lets run end once the queue is empty; the jobs the loop had
// claimed (runStarved) are the worker's again.
func (k *kernelWork) close() {
	k.mu.Lock()
	k.closed = true
	k.claimed = false
	k.mu.Unlock()
	k.standby.Store(0)
	k.signal()
}

// standbyUntil keeps the idle worker from parking until t: it spins,
// watching for a job and yielding the CPU at every turn (spin), so that a
// job handed over before t is taken at once. A parked worker handed a job
// is readied, and runs only once another thread has woken to take it or
// the loop has parked: a takeover's address addition started 30–150 µs
// after the loop ran the machine, once the advert was out. The loop asks
// for it shortly before a backup's Master_Down deadline
// (Daemon.standbyFor), at the cost of one CPU's spare time for that lead
// and the takeover. The spinning worker keeps off the CPU the caller (the
// loop) runs on, where the loop's thread is likely to be woken: on a
// shared CPU the spinner yields to the loop, and took the job only once
// the loop had parked (cpuPin). A zero t ends the standby. The loop uses
// it only with two or more Ps (GOMAXPROCS): a spinning worker would hold
// the only one.
func (k *kernelWork) standbyUntil(t time.Time) (started bool) {
	if t.IsZero() {
		if k.standby.Load() != 0 {
			k.standby.Store(0)
		}
		return false
	}
	k.loopCPU.Store(int32(currentCPU()))
	until := max(int64(t.Sub(k.epoch)), 1)
	if k.standby.Swap(until) == until {
		return false
	}
	k.standbys.Add(1)
	k.signal() // a parked worker wakes and spins
	return true
}

// standingBy reports whether a standby is asked for (standbyUntil); false
// for a nil k (no worker).
func (k *kernelWork) standingBy() bool {
	return k != nil && k.standby.Load() != 0
}

// standbyCount is how many standbys were asked for (standbyUntil); 0
// for a nil k (no worker).
func (k *kernelWork) standbyCount() uint64 {
	if k == nil {
		return 0
	}
	return k.standbys.Load()
}

// spin is the idle worker's standby: it returns true as soon as a job is
// offered after seen (the offered count the worker read under mu with
// nothing to take), false when the standby ends without one. Each turn yields
// the CPU to any other thread the kernel has ready on it (yieldCPU): on a
// machine of two cores, the thread that must wake the loop at the
// deadline may be given this one, and the kernel's scheduler lets a
// running thread finish its time slice (a millisecond or so) before a
// woken one preempts it. A spin that did not yield made the loop's
// wake-up up to a millisecond late in half the takeovers. While it spins,
// and for the jobs it takes, the worker holds pin: its thread keeps off
// the loop's CPU. The caller releases pin when spin returns false.
func (k *kernelWork) spin(seen uint64, pin *cpuPin) bool {
	for {
		until := k.standby.Load()
		if until == 0 || int64(time.Since(k.epoch)) >= until {
			return false
		}
		if atomic.LoadUint64(&k.offered) != seen {
			return true
		}
		pin.avoidCPU(int(k.loopCPU.Load()))
		yieldCPU()
	}
}

func (k *kernelWork) signal() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// run is the worker: it runs the jobs in order, each under netlinkTimeout,
// and hands their outcomes to the loop. It returns after close, once every
// job queued before it has run and its outcome has been taken.
func (k *kernelWork) run() {
	defer close(k.done)
	var pin cpuPin // held from the standby's first spin until it ends
	defer pin.release()
	for {
		k.mu.Lock()
		if len(k.jobs) == 0 || k.onLoop || k.claimed && k.jobs[0].takeover {
			closed, seen := k.closed && len(k.jobs) == 0, k.offered
			k.mu.Unlock()
			if closed {
				// A line logged by another goroutine as a job
				// ended, held after that job's were taken.
				writeHeld(k.logs.take())
				return
			}
			if k.spin(seen, &pin) {
				continue
			}
			pin.release()
			<-k.wake
			continue
		}
		job := k.takeLocked()
		k.mu.Unlock()
		k.runTaken(job)
	}
}

// takeLocked takes the head job off the queue, counted as taken. k.mu
// held, the queue not empty.
func (k *kernelWork) takeLocked() kernelJob {
	job := k.jobs[0].job
	k.jobs[0] = queuedJob{}
	k.jobs = k.jobs[1:]
	k.taken++
	return job
}

// runTaken runs, on the worker, a job it took, and hands its outcome to
// the loop.
func (k *kernelWork) runTaken(job kernelJob) {
	outcome := k.runJob(job)
	if outcome == nil {
		k.mu.Lock()
		k.taken--
		k.mu.Unlock()
		return
	}
	k.results <- outcome // taken drops when the loop applies it
	select {
	case k.ready <- struct{}{}:
	default: // a signal is pending already: its turn takes this one too
	}
}

// applyResults applies, in a turn of the loop's state, every outcome
// waiting in results.
func (k *kernelWork) applyResults() {
	for {
		select {
		case f := <-k.results:
			k.apply(f, time.Now())
		default:
			return
		}
	}
}

// runJob runs job under netlinkTimeout and returns its outcome, with the
// lines it logged written first.
func (k *kernelWork) runJob(job kernelJob) func(time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), netlinkTimeout)
	k.logs.begin()
	outcome := job(ctx)
	k.logs.end()
	cancel()
	return afterHeld(k.logs.take(), outcome)
}

// starvedAfter is how long a takeover's job may wait untaken by an idle
// worker before the loop runs it itself (runStarved). The worker on
// standby takes a job within a few microseconds; on a machine whose CPUs
// were all busy, where the kernel did not prefer the worker's thread (it
// spins and yields) over the threads holding the CPUs, it left a
// takeover's address addition untaken for 1.5–3 ms.
const starvedAfter = 20 * time.Microsecond

// runStarved runs on the loop the job at the head of the queue, and
// applies its outcome, when a takeover's turn queued it, the worker is
// idle (no job running, no outcome unapplied) and the job has waited
// starvedAfter or longer, or the loop has claimed the takeover's jobs
// (claimed, set by the first job it runs): the loop runs it at once on its
// own thread, which the kernel has woken and is running, as keepalived's
// single thread would. The worker takes no job while the loop runs one,
// so the order of the queue holds. It reports whether it ran one; a nil k
// has none. The cost is the hand-over's guarantee for that job: a kernel
// call that hangs in it delays the loop (up to netlinkTimeout), as it
// would keepalived.
func (k *kernelWork) runStarved() bool {
	if k == nil {
		return false
	}
	k.mu.Lock()
	if !k.starvedLocked() {
		k.mu.Unlock()
		return false
	}
	if !k.claimed && int64(time.Since(k.epoch))-k.jobs[0].at < int64(starvedAfter) {
		k.mu.Unlock()
		return false
	}
	job := k.takeLocked()
	k.onLoop = true
	k.onLoopRuns++
	k.mu.Unlock()

	outcome := k.runJob(job)

	k.mu.Lock()
	k.taken--
	k.onLoop = false
	k.claimed = true
	k.offerLocked()
	k.mu.Unlock()
	if outcome != nil {
		outcome(time.Now())
	}
	return true
}

// releaseClaim gives the takeover's jobs back to the worker (claimed): the
// loop calls it before it sleeps, having run those it could. A nil k has
// none.
func (k *kernelWork) releaseClaim() {
	if k == nil {
		return
	}
	k.mu.Lock()
	if k.claimed {
		k.claimed = false
		k.offerLocked()
	}
	k.mu.Unlock()
}

// offerLocked tells the idle worker that the jobs waiting, if any, are
// its to take (offered, and a signal for a parked one). k.mu held.
func (k *kernelWork) offerLocked() {
	if len(k.jobs) > 0 {
		atomic.AddUint64(&k.offered, 1)
		k.signal()
	}
}

// setTakeoverTurn marks the jobs queued from now on as a takeover's (on),
// or no longer (off). A nil k has no queue.
func (k *kernelWork) setTakeoverTurn(on bool) {
	if k != nil {
		k.takeoverTurn = on
	}
}

// starvedLocked reports whether the head job is a takeover's that only
// time keeps from runStarved. k.mu held.
func (k *kernelWork) starvedLocked() bool {
	return k.taken == 0 && !k.onLoop && len(k.jobs) > 0 && k.jobs[0].takeover
}

// awaitStarved spins, yielding the CPU, while the head job is a
// takeover's that the idle worker has not taken and that has waited less
// than starvedAfter, and reports whether it spun: the loop's wait for a
// takeover's jobs (submitWait) then either sees the worker take it or runs
// it itself (runStarved) once it is due, instead of sleeping on a Go timer,
// which wakes a millisecond late. Only in real time (realTime): a test's
// fake clock does not move while the loop spins.
func (k *kernelWork) awaitStarved() bool {
	if !k.realTime {
		return false
	}
	spun := false
	for {
		k.mu.Lock()
		young := k.starvedLocked() && !k.claimed && int64(time.Since(k.epoch))-k.jobs[0].at < int64(starvedAfter)
		k.mu.Unlock()
		if !young {
			return spun
		}
		spun = true
		yieldCPU()
	}
}

// starvedAt returns next, or the time a takeover's job waiting for the
// idle worker falls to the loop (runStarved) if that is sooner: the loop
// wakes then to see whether the worker took it. A nil k returns next.
func (k *kernelWork) starvedAt(next time.Time, ok bool) (time.Time, bool) {
	if k == nil {
		return next, ok
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.starvedLocked() {
		return next, ok
	}
	at := k.epoch.Add(time.Duration(k.jobs[0].at) + starvedAfter)
	if !ok || at.Before(next) {
		return at, true
	}
	return next, ok
}

// loopRuns is how many jobs the loop ran itself (runStarved); 0 for a nil
// k.
func (k *kernelWork) loopRuns() uint64 {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.onLoopRuns
}

// apply runs on the loop an outcome it took from results.
func (k *kernelWork) apply(f func(time.Time), now time.Time) {
	k.mu.Lock()
	k.taken--
	k.mu.Unlock()
	f(now)
}

// idle reports whether the worker has nothing to do and nothing to hand
// over: no job waiting or running, no outcome the loop has not applied (a
// nil k, no worker, always is). Only the loop queues jobs and takes
// outcomes, so on the loop an idle worker stays idle until the loop hands
// it something.
func (k *kernelWork) idle() bool {
	if k == nil {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.jobs) == 0 && k.taken == 0
}

// submitWait is submitAs, then a wait on the loop, up to wait, for job's
// outcome, applying it and the outcomes of the jobs handed over before it;
// it reports whether job's outcome was applied. The caller must have seen
// the worker idle earlier in the same loop turn, before it handed those
// jobs over: their outcomes are then its own, and no other is applied in
// the middle of its turn. The loop's blocked receive frees its thread for
// the worker at once, so the jobs run without waiting for another thread
// to wake or for the loop's own work after the hand-over, and the worker
// keeps them: a kernel that holds its lock delays the other instances'
// adverts by wait at most. A job the idle worker has left waiting
// starvedAfter, the loop runs itself (runStarved). A nil k (no worker)
// runs job at once.
func (k *kernelWork) submitWait(key any, supersedes []any, job kernelJob, wait time.Duration) bool {
	if k == nil {
		k.submitAs(key, supersedes, job)
		return true
	}
	done := false
	k.queue(queuedJob{key: key, takeover: true, job: func(ctx context.Context) func(time.Time) {
		outcome := job(ctx)
		return func(now time.Time) {
			if outcome != nil {
				outcome(now)
			}
			done = true
		}
	}}, supersedes)
	t := time.NewTimer(wait)
	defer t.Stop()
	for !done {
		if k.runStarved() || k.awaitStarved() {
			continue
		}
		select {
		case f := <-k.results:
			k.apply(f, time.Now())
		case <-t.C:
			return false
		}
	}
	return true
}

// submit hands job to the worker. A Daemon outside Run (a test that
// drives one path of the loop by hand) has no worker, a nil k: the job
// runs at once, its outcome too.
func (k *kernelWork) submit(job kernelJob) { k.submitAs(nil, nil, job) }

// submitAs is submit under key, superseding the waiting jobs whose key is
// in supersedes (doAs).
func (k *kernelWork) submitAs(key any, supersedes []any, job kernelJob) {
	if k != nil {
		k.doAs(key, supersedes, job)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), netlinkTimeout)
	outcome := job(ctx)
	cancel()
	if outcome != nil {
		outcome(time.Now())
	}
}

// finish runs on the loop at shutdown: it waits for the worker to run
// every queued job (the masters' removals, the statics), applying their
// outcomes. A nil k has nothing queued.
func (k *kernelWork) finish() {
	if k == nil {
		return
	}
	k.close()
	for {
		select {
		case f := <-k.results:
			k.apply(f, time.Now())
		case <-k.done:
			k.applyResults() // run sent every outcome before it ended
			return
		}
	}
}
