// Package ipvsbench measures vigil next to Debian's keepalived inside the
// test VM (testnet/vm), on the same kernel, in the same run, from the same
// keepalived.conf:
//
//   - BenchmarkProgram: programming a large IPVS table (1,000 virtual
//     services with 10 real servers each).
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
// It holds benchmarks only and owns nothing at run time.
package ipvsbench
