package config

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// BenchmarkParseRouterPair measures reading a typical router pair file.
func BenchmarkParseRouterPair(b *testing.B) {
	data, err := os.ReadFile("testdata/golden/router-pair.conf")
	if err != nil {
		b.Fatal(err)
	}
	opts := testOpts()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Parse("router-pair.conf", data, opts)
	}
}

// BenchmarkParse250Instances measures a large file produced by ~SEQ: 250
// instances with two VIPs each.
func BenchmarkParse250Instances(b *testing.B) {
	data := []byte(`$BODY= \
    interface eth0 \
    virtual_router_id $N \
    virtual_ipaddress { \
        192.0.2.${N}/24 \
        2001:db8::${N}/64 dev eth1 \
    } \
}
~SEQ(N,1,250) vrrp_instance VI_$N { $BODY
`)
	opts := testOpts()
	cfg, errs := Parse("big.conf", data, opts)
	if len(cfg.Instances) != 250 {
		b.Fatalf("%d instances, complaints %v", len(cfg.Instances), errs)
	}
	b.SetBytes(int64(len(Dump(cfg))))
	for b.Loop() {
		Parse("big.conf", data, opts)
	}
}

// BenchmarkDump measures printing the effective configuration.
func BenchmarkDump(b *testing.B) {
	cfg, _, err := Load("testdata/golden/lvs.conf", testOpts())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		Dump(cfg)
	}
}

// BenchmarkParseIPVS1000x10 measures a director's file: 1,000 virtual
// servers with 10 real servers each (22,000 lines), the size bench/ipvs
// reloads.
func BenchmarkParseIPVS1000x10(b *testing.B) {
	var buf bytes.Buffer
	for i := range 1000 {
		fmt.Fprintf(&buf, "virtual_server 192.0.2.1 %d {\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n", 10000+i)
		for j := range 10 {
			fmt.Fprintf(&buf, " real_server 198.51.100.%d 80 {\n  weight %d\n }\n", j+1, j+1)
		}
		buf.WriteString("}\n")
	}
	data := buf.Bytes()
	opts := testOpts()
	cfg, errs := Parse("ipvs.conf", data, opts)
	if len(cfg.VirtualServers) != 1000 {
		b.Fatalf("%d virtual servers, complaints %v", len(cfg.VirtualServers), errs)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Parse("ipvs.conf", data, opts)
	}
}
