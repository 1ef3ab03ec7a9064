package ratelog

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// TestFilesArePure: the limiter is a pure function of (key, now), so no
// file of the package may reach the network, the OS or the clock, nor
// start goroutines.
func TestFilesArePure(t *testing.T) {
	puritytest.Check(t, []string{"*.go"}, []string{"ratelog.go", "doc.go"})
}
