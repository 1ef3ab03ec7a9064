package testnet

import (
	"fmt"
	"testing"
	"time"
)

// Eventually polls cond (every 10 ms at first, backing off to 100 ms) until
// it returns true, and fails the test with the formatted message if it does
// not within timeout. cond is always called at least once, and once more at
// the deadline.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for {
		if cond() {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("testnet: not true within %v: %s", timeout, fmt.Sprintf(format, args...))
			return
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, 100*time.Millisecond)
	}
}
