package testnet_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// fakeTB records a Fatal instead of failing the real test. Fatalf ends the
// calling goroutine, as the real one does.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msg    string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	f.mu.Unlock()
}

// fails runs fn on its own goroutine with a fakeTB and reports whether fn
// failed it.
func fails(t *testing.T, fn func(tb testing.TB)) bool {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	if f.failed {
		t.Logf("failed as expected: %s", f.msg)
	}
	return f.failed
}
