//go:build !linux

package memtrim

// NoHugePages does nothing off Linux: there are no transparent huge pages
// to turn off.
func NoHugePages() error { return nil }

// NoHugePagesFrom does nothing off Linux.
func NoHugePagesFrom(string) error { return nil }

// HugePagesOff is false off Linux.
func HugePagesOff() bool { return false }
