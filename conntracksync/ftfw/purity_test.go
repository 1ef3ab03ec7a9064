package ftfw

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// TestFilesArePure: the codec and the Channel are a function of the bytes
// and the now they are given; no file of the package may reach the
// network, the OS or the clock, nor start goroutines.
func TestFilesArePure(t *testing.T) {
	puritytest.Check(t, []string{"*.go"}, []string{"channel.go", "receive.go", "send.go", "bulkgate.go", "wire.go"})
}
