package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Tier is how common a keyword is in real configurations.
type Tier int

// Tiers, as in the keyword inventory: P0 practically every deployment uses
// it, P1 common, P2 rare.
const (
	P0 Tier = iota
	P1
	P2
)

// String returns "P0", "P1" or "P2".
func (t Tier) String() string { return "P" + strconv.Itoa(int(t)) }

// Status says what vigil does with a keyword.
type Status int

const (
	// Supported: parsed into the model and acted upon by vigil.
	Supported Status = iota
	// NotImplemented: parsed and kept (Dump prints it back), but vigil
	// does not act on it; Load says so with a Notice.
	NotImplemented
	// Deprecated: keepalived accepts it with a deprecation warning; so
	// does vigil.
	Deprecated
	// Legacy: not in keepalived 2.2's grammar (keepalived says "unknown
	// keyword") but common in old files; vigil accepts it with a warning.
	Legacy
)

// String returns the status in words.
func (s Status) String() string {
	switch s {
	case Supported:
		return "supported"
	case NotImplemented:
		return "parsed, not implemented"
	case Deprecated:
		return "deprecated"
	case Legacy:
		return "legacy"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// handler runs on a keyword line; for a block keyword it returns the node
// the block's keywords apply to (nil skips the block).
type handler func(p *parser, n any, l *line) any

// valueHandler runs on every line of a value block.
type valueHandler func(p *parser, n any, l *line)

type kwDef struct {
	name   string
	tier   Tier
	status Status
	syntax string
	def    string
	rng    string
	fn     handler
	sub    *block       // keyword block
	value  valueHandler // value block: lines are data, not keywords
	raw    bool         // generic: kept as Raw (with its block, if any)
}

type block struct {
	name string
	kws  []*kwDef
	idx  map[string]*kwDef
}

func newBlock(name string, kws ...*kwDef) *block {
	b := &block{name: name, idx: map[string]*kwDef{}}
	b.add(kws...)
	return b
}

func (b *block) add(kws ...*kwDef) {
	for _, k := range kws {
		if _, dup := b.idx[k.name]; dup {
			panic("config: duplicate keyword " + k.name + " in " + b.name)
		}
		b.kws = append(b.kws, k)
		b.idx[k.name] = k
	}
}

// parser walks logical lines through the keyword tables.
type parser struct {
	lines []line
	i     int
	errs  []*Error
	cfg   *Config
	opts  *Options

	autoPref    int      // keepalived's default rule preference, counting down
	scriptOrder []string // vrrp_script names in file order

	stmts map[string]*fileStmts // keyword lines by file, for checkRecognisable

	rtTables *[]rtTable // the rt_tables files, read at the first table name (rttables.go)
}

// fileStmts counts one file's keyword lines: those the grammar knows and
// those it does not (unknown keywords, stray braces).
type fileStmts struct {
	known, unknown int
	first          Pos // the first unknown one
}

// count records one keyword line at pos.
func (p *parser) count(pos Pos, known bool) {
	if p.stmts == nil {
		p.stmts = map[string]*fileStmts{}
	}
	f := p.stmts[pos.File]
	if f == nil {
		f = &fileStmts{}
		p.stmts[pos.File] = f
	}
	if known {
		f.known++
		return
	}
	if f.unknown == 0 {
		f.first = pos
	}
	f.unknown++
}

func (p *parser) report(pos Pos, sev Severity, kw, fallback, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Keyword: kw, Err: fmt.Errorf(format, args...), Severity: sev, Fallback: fallback})
}

func (p *parser) warn(pos Pos, kw, fallback, format string, args ...any) {
	p.report(pos, Warning, kw, fallback, format, args...)
}

func (p *parser) fatal(pos Pos, kw, fallback, format string, args ...any) {
	p.report(pos, Fatal, kw, fallback, format, args...)
}

func (p *parser) notice(pos Pos, kw, fallback, format string, args ...any) {
	p.report(pos, Notice, kw, fallback, format, args...)
}

func isOpen(l *line) bool  { return len(l.toks) == 1 && l.toks[0].s == "{" }
func isClose(l *line) bool { return len(l.toks) == 1 && l.toks[0].s == "}" }

// skipBlock skips a balanced block whose '{' is the next line.
func (p *parser) skipBlock() {
	if p.i >= len(p.lines) || !isOpen(&p.lines[p.i]) {
		return
	}
	depth := 0
	for p.i < len(p.lines) {
		l := &p.lines[p.i]
		p.i++
		if isOpen(l) {
			depth++
		} else if isClose(l) {
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

// expectOpen consumes the '{' that must follow a block keyword.
func (p *parser) expectOpen(kw string, pos Pos) {
	if p.i < len(p.lines) && isOpen(&p.lines[p.i]) {
		p.i++
		return
	}
	p.warn(pos, kw, "the following lines are read as the block's contents", "missing '{' at the start of the block")
}

// parseBlock reads keyword lines of b until the closing '}' (or the end,
// at top level).
func (p *parser) parseBlock(b *block, node any, top bool, kwName string, kwPos Pos) {
	for p.i < len(p.lines) {
		l := &p.lines[p.i]
		p.i++
		w := l.toks[0].s
		if isClose(l) {
			if top {
				p.count(l.pos(), false)
				p.warn(l.pos(), "}", "ignored", "extra '}'")
				continue
			}
			return
		}
		if isOpen(l) {
			p.count(l.pos(), false)
			p.i--
			p.warn(l.pos(), "{", "the block is skipped", "unexpected '{'")
			p.skipBlock()
			continue
		}
		kw := b.idx[w]
		p.count(l.pos(), kw != nil)
		if kw == nil {
			where := b.name
			if hint := legacyHint(b.name, w); hint != "" {
				p.warn(l.pos(), w, "ignored", "unknown keyword in %s; %s", where, hint)
			} else {
				p.warn(l.pos(), w, "ignored", "unknown keyword in %s", where)
			}
			p.skipBlock()
			continue
		}
		p.run(kw, node, l)
	}
	if !top {
		p.warn(kwPos, kwName, "the block is closed at the end of the file", "missing '}' at the end of the block")
	}
}

func (p *parser) run(kw *kwDef, node any, l *line) {
	switch kw.status {
	case NotImplemented:
		p.notice(l.pos(), kw.name, "accepted and ignored", "not implemented by vigil")
	case Legacy:
		p.warn(l.pos(), kw.name, "ignored", "not a keepalived 2.2 keyword (legacy)")
	case Deprecated:
		p.warn(l.pos(), kw.name, "accepted", "deprecated")
	}
	if kw.raw {
		r := Raw{Pos: l.pos(), Keyword: kw.name, Args: words(l.toks[1:])}
		if kw.sub != nil || (p.i < len(p.lines) && isOpen(&p.lines[p.i]) && kw.value == nil) {
			if p.i < len(p.lines) && isOpen(&p.lines[p.i]) {
				r.IsBlock = true
				r.Block = p.rawBlock()
			}
		}
		if h, ok := node.(extraHolder); ok {
			h.addExtra(r)
		}
		return
	}
	var child any
	if kw.fn != nil {
		child = kw.fn(p, node, l)
	}
	switch {
	case kw.sub != nil:
		if child == nil {
			p.skipBlock()
			return
		}
		p.expectOpen(kw.name, l.pos())
		p.parseBlock(kw.sub, child, false, kw.name, l.pos())
	case kw.value != nil:
		if child == nil {
			p.skipBlock()
			return
		}
		p.expectOpen(kw.name, l.pos())
		for p.i < len(p.lines) {
			vl := &p.lines[p.i]
			p.i++
			if isClose(vl) {
				return
			}
			if isOpen(vl) {
				p.i--
				p.warn(vl.pos(), "{", "the block is skipped", "unexpected '{' in %s", kw.name)
				p.skipBlock()
				continue
			}
			kw.value(p, child, vl)
		}
		p.warn(l.pos(), kw.name, "the block is closed at the end of the file", "missing '}' at the end of the block")
	}
}

// rawBlock reads a balanced block (its '{' is the next line) into Raw nodes.
func (p *parser) rawBlock() []Raw {
	p.i++ // '{'
	out := []Raw{}
	for p.i < len(p.lines) {
		l := &p.lines[p.i]
		p.i++
		if isClose(l) {
			return out
		}
		if isOpen(l) {
			p.i--
			out = append(out, Raw{Pos: l.pos(), IsBlock: true, Block: p.rawBlock()})
			continue
		}
		r := Raw{Pos: l.pos(), Keyword: l.toks[0].s, Args: words(l.toks[1:])}
		if p.i < len(p.lines) && isOpen(&p.lines[p.i]) {
			r.IsBlock = true
			r.Block = p.rawBlock()
		}
		out = append(out, r)
	}
	return out
}

func words(toks []token) []string {
	if len(toks) == 0 {
		return nil
	}
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.s
	}
	return out
}

type extraHolder interface{ addExtra(Raw) }

func (c *Config) addExtra(r Raw)        { c.Extra = append(c.Extra, r) }
func (g *Global) addExtra(r Raw)        { g.Extra = append(g.Extra, r) }
func (in *Instance) addExtra(r Raw)     { in.Extra = append(in.Extra, r) }
func (s *SyncGroup) addExtra(r Raw)     { s.Extra = append(s.Extra, r) }
func (v *VirtualServer) addExtra(r Raw) { v.Extra = append(v.Extra, r) }
func (r *RealServer) addExtra(x Raw)    { r.Extra = append(r.Extra, x) }
func (c *Checker) addExtra(r Raw)       { c.Extra = append(c.Extra, r) }

// ---- argument helpers ----

// arg returns word i of l, complaining when it is missing.
func (p *parser) arg(l *line, i int) (token, bool) {
	if i < len(l.toks) {
		return l.toks[i], true
	}
	p.fatal(l.pos(), l.toks[0].s, "vigild does not start", "missing parameter")
	return token{}, false
}

// intArg reads word i as an integer in [min, max].
func (p *parser) intArg(l *line, i int, min, max int64, fallback string) (int, bool) {
	t, ok := p.arg(l, i)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(t.s, 10, 64)
	if err != nil || n < min || n > max {
		p.warn(t.pos, l.toks[0].s, fallback, "%q is not a number in [%d, %d]", t.s, min, max)
		return 0, false
	}
	return int(n), true
}

// garpSecsArg reads the whole seconds of a GARP delay or refresh interval
// (0..4294, keepalived's limit for a µs timer in 32 bits).
func (p *parser) garpSecsArg(l *line, fallback string) (time.Duration, bool) {
	n, ok := p.intArg(l, 1, 0, math.MaxUint32/1000000, fallback)
	return time.Duration(n) * time.Second, ok
}

// garpRepeatArg reads a GARP repeat count; 0 becomes 1 with a warning, as
// in keepalived. subject prefixes that warning, e.g. "(VI_1) ".
func (p *parser) garpRepeatArg(l *line, fallback, subject string) (int, bool) {
	n, ok := p.intArg(l, 1, 0, math.MaxUint32, fallback)
	if ok && n == 0 {
		p.warn(l.toks[1].pos, l.toks[0].s, "using 1", "%smust be greater than 0", subject)
		n = 1
	}
	return n, ok
}

// parseSeconds reads a decimal number of seconds with at most 6 fractional
// digits (keepalived's timer resolution is 1 µs).
func parseSeconds(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" && !hasFrac {
		return 0, fmt.Errorf("not a number")
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number")
		}
	}
	if hasFrac && len(frac) > 6 {
		return 0, fmt.Errorf("more than 6 decimals")
	}
	if hasFrac && intPart == "" && frac == "" {
		return 0, fmt.Errorf("not a number")
	}
	sec := int64(0)
	if intPart != "" {
		v, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || v > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("too large")
		}
		sec = v
	}
	us := int64(0)
	if frac != "" {
		f := frac + strings.Repeat("0", 6-len(frac))
		us, _ = strconv.ParseInt(f, 10, 64)
	}
	return time.Duration(sec)*time.Second + time.Duration(us)*time.Microsecond, nil
}

// timerArg reads word i as seconds in [min, max].
func (p *parser) timerArg(l *line, i int, min, max time.Duration, fallback string) (time.Duration, bool) {
	t, ok := p.arg(l, i)
	if !ok {
		return 0, false
	}
	d, err := parseSeconds(t.s)
	if err != nil || d < min || d > max {
		p.warn(t.pos, l.toks[0].s, fallback, "%q is not a time in [%s, %s] seconds", t.s, secs(min), secs(max))
		return 0, false
	}
	return d, true
}

// secs formats a duration as keepalived seconds ("1", "0.5").
func secs(d time.Duration) string {
	s := strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// checkTrueFalse is keepalived's check_true_false.
func checkTrueFalse(s string) int {
	switch s {
	case "true", "on", "yes":
		return 1
	case "false", "off", "no":
		return 0
	}
	return -1
}

// boolArg reads an optional <BOOL> in word 1; a bare keyword means true.
func (p *parser) boolArg(l *line) (bool, bool) {
	if len(l.toks) < 2 {
		return true, true
	}
	switch checkTrueFalse(l.toks[1].s) {
	case 1:
		return true, true
	case 0:
		return false, true
	}
	p.warn(l.toks[1].pos, l.toks[0].s, "keyword ignored", "%q is not one of on/off/true/false/yes/no", l.toks[1].s)
	return false, false
}

// addrArg reads word i as an IP address.
func (p *parser) addrArg(l *line, i int, fallback string) (netip.Addr, bool) {
	t, ok := p.arg(l, i)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(t.s)
	if err != nil || a.Zone() != "" {
		p.warn(t.pos, l.toks[0].s, fallback, "%q is not an IP address", t.s)
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// command parses "KEYWORD SCRIPT [user [group]]": the line is re-split with
// quotes and escapes, and SCRIPT is split again into argv, as keepalived
// does for every script keyword.
func (p *parser) command(l *line, withUser bool) *Command {
	kw := l.toks[0].s
	outer, err := splitQuotedEscaped(string(l.raw.s))
	if err != nil {
		p.warn(l.pos(), kw, "script ignored", "cannot split the line: %v", err)
		return nil
	}
	if len(outer) < 2 || outer[1] == "" {
		p.warn(l.pos(), kw, "script ignored", "missing script")
		return nil
	}
	argv, err := splitQuotedEscaped(outer[1])
	if err != nil || len(argv) == 0 {
		p.warn(l.toks[1].pos, kw, "script ignored", "cannot split the script %q", outer[1])
		return nil
	}
	c := &Command{Pos: l.pos(), Argv: argv}
	if len(l.toks) > 1 {
		c.Pos = l.toks[1].pos
	}
	if withUser {
		if len(outer) > 2 {
			c.User = outer[2]
		}
		if len(outer) > 3 {
			c.Group = outer[3]
		}
		if len(outer) > 4 {
			p.warn(l.pos(), kw, "extra words ignored", "too many parameters")
		}
		if c.User != "" && p.opts.UserExists != nil && !p.opts.UserExists(c.User) {
			p.warn(l.pos(), kw, "script ignored", "user %q does not exist", c.User)
			return nil
		}
	}
	return c
}

// weightArgs parses "weight N [reverse|no_reverse]" starting at word i.
func (p *parser) weightArgs(l *line, i int, min, max int64, ref *TrackRef) {
	for i < len(l.toks) {
		switch l.toks[i].s {
		case "weight":
			if n, ok := p.intArg(l, i+1, min, max, "weight ignored"); ok {
				ref.Weight, ref.HasWeight = n, true
			}
			i += 2
		case "reverse":
			ref.Reverse = true
			i++
		case "no_reverse", "noreverse":
			ref.Reverse = false
			i++
		default:
			p.warn(l.toks[i].pos, l.toks[0].s, "ignored", "unknown option %q", l.toks[i].s)
			i++
		}
	}
}

// legacyHint explains well-known misplaced keywords.
func legacyHint(blk, kw string) string {
	switch {
	case blk == "global_defs" && strings.HasPrefix(kw, "garp_"):
		return "in global_defs it is spelled vrrp_" + kw
	case blk == "global_defs" && kw == "lvs_id":
		return "lvs_id is keepalived 1.x; use router_id"
	case kw == "$" || kw == "{{" || strings.HasPrefix(kw, "${") || strings.HasPrefix(kw, "{{"):
		return "an undefined parameter or an unrendered template?"
	}
	return ""
}
