package conntracksync

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

var (
	authA   = netip.MustParseAddr("198.51.100.1")
	authB   = netip.MustParseAddr("198.51.100.2")
	testKey = AuthKey{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
)

// ids returns a deterministic source of distinct non-zero ids.
func ids(seed uint64) func() uint64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	return func() uint64 {
		for {
			if v := r.Uint64(); v != 0 {
				return v
			}
		}
	}
}

func newTestLink(t testing.TB, local, peer netip.Addr, seed uint64) *authLink {
	t.Helper()
	a, err := newAuthLink(testKey, local, peer, ids(seed))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func seal(t testing.TB, a *authLink, payload string) []byte {
	t.Helper()
	d, err := a.seal(nil, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// open opens a copy (open decrypts in place) and checks the verdict.
func openWant(t testing.TB, a *authLink, d []byte, want authVerdict, payload string) {
	t.Helper()
	pt, v := a.open(bytes.Clone(d))
	if v != want {
		t.Fatalf("open: %v, want %v", v, want)
	}
	if v == authOK && string(pt) != payload {
		t.Fatalf("open: payload %q, want %q", pt, payload)
	}
	if v != authOK && pt != nil {
		t.Fatalf("open: %v with a payload", v)
	}
}

// handshake runs the first exchange: a's first datagram is unconfirmed at b
// (b has not told a its challenge), b's answer opens at a, a's next at b.
func handshake(t testing.TB, a, b *authLink) {
	t.Helper()
	openWant(t, b, seal(t, a, "hello"), authUnconfirmed, "")
	openWant(t, a, seal(t, b, "hello back"), authOK, "hello back")
	openWant(t, b, seal(t, a, "data"), authOK, "data")
	openWant(t, a, seal(t, b, "ack"), authOK, "ack")
}

func TestParseAuthKey(t *testing.T) {
	good := strings.Repeat("0f", 32)
	k, err := ParseAuthKey([]byte(good + "\n"))
	if err != nil || k[0] != 0x0f || k[31] != 0x0f {
		t.Fatalf("%q: %v %x", good, err, k[:])
	}
	if _, err := ParseAuthKey([]byte("  " + strings.ToUpper(good) + "\r\n")); err != nil {
		t.Errorf("upper case with spaces: %v", err)
	}
	for name, in := range map[string]string{
		"empty":     "",
		"short":     good[:62],
		"long":      good + "00",
		"not hex":   "zz" + good[2:],
		"inner gap": good[:32] + " " + good[32:],
		"all zeros": strings.Repeat("0", 64),
		"raw bytes": string(make([]byte, 32)),
	} {
		_, err := ParseAuthKey([]byte(in))
		if !errors.Is(err, ErrAuthKey) {
			t.Errorf("%s: %v, want ErrAuthKey", name, err)
		}
		if err != nil && strings.Contains(err.Error(), good) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	if s := fmt.Sprintf("%v %s %#v %+v", k, k, k, struct{ K AuthKey }{k}); strings.Contains(s, "15") || strings.Contains(s, "0f") {
		t.Errorf("the key prints: %s", s)
	}
}

func TestAuthRoundTripAndReplay(t *testing.T) {
	a := newTestLink(t, authA, authB, 1)
	b := newTestLink(t, authB, authA, 2)
	handshake(t, a, b)

	d1, d2, d3 := seal(t, a, "one"), seal(t, a, "two"), seal(t, a, "three")
	openWant(t, b, d2, authOK, "two") // out of order is fine, once
	openWant(t, b, d1, authOK, "one")
	openWant(t, b, d3, authOK, "three")
	for _, d := range [][]byte{d1, d2, d3} {
		openWant(t, b, d, authReplayed, "")
	}
	// Older than the window: refused even though never delivered.
	old := seal(t, a, "old")
	for range authWindow {
		openWant(t, b, seal(t, a, "x"), authOK, "x")
	}
	openWant(t, b, old, authReplayed, "")
	// The edge of the window: authWindow-1 below the highest is accepted.
	edge := seal(t, a, "edge")
	for range authWindow - 2 {
		seal(t, a, "lost")
	}
	openWant(t, b, seal(t, a, "top"), authOK, "top")
	openWant(t, b, edge, authOK, "edge")
	openWant(t, b, edge, authReplayed, "")
}

func TestAuthRefusesForgeries(t *testing.T) {
	a := newTestLink(t, authA, authB, 1)
	b := newTestLink(t, authB, authA, 2)
	handshake(t, a, b)
	d := seal(t, a, "a conntrack entry")
	for i := range d {
		x := bytes.Clone(d)
		x[i] ^= 0x40
		want := authForged
		if i < 4 {
			want = authMalformed
		}
		openWant(t, b, x, want, "")
	}
	openWant(t, b, d[:len(d)-1], authForged, "")
	openWant(t, b, d[:AuthOverhead-1], authMalformed, "")
	openWant(t, b, nil, authMalformed, "")
	// A plain FTFW datagram (a conntrackd peer, or an attacker without the key).
	openWant(t, b, []byte{0x10, 0x0a, 0x00, 0x08, 0, 0, 0, 1}, authMalformed, "")
	openWant(t, b, append([]byte("VGS\x01"), make([]byte, 60)...), authForged, "")
	// Reflected back to its sender: the other direction's key.
	openWant(t, a, d, authForged, "")
	// Another key.
	other := testKey
	other[0] ^= 1
	c, err := newAuthLink(other, authA, authB, ids(1))
	if err != nil {
		t.Fatal(err)
	}
	openWant(t, b, seal(t, c, "forged"), authForged, "")
	// Sealed for another pair of addresses.
	e := newTestLink(t, netip.MustParseAddr("198.51.100.3"), authB, 1)
	openWant(t, b, seal(t, e, "forged"), authForged, "")
	// The genuine datagram still opens: failures changed nothing.
	openWant(t, b, d, authOK, "a conntrack entry")
}

// A peer restart is accepted once the new session echoes our challenge; the
// replaced session's datagrams never open again.
func TestAuthPeerRestart(t *testing.T) {
	a := newTestLink(t, authA, authB, 1)
	b1 := newTestLink(t, authB, authA, 2)
	handshake(t, a, b1)
	captured := seal(t, b1, "b1 late")

	b2 := newTestLink(t, authB, authA, 3)
	// b2 does not know a's challenge yet.
	openWant(t, a, seal(t, b2, "b2 hello"), authUnconfirmed, "")
	// a's datagram echoes b1's challenge: b2 learns a's challenge from it.
	openWant(t, b2, seal(t, a, "a data"), authUnconfirmed, "")
	openWant(t, a, seal(t, b2, "b2 hello again"), authOK, "b2 hello again")
	openWant(t, a, captured, authStaleSession, "")
	// a took a new challenge when it accepted b2; b2 still echoes the one it
	// was accepted with, which stays valid for b2 only.
	openWant(t, a, seal(t, b2, "b2 more"), authOK, "b2 more")
	openWant(t, b2, seal(t, a, "a to b2"), authOK, "a to b2")
	openWant(t, a, seal(t, b2, "b2 after"), authOK, "b2 after")
}

// Datagrams captured before the receiver restarted do not open at the new
// receiver, even from a peer session that is still current.
func TestAuthReceiverRestart(t *testing.T) {
	a1 := newTestLink(t, authA, authB, 1)
	b := newTestLink(t, authB, authA, 2)
	handshake(t, a1, b)
	var captured [][]byte
	for i := range 5 {
		captured = append(captured, seal(t, b, fmt.Sprint("captured ", i)))
	}
	a2 := newTestLink(t, authA, authB, 4)
	for _, d := range captured {
		openWant(t, a2, d, authUnconfirmed, "")
	}
	// b learns a2's challenge, a2 accepts b's (same) session.
	openWant(t, b, seal(t, a2, "a2 hello"), authOK, "a2 hello")
	openWant(t, a2, seal(t, b, "b to a2"), authOK, "b to a2")
	for _, d := range captured {
		openWant(t, a2, d, authUnconfirmed, "")
	}
}

// More peer restarts than the retired list holds: the oldest session's
// datagrams still do not open, because each accepted session changed our
// challenge.
func TestAuthManyPeerRestarts(t *testing.T) {
	a := newTestLink(t, authA, authB, 1)
	b := newTestLink(t, authB, authA, 100)
	handshake(t, a, b)
	first := seal(t, b, "first session, late")
	for i := range authRetired + 4 {
		b := newTestLink(t, authB, authA, uint64(101+i))
		openWant(t, a, seal(t, b, "hello"), authUnconfirmed, "")
		openWant(t, b, seal(t, a, "hello"), authUnconfirmed, "")
		openWant(t, a, seal(t, b, "data"), authOK, "data")
	}
	openWant(t, a, first, authUnconfirmed, "")
}

// TestAuthSimulation: two nodes that restart now and then exchange
// datagrams over a link that loses, reorders and duplicates them, while an
// attacker replays any datagram it ever saw, to either side. No sealed
// datagram is ever delivered twice, across restarts of the receiver too, and
// once the attacker stops both directions deliver again.
func TestAuthSimulation(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		authSim(t, seed)
	}
}

type simDgram struct {
	id   int // unique per sealed datagram
	to   int // node index
	data []byte
}

func authSim(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	addrs := [2]netip.Addr{authA, authB}
	var links [2]*authLink
	idSrc := ids(seed * 1000)
	start := func(i int) {
		l, err := newAuthLink(testKey, addrs[i], addrs[1-i], idSrc)
		if err != nil {
			t.Fatal(err)
		}
		links[i] = l
	}
	start(0)
	start(1)
	var wire, seen []simDgram
	delivered := map[int]bool{}
	next := 0
	send := func(i int) {
		next++
		payload := fmt.Sprint(next)
		d, err := links[i].seal(nil, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		g := simDgram{id: next, to: 1 - i, data: d}
		seen = append(seen, g)
		if r.IntN(10) > 0 { // 10 % loss
			wire = append(wire, g)
		}
		if r.IntN(20) == 0 { // duplicate
			wire = append(wire, g)
		}
	}
	recv := func(g simDgram, replay bool) bool {
		pt, v := links[g.to].open(bytes.Clone(g.data))
		if v != authOK {
			return false
		}
		if string(pt) != fmt.Sprint(g.id) {
			t.Fatalf("seed %d: datagram %d opened as %q", seed, g.id, pt)
		}
		if delivered[g.id] {
			t.Fatalf("seed %d: datagram %d delivered twice (replay %v)", seed, g.id, replay)
		}
		delivered[g.id] = true
		return true
	}
	for step := range 4000 {
		switch k := r.IntN(100); {
		case k < 40:
			send(r.IntN(2))
		case k < 75 && len(wire) > 0:
			j := r.IntN(min(len(wire), 4)) // mild reordering
			g := wire[j]
			wire = append(wire[:j], wire[j+1:]...)
			recv(g, false)
		case k < 95 && len(seen) > 0 && step < 3000:
			recv(seen[r.IntN(len(seen))], true) // the attacker
		case k < 96:
			start(r.IntN(2))
		}
	}
	// The attacker is gone and the link is clean: both directions deliver.
	wire = nil
	ok := [2]bool{}
	for range 10 {
		for i := range 2 {
			next++
			d, _ := links[i].seal(nil, []byte(fmt.Sprint(next)))
			if recv(simDgram{id: next, to: 1 - i, data: d}, false) {
				ok[1-i] = true
			}
		}
	}
	if !ok[0] || !ok[1] {
		t.Fatalf("seed %d: the link did not recover: delivered to a %v, to b %v", seed, ok[0], ok[1])
	}
}

func FuzzAuthOpen(f *testing.F) {
	a := newTestLink(f, authA, authB, 1)
	b := newTestLink(f, authB, authA, 2)
	handshake(f, a, b)
	var sealed [][]byte
	for _, p := range []string{"", "x", strings.Repeat("conntrack", 100)} {
		d := seal(f, a, p)
		sealed = append(sealed, d)
		f.Add(bytes.Clone(d)) // the seed is passed as is, and open works in place
	}
	f.Add([]byte("VGS\x01"))
	f.Add([]byte{0x10, 0x0a, 0x00, 0x08, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, d []byte) {
		// Fresh, identical state every time: a and b after the handshake.
		a := newTestLink(t, authA, authB, 1)
		b := newTestLink(t, authB, authA, 2)
		handshake(t, a, b)
		in := bytes.Clone(d)
		pt, v := b.open(bytes.Clone(d))
		if v >= numAuthVerdicts {
			t.Fatalf("verdict %d", v)
		}
		if v != authOK {
			if pt != nil {
				t.Fatalf("%v with a payload", v)
			}
			return
		}
		for _, s := range sealed {
			if bytes.Equal(s, in) {
				if _, v := b.open(in); v != authReplayed {
					t.Fatalf("second open: %v", v)
				}
				return
			}
		}
		t.Fatalf("opened a datagram that was never sealed: %x -> %q", in, pt)
	})
}

func benchPayload() []byte { return bytes.Repeat([]byte{0xa5}, 1420) }

// BenchmarkAuthSeal: one datagram of a full 1500-byte link sealed.
func BenchmarkAuthSeal(b *testing.B) {
	a := newTestLink(b, authA, authB, 1)
	p := benchPayload()
	buf := make([]byte, 0, len(p)+AuthOverhead)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = a.seal(buf[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthOpen: one datagram of a full 1500-byte link opened in place.
func BenchmarkAuthOpen(b *testing.B) {
	a := newTestLink(b, authA, authB, 1)
	o := newTestLink(b, authB, authA, 2)
	handshake(b, a, o)
	p := benchPayload()
	const n = 4096
	ds := make([][]byte, n)
	for i := range ds {
		ds[i] = seal(b, a, string(p))
	}
	buf := make([]byte, len(ds[0]))
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n { // fresh datagrams, outside the timing
			b.StopTimer()
			for j := range ds {
				ds[j], _ = a.seal(ds[j][:0], p)
			}
			i = 0
			b.StartTimer()
		}
		copy(buf, ds[i])
		if _, v := o.open(buf); v != authOK {
			b.Fatalf("open: %v", v)
		}
		i++
	}
}
