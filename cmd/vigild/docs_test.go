package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityDocNamesRealTests: every test or fuzz target that
// docs/security.md cites as proof, and docs/migration.md as what is proven
// of a mixed pair, exists in the repository, so neither page can point at a
// test that was renamed or removed.
func TestSecurityDocNamesRealTests(t *testing.T) {
	root := filepath.Join("..", "..")
	cited := map[string][]string{} // test -> the pages citing it
	for _, page := range []struct {
		name string
		min  int
	}{{"security.md", 20}, {"migration.md", 5}} {
		doc, err := os.ReadFile(filepath.Join(root, "docs", page.name))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
			cited[m[1]] = append(cited[m[1]], page.name)
			n++
		}
		if n < page.min {
			t.Fatalf("docs/%s cites only %d tests: the check would prove little", page.name, n)
		}
	}
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, pages := range cited {
		if !defined[name] {
			t.Errorf("docs/%s cites %s, which no test file defines", pages[0], name)
		}
	}
}
