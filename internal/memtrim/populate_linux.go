package memtrim

import (
	"slices"

	"golang.org/x/sys/unix"
)

// codeBlock is the span of program code Populate maps around each
// address: the kernel's own fault-around unit (16 pages), so that one
// call maps what a fault there would have.
const codeBlock = 64 << 10

// Populate maps into this process the program pages around each of pcs
// (addresses of code, such as functions' entries), codeBlock each, from
// the page cache, without running the code: a path about to run (a
// backup's takeover, after the trims dropped its pages or before it ever
// ran) then takes no page fault there. It costs one madvise(2) per block
// (MADV_POPULATE_READ; a kernel older than 5.14 refuses it and nothing is
// mapped) and adds at most codeBlock per address to the resident size.
func Populate(pcs []uintptr) {
	var done []uintptr
	for _, pc := range pcs {
		start := pc &^ (codeBlock - 1)
		if pc == 0 || slices.Contains(done, start) {
			continue
		}
		done = append(done, start)
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, codeBlock, unix.MADV_POPULATE_READ)
	}
}
