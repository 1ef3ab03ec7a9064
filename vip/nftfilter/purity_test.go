package nftfilter

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// TestRulesetIsPure: the script generation does no I/O, reads no clock and
// starts no goroutine; only exec.go runs nft.
func TestRulesetIsPure(t *testing.T) {
	puritytest.Check(t, []string{"ruleset.go"}, []string{"ruleset.go"})
}
