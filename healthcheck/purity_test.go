package healthcheck

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/puritytest"
)

// pureFiles are the sans-I/O cores: no sockets, files, processes or clocks.
var pureFiles = []string{"kind.go", "core.go", "dnsmsg.go", "httpmsg.go"}

func puritytestCheck(t *testing.T) { puritytest.Check(t, pureFiles, pureFiles) }
