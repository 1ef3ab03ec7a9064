package conntracksync

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// sendLink is a Link whose Send hands each call's datagrams to a function,
// which returns what Send returns.
type sendLink struct {
	send func(ds [][]byte) (int, error)
}

func (l sendLink) Send(ds [][]byte) (int, error) { return l.send(ds) }
func (sendLink) Receive([]Datagram) (int, error) { return 0, net.ErrClosed }
func (sendLink) Close() error                    { return nil }

// bulkSender is a never-run Replicator holding n sample flows and an
// established Channel to a peer Channel, sending on l.
func bulkSender(t *testing.T, n int, l Link) (*Replicator, *ftfw.Channel) {
	t.Helper()
	s := bulkBenchReplicator(t, n)
	s.log = slog.New(slog.DiscardHandler)
	tx, _ := establishedPair(t)
	s.conn = &syncLink{paths: []pathLink{{name: "test", l: l}}}
	return s, tx
}

// establishedPair returns two Channels that have completed the handshake
// with each other.
func establishedPair(t *testing.T) (tx, rx *ftfw.Channel) {
	t.Helper()
	now := time.Now()
	tx, rx = ftfw.NewChannel(ftfw.Config{}, now), ftfw.NewChannel(ftfw.Config{}, now)
	for range 3 {
		for _, d := range tx.Outbox(now) {
			rx.Receive(d, now)
		}
		for _, d := range rx.Outbox(now) {
			tx.Receive(d, now)
		}
	}
	if !tx.Established() || !rx.Established() {
		t.Fatal("no handshake")
	}
	return tx, rx
}

// seqs appends the seq of every message of the datagrams to out.
func seqs(t *testing.T, ds [][]byte, out []uint32) []uint32 {
	t.Helper()
	for _, d := range ds {
		if _, drop := ftfw.Walk(d, func(m []byte) bool {
			out = append(out, binary.BigEndian.Uint32(m[4:]))
			return true
		}); drop != ftfw.DropNone {
			t.Fatalf("datagram dropped: %v", drop)
		}
	}
	return out
}

// A bulk encodes the next entries while its previous datagrams are being
// sent, never has more than one send in flight, and sends every message
// once, in the order of their seqs.
func TestBulkEncodesWhileSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 3*bulkFlushEvery + 100
		var (
			tx              *ftfw.Channel
			calls           int
			inFlight, most  atomic.Int32
			queuedMeanwhile = -1
			sent            []uint32
		)
		s, ch := bulkSender(t, n, sendLink{func(ds [][]byte) (int, error) {
			most.Store(max(most.Load(), inFlight.Add(1)))
			defer inFlight.Add(-1)
			if calls++; calls == 1 {
				// Everything else in the bubble runs until it blocks: the
				// bulk's encoding goes on while this send lasts.
				synctest.Wait()
				queuedMeanwhile = tx.Stats().Queued
			}
			sent = seqs(t, ds, sent)
			return 0, nil
		}})
		tx = ch
		s.bulk(tx)
		s.flush(tx, time.Now()) // the rest, as the loop's next round sends it
		if queuedMeanwhile < bulkFlushEvery {
			t.Errorf("%d entries encoded while the first datagrams were being sent, want at least %d", queuedMeanwhile, bulkFlushEvery)
		}
		if m := most.Load(); m != 1 {
			t.Errorf("%d sends in flight at once, want 1", m)
		}
		if len(sent) != n {
			t.Fatalf("%d messages sent, want %d", len(sent), n)
		}
		for i := 1; i < len(sent); i++ {
			if sent[i] != sent[i-1]+1 {
				t.Fatalf("message %d has seq %d after %d", i, sent[i], sent[i-1])
			}
		}
	})
}

// A send that fails in the middle of a bulk is counted as the sync loop's
// own sends are, and the bulk goes on with the next datagrams.
func TestBulkCountsFailedSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 3*bulkFlushEvery + 100
		var calls, failed, msgs int
		s, tx := bulkSender(t, n, sendLink{func(ds [][]byte) (int, error) {
			if calls++; calls == 2 {
				failed = len(ds)
				return len(ds), errors.New("link down")
			}
			msgs += len(seqs(t, ds, nil))
			return 0, nil
		}})
		s.bulk(tx)
		if calls < 3 {
			t.Fatalf("%d sends during the bulk, want at least 3", calls)
		}
		s.flush(tx, time.Now())
		if failed == 0 || s.sendErrors != uint64(failed) {
			t.Fatalf("%d send errors counted, want %d", s.sendErrors, failed)
		}
		if msgs < n-2*bulkFlushEvery {
			t.Fatalf("%d messages sent, the bulk stopped at the failed send", msgs)
		}
	})
}

// Between a bulk's rounds the sender handles what the peer sent meanwhile
// (bulkPoll, which Run sets): the peer's acknowledgements free the bulk's
// first chunks for its later ones, so the bulk allocates megabytes less
// than one whose acknowledgements are handled only after it. A bulk the
// Channel asks for meanwhile (here the one the handshake's new peer session
// asked for, its event still unread) is left for the loop's top: started
// from the handling of a datagram inside the bulk, it would wait forever for
// the internal cache the running bulk holds.
func TestBulkHandlesAcksBetweenRounds(t *testing.T) {
	const n = 100_000
	var due bool
	run := func(poll bool) (allocated uint64, polls int) {
		s := bulkBenchReplicator(t, n)
		s.log = slog.New(slog.DiscardHandler)
		tx, rx := establishedPair(t)
		var mu sync.Mutex // the peer's Channel: the sends run on a goroutine of their own
		var acks [][]byte
		s.conn = &syncLink{paths: []pathLink{{name: "test", l: sendLink{func(ds [][]byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			for _, d := range ds {
				rx.Receive(d, now)
				rx.Updates()
			}
			for _, d := range rx.Outbox(now) {
				acks = append(acks, bytes.Clone(d))
			}
			return 0, nil
		}}}}}
		if poll {
			s.bulkPoll = func() {
				polls++
				mu.Lock()
				a := acks
				acks = nil
				mu.Unlock()
				for _, d := range a {
					s.receive(tx, d)
				}
			}
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		s.bulk(tx)
		runtime.ReadMemStats(&m1)
		due = s.bulkDue
		return m1.TotalAlloc - m0.TotalAlloc, polls
	}
	without, _ := run(false)
	with, polls := run(true)
	t.Logf("a bulk of %d: %.1f MB allocated, %.1f MB with the acknowledgements handled between its %d rounds", n, float64(without)/1e6, float64(with)/1e6, polls)
	if polls < n/bulkFlushEvery {
		t.Fatalf("%d polls for %d rounds", polls, n/bulkFlushEvery)
	}
	if !due {
		t.Error("the bulk the handshake asked for is not left for the loop's top")
	}
	if with+2<<20 > without {
		t.Errorf("handling the acknowledgements between the rounds saved %.1f MB of %.1f, want at least 2 MB (chunks reused)",
			(float64(without)-float64(with))/1e6, float64(without)/1e6)
	}
}
