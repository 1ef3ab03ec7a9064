// Package bench holds vigil's benchmarks that need more than one package:
// they build real components, run them against real sockets and report
// what they cost. Nothing imports it.
//
// BenchmarkTCPChecks2000 runs 2,000 TCP_CHECKs at delay_loop 1 against a
// server in a child process (so the server's work is not counted) and
// reports the checker side's CPU time per second of wall time (cpu-ms/s)
// and the checks completed per second:
//
//	go test ./bench -run '^$' -bench TCPChecks -benchtime 5x
//
// keepalived 2.2.7, the reference, cannot run its checkers on a kernel
// without IPVS (its checker process exits when ip_vs cannot be
// initialised), so where IPVS is missing the benchmark prints that instead
// of keepalived's figure.
package bench
