package ctnetlink

import (
	"fmt"
	"sync"
	"syscall"

	ct "github.com/vigil-ha/vigil/conntracksync"
)

// failStats counts one refused entry.
func failStats(s *ct.CommitStats, errno syscall.Errno) {
	s.Failed++
	if s.Errors == nil {
		s.Errors = make(map[string]int)
	}
	s.Errors[errno.Error()]++
}

// pidSet holds the netlink port ids of our own commit sockets, so the event
// listener can tell our commits from the kernel's own events: its socket's
// kernel filter drops their events (portFilter), and its own check skips
// any that the filter let through.
type pidSet struct {
	mu   sync.RWMutex
	pids map[uint32]struct{}
	// changed, when set, is called after every change, outside mu: the
	// listener rebuilds its socket's filter from list.
	changed func()
}

// onChange sets the function called after every change of the set.
func (p *pidSet) onChange(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.changed = fn
}

func (p *pidSet) add(pid uint32) {
	p.mu.Lock()
	if p.pids == nil {
		p.pids = make(map[uint32]struct{})
	}
	p.pids[pid] = struct{}{}
	fn := p.changed
	p.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (p *pidSet) remove(pid uint32) {
	p.mu.Lock()
	delete(p.pids, pid)
	fn := p.changed
	p.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (p *pidSet) has(pid uint32) bool {
	if pid == 0 {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok := p.pids[pid]
	return ok
}

// list returns the port ids in the set.
func (p *pidSet) list() []uint32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]uint32, 0, len(p.pids))
	for pid := range p.pids {
		out = append(out, pid)
	}
	return out
}

func (p *pidSet) String() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return fmt.Sprint(len(p.pids))
}
