// Package puritytest holds the check that keeps vigil's pure cores pure:
// the files of a protocol or policy core may not reach the network, the
// file system, processes or the clock, nor start goroutines, so that they
// are a function of their inputs and the time passed in, and can be tested
// in microseconds with a fake clock. Each core's tests call Check on its
// files. The package is for tests only; it owns nothing at run time.
package puritytest

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

// forbiddenImports may not appear in a pure file. "net/netip" is the only
// net/... package allowed, and no os/... package is.
var forbiddenImports = []string{"net", "os", "syscall", "unsafe", "golang.org/x/sys/unix", "runtime/cgo",
	"github.com/vishvananda/netlink", "github.com/vishvananda/netns", "github.com/ti-mo/conntrack"}

// forbiddenTime are package time's functions that read the clock or start
// timers.
var forbiddenTime = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

// Impurities lists what makes one parsed file impure, each with its
// position.
func Impurities(fset *token.FileSet, f *ast.File) []string {
	var bad []string
	at := func(n ast.Node) string { return fset.Position(n.Pos()).String() + ": " }
	timeNames := map[string]bool{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if slices.Contains(forbiddenImports, path) || (strings.HasPrefix(path, "net/") && path != "net/netip") ||
			strings.HasPrefix(path, "os/") || strings.HasPrefix(path, "github.com/mdlayher/") {
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

// Check parses the non-test files of the current directory that match
// globs and reports every impurity as a test error. Every name in must has
// to be among them, so that a renamed file cannot make the check pass
// vacuously.
func Check(t testing.TB, globs, must []string) {
	t.Helper()
	var files []string
	for _, g := range globs {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, "_test.go") && !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	}
	for _, name := range must {
		if !slices.Contains(files, name) {
			t.Fatalf("pure file %s not found (found %v): the check would pass vacuously", name, files)
		}
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range Impurities(fset, f) {
			t.Errorf("%s", b)
		}
	}
}
