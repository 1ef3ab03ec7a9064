package conntracksync

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// TestPureFiles: the sync channel's envelope (seal, open, replay window)
// and the caches and filters are pure cores; the sockets and netlink live
// in the *_linux.go shells.
func TestPureFiles(t *testing.T) {
	pure := []string{"auth.go", "cache.go", "expect.go", "filter.go", "flow.go", "convert.go", "compact.go", "names.go", "kernel.go", "sample.go", "paths.go", "warmset.go"}
	puritytest.Check(t, pure, pure)
}
