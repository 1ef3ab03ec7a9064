package ipvs

import (
	"net/netip"
	"slices"
	"testing"
)

// TestNewCarried: a reload keeps the running state by identity, so
// nothing already notified is notified again, and only what the new
// configuration changes shows in the table and the actions.
func TestNewCarried(t *testing.T) {
	const svc = "[192.0.2.1]:tcp:80 rr ->"
	quorum := "quorum 4\n  quorum_up /bin/qup\n  quorum_down /bin/qdown"
	tests := []struct {
		name     string
		old, new string
		events   []Event // applied to the old policy before the reload
		acts     []string
		table    string
	}{
		{"same file: a dead server stays out, nothing notified", conf(quorum, ""), conf(quorum, ""),
			[]Event{down(0, 1)}, nil, svc + " 198.51.100.1:80/NAT/w2"},
		{"New would run quorum_up again; a reload does not", conf(quorum, ""), conf(quorum, ""),
			nil, nil, svc + " 198.51.100.1:80/NAT/w2 198.51.100.2:80/NAT/w3"},
		{"a weight change is the only difference", conf(quorum, ""), conf(quorum, "weight 5"),
			nil, nil, svc + " 198.51.100.1:80/NAT/w5 198.51.100.2:80/NAT/w3"},
		{"quorum down carried: a raised weight gains it, as a check would", conf(quorum, ""), conf(quorum, "weight 5"),
			[]Event{down(0, 1)}, []string{"quorum gained vs0 /bin/qup"}, svc + " 198.51.100.1:80/NAT/w5"},
		{"a sorry server active before stays active", conf("sorry_server 203.0.113.9 80\n  quorum 5", ""), conf("sorry_server 203.0.113.9 80\n  quorum 5", ""),
			[]Event{down(0, 0)}, nil, svc + " 203.0.113.9:80/NAT/w1"},
		{"a new virtual server starts as at start", conf(quorum, ""), conf(quorum, "") + "\nvirtual_server 192.0.2.2 80 {\n lb_algo rr\n protocol TCP\n quorum_up /bin/q2\n real_server 198.51.100.7 80 {\n }\n}\n",
			nil, []string{"quorum gained vs1 /bin/q2"}, ""},
		{"an alpha server that has run keeps its history", conf("", "alpha"), conf("", "alpha"),
			[]Event{down(0, 0)}, nil, svc + " 198.51.100.2:80/NAT/w3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldSpec, _ := build(t, tt.old)
			p, _ := New(oldSpec)
			for _, ev := range tt.events {
				p.Handle(ev)
			}
			newSpec, _ := build(t, tt.new)
			q, acts := NewCarried(newSpec, p.Carry())
			if got := actions(acts); !slices.Equal(got, tt.acts) {
				t.Errorf("actions %q, want %q", got, tt.acts)
			}
			if tt.table != "" {
				if got := summary(q.Table()); got != tt.table {
					t.Errorf("table:\n%s\nwant:\n%s", got, tt.table)
				}
			}
		})
	}
}

// TestNewCarriedKeepsHeldAddresses: ha_suspend's held addresses survive a
// reload, so a held virtual server keeps acting on its checks.
func TestNewCarriedKeepsHeldAddresses(t *testing.T) {
	spec, _ := build(t, conf("ha_suspend", ""))
	p, _ := New(spec)
	p.Handle(VIPHeld{Addr: netip.MustParseAddr("192.0.2.1"), Held: true})
	q, _ := NewCarried(spec, p.Carry())
	if got := actions(q.Handle(down(0, 0))); !slices.Equal(got, []string{"real server down vs0/rs0 /bin/down 1"}) {
		t.Errorf("after the reload the check was %q, want it acted on", got)
	}
	stopped, _ := New(spec)
	stopped.Handle(Stop{})
	if c := stopped.Carry(); len(c.real) != 0 || len(c.quorum) != 0 {
		t.Errorf("a stopped policy carried %+v", c)
	}
}
