package ctl

import (
	"sync"
	"time"
)

// Event is one transition of a vrrp_instance as the events command
// streams it: one JSON document per line. Its keys are stable.
type Event struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	Group    string    `json:"group,omitempty"` // the instance's vrrp_sync_group
	From     string    `json:"from"`
	To       string    `json:"to"`
	Reason   string    `json:"reason"`
	Priority int       `json:"priority"` // the effective priority after the transition
}

// EventBuffer is how many events a subscriber may have unread before the
// Hub drops it.
const EventBuffer = 256

// Hub hands the daemon's events to the events command's clients. Publish
// never blocks: a subscriber whose buffer is full is dropped (its channel
// closed) and counted, so a slow client can never hold the loop back.
// Safe for concurrent use; the zero value is not ready, use NewHub.
type Hub struct {
	buffer int

	mu      sync.Mutex // guards the fields below
	subs    map[chan Event]struct{}
	dropped uint64
}

// NewHub returns a Hub whose subscribers may lag buffer events (0:
// EventBuffer).
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = EventBuffer
	}
	return &Hub{buffer: buffer, subs: map[chan Event]struct{}{}}
}

// Subscribe returns a channel that receives every event published from
// now on, until cancel is called (which closes it) or the subscriber is
// dropped for falling behind (the channel is closed too). cancel may be
// called more than once.
func (h *Hub) Subscribe() (events <-chan Event, cancel func()) {
	ch := make(chan Event, h.buffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// Publish gives ev to every subscriber without waiting: one whose buffer
// is full is dropped.
func (h *Hub) Publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			delete(h.subs, ch)
			close(ch)
			h.dropped++
		}
	}
}

// Stats returns the number of subscribers and of those dropped so far.
func (h *Hub) Stats() (subscribers int, dropped uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs), h.dropped
}
