package conntracksync

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// hbRecorder wraps a Link and keeps a copy of every datagram sent.
type hbRecorder struct {
	Link
	mu   sync.Mutex
	sent [][]byte
}

func (r *hbRecorder) Send(ds [][]byte) (int, error) {
	r.mu.Lock()
	for _, d := range ds {
		r.sent = append(r.sent, bytes.Clone(d))
	}
	r.mu.Unlock()
	return r.Link.Send(ds)
}

func (r *hbRecorder) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		return nil
	}
	return r.sent[len(r.sent)-1]
}

// hbInbox collects what a Heartbeat delivers.
type hbInbox struct {
	mu  sync.Mutex
	got [][]byte
}

func (b *hbInbox) deliver(_ int, p []byte) {
	b.mu.Lock()
	b.got = append(b.got, bytes.Clone(p))
	b.mu.Unlock()
}

func (b *hbInbox) count(p []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, g := range b.got {
		if bytes.Equal(g, p) {
			n++
		}
	}
	return n
}

// TestHeartbeatForgedAndReplayed runs two heartbeat links over real UDP
// on the loopback (127.0.0.1 and 127.0.0.2) and checks that a payload is
// delivered, and that a datagram from the peer's address that is garbage,
// sealed with another key, sealed for the FTFW channel with the right key,
// or a replay of a delivered heartbeat, is refused and counted.
func TestHeartbeatForgedAndReplayed(t *testing.T) {
	a4, b4 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	// A free port on both addresses.
	pc, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()

	rec := &hbRecorder{}
	recOpen := func(c *Config) (Link, error) {
		l, err := OpenUDP(c)
		if err != nil {
			return nil, err
		}
		rec.Link = l
		return rec, nil
	}
	log := slog.New(slog.DiscardHandler)
	ha, err := NewHeartbeat(log, testKey, []HeartbeatPath{{LocalAddr: a4, PeerAddr: b4, Port: port}}, recOpen)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := NewHeartbeat(log, testKey, []HeartbeatPath{{LocalAddr: b4, PeerAddr: a4, Port: port}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var inA, inB hbInbox
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = ha.Run(ctx, inA.deliver) }()
	go func() { defer wg.Done(); _ = hb.Run(ctx, inB.deliver) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	// Both send until each has delivered the other's (the envelope's
	// handshake drops the first ones as unconfirmed).
	fromA, fromB := []byte("heartbeat from A"), []byte("heartbeat from B")
	deadline := time.Now().Add(20 * time.Second)
	for inB.count(fromA) == 0 || inA.count(fromB) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no exchange: A stats %+v, B stats %+v", ha.Stats(), hb.Stats())
		}
		ha.Send(fromA)
		hb.Send(fromB)
		time.Sleep(20 * time.Millisecond)
	}
	marker := []byte("the one to replay")
	ha.Send(marker)
	for inB.count(marker) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("marker not delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	captured := rec.last()

	// The attacker sends from A's address (another port).
	atk, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: int(port)})
	if err != nil {
		t.Fatal(err)
	}
	defer atk.Close()
	forged := []byte("forged: keep B in BACKUP")
	other := testKey
	other[0] ^= 0xff
	wrongKey, err := newAuthLinkLabel(authLabelHeartbeat, other, a4, b4, ids(7))
	if err != nil {
		t.Fatal(err)
	}
	ftfwLabel, err := newAuthLink(testKey, a4, b4, ids(8))
	if err != nil {
		t.Fatal(err)
	}
	sealedWrong, _ := wrongKey.seal(nil, forged)
	sealedFTFW, _ := ftfwLabel.seal(nil, forged)
	before := hb.Stats()
	for _, d := range [][]byte{forged, sealedWrong, sealedFTFW, captured, captured} {
		if _, err := atk.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]uint64{"auth_malformed": 1, "auth_failed": 2, "auth_replayed": 2}
	for {
		s := hb.Stats()
		done := true
		for k, n := range want {
			if s.Drops[k]-before.Drops[k] < n {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drops %v (before %v), want at least %v more", s.Drops, before.Drops, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := inB.count(forged); n != 0 {
		t.Fatalf("a forged heartbeat was delivered %d times", n)
	}
	if n := inB.count(marker); n != 1 {
		t.Fatalf("the replayed heartbeat was delivered %d times, want once", n)
	}
}
