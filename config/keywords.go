package config

import "sync"

// KeywordInfo describes one keyword of the grammar: the published list of
// what vigil understands and what it does with it.
type KeywordInfo struct {
	Block   string // where it may appear: "top level", "global_defs", "vrrp_instance/authentication", ...
	Keyword string
	Tier    Tier   // P0 / P1 / P2
	Status  Status // Supported, NotImplemented, Deprecated, Legacy
	Syntax  string
	Default string
	Range   string
	IsBlock bool // opens a { } block
}

// tables is the keyword table tree, built once; handlers hold no state.
var tables = sync.OnceValue(topBlock)

// Keywords returns every keyword vigil accepts, block by block, in table
// order. The result is a fresh slice.
func Keywords() []KeywordInfo {
	var out []KeywordInfo
	seen := map[*block]bool{}
	// A keyword inside a block vigil does not act on is not acted on
	// either, whatever its own entry says.
	var walk func(b *block, path string, notImpl bool)
	walk = func(b *block, path string, notImpl bool) {
		if seen[b] {
			return
		}
		seen[b] = true
		for _, k := range b.kws {
			st := k.status
			if notImpl && st == Supported {
				st = NotImplemented
			}
			out = append(out, KeywordInfo{Block: path, Keyword: k.name, Tier: k.tier, Status: st,
				Syntax: k.syntax, Default: k.def, Range: k.rng, IsBlock: k.sub != nil || k.value != nil})
			if k.sub != nil {
				walk(k.sub, joinPath(path, k.name), st == NotImplemented)
			}
		}
	}
	walk(tables(), "top level", false)
	return out
}

func joinPath(path, name string) string {
	if path == "top level" {
		return name
	}
	return path + "/" + name
}
