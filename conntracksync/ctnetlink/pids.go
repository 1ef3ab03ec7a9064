package ctnetlink

import (
	"fmt"
	"sync"
	"syscall"

	ct "github.com/vigil-ha/vigil/conntracksync"
)

// addStats adds o's counts to s.
func addStats(s *ct.CommitStats, o ct.CommitStats) {
	s.Created += o.Created
	s.Updated += o.Updated
	s.Replaced += o.Replaced
	s.Failed += o.Failed
	for k, v := range o.Errors {
		if s.Errors == nil {
			s.Errors = make(map[string]int)
		}
		s.Errors[k] += v
	}
}

// failStats counts one refused entry.
func failStats(s *ct.CommitStats, errno syscall.Errno) {
	s.Failed++
	if s.Errors == nil {
		s.Errors = make(map[string]int)
	}
	s.Errors[errno.Error()]++
}

// pidSet holds the netlink port ids of our own commit sockets, so the event
// listener can tell our commits from the kernel's own events.
type pidSet struct {
	mu   sync.RWMutex
	pids map[uint32]struct{}
}

func (p *pidSet) add(pid uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pids == nil {
		p.pids = make(map[uint32]struct{})
	}
	p.pids[pid] = struct{}{}
}

func (p *pidSet) remove(pid uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pids, pid)
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

func (p *pidSet) String() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return fmt.Sprint(len(p.pids))
}
