package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Load reads the configuration file at path with its includes and returns
// the effective model and every complaint, sorted by position and
// deduplicated; each complaint has a Pos. err is non-nil only when the
// configuration cannot be read at all (a missing or unreadable file); a
// configuration that cannot run returns complaints of Severity Fatal.
func Load(path string, opts Options) (*Config, []*Error, error) {
	o := withDefaults(opts)
	data, err := o.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	cfg, errs := parse(path, data, o)
	return cfg, errs, nil
}

// Parse is Load on configuration text already in memory; name is used for
// positions, _PWD and relative includes. It never fails: everything wrong
// is a complaint.
func Parse(name string, data []byte, opts Options) (*Config, []*Error) {
	return parse(name, data, withDefaults(opts))
}

func withDefaults(o Options) Options {
	if o.ReadFile == nil {
		o.ReadFile = readFile
	}
	if o.Glob == nil {
		o.Glob = filepath.Glob
	}
	if o.Random == nil {
		o.Random = func(lo, hi int) int { return lo + rand.IntN(hi-lo+1) }
	}
	if o.ConfigID == "" {
		if h, err := os.Hostname(); err == nil {
			o.ConfigID, _, _ = strings.Cut(h, ".")
		}
	}
	return o
}

func parse(name string, data []byte, o Options) (*Config, []*Error) {
	r := newReader(&o, o.ConfigID)
	r.readBytes(name, data)
	cfg := newConfig()
	p := &parser{lines: r.out, cfg: cfg, opts: &o, autoPref: 16384}
	p.errs = r.errs
	p.parseBlock(tables(), cfg, true, "", Pos{})
	p.resolve()
	p.checkScriptSecurity()
	p.checkRecognisable()
	errs := p.errs
	if o.Strict {
		for _, e := range errs {
			if e.Severity != Fatal {
				e.Severity = Fatal
				e.Fallback = "--strict: vigild does not start"
			}
		}
	}
	return cfg, tidy(errs, name)
}

// ErrNotKeepalivedConf is wrapped by the Fatal complaints about a file that
// is not a keepalived configuration at all: binary data, or more unknown
// keyword lines than known ones.
var ErrNotKeepalivedConf = errors.New("not a keepalived.conf")

// checkRecognisable refuses every file whose keyword lines are mostly not
// keepalived's (unknown keywords and stray braces outnumber the known
// keywords): binary garbage, another program's configuration, a file
// truncated into a block's middle. keepalived runs such a file with
// whatever it recognised (-t exit 5); a reload of one would silently stop
// every instance, so vigil will not run it. Lines inside value blocks
// (addresses, routes) and inside blocks kept whole are not counted.
func (p *parser) checkRecognisable() {
	files := slices.Sorted(maps.Keys(p.stmts))
	for _, name := range files {
		f := p.stmts[name]
		if f.unknown > f.known {
			p.fatal(f.first, "", "vigild does not start",
				"%d of the %d keyword lines of %s are not keepalived keywords (the first is here): %w",
				f.unknown, f.known+f.unknown, name, ErrNotKeepalivedConf)
		}
	}
}

// tidy sorts complaints by position (the main file first, then included
// files in the order they were read) and drops repeats.
func tidy(errs []*Error, main string) []*Error {
	order := map[string]int{main: 0}
	for _, e := range errs {
		if _, ok := order[e.Pos.File]; !ok {
			order[e.Pos.File] = len(order)
		}
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if c := cmp.Compare(order[a.Pos.File], order[b.Pos.File]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Pos.Line, b.Pos.Line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Pos.Col, b.Pos.Col); c != 0 {
			return c
		}
		return cmp.Compare(a.Error(), b.Error())
	})
	out := errs[:0]
	seen := map[string]bool{}
	for _, e := range errs {
		k := e.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}

// Exit codes of keepalived -t, kept by vigild -t.
const (
	ExitOK       = 0 // clean
	ExitCannot   = 4 // cannot run (KEEPALIVED_CHK_EXIT_CONFIG), also a missing file
	ExitWarnings = 5 // runs, with complaints (KEEPALIVED_CHK_EXIT_CONFIG_TEST)
	ExitSecurity = 6 // script security violation (KEEPALIVED_CHK_EXIT_CONFIG_TEST_SECURITY)
)

// ExitCode maps a Load result to keepalived's -t exit codes: 0 clean,
// 5 runs but with complaints, 4 cannot run (also a missing or unreadable
// file, where keepalived says 0), 6 script-security violation. Notices do
// not count. When several apply, 4 wins (vigild will not start), then 6,
// then 5; keepalived instead reports the last error class of its list,
// which can hide a fatal error behind a warning.
func ExitCode(cfg *Config, complaints []*Error, err error) int {
	if err != nil || cfg == nil {
		return ExitCannot
	}
	code := ExitOK
	for _, e := range complaints {
		switch e.Severity {
		case Fatal:
			return ExitCannot
		case Security:
			code = ExitSecurity
		case Warning:
			if code == ExitOK {
				code = ExitWarnings
			}
		}
	}
	return code
}
