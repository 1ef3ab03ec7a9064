package check

import "testing"

func script(name string, w int, rev bool, s State) Ref {
	return Ref{Kind: KindScript, Name: name, Weight: w, Reverse: rev, State: s}
}

func iface(name string, w int, rev bool, up bool) Ref {
	s := StateFailed
	if up {
		s = StateOK
	}
	return Ref{Kind: KindInterface, Name: name, Weight: w, Reverse: rev, State: s}
}

func file(name string, w int, rev bool, v int64) Ref {
	return Ref{Kind: KindFile, Name: name, Weight: w, Reverse: rev, Value: v}
}

// TestPriority is keepalived's arithmetic (vrrp_track.c), both sides of each
// clamp and every weight/reverse combination.
func TestPriority(t *testing.T) {
	tests := []struct {
		name      string
		base      uint8
		refs      []Ref
		want      uint8
		wantFault bool
		code      ReasonCode
		reason    string
	}{
		{"nothing tracked", 100, nil, 100, false, ReasonNone, "base priority"},
		{"positive weight, up: added", 100, []Ref{script("chk", 20, false, StateOK)}, 120, false, ReasonWeight, "script chk succeeded (+20)"},
		{"positive weight, down: nothing", 100, []Ref{script("chk", 20, false, StateFailed)}, 100, false, ReasonNone, "base priority"},
		{"negative weight, down: subtracted", 100, []Ref{script("chk", -30, false, StateFailed)}, 70, false, ReasonWeight, "script chk failed (-30)"},
		{"negative weight, up: nothing", 100, []Ref{script("chk", -30, false, StateOK)}, 100, false, ReasonNone, "base priority"},
		{"positive weight reverse, up: subtracted", 100, []Ref{script("chk", 20, true, StateOK)}, 80, false, ReasonWeight, "script chk succeeded (-20)"},
		{"positive weight reverse, down: nothing", 100, []Ref{script("chk", 20, true, StateFailed)}, 100, false, ReasonNone, "base priority"},
		{"negative weight reverse, down: added", 100, []Ref{script("chk", -30, true, StateFailed)}, 130, false, ReasonWeight, "script chk failed (+30)"},
		{"negative weight reverse, up: nothing", 100, []Ref{script("chk", -30, true, StateOK)}, 100, false, ReasonNone, "base priority"},
		{"weighted script in init: nothing", 100, []Ref{script("chk", -30, false, StateInit), script("b", 20, false, StateInit)}, 100, false, ReasonNone, "base priority"},
		{"sum of several", 100, []Ref{script("a", 10, false, StateOK), iface("eth1", -25, false, false), script("c", -5, false, StateOK)}, 85, false, ReasonWeight, "script a succeeded (+10) and 1 more"},

		{"upper clamp: 254 exactly stays", 200, []Ref{script("a", 54, false, StateOK)}, 254, false, ReasonWeight, ""},
		{"upper clamp: 255 becomes 254", 200, []Ref{script("a", 55, false, StateOK)}, 254, false, ReasonWeight, ""},
		{"upper clamp: far above", 250, []Ref{script("a", 253, false, StateOK), script("b", 253, false, StateOK)}, 254, false, ReasonWeight, ""},
		{"lower clamp: 1 exactly stays", 51, []Ref{script("a", -50, false, StateFailed)}, 1, false, ReasonWeight, ""},
		{"lower clamp: 0 becomes 1", 50, []Ref{script("a", -50, false, StateFailed)}, 1, false, ReasonWeight, ""},
		{"lower clamp: far below", 1, []Ref{script("a", -253, false, StateFailed), iface("e", -253, false, false)}, 1, false, ReasonWeight, ""},
		{"lower clamp: 2 stays", 52, []Ref{script("a", -50, false, StateFailed)}, 2, false, ReasonWeight, ""},

		{"owner never changes", 255, []Ref{script("a", -50, false, StateFailed)}, 255, false, ReasonOwner, "address owner"},
		{"owner never changes up either", 255, []Ref{script("a", 50, false, StateOK)}, 255, false, ReasonOwner, ""},
		{"owner still faults on weight 0", 255, []Ref{script("a", 0, false, StateFailed)}, 255, true, ReasonDown, "script a failed"},

		{"weight 0 failed: fault", 100, []Ref{script("chk", 0, false, StateFailed)}, 100, true, ReasonDown, "script chk failed"},
		{"weight 0 ok: fine", 100, []Ref{script("chk", 0, false, StateOK)}, 100, false, ReasonNone, ""},
		{"weight 0 reverse ok: fault", 100, []Ref{script("chk", 0, true, StateOK)}, 100, true, ReasonDown, "script chk succeeded"},
		{"weight 0 reverse failed: fine", 100, []Ref{script("chk", 0, true, StateFailed)}, 100, false, ReasonNone, ""},
		{"weight 0 script in init: fault until it reports", 100, []Ref{script("chk", 0, false, StateInit)}, 100, true, ReasonInit, "script chk has not reported yet"},
		{"weight 0 interface down: fault", 100, []Ref{iface("eth1", 0, false, false)}, 100, true, ReasonDown, "interface eth1 down"},
		{"weight 0 interface up: fine", 100, []Ref{iface("eth1", 0, false, true)}, 100, false, ReasonNone, ""},
		{"fault wins over weights, priority still computed", 100, []Ref{script("a", -20, false, StateFailed), iface("eth1", 0, false, false), script("b", 0, false, StateFailed)}, 80, true, ReasonDown, "interface eth1 down and 1 more"},
		{"interface weighted down", 100, []Ref{iface("eth1", -10, false, false)}, 90, false, ReasonWeight, "interface eth1 down (-10)"},
		{"process lost quorum", 100, []Ref{{Kind: KindProcess, Name: "haproxy", Weight: -10, State: StateFailed}}, 90, false, ReasonWeight, "process haproxy lost quorum (-10)"},

		{"file: value times weight", 100, []Ref{file("f", 2, false, 10)}, 120, false, ReasonWeight, "track file f value 10 (+20)"},
		{"file: negative value", 100, []Ref{file("f", 1, false, -30)}, 70, false, ReasonWeight, ""},
		{"file: reverse", 100, []Ref{file("f", 2, true, 10)}, 80, false, ReasonWeight, ""},
		{"file: capped at +253", 1, []Ref{file("f", 1, false, 1000)}, 254, false, ReasonWeight, ""},
		{"file: -253 is a weight", 254, []Ref{file("f", 1, false, -253)}, 1, false, ReasonWeight, ""},
		{"file: -254 is fault", 254, []Ref{file("f", 1, false, -254)}, 254, true, ReasonFileFault, "track file f value -254"},
		{"file: far below is fault", 100, []Ref{file("f", 1000, false, -1<<62)}, 100, true, ReasonFileFault, ""},
		{"file: weight 0, zero value fine", 100, []Ref{file("f", 0, false, 0)}, 100, false, ReasonNone, ""},
		{"file: weight 0, non-zero value fault", 100, []Ref{file("f", 0, false, 7)}, 100, true, ReasonFileFault, "track file f value 7"},
		{"file: weight 0 reverse, zero value fault", 100, []Ref{file("f", 0, true, 0)}, 100, true, ReasonFileFault, ""},
		{"file: weight 0 reverse, non-zero fine", 100, []Ref{file("f", 0, true, 3)}, 100, false, ReasonNone, ""},
		{"file: zero value contributes nothing", 100, []Ref{file("f", 5, false, 0)}, 100, false, ReasonNone, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, fault, reason := Priority(tc.base, tc.refs)
			if got != tc.want || fault != tc.wantFault || reason.Code != tc.code {
				t.Fatalf("Priority(%d) = %d, fault %v, %v (%q); want %d, fault %v, %v",
					tc.base, got, fault, reason.Code, reason, tc.want, tc.wantFault, tc.code)
			}
			if tc.reason != "" && reason.String() != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
		})
	}
}

// TestPriorityIncrementalAgreement checks that the stateless sum equals
// keepalived's incremental bookkeeping (total += weight on the transitions
// process_script_update_priority makes) over every path of a script through
// init → ok/failed → ... for all weight signs and reverse.
func TestPriorityIncrementalAgreement(t *testing.T) {
	for _, w := range []int{-40, -1, 1, 40} {
		for _, rev := range []bool{false, true} {
			mult := 1
			if rev {
				mult = -1
			}
			abs := max(w, -w)
			for _, path := range []string{"OFOF", "FOFO", "OOFF", "FFOO"} {
				total := 100
				state := StateInit
				for _, c := range path {
					ok := c == 'O'
					switch {
					case state == StateInit && ok && w > 0:
						total += w * mult
					case state == StateInit && !ok && w < 0:
						total += w * mult
					case state == StateInit:
					case ok && state != StateOK:
						total += abs * mult
					case !ok && state != StateFailed:
						total -= abs * mult
					}
					if ok {
						state = StateOK
					} else {
						state = StateFailed
					}
					got, _, _ := Priority(100, []Ref{script("s", w, rev, state)})
					if int(got) != total {
						t.Fatalf("w=%d rev=%v path %s at %c: Priority %d, incremental %d", w, rev, path, c, got, total)
					}
				}
			}
		}
	}
}

// TestPriorityConfigFault: a failed weight-0 KindCondition ref faults the
// instance, and the reason reads as its name; with others it says so.
func TestPriorityConfigFault(t *testing.T) {
	cause := "no unicast peers (unicast_fault_no_peer)"
	p, fault, r := Priority(100, []Ref{{Kind: KindCondition, Name: cause, State: StateFailed}})
	if !fault || p != 100 || r.Code != ReasonDown || r.String() != cause {
		t.Errorf("config fault: priority %d, fault %v, reason %q", p, fault, r)
	}
	_, fault, r = Priority(100, []Ref{
		{Kind: KindCondition, Name: cause, State: StateFailed},
		{Kind: KindInterface, Name: "eth0", State: StateFailed},
	})
	if !fault || r.String() != cause+" and 1 more" {
		t.Errorf("config fault and a down interface: fault %v, reason %q", fault, r)
	}
}
