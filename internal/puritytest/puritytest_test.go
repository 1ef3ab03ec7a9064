package puritytest

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestImpuritiesCatches proves the check can fail, and flags nothing that
// is allowed.
func TestImpuritiesCatches(t *testing.T) {
	const src = `package p
import (
	"net"
	"os"
	"net/http"
	"net/netip"
	"github.com/mdlayher/packet"
	tm "time"
	"time"
)
func f() {
	_ = tm.Now()
	time.Sleep(time.Second)
	_ = time.AfterFunc(0, nil)
	go f()
	_, _, _ = net.IPv4len, os.Args, netip.Addr{}
	_ = http.MethodGet
	_ = packet.Raw
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Impurities(fset, f), "\n")
	for _, want := range []string{"imports net\n", "imports os", "imports net/http", "imports github.com/mdlayher/packet", "time.Now", "time.Sleep", "time.AfterFunc", "goroutine"} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("purity check missed %q; it reported:\n%s", want, got)
		}
	}
	if strings.Contains(got, "netip") || strings.Contains(got, "time.Second") {
		t.Errorf("purity check flagged something allowed:\n%s", got)
	}
}
