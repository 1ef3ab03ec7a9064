package ratelog

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The same strict check as vrrp's purity test: the limiter is a pure
// function of (key, now), so its files may not reach the network, the OS
// or the clock, nor start goroutines.

// pureGlobs are the files checked: the whole package.
var pureGlobs = []string{"*.go"}

// forbiddenImports may not appear in a pure file; "net/netip" is the only
// net/... package allowed.
var forbiddenImports = []string{"net", "os", "syscall", "unsafe", "os/exec", "os/signal", "golang.org/x/sys/unix", "runtime/cgo"}

// forbiddenTime are package time's functions that read the clock or start
// timers.
var forbiddenTime = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

// impurities lists what makes one parsed file impure.
func impurities(fset *token.FileSet, f *ast.File) []string {
	var bad []string
	at := func(n ast.Node) string { return fset.Position(n.Pos()).String() + ": " }
	timeNames := map[string]bool{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if slices.Contains(forbiddenImports, path) || (strings.HasPrefix(path, "net/") && path != "net/netip") || strings.HasPrefix(path, "os/") {
			bad = append(bad, at(imp)+"imports "+path)
		}
		if path == "time" {
			switch {
			case imp.Name == nil:
				timeNames["time"] = true
			case imp.Name.Name == ".":
				bad = append(bad, at(imp)+"dot-imports time")
			default:
				timeNames[imp.Name.Name] = true
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && timeNames[x.Name] && slices.Contains(forbiddenTime, n.Sel.Name) {
				bad = append(bad, at(n)+"uses time."+n.Sel.Name)
			}
		case *ast.GoStmt:
			bad = append(bad, at(n)+"starts a goroutine")
		}
		return true
	})
	return bad
}

func TestFilesArePure(t *testing.T) {
	var files []string
	for _, g := range pureGlobs {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	for _, must := range []string{"ratelog.go", "doc.go"} {
		if !slices.Contains(files, must) {
			t.Fatalf("pure file %s not found (found %v): the check would pass vacuously", must, files)
		}
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range impurities(fset, f) {
			t.Errorf("%s", b)
		}
	}
}

// TestPurityCheckCatches proves the check can fail.
func TestPurityCheckCatches(t *testing.T) {
	const src = `package p
import (
	"net"
	"os"
	"net/http"
	"net/netip"
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
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(impurities(fset, f), "\n")
	for _, want := range []string{"imports net\n", "imports os", "imports net/http", "time.Now", "time.Sleep", "time.AfterFunc", "goroutine"} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("purity check missed %q; it reported:\n%s", want, got)
		}
	}
	if strings.Contains(got, "netip") || strings.Contains(got, "time.Second") {
		t.Errorf("purity check flagged something allowed:\n%s", got)
	}
}
