// Package ipvsbench measures how fast vigil programs a large IPVS table
// (1,000 virtual services with 10 real servers each, from one
// keepalived.conf) next to Debian's keepalived loading the same file, both
// inside the test VM (testnet/vm), on the same kernel, in the same run:
//
//	go test -run '^$' -bench . ./bench/ipvs
//
// It holds benchmarks only and owns nothing at run time.
package ipvsbench
