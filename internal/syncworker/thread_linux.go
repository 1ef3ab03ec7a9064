package syncworker

import "runtime"

// lockThread keeps the calling goroutine on its thread until it ends: a
// worker started with Pdeathsig is killed when the thread that started it
// exits, and the runtime may end an idle thread otherwise. The goroutine
// that starts a worker waits for it on that thread.
func lockThread() { runtime.LockOSThread() }
