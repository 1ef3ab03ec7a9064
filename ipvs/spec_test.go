package ipvs

import (
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/config"
)

func TestBuild(t *testing.T) {
	tests := []struct {
		name       string
		conf       string
		want       string   // summary of the table with every real server alive
		complaints []string // substrings, in order
	}{
		{"tcp nat, ports", `
virtual_server 192.0.2.1 80 {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 8080 { weight 3 }
  real_server 198.51.100.2 { weight 2 }
}`, "[192.0.2.1]:tcp:80 wrr -> 198.51.100.1:8080/NAT/w3 198.51.100.2:80/NAT/w2", nil},
		{"dr takes the service port", `
virtual_server 192.0.2.1 443 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 198.51.100.1 8443 { }
}`, "[192.0.2.1]:tcp:443 rr -> 198.51.100.1:443/DR/w1", []string{"t.conf:6:3: ipvs: virtual server [192.0.2.1]:tcp:443: real server [198.51.100.1]:8443 is not NAT"}},
		{"ipv6 udp, sh flags, persistence, granularity", `
virtual_server 2001:db8::1 53 {
  lb_algo sh
  sh-port
  sh-fallback
  lb_kind NAT
  protocol UDP
  ops
  persistence_timeout 600
  persistence_granularity 64
  real_server 2001:db8::10 53 { }
}`, "[2001:db8::1]:udp:53 sh f0x1d t600 m0x40 -> [2001:db8::10]:53/NAT/w1", nil},
		{"ipv4 granularity alone enables persistence", `
virtual_server 192.0.2.1 80 {
  lb_algo mh
  mh-port
  lb_kind NAT
  protocol SCTP
  persistence_granularity 255.255.255.0
  real_server 198.51.100.1 80 { }
}`, "[192.0.2.1]:sctp:80 mh f0x11 t360 m0xffffff00 -> 198.51.100.1:80/NAT/w1", nil},
		{"bad granularity", `
virtual_server 192.0.2.1 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  persistence_granularity bogus
  real_server 198.51.100.1 80 { }
}`, "[192.0.2.1]:tcp:80 rr -> 198.51.100.1:80/NAT/w1", []string{`persistence_granularity "bogus"`}},
		{"fwmark family from real servers, tunnels", `
virtual_server fwmark 7 {
  lb_algo wlc
  lb_kind TUN
  real_server 2001:db8::10 { lvs_method TUN type gue port 6080 csum }
  real_server 2001:db8::11 { lvs_method TUN type gre }
  real_server 2001:db8::12 { lvs_method DR }
}`, "FWM 7 inet6 wlc -> [2001:db8::10]:0/TUN/w1/tun1:6080:1 [2001:db8::11]:0/TUN/w1/tun2:0:0 [2001:db8::12]:0/DR/w1", nil},
		{"group: range, single address, fwmark, shared by two protocols", `
virtual_server_group G {
  192.0.2.10-12 80
  2001:db8::1 80
  fwmark 9
}
virtual_server group G {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 198.51.100.1 80 { }
}
virtual_server group G {
  lb_algo rr
  lb_kind DR
  protocol UDP
  real_server 198.51.100.2 80 { }
}`, strings.Join([]string{
			"FWM 9 rr -> 198.51.100.1:0/DR/w1",
			"[192.0.2.10]:tcp:80 rr -> 198.51.100.1:80/DR/w1",
			"[192.0.2.10]:udp:80 rr -> 198.51.100.2:80/DR/w1",
			"[192.0.2.11]:tcp:80 rr -> 198.51.100.1:80/DR/w1",
			"[192.0.2.11]:udp:80 rr -> 198.51.100.2:80/DR/w1",
			"[192.0.2.12]:tcp:80 rr -> 198.51.100.1:80/DR/w1",
			"[192.0.2.12]:udp:80 rr -> 198.51.100.2:80/DR/w1",
			"[2001:db8::1]:tcp:80 rr ->",
			"[2001:db8::1]:udp:80 rr ->",
		}, "\n"), []string{
			"t.conf:11:3: ipvs: virtual server [G]:0: real server 198.51.100.1 is inet, service [2001:db8::1]:tcp:80 is inet6 (only TUN may mix families)",
			"service FWM 9 is already programmed by virtual server [G]:0",
			"real server 198.51.100.2 is inet, service [2001:db8::1]:udp:80 is inet6",
		}},
		{"range ending before its start", `
virtual_server_group G {
  192.0.2.10-5 80
  192.0.2.20 80
}
virtual_server group G {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 80 { }
}`, "[192.0.2.20]:tcp:80 rr -> 198.51.100.1:80/NAT/w1", []string{"range 192.0.2.10-5 ends before it starts"}},
		{"group entry with port 0 forces persistence", `
virtual_server_group G {
  192.0.2.10 0
}
virtual_server group G {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 198.51.100.1 { }
}`, "[192.0.2.10]:tcp:0 rr f0x1 t360 -> 198.51.100.1:0/DR/w1", []string{"zero port only valid for persistent services"}},
		{"duplicate service across virtual servers", `
virtual_server 192.0.2.1 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 80 { }
}
virtual_server_group G {
  192.0.2.1 80
}
virtual_server group G {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.2 80 { }
}`, "[192.0.2.1]:tcp:80 rr -> 198.51.100.1:80/NAT/w1", []string{"service [192.0.2.1]:tcp:80 is already programmed by virtual server [192.0.2.1]:tcp:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, cs := build(t, tt.conf)
			p, _ := New(spec)
			if got := summary(p.Table()); got != tt.want {
				t.Errorf("table:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(cs) != len(tt.complaints) {
				t.Fatalf("complaints %q, want %d like %q", cs, len(tt.complaints), tt.complaints)
			}
			for i, c := range cs {
				if !strings.Contains(c.Error(), tt.complaints[i]) {
					t.Errorf("complaint %d = %q, want it to contain %q", i, c.Error(), tt.complaints[i])
				}
			}
		})
	}
}

func TestBuildGlobals(t *testing.T) {
	spec, _ := build(t, "global_defs {\n lvs_flush\n lvs_timeouts tcpfin 30 udp 90\n}\n")
	if !spec.Flush {
		t.Error("lvs_flush did not reach Spec.Flush")
	}
	if spec.Timeouts != (Timeouts{TCPFin: 30, UDP: 90}) {
		t.Errorf("Spec.Timeouts = %+v, want tcpfin 30 udp 90", spec.Timeouts)
	}
	spec, _ = build(t, "global_defs {\n router_id x\n}\n")
	if spec.Flush {
		t.Error("Spec.Flush set without lvs_flush")
	}
}

func TestRefOf(t *testing.T) {
	c, _ := config.Parse("t.conf", []byte(`
virtual_server 192.0.2.1 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 80 { }
}
virtual_server 192.0.2.1 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.9 80 { }
}
virtual_server 192.0.2.2 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  sorry_server 203.0.113.1 80
  real_server 198.51.100.2 80 { }
  real_server 198.51.100.3 80 { }
}`), config.Options{})
	spec, cs := Build(c)
	if len(cs) != 1 {
		t.Fatalf("complaints %v, want the duplicate service", cs)
	}
	// The second virtual server duplicates the first and is dropped: the
	// third one is VS 1 in the Spec.
	if ref, ok := spec.RefOf(c.VirtualServers[2].RealServers[1]); !ok || ref != (RealRef{1, 1}) {
		t.Errorf("RefOf = %v %v, want {1 1}", ref, ok)
	}
	if _, ok := spec.RefOf(c.VirtualServers[1].RealServers[0]); ok {
		t.Error("RefOf found a real server of a dropped virtual server")
	}
	if spec.VirtualServers[1].Sorry == nil || spec.VirtualServers[1].Sorry.Source != nil {
		t.Error("sorry server missing or claims a real_server source")
	}
	// Refs answers as RefOf for every real_server block, kept or dropped.
	refs := spec.Refs()
	n := 0
	for _, v := range c.VirtualServers {
		for _, r := range v.RealServers {
			want, wantOK := spec.RefOf(r)
			got, ok := refs[r]
			if ok != wantOK || got != want {
				t.Errorf("Refs()[%s] = %v %v, RefOf says %v %v", r.Addr, got, ok, want, wantOK)
			}
			if ok {
				n++
			}
		}
	}
	if n != 3 || len(refs) != 3 {
		t.Errorf("Refs has %d entries (%d matched), want the 3 kept real servers", len(refs), n)
	}
}
