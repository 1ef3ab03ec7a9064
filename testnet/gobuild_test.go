package testnet

import (
	"debug/elf"
	"testing"
)

// TestBuildStatic builds the load table's bare floor program (it imports
// net, which a cgo build links against libc) and requires a binary that
// needs no dynamic loader: no interpreter, no dynamic section.
func TestBuildStatic(t *testing.T) {
	bin := BuildStatic(t, "github.com/vigil-ha/vigil/tools/failover-bench/bare")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: linked dynamically", bin, p.Type)
		}
	}
}
