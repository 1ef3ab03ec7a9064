package ftfw

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

type goldenDatagram struct {
	label string // "<ms> <src> -> <dst>"
	data  []byte
}

func readGolden(t testing.TB, path string) []goldenDatagram {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenDatagram
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "== "):
			out = append(out, goldenDatagram{label: line[3:]})
		default:
			b, err := hex.DecodeString(line)
			if err != nil || len(out) == 0 {
				t.Fatalf("%s: bad line %q", path, line)
			}
			out[len(out)-1].data = append(out[len(out)-1].data, b...)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no datagrams", path)
	}
	return out
}

// goldenWant is what fw1's kernel held for each flow created by goldenCommands, written
// from the conntrack command lines and the kernel's constants, not from the capture.
// Timeouts are checked separately (a bulk sends what is left).
func goldenWant() map[Key]Flow {
	a := netip.MustParseAddr
	syn := func(f Flow) Flow { f.HasSynproxy, f.HasTimeout, f.HasMark = true, true, true; return f }
	flows := []Flow{
		syn(Flow{Src: a("192.0.2.10"), Dst: a("203.0.113.2"), Proto: ProtoTCP, SrcPort: 10000, DstPort: 80,
			Status: 0x0e, TCPState: 3, TimeoutSecs: 120}),
		syn(Flow{Src: a("192.0.2.11"), Dst: a("203.0.113.3"), Proto: ProtoUDP, SrcPort: 5353, DstPort: 53,
			Status: 0x08, TimeoutSecs: 30, Mark: 7}),
		syn(Flow{Src: a("192.0.2.10"), Dst: a("203.0.113.2"), Proto: ProtoICMP, ICMPType: 8, ICMPID: 4660,
			Status: 0x08, TimeoutSecs: 30}),
		syn(Flow{Src: a("2001:db8::10"), Dst: a("2001:db8:1::2"), Proto: ProtoTCP, SrcPort: 40000, DstPort: 443,
			Status: 0x0e, TCPState: 3, TimeoutSecs: 300}),
		// SRC_NAT|SRC_NAT_DONE|DST_NAT_DONE|CONFIRMED|ASSURED|SEEN_REPLY = 0x19e
		syn(Flow{Src: a("192.0.2.20"), Dst: a("203.0.113.2"), Proto: ProtoTCP, SrcPort: 20000, DstPort: 80,
			Status: 0x19e, TCPState: 3, TimeoutSecs: 120, SNAT: a("198.51.100.77"), HasSNATPort: true, SNATPort: 30000}),
		// DST_NAT|SRC_NAT_DONE|DST_NAT_DONE|CONFIRMED|ASSURED|SEEN_REPLY = 0x1ae
		syn(Flow{Src: a("192.0.2.21"), Dst: a("203.0.113.2"), Proto: ProtoTCP, SrcPort: 20001, DstPort: 8080,
			Status: 0x1ae, TCPState: 3, TimeoutSecs: 120, DNAT: a("192.0.2.99"), HasDNATPort: true, DNATPort: 80}),
		syn(Flow{Src: a("192.0.2.22"), Dst: a("203.0.113.4"), Proto: ProtoUDP, SrcPort: 1234, DstPort: 4321,
			Status: 0x08, TimeoutSecs: 60, HasZone: true, Zone: 5}),
		syn(Flow{Src: a("2001:db8::10"), Dst: a("2001:db8:1::2"), Proto: ProtoICMPv6, ICMPType: 128, ICMPID: 4660,
			Status: 0x08, TimeoutSecs: 30}),
		// SCTP_CONNTRACK_ESTABLISHED = 4
		syn(Flow{Src: a("192.0.2.23"), Dst: a("203.0.113.5"), Proto: ProtoSCTP, SrcPort: 3868, DstPort: 3868,
			Status: 0x08, SCTPState: 4, SCTPVTagOrig: 305419896, SCTPVTagRepl: 2271560481, TimeoutSecs: 200}),
	}
	m := make(map[Key]Flow)
	for _, f := range flows {
		m[f.Key()] = f
	}
	return m
}

const goldenFile = "testdata/conntrackd-1.4.7.hex"

// TestGoldenConntrackd decodes every message conntrackd 1.4.7 sent in the capture,
// checks every field of every entry against what was created, and re-encodes every
// message byte for byte.
func TestGoldenConntrackd(t *testing.T) {
	want := goldenWant()
	seen := map[Key]bool{}
	var types [16]int
	var flags Flags
	for _, d := range readGolden(t, goldenFile) {
		n, reason := Walk(d.data, func(b []byte) bool {
			var m Message
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatalf("%s: %v\n%x", d.label, err, b)
			}
			types[m.Type]++
			flags |= m.Flags
			out, err := m.AppendBinary(nil)
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("%s: re-encoded %v\n%x\nwant\n%x", d.label, err, out, b)
			}
			if !m.Type.IsData() {
				return true
			}
			k := m.Flow.Key()
			w, ok := want[k]
			if !ok {
				t.Fatalf("%s: unexpected flow %+v", d.label, m.Flow)
			}
			seen[k] = true
			got := m.Flow
			if got.TimeoutSecs > w.TimeoutSecs || got.TimeoutSecs+15 < w.TimeoutSecs {
				t.Errorf("%s: %v timeout %d, created with %d", d.label, k, got.TimeoutSecs, w.TimeoutSecs)
			}
			got.TimeoutSecs = w.TimeoutSecs
			if k.SrcPort == 5353 && m.Type != TypeNew {
				w.Mark = 9 // the `conntrack -U ... -m 9`
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("%s: %v decoded\n%+v\nwant\n%+v", d.label, m.Type, got, w)
			}
			return true
		})
		if reason != DropNone || n == 0 {
			t.Fatalf("%s: walk stopped after %d messages: %v", d.label, n, reason)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("saw %d of %d flows", len(seen), len(want))
	}
	if types[TypeNew] == 0 || types[TypeUpd] == 0 || types[TypeDel] == 0 || types[TypeCtl] == 0 {
		t.Errorf("message types seen: %v", types)
	}
	if want := FlagHello | FlagHelloBack | FlagAck | FlagAlive | FlagResync; flags&want != want {
		t.Errorf("flags seen %#x, want at least %#x", flags, want)
	}
}

// TestGoldenThroughChannel feeds fw1's datagrams from the capture to a Channel standing
// in for fw2, and checks the resulting cache is what fw2's conntrackd held.
func TestGoldenThroughChannel(t *testing.T) {
	ch := NewChannel(Config{}, time.Unix(0, 0))
	cache := map[Key]Flow{}
	now := time.Unix(0, 0)
	for _, d := range readGolden(t, goldenFile) {
		if !strings.Contains(d.label, "198.51.100.1:") || !strings.Contains(d.label, "-> 198.51.100.2:") {
			continue
		}
		now = now.Add(10 * time.Millisecond)
		ch.Receive(d.data, now)
		for _, u := range ch.Updates() {
			if u.Op == OpDel {
				delete(cache, u.Flow.Key())
			} else {
				cache[u.Flow.Key()] = u.Flow
			}
		}
		ch.Outbox(now)
	}
	want := goldenWant()
	deleted := Flow{Src: netip.MustParseAddr("192.0.2.22"), Dst: netip.MustParseAddr("203.0.113.4"), Proto: ProtoUDP,
		SrcPort: 1234, DstPort: 4321, HasZone: true, Zone: 5}
	delete(want, deleted.Key())
	if len(cache) != len(want) {
		t.Fatalf("cache has %d flows, want %d: %+v", len(cache), len(want), cache)
	}
	for k := range want {
		if _, ok := cache[k]; !ok {
			t.Errorf("missing %v", k)
		}
	}
	st := ch.Stats()
	// The capture's ACKs name the capturing peer's seqs, which this channel never
	// sent: they are dropped as bad_range, and nothing else is.
	if st.Drops[DropRange] == 0 {
		t.Errorf("the capture's ACKs were not dropped as bad_range: %v", st.Drops)
	}
	st.Drops[DropRange] = 0
	if st.Drops != [NumDropReasons]uint64{} {
		t.Errorf("drops: %v", st.Drops)
	}
	if !st.Established || st.PeerSessions != 1 {
		t.Errorf("stats %+v", st)
	}
}
