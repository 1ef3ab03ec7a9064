package vrrp_test

import (
	"container/heap"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// The simulation runs N Machines on an in-memory multicast wire with a fake
// clock: every advert one node sends reaches every other live node after a
// random delay unless the wire loses it. Everything is driven by one seeded
// generator, so a failing seed replays exactly:
//
//	go test ./vrrp -run 'TestSimulation$' -seed 1234 -v
var (
	simSeed  = flag.Uint64("seed", 0, "TestSimulation: run only this seed (0: run -seeds seeds)")
	simSeeds = flag.Int("seeds", 300, "TestSimulation: how many seeds to run (-short: 50)")
)

type simNode struct {
	name    string
	cfg     vrrp.Config
	m       *vrrp.Machine
	alive   bool
	faulted bool
	prio    uint8 // the tracked priority the daemon would post (SetPriority)
	// The harness's own view, built only from the actions.
	state vrrp.State
	vips  bool
}

type simPacket struct {
	at  time.Time
	seq uint64
	to  int
	ev  vrrp.AdvertReceived
}

type simQueue []simPacket

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simPacket)) }
func (q *simQueue) Pop() any {
	old := *q
	p := old[len(old)-1]
	*q = old[:len(old)-1]
	return p
}

type simKind int

const (
	simStart simKind = iota
	simCrash         // the process dies: no priority 0, VIPs gone with the box
	simRestart
	simShutdown // SIGTERM: the Machine's own Shutdown actions run
	simSetPriority
	simFault
	simFaultCleared
)

var simKindNames = [...]string{"start", "crash", "restart", "shutdown", "set-priority", "fault", "fault-cleared"}

type simScript struct {
	at   time.Time
	node int
	kind simKind
	prio uint8
}

type simWorld struct {
	t        *testing.T
	seed     uint64
	rng      *rand.Rand
	nodes    []*simNode
	now      time.Time
	q        simQueue
	seq      uint64
	loss     float64
	maxDelay time.Duration
	script   []simScript // sorted by time
	lastMove time.Time   // time of the last Transition anywhere
	trace    []string
	steps    int
	groups   map[int][]int           // node -> the members of its sync group (itself included)
	cores    map[int]*vrrp.SyncGroup // node -> its sync group's core, once every member has booted
	work     []simWork               // the daemon's work queue: events not yet handled
	draining bool
	cut      map[[2]int]bool // {from, to}: the wire drops these adverts
}

func (w *simWorld) logf(format string, args ...any) {
	line := fmt.Sprintf("%12v ", w.now.Sub(mT0)) + fmt.Sprintf(format, args...)
	if len(w.trace) >= 400 {
		w.trace = w.trace[1:]
	}
	w.trace = append(w.trace, line)
}

func (w *simWorld) fail(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("seed %d: %s\nreplay: go test ./vrrp -run 'TestSimulation$' -seed %d -v\nlast events:\n%s",
		w.seed, fmt.Sprintf(format, args...), w.seed, strings.Join(w.trace, "\n"))
}

// simWork is one item of the work queue: an event for a node's Machine, or
// for the sync-group core of group (a member node of it).
type simWork struct {
	node  int
	ev    vrrp.Event
	group int
	gev   vrrp.GroupEvent
}

// handle feeds one event to node i and carries out its actions, and what
// they mean to its sync group, through a work queue as the daemon does.
func (w *simWorld) handle(i int, ev vrrp.Event) {
	w.work = append(w.work, simWork{node: i, ev: ev})
	if w.draining {
		return
	}
	w.draining = true
	defer func() { w.draining = false }()
	for len(w.work) > 0 {
		s := w.work[0]
		w.work = w.work[1:]
		if s.gev == nil {
			w.handleOne(s.node, s.ev)
			continue
		}
		members := w.groups[s.group]
		for _, a := range w.cores[s.group].Handle(s.gev) {
			if a, ok := a.(vrrp.MemberEvent); ok && w.nodes[members[a.Member]].alive {
				w.work = append(w.work, simWork{node: members[a.Member], ev: a.Event})
			}
		}
	}
}

// member returns node i's index in its sync group, and whether the
// group's core is running.
func (w *simWorld) member(i int) (int, bool) {
	if w.cores[i] == nil {
		return 0, false
	}
	return slices.Index(w.groups[i], i), true
}

// buildGroup makes node i's sync-group core over its members' current
// Machines, once all of them have booted (a restarted daemon builds its
// groups again).
func (w *simWorld) buildGroup(i int) {
	members := w.groups[i]
	var ms []*vrrp.Machine
	for _, j := range members {
		if w.nodes[j].m == nil {
			return
		}
		ms = append(ms, w.nodes[j].m)
	}
	if w.cores == nil {
		w.cores = map[int]*vrrp.SyncGroup{}
	}
	g := vrrp.NewSyncGroup(ms)
	for _, j := range members {
		w.cores[j] = g
	}
}

// handleOne feeds one event to node i and carries out its actions on the
// wire and on the harness's view, checking them as it goes.
func (w *simWorld) handleOne(i int, ev vrrp.Event) {
	w.t.Helper()
	n := w.nodes[i]
	acts := n.m.Handle(ev, w.now)
	checkActionShape(w.t, fmt.Sprintf("seed %d node %s %T", w.seed, n.name, ev), acts)
	for _, a := range acts {
		switch a := a.(type) {
		case vrrp.SendAdvert:
			w.logf("%s sends priority %d (%v)", n.name, a.Priority, a.Reason)
			for j, o := range w.nodes {
				if j == i || o.cfg.VRID != n.cfg.VRID || w.cut[[2]int{i, j}] || w.rng.Float64() < w.loss {
					continue
				}
				w.seq++
				delay := time.Duration(w.rng.Int64N(int64(w.maxDelay) + 1))
				heap.Push(&w.q, simPacket{at: w.now.Add(delay), seq: w.seq, to: j,
					ev: vrrp.AdvertReceived{Priority: a.Priority, MaxAdvertInterval: n.cfg.AdvertInterval, Src: n.cfg.LocalAddr}})
			}
		case vrrp.AddVIPs:
			if n.vips {
				w.fail("%s: AddVIPs while holding them", n.name)
			}
			n.vips = true
		case vrrp.RemoveVIPs:
			if !n.vips {
				w.fail("%s: RemoveVIPs without holding them", n.name)
			}
			n.vips = false
		case vrrp.Announce:
			if !n.vips {
				w.fail("%s: Announce without VIPs", n.name)
			}
		case vrrp.Transition:
			if a.From != n.state {
				w.fail("%s: Transition from %v, but it was %v", n.name, a.From, n.state)
			}
			w.logf("%s %v -> %v (%v)", n.name, a.From, a.To, a.Reason)
			n.state = a.To
			w.lastMove = w.now
			if k, ok := w.member(i); ok {
				w.work = append(w.work, simWork{group: i, gev: vrrp.MemberTransitioned{Member: k, Transition: a}})
			}
		case vrrp.RequestMaster:
			w.logf("%s requests MASTER (%v)", n.name, a.Reason)
			if k, ok := w.member(i); ok {
				w.work = append(w.work, simWork{group: i, gev: vrrp.MemberRequestsMaster{Member: k, Reason: a.Reason}})
			}
		}
	}
	if n.state != n.m.State() {
		w.fail("%s: actions say %v, State() says %v", n.name, n.state, n.m.State())
	}
	if n.vips != (n.state == vrrp.StateMaster) {
		w.fail("%s: state %v but holding VIPs = %v", n.name, n.state, n.vips)
	}
	if n.m.Priority() != n.expectPriority() {
		w.fail("%s: Priority() = %d, want %d", n.name, n.m.Priority(), n.expectPriority())
	}
}

func (n *simNode) expectPriority() uint8 {
	if n.cfg.Priority == 255 {
		return 255
	}
	return n.prio
}

func (w *simWorld) boot(i int) {
	n := w.nodes[i]
	n.m = vrrp.NewMachine(n.cfg)
	n.alive, n.state, n.vips = true, vrrp.StateInit, false
	if w.groups[i] != nil {
		w.buildGroup(i)
	}
	// A restarted daemon re-evaluates its trackers before it starts.
	if n.prio != n.cfg.Priority {
		w.handle(i, vrrp.SetPriority{Priority: n.prio, Reason: vrrp.ReasonTracking})
	}
	if n.faulted {
		w.handle(i, vrrp.Fault{Reason: vrrp.ReasonTrackScript})
	}
	w.handle(i, vrrp.Startup{})
}

func (w *simWorld) runScript(s simScript) {
	n := w.nodes[s.node]
	w.logf("%s: %s %d", n.name, simKindNames[s.kind], s.prio)
	switch s.kind {
	case simStart, simRestart:
		if !n.alive {
			w.boot(s.node)
		}
	case simCrash:
		n.alive, n.m, n.state, n.vips = false, nil, vrrp.StateInit, false
	case simShutdown:
		if n.alive {
			w.handle(s.node, vrrp.Shutdown{})
			n.alive, n.m = false, nil
		}
	case simSetPriority:
		n.prio = min(max(s.prio, 1), 254)
		if n.alive {
			w.handle(s.node, vrrp.SetPriority{Priority: s.prio, Reason: vrrp.ReasonTracking})
		}
	case simFault:
		n.faulted = true
		if n.alive {
			w.handle(s.node, vrrp.Fault{Reason: vrrp.ReasonTrackScript})
		}
	case simFaultCleared:
		n.faulted = false
		if n.alive {
			w.handle(s.node, vrrp.FaultCleared{})
		}
	}
}

// run advances the fake clock to end, one event at a time: the earliest of a
// packet arrival, a scripted event and a Machine deadline (in that order on a
// tie, nodes by index).
func (w *simWorld) run(end time.Time) {
	for {
		w.steps++
		if w.steps > 5_000_000 {
			w.fail("simulation does not make progress")
		}
		next, what, who := end, "end", -1
		if len(w.q) > 0 && w.q[0].at.Before(next) {
			next, what = w.q[0].at, "packet"
		}
		if len(w.script) > 0 && w.script[0].at.Before(next) {
			next, what = w.script[0].at, "script"
		}
		for i, n := range w.nodes {
			if !n.alive {
				continue
			}
			if dl, ok := n.m.Deadline(); ok && dl.Before(next) {
				next, what, who = dl, "timer", i
			}
		}
		if next.Before(w.now) {
			next = w.now // a deadline SetPriority moved into the past fires now
		}
		w.now = next
		switch what {
		case "end":
			return
		case "packet":
			p := heap.Pop(&w.q).(simPacket)
			if n := w.nodes[p.to]; n.alive {
				if *simSeed != 0 { // replaying one seed: trace receptions too
					dl, _ := n.m.Deadline()
					w.logf("%s rx prio %d int %v from %v; dl %v", n.name, p.ev.Priority, p.ev.MaxAdvertInterval, p.ev.Src, dl.Sub(mT0))
				}
				w.handle(p.to, p.ev)
			}
		case "script":
			s := w.script[0]
			w.script = w.script[1:]
			w.runScript(s)
		case "timer":
			w.handle(who, vrrp.Timeout{})
			if dl, ok := w.nodes[who].m.Deadline(); ok && !dl.After(w.now) {
				w.fail("%s: deadline %v not after now %v once it fired", w.nodes[who].name, dl.Sub(mT0), w.now.Sub(mT0))
			}
		}
	}
}

func (w *simWorld) addScript(s simScript) {
	i := len(w.script)
	for i > 0 && w.script[i-1].at.After(s.at) {
		i--
	}
	w.script = append(w.script, simScript{})
	copy(w.script[i+1:], w.script[i:])
	w.script[i] = s
}

// simAddrs returns n distinct primary addresses, in random order, from the
// documentation ranges.
func simAddrs(rng *rand.Rand, n int, v6 bool) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for len(out) < n {
		var a netip.Addr
		if v6 {
			b := netip.MustParseAddr("2001:db8::").As16()
			b[6], b[7] = byte(rng.IntN(2)), byte(rng.IntN(256)) // sometimes differ high up
			b[14], b[15] = byte(rng.IntN(256)), byte(1+rng.IntN(255))
			a = netip.AddrFrom16(b)
		} else {
			a = netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + rng.IntN(254))})
			if rng.IntN(3) == 0 {
				a = netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + rng.IntN(254))})
			}
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// simOutcome is what one seed ended with, for the summary.
type simOutcome struct {
	nodes     int
	topTied   bool
	byAddress bool // the tied winner is also the highest address
}

func simulate(t *testing.T, seed uint64) simOutcome {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &simWorld{t: t, seed: seed, rng: rng, now: mT0}
	n := 2 + rng.IntN(4)
	version := 3
	if rng.IntN(5) == 0 {
		version = 2
	}
	intervals := []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, time.Second}
	if version == 2 {
		intervals = []time.Duration{time.Second, 2 * time.Second}
	}
	interval := intervals[rng.IntN(len(intervals))]
	addrs := simAddrs(rng, n, version == 3 && rng.IntN(2) == 0)
	owner := -1
	if rng.IntN(6) == 0 {
		owner = rng.IntN(n)
	}
	var maxInterval, maxDelay time.Duration
	minInterval := interval
	for i := range n {
		c := vrrp.Config{VRID: 7, Version: version, AdvertInterval: interval, Preempt: true, LocalAddr: addrs[i]}
		// Few distinct priorities, so that ties are common.
		c.Priority = uint8(100 + 10*rng.IntN(4))
		if rng.IntN(8) == 0 {
			c.Priority = uint8(1 + rng.IntN(254))
		}
		if i == owner {
			c.Priority = 255
		}
		if version == 3 && rng.IntN(5) == 0 {
			c.AdvertInterval = intervals[rng.IntN(len(intervals))] // a misconfigured peer: backups learn it
		}
		if rng.IntN(3) == 0 {
			c.PreemptDelay = time.Duration(rng.IntN(6)) * c.AdvertInterval
		}
		c.WantMaster = rng.IntN(3) == 0
		c.LowerPrioNoAdvert = rng.IntN(3) == 0
		c.HigherPrioSendAdvert = rng.IntN(3) == 0
		if rng.IntN(5) == 0 {
			c.DownTimerAdverts = 2 + rng.IntN(4)
		}
		maxInterval = max(maxInterval, c.AdvertInterval)
		minInterval = min(minInterval, c.AdvertInterval)
		maxDelay = max(maxDelay, c.PreemptDelay)
		w.nodes = append(w.nodes, &simNode{name: fmt.Sprintf("n%d[%v p%d]", i, addrs[i], c.Priority), cfg: c, prio: c.Priority})
	}
	// The wire: up to 60% loss, sometimes a full partition, delays up to a
	// twentieth of the shortest interval so that adverts from one master
	// stay in order most of the time but not always.
	w.loss = rng.Float64() * 0.6
	if rng.IntN(10) == 0 {
		w.loss = 1
	}
	w.maxDelay = minInterval / 20

	lossy := time.Duration(20+rng.IntN(60)) * maxInterval
	lossEnd := mT0.Add(lossy)
	for i := range n {
		w.addScript(simScript{at: mT0.Add(time.Duration(rng.Int64N(int64(10 * maxInterval)))), node: i, kind: simStart})
	}
	for range rng.IntN(3 * n) {
		i := rng.IntN(n)
		at := mT0.Add(time.Duration(rng.Int64N(int64(lossy))))
		back := at.Add(time.Duration(rng.Int64N(int64(lossEnd.Sub(at)) + 1)))
		switch rng.IntN(4) {
		case 0:
			w.addScript(simScript{at: at, node: i, kind: simCrash})
			w.addScript(simScript{at: back, node: i, kind: simRestart})
		case 1:
			w.addScript(simScript{at: at, node: i, kind: simShutdown})
			w.addScript(simScript{at: back, node: i, kind: simRestart})
		case 2:
			w.addScript(simScript{at: at, node: i, kind: simSetPriority, prio: uint8(rng.IntN(256))})
		case 3:
			w.addScript(simScript{at: at, node: i, kind: simFault})
			w.addScript(simScript{at: back, node: i, kind: simFaultCleared})
		}
	}
	w.run(lossEnd)

	// The loss stops; every node is up and healthy. Let it settle: each
	// hand-over costs at most a preempt_delay plus a Master_Down_Interval,
	// and there are at most n-1 of them.
	w.loss = 0
	w.logf("loss stops")
	for i, nd := range w.nodes {
		if !nd.alive || nd.faulted {
			w.fail("%s not up at the end of the lossy phase (alive %v, faulted %v)", nd.name, nd.alive, nd.faulted)
		}
		_ = i
	}
	maxMDI := 6*maxInterval + time.Second // 5 adverts + skew (v2: skew < 1 s)
	quiet := 2*maxDelay + 2*maxMDI
	settle := time.Duration(n)*(maxDelay+maxMDI) + quiet
	w.run(lossEnd.Add(settle))

	// Exactly one master; it has the highest priority.
	var masters []int
	top := uint8(0)
	for i, nd := range w.nodes {
		if nd.state == vrrp.StateMaster {
			masters = append(masters, i)
		} else if nd.state != vrrp.StateBackup {
			w.fail("%s settled in %v", nd.name, nd.state)
		}
		top = max(top, nd.expectPriority())
	}
	if len(masters) != 1 {
		w.fail("%d masters after settling: %v", len(masters), masters)
	}
	win := w.nodes[masters[0]]
	if win.expectPriority() != top {
		w.fail("master %s has priority %d, the highest is %d", win.name, win.expectPriority(), top)
	}
	var tied []int
	highest := masters[0]
	for i, nd := range w.nodes {
		if nd.expectPriority() == top {
			tied = append(tied, i)
			if nd.cfg.LocalAddr.Compare(w.nodes[highest].cfg.LocalAddr) > 0 {
				highest = i
			}
		}
	}
	if !w.lastMove.Add(quiet).Before(w.now) {
		w.fail("still changing state %v before the end (quiet window %v)", w.now.Sub(w.lastMove), quiet)
	}
	for _, nd := range w.nodes {
		if a, _ := nd.m.Master(); nd != win && a != win.cfg.LocalAddr {
			w.fail("%s believes the master is %v, not %s", nd.name, a, win.name)
		}
	}
	return simOutcome{nodes: n, topTied: len(tied) > 1, byAddress: highest == masters[0]}
}

// TestSimulation: RFC 5798 §6.4 on a lossy wire. N = 2..5 Machines with random
// priorities (few distinct values, so ties happen; sometimes an owner),
// intervals, preempt_delay, `state MASTER`, lower_prio_no_advert and
// down_timer_adverts, random start times, crashes, SIGTERM shutdowns,
// priority changes and faults while the wire loses up to 60% of the adverts
// (sometimes all). Once the loss stops and the system settles: exactly one
// master, nothing has moved for a while, and the master has the highest
// priority; with a unique highest priority it is that node. With tied highest
// priorities any of them may win: RFC 5798 §6.4.2 has a backup accept an
// advert of its own priority whatever the address, so the address only
// decides between two routers that are master at the same time (see
// TestSimulationEqualPriorityContention).
func TestSimulation(t *testing.T) {
	if *simSeed != 0 {
		simulate(t, *simSeed)
		return
	}
	seeds := *simSeeds
	if testing.Short() {
		seeds = min(seeds, 50)
	}
	var tied, byAddr int
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		o := simulate(t, seed)
		if o.topTied {
			tied++
			if o.byAddress {
				byAddr++
			}
		}
	}
	t.Logf("%d seeds; %d had tied highest priorities, won by the highest address in %d", seeds, tied, byAddr)
}

// TestSimulationEqualPriorityContention: routers of equal priority that start
// together all time out together and become master together; RFC 5798 §6.4.3
// then leaves exactly the one with the highest primary address as master,
// whatever the wire delays.
func TestSimulationEqualPriorityContention(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		w := &simWorld{t: t, seed: seed, rng: rng, now: mT0}
		n := 2 + rng.IntN(4)
		addrs := simAddrs(rng, n, seed%2 == 0)
		best := 0
		for i := range n {
			c := vrrp.Config{VRID: 9, Version: 3, Priority: 150, AdvertInterval: 100 * time.Millisecond, Preempt: true, LocalAddr: addrs[i]}
			c.LowerPrioNoAdvert = rng.IntN(2) == 0
			c.HigherPrioSendAdvert = rng.IntN(2) == 0
			w.nodes = append(w.nodes, &simNode{name: fmt.Sprintf("n%d[%v]", i, addrs[i]), cfg: c, prio: c.Priority})
			w.addScript(simScript{at: mT0, node: i, kind: simStart})
			if addrs[i].Compare(addrs[best]) > 0 {
				best = i
			}
		}
		w.maxDelay = 5 * time.Millisecond
		w.run(mT0.Add(5 * time.Second))
		for i, nd := range w.nodes {
			if want := i == best; (nd.state == vrrp.StateMaster) != want {
				w.fail("%s is %v; the highest address %s should be the only master", nd.name, nd.state, w.nodes[best].name)
			}
		}
	}
}

// TestSimulationSyncGroup: two routers, each with a vrrp_sync_group of two
// instances (VRID 1 and 2), the groups run by vrrp.SyncGroup. A
// one-way cut on VRID 2 alone must not split the group across routers
// (keepalived's vrrp_sync_can_goto_master); losing the master router moves
// both instances; its return takes both back.
func TestSimulationSyncGroup(t *testing.T) {
	w := &simWorld{t: t, seed: 0, rng: rand.New(rand.NewPCG(1, 2)), now: mT0, maxDelay: time.Millisecond,
		groups: map[int][]int{0: {0, 1}, 1: {0, 1}, 2: {2, 3}, 3: {2, 3}}, cut: map[[2]int]bool{}}
	for i, spec := range []struct {
		vrid uint8
		prio uint8
		ip   string
	}{{1, 200, "192.0.2.1"}, {2, 200, "198.51.100.1"}, {1, 100, "192.0.2.2"}, {2, 100, "198.51.100.2"}} {
		c := vrrp.Config{VRID: spec.vrid, Version: 3, Priority: spec.prio, AdvertInterval: 100 * time.Millisecond, Preempt: true, LocalAddr: mAddr(spec.ip), SyncGroup: true}
		w.nodes = append(w.nodes, &simNode{name: fmt.Sprintf("%c%d", "AABB"[i], spec.vrid), cfg: c, prio: c.Priority})
		w.addScript(simScript{at: mT0, node: i, kind: simStart})
	}
	expect := func(when string, want ...vrrp.State) {
		t.Helper()
		for i, nd := range w.nodes {
			if nd.state != want[i] {
				w.fail("%s: %s is %v, want %v", when, nd.name, nd.state, want[i])
			}
		}
	}
	M, B, I := vrrp.StateMaster, vrrp.StateBackup, vrrp.StateInit

	w.run(mT0.Add(2 * time.Second))
	expect("start", M, M, B, B)

	w.cut[[2]int{1, 3}] = true // A2's adverts no longer reach B2
	w.run(mT0.Add(5 * time.Second))
	expect("VRID 2 cut one way", M, M, B, B)
	if !w.nodes[3].m.WantsMaster() || w.nodes[2].m.WantsMaster() {
		w.fail("B2 should want MASTER and B1 should not: %v %v", w.nodes[3].m.WantsMaster(), w.nodes[2].m.WantsMaster())
	}

	w.addScript(simScript{at: w.now, node: 0, kind: simCrash})
	w.addScript(simScript{at: w.now, node: 1, kind: simCrash})
	w.run(mT0.Add(8 * time.Second))
	expect("router A dead", I, I, M, M)

	w.addScript(simScript{at: w.now, node: 0, kind: simRestart})
	w.addScript(simScript{at: w.now, node: 1, kind: simRestart})
	w.run(mT0.Add(12 * time.Second))
	expect("router A back", M, M, B, B)
}
