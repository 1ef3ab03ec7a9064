package memtrim

import (
	"os"
	"strings"
)

// StartedAgainEnv carries the process's name (its comm) across
// NoHugePages's exec; the image started again removes it from its
// environment, so nothing it starts has it.
const StartedAgainEnv = "VIGIL_NOHUGEPAGES_COMM"

// wantsHugePages reports whether a GODEBUG value asks for the heap in huge
// pages: its last disablethp setting is 0. It reads the list as the
// runtime does, from left to right and each setting exactly as written: a
// setting after ", " has a space in its name, and the runtime ignores it.
func wantsHugePages(godebug string) bool {
	want := false
	for _, kv := range strings.Split(godebug, ",") {
		if v, ok := strings.CutPrefix(kv, "disablethp="); ok {
			want = v == "0"
		}
	}
	return want
}

// thpEnabled is where the kernel says when it backs memory with
// transparent huge pages.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// HostHugePages returns the host's transparent huge page mode: "always"
// (any anonymous mapping), "madvise" (only what a process asks for with
// MADV_HUGEPAGE), "never", or "unknown" where the kernel does not say.
// The benchmarks print it beside their figures: with "always" a Go heap's
// first touch costs one fault per 2 MiB instead of one per page, and its
// resident size rounds up to that unit, so the restart, bulk and memory
// figures of two hosts compare only under the same mode.
func HostHugePages() string { return hugePageMode(thpEnabled) }

// hugePageMode returns the selected word of the list in file, the one in
// brackets ("always [madvise] never"), or "unknown".
func hugePageMode(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "unknown"
	}
	for _, w := range strings.Fields(string(b)) {
		if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' {
			return w[1 : len(w)-1]
		}
	}
	return "unknown"
}
