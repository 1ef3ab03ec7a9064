package config

import (
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// resolvedInConfig lists the model fields that the daemon does not read
// because the resolver turns them into others (or because what they ask
// for is what vigil always does), with the reason.
var resolvedInConfig = map[string]string{
	"McastGroup4":      "becomes Instance.McastDstIP",
	"McastGroup6":      "becomes Instance.McastDstIP",
	"VRRPVersion":      "becomes Instance.Version",
	"SMTPAlertVRRP":    "becomes Instance.SMTPAlert and SyncGroup.SMTPAlert",
	"SMTPAlertChecker": "becomes VirtualServer.SMTPAlert and RealServer.SMTPAlert",
	"CheckUnicastSrc":  "vigil always drops a unicast advert from outside unicast_peer (vrrp.DropNotPeer), which is what the keyword asks for",
	"TrackingWeight":   "decides whether the members' weighted trackers are kept (noTrackingWeights); the daemon reads those",
}

// TestSupportedKeywordsAreRead closes the gap between KEYWORDS.md and the
// daemon: a keyword listed as supported must set something that code
// outside package config reads (the daemon, vip, notify, ...). For every
// kw(...) entry of the global_defs and VRRP tables, the model fields its
// handler writes (g.F = ..., x.Notify.Master = ..., &g.F passed on) are
// collected from the source; each field of a supported keyword must be
// read somewhere in the module's non-test code outside package config, or
// be listed in resolvedInConfig with the reason. A keyword that only fills
// a field nobody reads is accepted with neither effect nor notice: mark it
// notImpl (a notice at load) or make the daemon act on it.
func TestSupportedKeywordsAreRead(t *testing.T) {
	status := map[string]Status{}
	for _, k := range Keywords() {
		if !strings.HasPrefix(k.Block, "global_defs") && !strings.HasPrefix(k.Block, "vrrp_") && k.Block != "top level" {
			continue
		}
		if old, ok := status[k.Keyword]; !ok || old != Supported {
			status[k.Keyword] = k.Status
		}
	}
	fset := gotoken.NewFileSet()
	writes := map[string][]string{} // keyword → fields its handler writes
	for _, file := range []string{"kw_global.go", "kw_vrrp.go"} {
		f, err := goparser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || (id.Name != "kw" && id.Name != "valueKw") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != gotoken.STRING {
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			for _, a := range call.Args[1:] {
				writes[name] = append(writes[name], writtenFields(a)...)
			}
			return true
		})
	}
	if len(writes) < 40 {
		t.Fatalf("found only %d keyword handlers", len(writes))
	}
	reads := readFields(t, fset)
	for name, fields := range writes {
		if status[name] != Supported {
			continue
		}

		slices.Sort(fields)
		for _, fld := range slices.Compact(fields) {
			if !reads[fld] && resolvedInConfig[fld] == "" {
				t.Errorf("keyword %s is listed as supported but sets %s, which nothing reads", name, fld)
			}
		}
	}
}

// writtenFields returns the exported model fields assigned, or whose
// address is taken, inside n: the last name of a selector chain on a
// handler's node (g.F, x.Notify.Master, s.Interval), not on the parser
// (p) or the line (l).
func writtenFields(n ast.Node) []string {
	var out []string
	field := func(e ast.Expr) {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || !ast.IsExported(sel.Sel.Name) {
			return
		}
		root := sel.X
		for {
			inner, ok := root.(*ast.SelectorExpr)
			if !ok {
				break
			}
			root = inner.X
		}
		if id, ok := root.(*ast.Ident); ok && id.Name != "p" && id.Name != "l" {
			out = append(out, sel.Sel.Name)
		}
	}
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				field(l)
			}
		case *ast.UnaryExpr:
			if n.Op == gotoken.AND {
				field(n.X)
			}
		}
		return true
	})
	return out
}

// readFields returns every selector name read (not only assigned) in the
// module's non-test Go files outside package config.
func readFields(t *testing.T, fset *gotoken.FileSet) map[string]bool {
	t.Helper()
	reads := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := filepath.Base(path)
		if d.IsDir() {
			if base == "testdata" || (strings.HasPrefix(base, ".") && base != "..") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(base, ".go") || strings.HasSuffix(base, "_test.go") {
			return nil
		}
		if filepath.Dir(path) == filepath.Join("..", "config") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := goparser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		lhs := map[ast.Expr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if n.Tok == gotoken.ASSIGN || n.Tok == gotoken.DEFINE {
					for _, l := range n.Lhs {
						lhs[l] = true
					}
				}
			case *ast.SelectorExpr:
				if !lhs[n] {
					reads[n.Sel.Name] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return reads
}
