package daemon

import (
	"testing"
	"unsafe"
)

// deep uses about n KiB of stack.
//
//go:noinline
func deep(n int) byte {
	var b [1 << 10]byte
	b[n%len(b)] = byte(n)
	if n <= 1 {
		return b[0]
	}
	return deep(n-1) ^ b[(n+1)%len(b)]
}

// TestGrowStack: after growStack, a call that needs three quarters of
// takeoverStack runs without growing the goroutine's stack (a local's
// address does not move, as it does when the runtime copies the stack
// to a larger one); without it, the same call grows it.
func TestGrowStack(t *testing.T) {
	moved := func(grow bool) bool {
		done := make(chan bool)
		go func() {
			var x byte
			if grow {
				growStack()
			}
			before := uintptr(unsafe.Pointer(&x))
			deep(takeoverStack * 3 / 4 >> 10)
			done <- uintptr(unsafe.Pointer(&x)) != before
		}()
		return <-done
	}
	if !moved(false) {
		t.Fatal("the deep call did not grow a fresh goroutine's stack: the test cannot fail")
	}
	if moved(true) {
		t.Error("the deep call grew the stack after growStack")
	}
}
