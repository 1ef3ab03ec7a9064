package ipvs_test

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// TestCoreFilesArePure: the model, the config translation, the policy and
// the reconciler's diff are functions of their inputs; only kernel_*.go
// talks to the kernel.
func TestCoreFilesArePure(t *testing.T) {
	files := []string{"model.go", "spec.go", "policy.go", "carry.go", "reconcile.go"}
	puritytest.Check(t, files, files)
}
