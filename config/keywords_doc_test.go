package config

import (
	"os"
	"strings"
	"testing"
)

// keywordsMarkdown renders the published keyword list.
func keywordsMarkdown() string {
	var b strings.Builder
	b.WriteString("# Keywords vigil accepts\n\nGenerated from `config.Keywords()` by `go test ./config -run TestKeywordsDoc -update`.\n")
	b.WriteString("Status: supported (parsed and acted on), parsed, not implemented (kept, printed by --dump-config, a notice at load),\n")
	b.WriteString("deprecated (accepted with a warning, as keepalived does), legacy (keepalived 1.x, accepted with a warning).\n")
	var order []string
	byBlock := map[string][]KeywordInfo{}
	for _, k := range Keywords() {
		if byBlock[k.Block] == nil {
			order = append(order, k.Block)
		}
		byBlock[k.Block] = append(byBlock[k.Block], k)
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, blk := range order {
		b.WriteString("\n## " + blk + "\n\n| keyword | tier | status | syntax | default | range |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, k := range byBlock[blk] {
			b.WriteString("| `" + k.Keyword + "` | " + k.Tier.String() + " | " + k.Status.String() + " | `" + esc(k.Syntax) + "` | " + esc(k.Default) + " | " + esc(k.Range) + " |\n")
		}
	}
	return b.String()
}

func TestKeywordsDoc(t *testing.T) {
	got := keywordsMarkdown()
	if *update {
		if err := os.WriteFile("KEYWORDS.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("KEYWORDS.md")
	if err != nil || string(want) != got {
		t.Errorf("KEYWORDS.md is stale (%v); run go test ./config -run TestKeywordsDoc -update", err)
	}
}
