// Package memtrim gives back, once a daemon has started, the memory that
// only starting needed: freed heap pages, and the process's mappings of
// its own program's read-only pages that equal the file's, which fault
// back in from the page cache when used. Heap gives back the freed heap
// pages alone, after a transient task such as a takeover. Populate does
// the reverse for code about to run: it maps in the program pages around
// given addresses (a backup's takeover path, as its standby starts), so
// that the path does not fault them in one by one. SetGC sets the
// collector as vigild runs it, for vigild and for every program that
// measures the daemon's code (its test binary, ct-bench's nodes).
// NoHugePages, first in main, keeps the process's memory out of
// transparent huge pages whatever the host's mode, executing the program
// again where the pages the runtime touched before main are huge ones.
//
// It owns no state. It must not touch a writable mapping, nor a read-only
// one holding private copies of pages (a position-independent build's
// relocated data): those hold state the file does not.
package memtrim
