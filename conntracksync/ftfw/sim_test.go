package ftfw

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The simulation: two nodes, each with a table (the truth its kernel holds) and an
// external cache (what the peer told it), joined by an in-memory link that loses
// datagrams by a pattern, on a fake clock. Convergence means each node's external cache
// equals the other's table and nothing is left to send.

type simDatagram struct {
	at   time.Time
	to   int
	data []byte
}

type simNode struct {
	ch    *Channel
	table map[Key]Flow
	ext   map[Key]Flow
}

// lossFn decides whether a datagram from node `from` sent at t is lost; n counts datagrams per direction.
type lossFn func(rng *rand.Rand, from int, n int, t, start time.Time) bool

type sim struct {
	t       testing.TB
	rng     *rand.Rand
	now     time.Time
	start   time.Time
	nodes   [2]*simNode
	link    []simDatagram
	loss    lossFn
	sentN   [2]int
	lost    int
	latency time.Duration
	cfg     Config
	nextKey int
	bulks   [2]int // EventSendBulk handled per node
}

func newSim(t testing.TB, seed uint64, loss lossFn, cfg Config) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), loss: loss, latency: time.Millisecond, cfg: cfg}
	s.now = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	s.start = s.now
	for i := range s.nodes {
		s.nodes[i] = &simNode{table: map[Key]Flow{}, ext: map[Key]Flow{}}
		s.nodes[i].ch = s.newChannel()
	}
	return s
}

func (s *sim) newChannel() *Channel {
	cfg := s.cfg
	cfg.InitialSeq = s.rng.Uint32() | 1
	return NewChannel(cfg, s.now)
}

// restart replaces node i's daemon: its external cache is lost, its table (kernel) stays.
func (s *sim) restart(i int) {
	s.nodes[i].ch = s.newChannel()
	s.nodes[i].ext = map[Key]Flow{}
}

func (s *sim) flow(n int, node int) Flow {
	src := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + node)})
	if n%5 == 4 {
		src = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(1 + node)})
		return Flow{Src: src, Dst: netip.MustParseAddr("2001:db8::99"), Proto: ProtoUDP,
			SrcPort: uint16(1024 + n), DstPort: 53, HasTimeout: true, TimeoutSecs: 30}
	}
	return Flow{Src: src, Dst: netip.MustParseAddr("203.0.113.80"), Proto: ProtoTCP,
		SrcPort: uint16(1024 + n), DstPort: 80, TCPState: 3, Status: 0xe,
		HasTimeout: true, TimeoutSecs: 300, HasMark: true, HasSynproxy: true}
}

// change makes one random change on node i's table and sends it.
func (s *sim) change(i int) {
	nd := s.nodes[i]
	switch r := s.rng.IntN(10); {
	case r < 5 || len(nd.table) == 0:
		f := s.flow(s.nextKey, i)
		s.nextKey++
		nd.table[f.Key()] = f
		s.send(i, OpNew, f)
	case r < 8:
		f := s.pick(nd)
		f.TimeoutSecs = uint32(s.rng.IntN(1000))
		nd.table[f.Key()] = f
		s.send(i, OpUpd, f)
	default:
		f := s.pick(nd)
		delete(nd.table, f.Key())
		s.send(i, OpDel, f)
	}
}

func (s *sim) pick(nd *simNode) Flow {
	keys := sortedKeys(nd.table)
	return nd.table[keys[s.rng.IntN(len(keys))]]
}

// sortedKeys returns t's keys in a fixed order: a run is a function of its
// seed only (Go's map order is random), so a failing seed fails again.
func sortedKeys(t map[Key]Flow) []Key {
	keys := make([]Key, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(a.Src.Compare(b.Src), a.Dst.Compare(b.Dst), cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.SrcPort, b.SrcPort), cmp.Compare(a.DstPort, b.DstPort), cmp.Compare(a.ICMPType, b.ICMPType),
			cmp.Compare(a.ICMPCode, b.ICMPCode), cmp.Compare(a.ICMPID, b.ICMPID), cmp.Compare(a.Zone, b.Zone))
	})
	return keys
}

func (s *sim) send(i int, op Op, f Flow) {
	if err := s.nodes[i].ch.Send(op, &f); err != nil {
		s.t.Fatal(err)
	}
}

// bulk sends node i's whole table through SendBulk, as the Replicator does.
func (s *sim) bulk(i int) {
	for _, k := range sortedKeys(s.nodes[i].table) {
		f := s.nodes[i].table[k]
		if err := s.nodes[i].ch.SendBulk(OpUpd, &f); err != nil {
			s.t.Fatal(err)
		}
	}
}

// pump lets node i transmit and handles its events.
func (s *sim) pump(i int) {
	nd := s.nodes[i]
	for _, d := range nd.ch.Outbox(s.now) {
		s.sentN[i]++
		if s.loss != nil && s.loss(s.rng, i, s.sentN[i], s.now, s.start) {
			s.lost++
			continue
		}
		s.link = append(s.link, simDatagram{at: s.now.Add(s.latency), to: 1 - i, data: append([]byte(nil), d...)})
	}
	for _, ev := range nd.ch.Events() {
		if ev.Kind == EventSendBulk {
			s.bulks[i]++
			s.bulk(i)
		}
	}
}

func (s *sim) deliver() {
	keep := s.link[:0]
	var due []simDatagram
	for _, d := range s.link {
		if d.at.After(s.now) {
			keep = append(keep, d)
		} else {
			due = append(due, d)
		}
	}
	s.link = keep
	for _, d := range due {
		nd := s.nodes[d.to]
		nd.ch.Receive(d.data, s.now)
		for _, u := range nd.ch.Updates() {
			k := u.Flow.Key()
			if u.Op == OpDel {
				delete(nd.ext, k)
			} else {
				nd.ext[k] = u.Flow
			}
		}
		s.pump(d.to)
	}
}

// step advances the clock to the next thing that happens (at most max ahead).
func (s *sim) step(max time.Duration) {
	next := s.now.Add(max)
	for _, nd := range s.nodes {
		if d := nd.ch.Deadline(); d.Before(next) {
			next = d
		}
	}
	for _, d := range s.link {
		if d.at.Before(next) {
			next = d.at
		}
	}
	if next.Before(s.now) {
		next = s.now
	}
	s.now = next
	s.deliver()
	s.pump(0)
	s.pump(1)
}

func (s *sim) run(d time.Duration, max time.Duration) {
	end := s.now.Add(d)
	for guard := 0; s.now.Before(end); guard++ {
		if guard > 10_000_000 {
			s.t.Fatal("simulation does not advance")
		}
		s.step(min(max, end.Sub(s.now)))
	}
}

func (s *sim) converged() bool {
	for i, nd := range s.nodes {
		st := nd.ch.Stats()
		if st.Queued != 0 || st.Unacked != 0 || st.BulkWaiting {
			return false
		}
		if !maps.EqualFunc(s.nodes[1-i].ext, nd.table, func(a, b Flow) bool { return reflect.DeepEqual(a, b) }) {
			return false
		}
	}
	return true
}

func (s *sim) diff() string {
	out := ""
	for i, nd := range s.nodes {
		ext := s.nodes[1-i].ext
		missing, wrong, extra := 0, 0, 0
		for k, f := range nd.table {
			g, ok := ext[k]
			if !ok {
				missing++
			} else if !reflect.DeepEqual(g, f) {
				wrong++
			}
		}
		for k := range ext {
			if _, ok := nd.table[k]; !ok {
				extra++
			}
		}
		st := nd.ch.Stats()
		out += fmt.Sprintf("\nnode %d table %d: peer cache missing %d, wrong %d, extra %d; queued %d unacked %d; stats %+v",
			i, len(nd.table), missing, wrong, extra, st.Queued, st.Unacked, st)
	}
	return out
}

// settle runs until converged, failing after limit of simulated time.
func (s *sim) settle(limit time.Duration) time.Duration {
	s.t.Helper()
	begin := s.now
	for !s.converged() {
		if s.now.Sub(begin) > limit {
			s.t.Fatalf("no convergence after %v (lost %d datagrams):%s", limit, s.lost, s.diff())
		}
		s.step(10 * time.Millisecond)
	}
	return s.now.Sub(begin)
}

// workload makes n changes on both nodes spread over d.
func (s *sim) workload(n int, d time.Duration, both bool) {
	gap := d / time.Duration(n)
	for range n {
		s.change(0)
		if both {
			s.change(1)
		}
		s.run(gap, gap)
	}
}

// simSeeds returns n, or $FTFW_SIM_SEEDS for a longer local run.
func simSeeds(n uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv("FTFW_SIM_SEEDS"), 10, 64); err == nil && v > 0 {
		return v
	}
	return n
}

func randomLoss(p float64) lossFn {
	return func(rng *rand.Rand, _ int, _ int, _, _ time.Time) bool { return rng.Float64() < p }
}

func TestSimConvergesUnderLoss(t *testing.T) {
	patterns := []struct {
		name string
		loss lossFn
	}{
		{"none", nil},
		{"random10", randomLoss(0.10)},
		{"random30", randomLoss(0.30)},
		{"handshake-all-lost-300ms", func(rng *rand.Rand, _ int, _ int, now, start time.Time) bool {
			return now.Sub(start) < 300*time.Millisecond || rng.Float64() < 0.1
		}},
		{"handshake30", func(rng *rand.Rand, _ int, _ int, now, start time.Time) bool {
			return now.Sub(start) < 3*time.Second && rng.Float64() < 0.3
		}},
		{"one-way-40", func(rng *rand.Rand, from int, _ int, _, _ time.Time) bool { return from == 0 && rng.Float64() < 0.4 }},
		{"bursts", func(rng *rand.Rand, _ int, n int, _, _ time.Time) bool { return (n/7)%3 == 0 }},
		// Adversarial and deterministic for the first 3 s (every second datagram each
		// way, in lock-step with the handshake), then 10 % random.
		{"every-other-3s", func(rng *rand.Rand, _ int, n int, now, start time.Time) bool {
			if now.Sub(start) < 3*time.Second {
				return n%2 == 0
			}
			return rng.Float64() < 0.1
		}},
	}
	for _, p := range patterns {
		for seed := uint64(1); seed <= simSeeds(6); seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", p.name, seed), func(t *testing.T) {
				t.Parallel() // each seed its own simulation, all CPU
				s := newSim(t, seed, p.loss, Config{})
				s.workload(400, 2*time.Second, true)
				s.settle(120 * time.Second)
				// Loss alone never looks like a forged jump.
				for i, nd := range s.nodes {
					if st := nd.ch.Stats(); st.Desyncs != 0 || st.Drops[DropSeqJump] != 0 || st.Drops[DropRange] != 0 {
						t.Errorf("node %d: desyncs %d, seq_jump %d, bad_range %d under loss alone", i, st.Desyncs, st.Drops[DropSeqJump], st.Drops[DropRange])
					}
				}
			})
		}
	}
}

// Data is sent before and during the handshake, from the very first instant.
func TestSimDataBeforeHandshake(t *testing.T) {
	for seed := uint64(1); seed <= simSeeds(10); seed++ {
		s := newSim(t, seed, randomLoss(0.3), Config{})
		for range 200 {
			s.change(0)
			s.change(1)
		}
		s.settle(120 * time.Second)
		if s.nodes[0].ch.Stats().Established != true {
			t.Fatal("not established")
		}
	}
}

// Tail loss: the last datagrams of a burst are lost and nothing else is sent. The
// probe finds it well before conntrackd's one-second ALIVE would.
func TestSimTailLoss(t *testing.T) {
	s := newSim(t, 1, nil, Config{})
	s.run(time.Second, 10*time.Millisecond)
	s.settle(5 * time.Second)
	dropNext := 0
	s.loss = func(_ *rand.Rand, from int, _ int, _, _ time.Time) bool {
		if from == 0 && dropNext > 0 {
			dropNext--
			return true
		}
		return false
	}
	for range 50 {
		s.change(0)
	}
	dropNext = 1 << 30 // everything node 0 sends in this round is lost
	s.pump(0)
	dropNext = 0
	if s.lost == 0 {
		t.Fatal("nothing was lost")
	}
	before := s.nodes[0].ch.Stats()
	took := s.settle(5 * time.Second)
	after := s.nodes[0].ch.Stats()
	if after.Retransmits-before.Retransmits < uint64(before.Unacked) {
		t.Errorf("only %d retransmissions", after.Retransmits-before.Retransmits)
	}
	t.Logf("stats before %+v\nafter %+v", before, after)
	t.Logf("tail loss of a 50-change burst repaired in %v of simulated time", took)
	if took >= time.Second {
		t.Errorf("tail loss took %v; the probe should find it in about ProbeDelay", took)
	}
}

// A peer restart (its daemon, not its kernel) with unacknowledged data in flight, under
// loss: the restarted node's external cache is rebuilt without operator action.
func TestSimPeerRestart(t *testing.T) {
	for seed := uint64(1); seed <= simSeeds(8); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel() // each seed its own simulation, all CPU
			s := newSim(t, seed, randomLoss(0.2), Config{})
			s.workload(200, time.Second, true)
			s.restart(1)
			s.workload(100, 500*time.Millisecond, true)
			if r := s.nodes[0].ch.Stats().PeerRestarts; r == 0 {
				t.Errorf("node 0 saw no peer restart")
			}
			s.restart(0)
			s.run(5*time.Millisecond, time.Millisecond)
			s.restart(1)
			s.workload(100, 500*time.Millisecond, true)
			s.settle(120 * time.Second)
		})
	}
}

// Without loss, each update is delivered exactly once and in order, and updates to the
// same flow queued before a transmit round collapse into one message.
func TestSimCollapseAndExactlyOnce(t *testing.T) {
	s := newSim(t, 1, nil, Config{})
	s.run(time.Second, 10*time.Millisecond)
	s.settle(time.Second)
	before := s.nodes[1].ch.Stats().DataReceived
	f := s.flow(1, 0)
	for i := range 10 {
		f.TimeoutSecs = uint32(i)
		s.nodes[0].table[f.Key()] = f
		s.send(0, OpUpd, f)
	}
	s.settle(time.Second)
	if got := s.nodes[1].ch.Stats().DataReceived - before; got != 1 {
		t.Fatalf("10 queued updates of one flow arrived as %d messages", got)
	}
	if s.nodes[1].ext[f.Key()].TimeoutSecs != 9 {
		t.Fatalf("peer holds %+v", s.nodes[1].ext[f.Key()])
	}
}
