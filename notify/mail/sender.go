package mail

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/ratelog"
)

// DefaultQueue is how many messages wait for the server before the oldest
// is dropped.
const DefaultQueue = 64

// Stats counts a Sender's messages.
type Stats struct {
	Sent    uint64 `json:"sent"`    // accepted by the server
	Failed  uint64 `json:"failed"`  // the exchange failed (connect, timeout, refused)
	Dropped uint64 `json:"dropped"` // never tried: the queue was full, or Close gave up on them
	Pending int    `json:"pending"` // waiting or being sent now
}

// Sender delivers messages one at a time on its own goroutine, in the
// order given. Send never blocks: past the queue's limit the oldest
// waiting message is dropped and counted.
type Sender struct {
	log   *slog.Logger
	limit int

	wake   chan struct{}
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // mu guards the following fields
	tr      Transport
	queue   []Message
	sending bool
	closed  bool
	st      Stats
	lim     *ratelog.Limiter
}

// NewSender starts a sender over tr; limit <= 0 means DefaultQueue. Close
// stops it.
func NewSender(log *slog.Logger, tr Transport, limit int) *Sender {
	if limit <= 0 {
		limit = DefaultQueue
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{log: log, tr: tr, limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{}),
		ctx: ctx, cancel: cancel, lim: ratelog.New(ratelog.Config{})}
	go s.run() // stopped by Close
	return s
}

// Send queues m. After Close it drops m (counted).
func (s *Sender) Send(m Message) {
	s.mu.Lock()
	if s.closed {
		s.st.Dropped++
		s.mu.Unlock()
		return
	}
	var dropped *Message
	if len(s.queue) >= s.limit {
		dropped = &s.queue[0]
		s.queue = s.queue[1:]
		s.st.Dropped++
	}
	s.queue = append(s.queue, m)
	log := dropped != nil && s.lim.Event(ratelog.Key{What: "dropped mail alerts", Subject: "queue", Reason: "full"}, time.Now())
	s.mu.Unlock()
	if log {
		s.log.Warn("SMTP alert dropped: too many waiting", "subject", dropped.Subject)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// SetTransport makes the messages not yet begun go through tr (a reload
// changed the server).
func (s *Sender) SetTransport(tr Transport) {
	s.mu.Lock()
	s.tr = tr
	s.mu.Unlock()
}

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Pending = len(s.queue)
	if s.sending {
		st.Pending++
	}
	return st
}

func (s *Sender) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 {
			closed := s.closed
			s.summaries(time.Now())
			s.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-s.wake:
			case <-s.ctx.Done():
			}
			s.mu.Lock()
		}
		m := s.queue[0]
		s.queue = s.queue[1:]
		s.sending = true
		tr := s.tr
		s.mu.Unlock()

		err := tr.Deliver(s.ctx, m, time.Now())
		now := time.Now()
		s.mu.Lock()
		s.sending = false
		log := false
		if err != nil {
			s.st.Failed++
			log = s.lim.Event(ratelog.Key{What: "failed mail alerts", Subject: "smtp", Reason: "send"}, now)
		} else {
			s.st.Sent++
		}
		s.summaries(now)
		s.mu.Unlock()
		if err != nil && log {
			s.log.Warn("SMTP alert not sent", "subject", m.Subject, "err", err)
		} else if err == nil {
			s.log.Info("SMTP alert successfully sent.", "subject", m.Subject)
		}
	}
}

// summaries logs the rate limiter's due summaries; mu is held. A summary
// is written when the sender next wakes, so it may come late, never
// lost while the sender runs.
func (s *Sender) summaries(now time.Time) {
	for _, sum := range s.lim.Expire(now) {
		s.log.Warn(sum.String())
	}
}

// Close stops taking messages, lets the queue drain until ctx ends, then
// abandons what is left (counted as dropped) and waits for the goroutine.
func (s *Sender) Close(ctx context.Context) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		s.mu.Lock()
		s.st.Dropped += uint64(len(s.queue))
		s.queue = nil
		s.mu.Unlock()
		s.cancel()
		<-s.done
	}
	s.cancel()
}
