package ftfw

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// harness is a tiny vigil node for interop tests: a Channel driven by one loop
// goroutine over a real UDP socket inside a namespace. It keeps a table it replicates
// (sending a bulk when the peer asks or starts a session) and the external cache the
// peer fills. runLoop and runReader are started by startHarness and stopped by the
// test's cleanup, which waits for both.
type harness struct {
	conn *net.UDPConn
	peer *net.UDPAddr
	cmds chan func()
	pkts chan []byte

	// owned by runLoop
	ch    *Channel
	table map[Key]Flow

	stop func() // cancels both goroutines and waits for them; idempotent

	mu    sync.Mutex // guards the following fields
	cache map[Key]Flow
	stats Stats
	evs   []Event
}

func startHarness(t testing.TB, h *testnet.Host, local, peer string) *harness {
	t.Helper()
	hs := &harness{
		peer:  net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(peer), DefaultPort)),
		cmds:  make(chan func()),
		pkts:  make(chan []byte, 1024),
		ch:    NewChannel(Config{}, time.Now()),
		table: map[Key]Flow{},
		cache: map[Key]Flow{},
	}
	err := h.Do(func() error {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(local), DefaultPort)))
		hs.conn = c
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hs.runReader(ctx) }()
	go func() { defer wg.Done(); hs.runLoop(ctx) }()
	var once sync.Once
	hs.stop = func() {
		once.Do(func() {
			cancel()
			hs.conn.Close()
			wg.Wait()
		})
	}
	t.Cleanup(hs.stop)
	return hs
}

func (hs *harness) runReader(ctx context.Context) {
	buf := make([]byte, 65536)
	for {
		n, _, err := hs.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			continue
		}
		select {
		case hs.pkts <- append([]byte(nil), buf[:n]...):
		case <-ctx.Done():
			return
		}
	}
}

func (hs *harness) runLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-hs.pkts:
			hs.ch.Receive(p, time.Now())
		case fn := <-hs.cmds:
			fn()
		case <-timer.C:
		}
		now := time.Now()
		ups := hs.ch.Updates()
		evs := hs.ch.Events()
		for _, ev := range evs {
			if ev.Kind == EventSendBulk {
				for _, f := range hs.table {
					hs.ch.Send(OpUpd, &f)
				}
			}
		}
		for _, d := range hs.ch.Outbox(now) {
			hs.conn.WriteToUDP(d, hs.peer) // loss is the protocol's business
		}
		hs.mu.Lock()
		for _, u := range ups {
			if u.Op == OpDel {
				delete(hs.cache, u.Flow.Key())
			} else {
				hs.cache[u.Flow.Key()] = u.Flow
			}
		}
		hs.evs = append(hs.evs, evs...)
		hs.stats = hs.ch.Stats()
		hs.mu.Unlock()
		timer.Reset(max(time.Until(hs.ch.Deadline()), 0))
	}
}

// do runs fn on the loop goroutine and waits for it.
func (hs *harness) do(fn func()) {
	done := make(chan struct{})
	hs.cmds <- func() { fn(); close(done) }
	<-done
}

// add puts flows into the table and sends them.
func (hs *harness) add(flows []Flow) {
	hs.do(func() {
		for i := range flows {
			hs.table[flows[i].Key()] = flows[i]
			hs.ch.Send(OpNew, &flows[i])
		}
	})
}

func (hs *harness) snapshot() (map[Key]Flow, Stats, []Event) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	c := make(map[Key]Flow, len(hs.cache))
	for k, v := range hs.cache {
		c[k] = v
	}
	return c, hs.stats, append([]Event(nil), hs.evs...)
}
