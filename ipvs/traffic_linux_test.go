package ipvs_test

import (
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
)

func testTraffic(t *testing.T, k *ipvs.Kernel) {
	t.Skip("not written yet")
}
