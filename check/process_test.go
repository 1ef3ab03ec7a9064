package check

import (
	"testing"
	"time"
)

func TestProcessMatch(t *testing.T) {
	haproxy := Proc{PID: 10, Comm: "haproxy", Cmdline: []string{"/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg", "-Ws"}}
	kthread := Proc{PID: 2, Comm: "kthreadd"}
	tests := []struct {
		name string
		spec ProcessSpec
		p    Proc
		want bool
	}{
		{"comm matches", ProcessSpec{Process: "haproxy"}, haproxy, true},
		{"comm differs", ProcessSpec{Process: "nginx"}, haproxy, false},
		{"comm is not the path", ProcessSpec{Process: "/usr/sbin/haproxy"}, haproxy, false},
		{"full_command matches argv[0]", ProcessSpec{Process: "/usr/sbin/haproxy", FullCommand: true}, haproxy, true},
		{"full_command ignores comm", ProcessSpec{Process: "haproxy", FullCommand: true}, haproxy, false},
		{"kernel thread by comm", ProcessSpec{Process: "kthreadd"}, kthread, true},
		{"kernel thread has no command line", ProcessSpec{Process: "kthreadd", FullCommand: true}, kthread, false},
		{"params imply exact: equal", ProcessSpec{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy.cfg", "-Ws"}}, haproxy, true},
		{"params imply exact: fewer", ProcessSpec{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy.cfg"}}, haproxy, false},
		{"exact with no params: only argument-less", ProcessSpec{Process: "/usr/sbin/haproxy", ParamMatch: ParamMatchExact}, haproxy, false},
		{"exact with no params matches none", ProcessSpec{Process: "/bin/x", ParamMatch: ParamMatchExact}, Proc{Comm: "x", Cmdline: []string{"/bin/x"}}, true},
		{"partial: leading args", ProcessSpec{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy.cfg"}, ParamMatch: ParamMatchPartial}, haproxy, true},
		{"partial: last must be whole", ProcessSpec{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/hap"}, ParamMatch: ParamMatchPartial}, haproxy, false},
		{"partial: too many", ProcessSpec{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy.cfg", "-Ws", "-x"}, ParamMatch: ParamMatchPartial}, haproxy, false},
		{"initial: last may be a prefix", ProcessSpec{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/hap"}, ParamMatch: ParamMatchInitial}, haproxy, true},
		{"initial: earlier args must be whole", ProcessSpec{Process: "/usr/sbin/haproxy", Params: []string{"-", "/etc/hap"}, ParamMatch: ParamMatchInitial}, haproxy, false},
		{"initial without params: any", ProcessSpec{Process: "/usr/sbin/haproxy", ParamMatch: ParamMatchInitial}, haproxy, true},
	}
	for _, tc := range tests {
		if got := tc.spec.Match(tc.p); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHasQuorum(t *testing.T) {
	for _, tc := range []struct {
		quorum, max, count int
		want               bool
	}{
		{1, -1, 0, false}, {1, -1, 1, true}, {1, -1, 100, true},
		{0, -1, 0, false}, // quorum < 1 means 1
		{2, -1, 1, false}, {2, -1, 2, true},
		{1, 1, 1, true}, {1, 1, 2, false},
		{2, 3, 3, true}, {2, 3, 4, false},
		{0, 0, 0, true}, {0, 0, 1, false}, {0, 0, 2, false}, // quorum_max 0: the process must not run
	} {
		s := ProcessSpec{Quorum: tc.quorum, QuorumMax: tc.max}
		if got := s.HasQuorum(tc.count); got != tc.want {
			t.Errorf("quorum %d max %d count %d: %v, want %v", tc.quorum, tc.max, tc.count, got, tc.want)
		}
	}
}

// TestProcessTrackerDelays: the first observation applies at once; later a
// gain waits fork_delay and a loss waits terminate_delay (deadline − 1 ns:
// nothing; deadline: applied); a flip back while waiting cancels.
func TestProcessTrackerDelays(t *testing.T) {
	spec := ProcessSpec{Quorum: 1, QuorumMax: -1, ForkDelay: 2 * time.Second, TerminateDelay: 3 * time.Second}
	p := NewProcessTracker(spec)
	if ch, ok := p.Observe(1, t0); !ok || ch.From != StateInit || ch.To != StateOK {
		t.Fatalf("first observation: %+v %v", ch, ok)
	}
	// Loss waits terminate_delay.
	if _, ok := p.Observe(0, t0.Add(time.Second)); ok || p.State() != StateOK {
		t.Fatal("loss applied before terminate_delay")
	}
	dl, pending := p.Deadline()
	if !pending || !dl.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("deadline %v %v", dl, pending)
	}
	if _, ok := p.Tick(dl.Add(-1)); ok {
		t.Fatal("applied at deadline - 1ns")
	}
	// Still 0 when observed again: the original deadline holds.
	if _, ok := p.Observe(0, t0.Add(2*time.Second)); ok {
		t.Fatal("applied early on re-observation")
	}
	if ch, ok := p.Tick(dl); !ok || ch.To != StateFailed || !ch.Time.Equal(dl) {
		t.Fatalf("at deadline: %+v %v", ch, ok)
	}
	if _, pending := p.Deadline(); pending {
		t.Fatal("still pending after applying")
	}
	// Gain waits fork_delay; a loss before it expires cancels it.
	p.Observe(1, t0.Add(10*time.Second))
	if p.State() != StateFailed {
		t.Fatal("gain applied before fork_delay")
	}
	p.Observe(0, t0.Add(11*time.Second))
	if _, pending := p.Deadline(); pending {
		t.Fatal("flip back did not cancel the pending gain")
	}
	if _, ok := p.Tick(t0.Add(20 * time.Second)); ok || p.State() != StateFailed {
		t.Fatal("cancelled gain applied")
	}
	// No delay: immediate.
	q := NewProcessTracker(ProcessSpec{QuorumMax: -1})
	q.Observe(0, t0)
	if ch, ok := q.Observe(1, t0); !ok || ch.To != StateOK {
		t.Fatalf("no delay: %+v %v", ch, ok)
	}
	if q.Count() != 1 {
		t.Fatalf("count %d", q.Count())
	}
}
