package memtrim

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// NoHugePages makes this process run without transparent huge pages,
// whatever the host's mode, unless GODEBUG asks for them (disablethp=0)
// or the host's mode is "never". It must be called first thing in main:
// it may execute the program again.
//
// With the kernel's "always" mode (Debian's default) a Go program's data
// and the first chunk of its heap are backed in 2 MiB pages from the
// start, and a daemon whose heap is a few hundred kilobytes is resident in
// whole ones: with 50 instances vigild peaked at 14.6–16.2 MB instead of
// 11.5–12.0, more than keepalived (docs/performance.md, "Transparent huge
// pages, measured"). The setting (PR_SET_THP_DISABLE) only governs what is
// faulted in after it, and the runtime has faulted in those pages before
// main runs; so when it is not yet set and the mode is "always",
// NoHugePages sets it and executes the program again, with the same pid,
// arguments and environment, and the new image starts without huge pages
// (about 9 ms more at vigild's start here). With "madvise" it only sets
// it, for what the runtime would ask for later. The setting is kept
// across fork and exec: the sync worker starts with it, and so do the
// scripts vigild runs, whose memory is too short-lived for huge pages to
// matter.
//
// It returns nil once huge pages are off or left to the host, and an error
// when the kernel refused the setting or the exec failed; the process then
// goes on as it is.
func NoHugePages() error { return NoHugePagesFrom(thpEnabled) }

// NoHugePagesFrom is NoHugePages with the host's mode read from modeFile,
// in the kernel's format ("[always] madvise never"): a test's way to run a
// start under a mode its host does not have.
func NoHugePagesFrom(modeFile string) error {
	comm, again := os.LookupEnv(StartedAgainEnv)
	if again {
		// The image NoHugePages started: its name is the one the process
		// had, not "exe", and the variable goes no further.
		os.Unsetenv(StartedAgainEnv)
		if err := os.WriteFile("/proc/self/comm", []byte(comm), 0); err != nil {
			return fmt.Errorf("naming the process %q again: %w", comm, err)
		}
	}
	if wantsHugePages(os.Getenv("GODEBUG")) || HugePagesOff() {
		return nil
	}
	if again {
		// Started again with the setting, and it is not there: never a
		// third start.
		return fmt.Errorf("transparent huge pages still on after starting again without them")
	}
	mode := hugePageMode(modeFile)
	if mode != "always" && mode != "madvise" {
		return nil // no huge pages on this host
	}
	name, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("turning transparent huge pages off: %w", err)
	}
	if mode != "always" {
		// "madvise": nothing is in huge pages that no one asked for, and
		// from now on no one gets them; there is nothing to start again.
		return nil
	}
	// /proc/self/exe is the running program even when its file was
	// replaced or removed since (an upgrade in place); the kernel names
	// the new image after it ("exe"), and the image takes its name back.
	env := append(os.Environ(), StartedAgainEnv+"="+strings.TrimSuffix(string(name), "\n"))
	if err := syscall.Exec("/proc/self/exe", os.Args, env); err != nil {
		return fmt.Errorf("starting again without transparent huge pages: %w", err)
	}
	return nil
}

// HugePagesOff reports whether transparent huge pages are off for this
// process (PR_GET_THP_DISABLE).
func HugePagesOff() bool {
	n, err := unix.PrctlRetInt(unix.PR_GET_THP_DISABLE, 0, 0, 0, 0)
	return err == nil && n == 1
}
