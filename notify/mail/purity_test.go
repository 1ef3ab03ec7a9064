package mail

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

func TestComposeIsPure(t *testing.T) {
	puritytest.Check(t, []string{"compose.go", "checker.go"}, []string{"compose.go", "checker.go"})
}
