//go:build linux

package main

import (
	"sync"
	"testing"
)

// scope is a testing.TB whose Cleanup functions run at its own Close
// rather than at the end of the parent, so that one lab (namespaces and
// daemons) is gone before the next one is built. Failing or skipping
// through it runs its cleanups first, then the parent's FailNow / SkipNow.
type scope struct {
	testing.TB

	mu sync.Mutex
	// mu guards the following field.
	fns []func()
}

func newScope(parent testing.TB) *scope { return &scope{TB: parent} }

func (s *scope) Cleanup(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns = append(s.fns, fn)
}

// Close runs the registered cleanups, last first. Later calls do nothing
// unless new cleanups were registered.
func (s *scope) Close() {
	for {
		s.mu.Lock()
		n := len(s.fns)
		if n == 0 {
			s.mu.Unlock()
			return
		}
		fn := s.fns[n-1]
		s.fns = s.fns[:n-1]
		s.mu.Unlock()
		fn()
	}
}

func (s *scope) Helper() {}

func (s *scope) FailNow() { s.TB.Fail(); s.Close(); s.TB.FailNow() }
func (s *scope) Fatal(args ...any) {
	s.TB.Error(args...)
	s.FailNow()
}
func (s *scope) Fatalf(format string, args ...any) {
	s.TB.Errorf(format, args...)
	s.FailNow()
}
func (s *scope) SkipNow() { s.Close(); s.TB.SkipNow() }
func (s *scope) Skip(args ...any) {
	s.TB.Log(args...)
	s.SkipNow()
}
func (s *scope) Skipf(format string, args ...any) {
	s.TB.Logf(format, args...)
	s.SkipNow()
}
