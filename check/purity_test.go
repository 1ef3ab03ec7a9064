package check

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// pureFiles are the sans-I/O cores: no sockets, files, processes or clocks.
var pureFiles = []string{"tracker.go", "priority.go", "process.go", "security.go", "filevalue.go", "iface.go"}

// TestPureFilesDoNoIO fails if a pure file imports an I/O package, reads
// the clock or starts a goroutine, so the cores stay testable with a fake
// now.
func TestPureFilesDoNoIO(t *testing.T) {
	puritytest.Check(t, pureFiles, pureFiles)
}
