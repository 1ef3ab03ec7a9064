package vrrp_test

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// TestMachineFilesArePure: the Machine is a pure function of (event, now),
// so its files may not reach the network, the OS or the clock.
func TestMachineFilesArePure(t *testing.T) {
	puritytest.Check(t, []string{"machine*.go", "state*.go", "reason*.go", "syncgroup*.go", "wire.go", "operator*.go"}, []string{"machine.go", "state.go", "reason.go", "syncgroup.go", "wire.go", "operator.go"})
}

// TestAHFilesArePure: the AH codec and its sequence counter take every
// value they need (addresses, numbers, the key) from the caller.
func TestAHFilesArePure(t *testing.T) {
	puritytest.Check(t, []string{"ah.go"}, []string{"ah.go"})
}
