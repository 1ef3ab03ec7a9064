package mail

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// slowTransport takes d per message and fails the subjects in fail.
type slowTransport struct {
	d    time.Duration
	fail map[string]bool

	mu   sync.Mutex
	got  []string
	seen []time.Time
}

func (s *slowTransport) Deliver(ctx context.Context, m Message, date time.Time) error {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, m.Subject)
	s.seen = append(s.seen, date)
	if s.fail[m.Subject] {
		return errors.New("refused")
	}
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSenderOrderAndCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &slowTransport{d: time.Second, fail: map[string]bool{"b": true}}
		s := NewSender(quiet(), tr, 8)
		start := time.Now()
		for _, sub := range []string{"a", "b", "c"} {
			s.Send(Message{Subject: sub})
		}
		if time.Since(start) != 0 {
			t.Error("Send waited")
		}
		if st := s.Stats(); st.Pending != 3 {
			t.Errorf("pending %d, want 3", st.Pending)
		}
		synctest.Wait()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if st := s.Stats(); st != (Stats{Sent: 2, Failed: 1}) {
			t.Errorf("stats %+v", st)
		}
		s.Close(context.Background())
		if got := tr.got; len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
			t.Errorf("delivered %v", got)
		}
	})
}

// A full queue drops its oldest message, counted; Send never waits.
func TestSenderDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &slowTransport{d: time.Minute}
		s := NewSender(quiet(), tr, 2)
		s.Send(Message{Subject: "first"}) // taken by the goroutine at once
		synctest.Wait()
		for _, sub := range []string{"x", "y", "z"} {
			s.Send(Message{Subject: sub})
		}
		if st := s.Stats(); st.Dropped != 1 || st.Pending != 3 {
			t.Errorf("stats %+v, want 1 dropped, 3 pending", st)
		}
		s.Close(context.Background())
		if got := tr.got; len(got) != 3 || got[0] != "first" || got[1] != "y" || got[2] != "z" {
			t.Errorf("delivered %v, want first y z", got)
		}
		if st := s.Stats(); st.Sent != 3 || st.Dropped != 1 || st.Pending != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// Close waits for the queue until its context ends, then abandons the
// rest (counted as dropped) and cancels the delivery under way.
func TestSenderCloseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &slowTransport{d: 10 * time.Second}
		s := NewSender(quiet(), tr, 8)
		for _, sub := range []string{"a", "b", "c"} {
			s.Send(Message{Subject: sub})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		start := time.Now()
		s.Close(ctx)
		if took := time.Since(start); took != 15*time.Second {
			t.Errorf("Close took %v, want its 15s deadline", took)
		}
		st := s.Stats()
		if st.Sent != 1 || st.Dropped != 1 || st.Failed != 1 || st.Pending != 0 {
			t.Errorf("stats %+v, want a sent, b cancelled (failed), c dropped", st)
		}
		s.Send(Message{Subject: "late"})
		if st := s.Stats(); st.Dropped != 2 {
			t.Errorf("Send after Close: %+v", st)
		}
	})
}

func TestSenderSetTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := &slowTransport{d: time.Second}, &slowTransport{d: time.Second}
		s := NewSender(quiet(), a, 8)
		s.Send(Message{Subject: "1"})
		synctest.Wait()
		s.SetTransport(b)
		s.Send(Message{Subject: "2"})
		s.Close(context.Background())
		if len(a.got) != 1 || len(b.got) != 1 || b.got[0] != "2" {
			t.Errorf("a %v b %v", a.got, b.got)
		}
	})
}
