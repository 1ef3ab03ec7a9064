package ipvs

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPolicyRandom drives random configurations with random health
// reports and checks, after every event, what must always hold:
//   - quorum: up means S >= quorum-hysteresis and S > 0; down means
//     S < quorum+hysteresis (S = alive weight);
//   - with a sorry server, it is in the table at weight 1 exactly while
//     quorum is down, and then no real server has a non-zero weight;
//   - otherwise a real server is in the table iff alive (at its effective
//     weight) or inhibited (at 0);
//   - RealUp / RealDown actions match the alive flips one to one.
//
// Replay one seed with -run 'TestPolicyRandom/seed=N'.
func TestPolicyRandom(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { simPolicy(t, seed) })
	}
}

func simPolicy(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	nrs := 1 + rng.IntN(5)
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n")
	quorum := 1 + rng.IntN(6)
	fmt.Fprintf(&b, " quorum %d\n hysteresis %d\n", quorum, rng.IntN(quorum))
	if rng.IntN(2) == 0 {
		b.WriteString(" sorry_server 203.0.113.1 80\n")
		if rng.IntN(2) == 0 {
			b.WriteString(" sorry_server_inhibit\n")
		}
	}
	for i := range nrs {
		fmt.Fprintf(&b, " real_server 198.51.100.%d 80 {\n  weight %d\n", i+1, rng.IntN(4))
		if rng.IntN(3) == 0 {
			b.WriteString("  inhibit_on_failure\n")
		}
		if rng.IntN(3) == 0 {
			b.WriteString("  alpha\n")
		}
		b.WriteString(" }\n")
	}
	b.WriteString("}\n")
	spec, _ := build(t, b.String())
	v := spec.VirtualServers[0]
	p, _ := New(spec)
	check := func(step int) {
		t.Helper()
		var s int64
		for j := range v.Real {
			if p.Alive(RealRef{0, j}) {
				s += int64(p.weight(0, j))
			}
		}
		q, h := int64(v.Quorum), int64(v.Hysteresis)
		up := p.QuorumUp(0)
		if up && (s < q-h || s == 0) || !up && s >= q+h && s > 0 {
			t.Fatalf("step %d: quorum up=%v with S=%d q=%d h=%d\n%s", step, up, s, q, h, b.String())
		}
		svc := p.Table()[v.Services[0].Key]
		sorryOn := false
		if v.Sorry != nil {
			d, ok := svc.Dests[destFor(svc.Key, *v.Sorry, 0).Key()]
			sorryOn = ok && d.Weight == 1
			if sorryOn == up {
				t.Fatalf("step %d: sorry server active=%v with quorum up=%v", step, sorryOn, up)
			}
			if ok && !sorryOn && (!v.Sorry.Inhibit || d.Weight != 0) {
				t.Fatalf("step %d: sorry server in the table at weight %d, inhibit=%v", step, d.Weight, v.Sorry.Inhibit)
			}
		}
		for j, r := range v.Real {
			d, ok := svc.Dests[destFor(svc.Key, r, 0).Key()]
			alive := p.Alive(RealRef{0, j})
			switch {
			case sorryOn && ok && d.Weight != 0:
				t.Fatalf("step %d: real server %d at weight %d beside the sorry server", step, j, d.Weight)
			case sorryOn:
				if ok != r.Inhibit {
					t.Fatalf("step %d: real server %d present=%v while sorry, inhibit=%v", step, j, ok, r.Inhibit)
				}
			case alive && (!ok || d.Weight != p.weight(0, j)):
				t.Fatalf("step %d: alive real server %d: present=%v weight %d, want %d", step, j, ok, d.Weight, p.weight(0, j))
			case !alive && ok != r.Inhibit, !alive && ok && d.Weight != 0:
				t.Fatalf("step %d: failed real server %d: present=%v weight %d, inhibit=%v", step, j, ok, d.Weight, r.Inhibit)
			}
		}
	}
	check(0)
	for step := 1; step <= 200; step++ {
		j := rng.IntN(nrs)
		h := Health{Up: rng.IntN(3) != 0}
		if rng.IntN(4) == 0 {
			h.Weight, h.HasWeight = rng.IntN(8)-2, true
		}
		was := p.Alive(RealRef{0, j})
		first := !p.vs[0].real[j].hasRun
		acts := p.Handle(HealthChanged{RealRef{0, j}, h})
		now := p.Alive(RealRef{0, j})
		var ups, downs int
		for _, a := range acts {
			switch a.Kind {
			case RealUp:
				ups++
			case RealDown:
				downs++
			}
		}
		wantUps, wantDowns := 0, 0
		switch {
		case !was && now:
			wantUps = 1
		case was && !now:
			wantDowns = 1
		case !was && !now && first:
			wantDowns = 1 // alpha's first failure
		}
		if ups != wantUps || downs != wantDowns {
			t.Fatalf("step %d: alive %v -> %v gave %d up and %d down actions", step, was, now, ups, downs)
		}
		check(step)
	}
}
