package ipvs

import (
	"net/netip"
	"slices"
	"testing"
)

// step is one event and what must follow: the actions (nil = none) and
// the table summary ("" = not checked).
type step struct {
	name  string
	ev    Event
	acts  []string
	table string
}

func up(vs, rs int) Event   { return HealthChanged{RealRef{vs, rs}, Health{Up: true}} }
func down(vs, rs int) Event { return HealthChanged{RealRef{vs, rs}, Health{}} }
func dyn(vs, rs, w int) Event {
	return HealthChanged{RealRef{vs, rs}, Health{Up: true, Weight: w, HasWeight: true}}
}

const twoRS = `
virtual_server 192.0.2.1 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  %s
  real_server 198.51.100.1 80 {
    weight 2
    notify_up "/bin/up 1"
    notify_down "/bin/down 1"
    %s
  }
  real_server 198.51.100.2 80 {
    weight 3
    notify_up "/bin/up 2"
    notify_down "/bin/down 2"
  }
}`

func conf(vsExtra, rsExtra string) string {
	return sprintf(twoRS, vsExtra, rsExtra)
}

func TestPolicyScenarios(t *testing.T) {
	const svc = "[192.0.2.1]:tcp:80 rr ->"
	tests := []struct {
		name      string
		conf      string
		startActs []string
		start     string
		steps     []step
	}{
		{"plain: failure removes, recovery adds, notify scripts run", conf("", ""),
			[]string{"quorum gained vs0"},
			svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3",
			[]step{
				{"first success changes nothing", up(0, 0), nil, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
				{"failure removes", down(0, 0), []string{"real server down vs0/rs0 /bin/down 1"}, svc + " 198.51.100.2:80/NAT/w3"},
				{"repeated failure is quiet", down(0, 0), nil, svc + " 198.51.100.2:80/NAT/w3"},
				{"recovery adds", up(0, 0), []string{"real server up vs0/rs0 /bin/up 1"}, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
				{"out-of-range refs are ignored", up(3, 9), nil, ""},
			}},
		{"inhibit_on_failure keeps the entry at weight 0", conf("", "inhibit_on_failure"),
			[]string{"quorum gained vs0"}, "",
			[]step{
				{"failure inhibits", down(0, 0), []string{"real server down vs0/rs0 /bin/down 1"}, svc + " 198.51.100.1:80/NAT/w0 198.51.100.2:80/NAT/w3"},
				{"recovery restores the weight", up(0, 0), []string{"real server up vs0/rs0 /bin/up 1"}, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
			}},
		{"weight 0 configured: alive, in the table, counts 0", conf("", "weight 0"),
			[]string{"quorum gained vs0"}, svc + " 198.51.100.1:80/NAT/w0 198.51.100.2:80/NAT/w3",
			[]step{
				{"the other one fails: quorum lost", down(0, 1), []string{"real server down vs0/rs1 /bin/down 2", "quorum lost vs0"}, svc + " 198.51.100.1:80/NAT/w0"},
			}},
		{"misc_dynamic weight overrides and is clamped", conf("", ""),
			[]string{"quorum gained vs0"}, "",
			[]step{
				{"dynamic weight 7", dyn(0, 0, 7), nil, svc + " 198.51.100.1:80/NAT/w7 198.51.100.2:80/NAT/w3"},
				{"dynamic weight negative clamps to 0", dyn(0, 0, -5), nil, svc + " 198.51.100.1:80/NAT/w0 198.51.100.2:80/NAT/w3"},
				{"a plain success drops the override", up(0, 0), nil, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
			}},
		{"alpha: starts down, first failure still notifies", conf("", "alpha"),
			[]string{"quorum gained vs0"}, svc + " 198.51.100.2:80/NAT/w3",
			[]step{
				{"first failure: notify_down once", down(0, 0), []string{"real server down vs0/rs0 /bin/down 1"}, svc + " 198.51.100.2:80/NAT/w3"},
				{"second failure: quiet", down(0, 0), nil, ""},
				{"success adds", up(0, 0), []string{"real server up vs0/rs0 /bin/up 1"}, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
			}},
		{"alpha on both: no quorum at start, silent without sorry server", conf("alpha\n  quorum 4", ""),
			nil, svc,
			[]step{
				{"one up (2 < quorum 4)", up(0, 0), []string{"real server up vs0/rs0 /bin/up 1"}, svc + " 198.51.100.1:80/NAT/w2"},
			}},
		{"quorum with hysteresis, scripts are outputs", conf("quorum 4\n  hysteresis 1\n  quorum_up /bin/qup\n  quorum_down /bin/qdown", ""),
			[]string{"quorum gained vs0 /bin/qup"}, "",
			[]step{
				// up: lost when S < q-h = 3; down: gained when S >= q+h = 5.
				{"S=3 is not below 3", down(0, 0), []string{"real server down vs0/rs0 /bin/down 1"}, ""},
				{"S=2 < 3: lost", dyn(0, 1, 2), []string{"quorum lost vs0 /bin/qdown"}, svc + " 198.51.100.2:80/NAT/w2"},
				{"S=4 < 5: still down", dyn(0, 1, 4), nil, ""},
				{"S=5: gained", dyn(0, 1, 5), []string{"quorum gained vs0 /bin/qup"}, svc + " 198.51.100.2:80/NAT/w5"},
			}},
		{"sorry server replaces the pool while quorum is lost", conf("sorry_server 203.0.113.9 8080\n  quorum 5", ""),
			[]string{"quorum gained vs0"}, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3",
			[]step{
				{"lost: sorry in, alive servers out", down(0, 0), []string{"real server down vs0/rs0 /bin/down 1", "quorum lost vs0"}, svc + " 203.0.113.9:8080/NAT/w1"},
				{"recovery while sorry: state only", up(0, 0), []string{"real server up vs0/rs0 /bin/up 1", "quorum gained vs0"}, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
			}},
		{"sorry_server_inhibit keeps it at weight 0, inhibited servers stay at 0 while sorry", conf("sorry_server 203.0.113.9 8080\n  sorry_server_inhibit\n  sorry_server_lvs_method DR\n  quorum 5", "inhibit_on_failure"),
			[]string{"quorum gained vs0"}, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3 203.0.113.9:80/DR/w0",
			[]step{
				{"lost", down(0, 1), []string{"real server down vs0/rs1 /bin/down 2", "quorum lost vs0"}, svc + " 198.51.100.1:80/NAT/w0 203.0.113.9:80/DR/w1"},
			}},
		{"start short of quorum with a sorry server: quorum_down at start", conf("sorry_server 203.0.113.9 80\n  quorum_down /bin/qdown\n  alpha", ""),
			[]string{"quorum lost vs0 /bin/qdown"}, svc + " 203.0.113.9:80/NAT/w1",
			[]step{
				{"first server up gains quorum", up(0, 1), []string{"real server up vs0/rs1 /bin/up 2", "quorum gained vs0"}, svc + " 198.51.100.2:80/NAT/w3"},
			}},
		{"ha_suspend freezes health until the address is held", conf("ha_suspend", ""),
			[]string{"quorum gained vs0"}, "",
			[]step{
				{"not held: failure ignored", down(0, 0), nil, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
				{"held", VIPHeld{netip.MustParseAddr("192.0.2.1"), true}, nil, ""},
				{"now the failure counts", down(0, 0), []string{"real server down vs0/rs0 /bin/down 1"}, svc + " 198.51.100.2:80/NAT/w3"},
				{"released", VIPHeld{netip.MustParseAddr("192.0.2.1"), false}, nil, ""},
				{"frozen again", up(0, 0), nil, svc + " 198.51.100.2:80/NAT/w3"},
			}},
		{"rs_init_notifies: the real servers that start up are notified at start, alpha ones are not",
			"global_defs {\n  rs_init_notifies\n}\n" + conf("", "alpha"),
			[]string{"real server up vs0/rs1 /bin/up 2", "quorum gained vs0"}, svc + " 198.51.100.2:80/NAT/w3",
			[]step{
				{"the alpha one's first success adds it", up(0, 0), []string{"real server up vs0/rs0 /bin/up 1"}, ""},
				{"the other's first success is quiet", up(0, 1), nil, ""},
			}},
		{"stop without omega: table empty, nothing notified", conf("", ""),
			[]string{"quorum gained vs0"}, "",
			[]step{
				{"stop", Stop{}, nil, ""},
				{"events after stop do nothing", down(0, 0), nil, ""},
			}},
		{"stop with omega: notify_down for alive servers, quorum down", conf("omega\n  quorum_down /bin/qdown", ""),
			[]string{"quorum gained vs0"}, "",
			[]step{
				{"one down first", down(0, 1), []string{"real server down vs0/rs1 /bin/down 2"}, ""},
				{"stop", Stop{}, []string{"real server down vs0/rs0 /bin/down 1", "quorum lost vs0 /bin/qdown"}, ""},
			}},
		{"stop with omega and lvs_flush_on_stop: the services are notified, not the real servers", conf("omega\n  quorum_down /bin/qdown", ""),
			[]string{"quorum gained vs0"}, "",
			[]step{
				{"stop", Stop{ServicesOnly: true}, []string{"quorum lost vs0 /bin/qdown"}, ""},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, _ := build(t, tt.conf)
			p, acts := New(spec)
			if got := actions(acts); !slices.Equal(got, tt.startActs) {
				t.Errorf("start actions %q, want %q", got, tt.startActs)
			}
			if tt.start != "" {
				if got := summary(p.Table()); got != tt.start {
					t.Errorf("start table:\n%s\nwant:\n%s", got, tt.start)
				}
			}
			for _, s := range tt.steps {
				got := actions(p.Handle(s.ev))
				if !slices.Equal(got, s.acts) {
					t.Errorf("%s: actions %q, want %q", s.name, got, s.acts)
				}
				if s.table != "" {
					if g := summary(p.Table()); g != s.table {
						t.Errorf("%s: table:\n%s\nwant:\n%s", s.name, g, s.table)
					}
				}
				if _, ok := s.ev.(Stop); ok && len(p.Table()) != 0 {
					t.Errorf("%s: table after stop:\n%s", s.name, summary(p.Table()))
				}
			}
		})
	}
}

// TestPolicyAllServicesOfAGroup: a virtual server over a group programs
// the same destinations in each of its services.
func TestPolicyAllServicesOfAGroup(t *testing.T) {
	spec, _ := build(t, `
virtual_server_group G {
  192.0.2.10-11 80
}
virtual_server group G {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 8080 { }
  real_server 198.51.100.2 8080 { }
}`)
	p, _ := New(spec)
	p.Handle(down(0, 1))
	want := "[192.0.2.10]:tcp:80 rr -> 198.51.100.1:8080/NAT/w1\n[192.0.2.11]:tcp:80 rr -> 198.51.100.1:8080/NAT/w1"
	if got := summary(p.Table()); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	if p.Alive(RealRef{0, 1}) || !p.Alive(RealRef{0, 0}) || !p.QuorumUp(0) {
		t.Error("Alive / QuorumUp disagree with the events")
	}
}
