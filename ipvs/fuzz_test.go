package ipvs

import (
	"testing"

	"github.com/vigil-ha/vigil/config"
)

// FuzzBuild: whatever configuration text config accepts, Build, the policy
// and its table neither panic nor produce a destination in a service it
// does not belong to (a family mismatch only TUN may have).
func FuzzBuild(f *testing.F) {
	f.Add(sprintf(twoRS, "sorry_server 203.0.113.9 8080\n quorum 3\n hysteresis 1", "inhibit_on_failure"))
	f.Add("virtual_server_group G {\n 192.0.2.10-12 80\n 2001:db8::1-3 80\n fwmark 9 inet6\n}\nvirtual_server group G {\n lb_algo sh\n sh-port\n lb_kind TUN\n protocol UDP\n real_server 198.51.100.1 80 { lvs_method TUN type gue port 1 csum }\n}\n")
	f.Add("virtual_server fwmark 7 {\n lb_algo rr\n lb_kind DR\n persistence_granularity 64\n real_server 2001:db8::10 { }\n}\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, _ := config.Parse("f.conf", []byte(text), config.Options{ConfigID: "f"})
		if c == nil {
			return
		}
		spec, _ := Build(c)
		p, _ := New(spec)
		for i, v := range spec.VirtualServers {
			for j := range v.Real {
				p.Handle(HealthChanged{RealRef{i, j}, Health{Up: j%2 == 0, Weight: j - 1, HasWeight: j%3 == 0}})
			}
		}
		for k, s := range p.Table() {
			if s.Key != k {
				t.Fatalf("service %s filed under %s", s.Key, k)
			}
			for dk, d := range s.Dests {
				if d.Key() != dk {
					t.Fatalf("destination %s filed under %s", d.Key(), dk)
				}
				if !k.IsFWMark() && d.Method != TUN && familyOf(d.Addr) != k.Family {
					t.Fatalf("service %s has destination %s of another family", k, d)
				}
				if d.Weight > 1<<31-1 {
					t.Fatalf("weight %d beyond the kernel's range", d.Weight)
				}
			}
		}
		p.Handle(Stop{})
		if len(p.Table()) != 0 {
			t.Fatal("table not empty after Stop")
		}
	})
}
