package check

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// pureFiles are the sans-I/O cores: no sockets, files, processes or clocks.
var pureFiles = []string{"tracker.go", "priority.go", "process.go", "security.go", "filevalue.go", "iface.go"}

// TestPureFilesDoNoIO fails if a pure file imports an I/O package or reads
// the clock, so the cores stay testable with a fake now.
func TestPureFilesDoNoIO(t *testing.T) {
	banned := map[string]bool{"net": true, "net/netip": false, "os": true, "os/exec": true, "syscall": true,
		"golang.org/x/sys/unix": true, "github.com/vishvananda/netlink": true, "io/fs": false}
	fset := token.NewFileSet()
	for _, name := range pureFiles {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if banned[p] || strings.HasPrefix(p, "net/http") {
				t.Errorf("%s imports %q: pure files must not do I/O", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" {
				switch sel.Sel.Name {
				case "Now", "Since", "Until", "Sleep", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick":
					t.Errorf("%s: time.%s in a pure file: take now as a parameter", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					if g, ok := n.(*ast.GoStmt); ok {
						t.Errorf("%s: goroutine in a pure file", fset.Position(g.Pos()))
					}
					return true
				})
			}
		}
	}
}
