package nsenter

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on a thread switched into the network namespace at path
// (empty: the current one). Sockets that fn opens stay in that namespace.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("nsenter: netns %s: %w", path, err)
	}
	defer target.Close()
	return at(target, path, fn)
}

// DoAt is Do for a namespace handle; a handle that is not open means the
// current namespace.
func DoAt(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	return at(ns, ns.String(), fn)
}

// at runs fn on a thread switched into target, named name in errors.
func at(target netns.NsHandle, name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("nsenter: current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("nsenter: enter netns %s: %w", name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is in the wrong namespace: keep it locked so that
		// the runtime discards it with this goroutine.
		return fmt.Errorf("nsenter: leave netns %s: %w (and %w)", name, err, ferr)
	}
	runtime.UnlockOSThread()
	return ferr
}
