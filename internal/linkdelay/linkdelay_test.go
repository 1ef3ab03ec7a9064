package linkdelay_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/linkdelay"
	"github.com/vigil-ha/vigil/internal/puritytest"
)

func TestPure(t *testing.T) {
	puritytest.Check(t, []string{"*.go"}, []string{"linkdelay.go", "doc.go"})
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const ns = time.Nanosecond

// step is one input at t0+at: a link report (up/down), a deletion
// (removed), or only a Fire; want is the verdict of a report and fired
// what Fire returns right after it.
type step struct {
	at      time.Duration
	op      string // "up", "down", "removed", "fire"
	want    linkdelay.Verdict
	fired   []linkdelay.Change
	pending bool
}

func run(t *testing.T, f *linkdelay.Filter, steps []step) {
	t.Helper()
	for i, s := range steps {
		now := t0.Add(s.at)
		switch s.op {
		case "up", "down":
			if got := f.Link("eth0", s.op == "up", now); got != s.want {
				t.Fatalf("step %d (%v %s): verdict %v, want %v", i, s.at, s.op, got, s.want)
			}
		case "removed":
			f.Removed("eth0")
		}
		if got := f.Fire(now); !slices.Equal(got, s.fired) {
			t.Fatalf("step %d (%v %s): fired %v, want %v", i, s.at, s.op, got, s.fired)
		}
		if _, _, ok := f.Pending("eth0"); ok != s.pending {
			t.Fatalf("step %d (%v %s): pending %v, want %v", i, s.at, s.op, ok, s.pending)
		}
	}
}

var (
	down = []linkdelay.Change{{Name: "eth0", Up: false}}
	up   = []linkdelay.Change{{Name: "eth0", Up: true}}
)

func TestFilter(t *testing.T) {
	d := map[string]linkdelay.Delays{"eth0": {Down: 2 * time.Second, Up: 5 * time.Second}}
	cases := []struct {
		name  string
		seed  *bool
		steps []step
	}{
		{"a flap shorter than the down delay changes nothing", ptr(true), []step{
			{0, "down", linkdelay.Held, nil, true},
			{2*time.Second - ns, "up", linkdelay.Cancelled, nil, false},
			{10 * time.Second, "fire", 0, nil, false},
		}},
		{"down for the whole delay is acted on at the delay, not before", ptr(true), []step{
			{0, "down", linkdelay.Held, nil, true},
			{2*time.Second - ns, "fire", 0, nil, true},
			{2 * time.Second, "fire", 0, down, false},
			// coming back up waits for the up delay
			{3 * time.Second, "up", linkdelay.Held, nil, true},
			{8*time.Second - ns, "fire", 0, nil, true},
			{8 * time.Second, "fire", 0, up, false},
		}},
		{"a repeated report keeps the deadline", ptr(true), []step{
			{0, "down", linkdelay.Held, nil, true},
			{time.Second, "down", linkdelay.Held, nil, true},
			{2 * time.Second, "fire", 0, down, false},
		}},
		{"an up flap while down is held back too", ptr(true), []step{
			{0, "down", linkdelay.Held, nil, true},
			{2 * time.Second, "fire", 0, down, false},
			{3 * time.Second, "up", linkdelay.Held, nil, true},
			{8*time.Second - ns, "down", linkdelay.Cancelled, nil, false},
			{20 * time.Second, "fire", 0, nil, false},
		}},
		{"never seen up: the first up is acted on at once, then delays apply", ptr(false), []step{
			{0, "up", linkdelay.Pass, nil, false},
			{time.Second, "down", linkdelay.Held, nil, true},
			{3 * time.Second, "fire", 0, down, false},
		}},
		{"never seen up: down again is nothing new, up is at once", ptr(false), []step{
			{0, "down", linkdelay.Same, nil, false},
			{time.Second, "up", linkdelay.Pass, nil, false},
			{time.Second, "up", linkdelay.Same, nil, false},
		}},
		{"an unknown link's first report passes", nil, []step{
			{0, "down", linkdelay.Pass, nil, false},
			{time.Second, "up", linkdelay.Pass, nil, false},
			{2 * time.Second, "down", linkdelay.Held, nil, true},
		}},
		{"deletion drops the held change and is not delayed", ptr(true), []step{
			{0, "down", linkdelay.Held, nil, true},
			{time.Second, "removed", 0, nil, false},
			{10 * time.Second, "fire", 0, nil, false},
			// recreated and up: it was seen up before, so the up is delayed
			{11 * time.Second, "up", linkdelay.Held, nil, true},
			{16 * time.Second, "fire", 0, up, false},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := linkdelay.New(d)
			if c.seed != nil {
				f.Seed("eth0", *c.seed)
			}
			run(t, f, c.steps)
		})
	}
}

func TestNoDelayPassesEverything(t *testing.T) {
	f := linkdelay.New(map[string]linkdelay.Delays{"eth1": {Down: time.Second}})
	f.Seed("eth0", true)
	run(t, f, []step{
		{0, "down", linkdelay.Pass, nil, false},
		{0, "up", linkdelay.Pass, nil, false},
		{0, "up", linkdelay.Same, nil, false},
	})
	// Only a down delay: coming up is at once.
	f = linkdelay.New(map[string]linkdelay.Delays{"eth0": {Down: time.Second}})
	f.Seed("eth0", true)
	run(t, f, []step{
		{0, "down", linkdelay.Held, nil, true},
		{time.Second, "fire", 0, down, false},
		{2 * time.Second, "up", linkdelay.Pass, nil, false},
	})
}

func TestDeadlineAndReload(t *testing.T) {
	f := linkdelay.New(map[string]linkdelay.Delays{"eth0": {Down: 2 * time.Second}, "eth1": {Down: time.Second}})
	f.Seed("eth0", true)
	f.Seed("eth1", true)
	if _, ok := f.Deadline(); ok {
		t.Fatal("deadline with nothing held")
	}
	f.Link("eth0", false, t0)
	f.Link("eth1", false, t0)
	if d, ok := f.Deadline(); !ok || !d.Equal(t0.Add(time.Second)) {
		t.Fatalf("deadline %v %v, want t0+1s", d, ok)
	}
	// eth0 loses its delay: its held change is due at once.
	f.SetDelays(map[string]linkdelay.Delays{"eth1": {Down: time.Second}})
	if got := f.Fire(t0); !slices.Equal(got, []linkdelay.Change{{Name: "eth0"}}) {
		t.Fatalf("fired %v", got)
	}
	if got := f.Fire(t0.Add(time.Second)); !slices.Equal(got, []linkdelay.Change{{Name: "eth1"}}) {
		t.Fatalf("fired %v", got)
	}
}

func ptr(b bool) *bool { return &b }
