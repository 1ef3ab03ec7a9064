// Package ipvsbench measures vigil next to Debian's keepalived inside the
// test VM (testnet/vm), on the same kernel, in the same run, from the same
// keepalived.conf:
//
//   - BenchmarkProgram: programming a large IPVS table (1,000 virtual
//     services with 10 real servers each) from empty.
//   - BenchmarkReload: a reload of that table that changes 1 % of the
//     weights (100 destinations); vigil parses, builds and reconciles
//     (reading the whole table from the kernel first), keepalived gets
//     SIGHUP.
//   - BenchmarkLab (on testnet/ipvslab): the daemon's CPU time (user and
//     system, from /proc/PID/stat) running 2,000 TCP_CHECKs at
//     delay_loop 1, and 50 (checkers-light), the connects per second it
//     actually made (the director's TCP ActiveOpens), the real servers it
//     wrongly took down, and the time from a real server's listener
//     closing to its destination leaving the table. Beside the daemons, at
//     2,000, the floor: the test binary as a bare loop of the same checks
//     (socket, connect, close as raw system calls, one thread, batches
//     every 50 ms), closing normally (floor-fin, as both daemons do) and
//     with a reset (floor-rst, SO_LINGER 0). Each line logs how busy the
//     whole VM was.
//
// What the VM can show. At 2,000 checks a second the VM is saturated
// (idle 0 %) by the checks' kernel work (handshake and close through
// veth, bridge and IPVS hooks, done in the connecting process's system
// time, and the real servers' side in the test process): no checker gets
// near 2,000 connects a second, and cpu-ms/s there is each process's
// share of an overcommitted vCPU, not its cost: the bare loop gets the
// same share as keepalived. Compare CPU per connect made there, and
// cpu-ms/s at 50 checks a second, where the VM is mostly idle. Half of
// keepalived's cpu-ms/s is out of reach at either load: 80 to 90 % of
// either daemon's time is system time, the kernel's work for the same
// system calls (socket, connect, close) and for waking up; a reset
// instead of a normal close costs more, not less (floor-rst), and would
// change what the real servers see.
//
// System calls per check, strace -c attached after the CPU window (where
// strace is installed on the host, RunVM copies it in), at 50 checks a
// second: keepalived 9.7 (socket, SO_LINGER, connect, SO_TYPE and
// SO_ERROR, an epoll registration and its removal, close, and its timer
// and epoll_wait about every second check); vigild 7.3 (socket, connect,
// TCP_INFO, close, and the runtime's: one epoll_pwait and one sysmon
// nanosleep, and a preemption signal on a third of the checks, all
// inflated by tracing, which makes every call slow).
//
// Medians of 3 rounds (single rounds vary by up to 2x with the host's
// load: under TCG a busier host makes the same work take more guest CPU
// time), 1 vCPU under TCG on a shared 2-core host, each round running
// keepalived, vigild and the floor one after the other (-args
// -lab.rounds=3):
//
//	                                 cpu-ms/s  user  system  connects/s  cpu-µs per connect
//	before (d09e688), one round, 2,000 TCP_CHECKs:
//	  keepalived                       368      33    335       332      1,108
//	  vigild                           497     147    350       350      1,419
//	after, 2,000 TCP_CHECKs:
//	  keepalived                       365      35    330       401        910
//	  vigild                           389      38    351       716        534
//	  floor-fin                        395      23    372     1,148        345
//	  floor-rst                        439      38    401       601        718
//	after, 50 TCP_CHECKs (VM 76 to 87 % idle):
//	  keepalived                        73       8     65        50      1,451
//	  vigild                            64      14     50        50      1,285
//
// No real server was wrongly taken down in any run. Detection with the
// timer grid (delay_loop 1, retry 1, delay_before_retry 1, median of 5):
// keepalived 1.509 s, vigild 1.503 s from a listener's closing to its
// destination's removal. What changed for vigild's user time (147 to 38
// ms/s): the check's system calls are raw (a connect slow in the kernel,
// as under TCG, no longer lets the runtime's monitor hand the processor to
// another thread), its address is built on the stack (unix.Connect's
// interface cost an allocation per check), one clock read per check
// instead of four, counters through pointers instead of two map lookups, a
// heap comparing integers instead of container/heap over Core.Deadline,
// and a timer wake-up per 50 ms slot instead of per attempt. An epoll loop
// of vigil's own for TCP_CHECK (instead of the runtime's poller, which
// only a connect still in progress uses) could save at most vigild's user
// time over the floor's, 15 of 389 cpu-ms/s at 2,000 (at 50, vigild's
// whole user time is 14 of 64): not worth a second poller. Earlier figures
// of the same benchmark (two VMs at once on 2 shared cores):
//
//	before (64 workers, net.Dialer)   keepalived 279 cpu-ms/s, 108 connects/s, 0 false downs
//	                                  vigild     601 cpu-ms/s, 146 connects/s, 67 false downs
//	non-blocking, on the loop         keepalived 333 cpu-ms/s,  57 connects/s, 0 false downs
//	                                  vigild     587 cpu-ms/s,  42 connects/s, 0 false downs
//
// Run them with
//
//	go test -run '^$' -bench . ./bench/ipvs
//
// # Figures
//
// Under TCG (no KVM) on a shared 2-core host, so absolute times move with
// the host's load by 2x and more between runs; the ratio within one run is
// what counts. Milliseconds per op, 2 ops:
//
//	                                   vigil   keepalived
//	Program, one request/ack per call  23,389      41,054   (before)
//	Program, pipelined                  1,682      26,582   (15.8x)
//	Reload 1 %, EBUSY-retried dumps    55,733       6,561   (first try)
//	Reload 1 %, one dump at a time      3,739       7,452   (2.0x)
//	  again, with Apply apart           4,062       5,374   (1.3x)
//	    of which Reconciler.Apply       1,558
//	    and parsing + Build + New       2,504
//
// Where the time went (a CPU profile of the program and re-apply inside
// the VM): before, every service and destination was one request and one
// ack through github.com/cloudflare/ipvs, 11,000 round trips; now the
// changes go 256 to a write, their acks come back with one recvmmsg, and
// the time left is the kernel's own work per message. Reading the table
// stays one destination dump per service: the kernel runs one dump at a
// time per socket and ends a dump only on the read after its last part,
// so dumps cannot be pipelined (sending them together made every dump
// after the first fail with EBUSY, an n-squared retry). keepalived's
// reload compares the old and new configuration in memory and never
// reads the kernel's table; vigil's Reconciler reads it on every Apply
// (its contract: it corrects what others changed): 1,000 destination
// dumps, most of Apply's 1.6 s. The larger part of vigil's reload is
// parsing the 10,000 real servers and building the table again (config,
// Build, New), which is why the reload takes longer than programming the
// whole table from a parsed configuration.
//
// It holds benchmarks only and owns nothing at run time.
package ipvsbench
