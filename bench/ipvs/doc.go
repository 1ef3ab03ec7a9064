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
//   - BenchmarkLab (on testnet/ipvslab): the daemon's CPU time running
//     2,000 TCP_CHECKs at delay_loop 1, the connects per second it
//     actually made (the director's TCP ActiveOpens), the real servers it
//     wrongly took down, and the time from a real server's listener
//     closing to its destination leaving the table.
//
// Under TCG on a loaded host neither daemon keeps up with 2,000 checks a
// second, so compare CPU per connect made, not cpu-ms/s alone. Two runs
// on 1 vCPU, two VMs at once on 2 shared cores (each line: keepalived
// then vigild from the same VM):
//
//	before (64 workers, net.Dialer)   keepalived 279 cpu-ms/s, 108 connects/s, 0 false downs
//	                                  vigild     601 cpu-ms/s, 146 connects/s, 67 false downs
//	after (non-blocking, on the loop) keepalived 333 cpu-ms/s,  57 connects/s, 0 false downs
//	                                  vigild     587 cpu-ms/s,  42 connects/s, 0 false downs
//
// An earlier run of the "after" code alone: keepalived 365, vigild 505
// cpu-ms/s, no false downs for either.
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
