// Package ipvsbench measures vigil next to Debian's keepalived inside the
// test VM (testnet/vm), on the same kernel, in the same run, from the same
// keepalived.conf:
//
//   - BenchmarkProgram: programming a large IPVS table (1,000 virtual
//     services with 10 real servers each).
//   - BenchmarkLab (on testnet/ipvslab): the daemon's CPU time running
//     2,000 TCP_CHECKs at delay_loop 1, and the time from a real server's
//     listener closing to its destination leaving the table.
//
// Run them with
//
//	go test -run '^$' -bench . ./bench/ipvs
//
// It holds benchmarks only and owns nothing at run time.
package ipvsbench
