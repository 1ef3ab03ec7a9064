package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The reader turns configuration files into logical lines, as keepalived's
// read_line does: comments removed, @ID conditionals applied, $NAME
// parameters defined and substituted, ~SEQ/~LST lines repeated, include
// lines replaced by the included files, and every unquoted '{' or '}' split
// onto a line of its own. Every byte keeps the position it came from.

// text is a string with the source position of each byte.
type text struct {
	s   []byte
	pos []Pos
}

func (t text) String() string { return string(t.s) }

func (t text) slice(i, j int) text { return text{s: t.s[i:j:j], pos: t.pos[i:j:j]} }

func (t text) posAt(i int) Pos {
	if i < len(t.pos) {
		return t.pos[i]
	}
	if len(t.pos) > 0 {
		p := t.pos[len(t.pos)-1]
		p.Col += i - len(t.pos) + 1
		return p
	}
	return Pos{}
}

// concat returns a fresh text of the parts.
func concat(parts ...text) text {
	var n int
	for _, p := range parts {
		n += len(p.s)
	}
	out := text{s: make([]byte, 0, n), pos: make([]Pos, 0, n)}
	for _, p := range parts {
		out.s = append(out.s, p.s...)
		out.pos = append(out.pos, p.pos...)
	}
	return out
}

// synth makes a text whose bytes all carry pos.
func synth(s string, pos Pos) text {
	t := text{s: []byte(s), pos: make([]Pos, len(s))}
	for i := range t.pos {
		t.pos[i] = pos
	}
	return t
}

// token is one word of a logical line.
type token struct {
	s   string
	pos Pos
}

// line is one logical line: its words and its raw text (which script
// keywords re-split with quotes and escapes, as keepalived does).
type line struct {
	toks []token
	raw  text
}

func (l *line) pos() Pos { return l.toks[0].pos }

// Limits that keep hostile input from hanging or exhausting the reader.
const (
	maxIncludeDepth = 32
	maxLineBytes    = 16 << 10 // keepalived's MAXBUF
	maxExpansions   = 1 << 14  // parameter substitutions per Load
	maxLineExpand   = 256      // parameter substitutions per line
	maxSeqLines     = 1 << 14  // lines produced by ~SEQ / ~LST per Load
	maxExpandBytes  = 16 << 20 // bytes produced by substitution per Load
)

type paramDef struct {
	name      string
	lines     []string // more than one: a multi-line definition
	multiline bool
	fn        func(params string) string
	maxParams int
}

type reader struct {
	opts   *Options
	id     string
	defs   map[string]*paramDef
	errs   []*Error
	out    []line
	stack  []string // files being read, for _PWD and cycle detection
	budget int      // remaining substitutions
	bytes  int      // remaining bytes substitution may produce
	seqs   int      // lines produced by ~SEQ/~LST

	// multiline definition being continued on following physical lines
	cont *paramDef
}

func (r *reader) complain(pos Pos, sev Severity, kw string, fallback string, format string, args ...any) {
	r.errs = append(r.errs, &Error{Pos: pos, Keyword: kw, Err: fmt.Errorf(format, args...), Severity: sev, Fallback: fallback})
}

func newReader(opts *Options, id string) *reader {
	r := &reader{opts: opts, id: id, defs: map[string]*paramDef{}, budget: maxExpansions, bytes: maxExpandBytes}
	r.defs["_PWD"] = &paramDef{name: "_PWD", fn: func(string) string {
		if len(r.stack) == 0 {
			return ""
		}
		d, err := filepath.Abs(filepath.Dir(r.stack[len(r.stack)-1]))
		if err != nil {
			return filepath.Dir(r.stack[len(r.stack)-1])
		}
		return d
	}}
	r.defs["_INSTANCE"] = &paramDef{name: "_INSTANCE", fn: func(string) string { return r.id }}
	r.defs["_RANDOM"] = &paramDef{name: "_RANDOM", maxParams: 2, fn: func(params string) string {
		lo, hi := 0, 32767
		f := strings.Fields(params)
		if len(f) > 0 {
			lo, _ = strconv.Atoi(f[0])
		}
		if len(f) > 1 {
			hi, _ = strconv.Atoi(f[1])
		}
		if hi < lo {
			hi = lo
		}
		return strconv.Itoa(r.opts.Random(lo, hi))
	}}
	r.defs["_HASH"] = &paramDef{name: "_HASH", lines: []string{"#"}}
	r.defs["_BANG"] = &paramDef{name: "_BANG", lines: []string{"!"}}
	return r
}

// readFile reads one file into logical lines appended to r.out.
func (r *reader) readFile(name string, from Pos) error {
	if len(r.stack) >= maxIncludeDepth {
		r.complain(from, Warning, "include", "file not read", "include nesting deeper than %d", maxIncludeDepth)
		return nil
	}
	for _, f := range r.stack {
		if f == name {
			r.complain(from, Warning, "include", "file not read again", "include loop: %s includes itself", name)
			return nil
		}
	}
	data, err := r.opts.ReadFile(name)
	if err != nil {
		return err
	}
	r.readBytes(name, data)
	return nil
}

func (r *reader) readBytes(name string, data []byte) {
	r.stack = append(r.stack, name)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()
	r.cont = nil
	lines := strings.Split(string(data), "\n")
	for i, ln := range lines {
		ln = strings.TrimRight(ln, "\r\n")
		if len(ln) > maxLineBytes {
			r.complain(Pos{File: name, Line: i + 1, Col: 1}, Warning, "", "line ignored", "line longer than %d bytes", maxLineBytes)
			continue
		}
		t := text{s: []byte(ln), pos: make([]Pos, len(ln))}
		for j := range t.pos {
			t.pos[j] = Pos{File: name, Line: i + 1, Col: j + 1}
		}
		if len(ln) == 0 {
			if r.cont != nil {
				r.cont = nil
			}
			continue
		}
		t = r.decomment(t)
		if len(t.s) == 0 {
			continue
		}
		if r.cont != nil {
			r.continueDef(t)
			continue
		}
		r.process(t, 0)
	}
	r.cont = nil
}

// decomment strips leading and trailing blanks and the comment, turns \# and
// \! outside quotes into # and !, and keeps a trailing backslash.
func (r *reader) decomment(t text) text {
	i := 0
	for i < len(t.s) && (t.s[i] == ' ' || t.s[i] == '\t') {
		i++
	}
	t = t.slice(i, len(t.s))
	out := text{s: make([]byte, 0, len(t.s)), pos: make([]Pos, 0, len(t.s))}
	quote := false
	qpos := 0
	cont := false
	for j := 0; j < len(t.s); j++ {
		c := t.s[j]
		switch {
		case c == '"':
			quote = !quote
			if quote {
				qpos = j
			}
		case c == '\\':
			if j+1 < len(t.s) {
				if !quote && (t.s[j+1] == '#' || t.s[j+1] == '!') {
					j++
					out.s = append(out.s, t.s[j])
					out.pos = append(out.pos, t.pos[j])
					continue
				}
				out.s = append(out.s, c, t.s[j+1])
				out.pos = append(out.pos, t.pos[j], t.pos[j+1])
				j++
				continue
			}
			cont = true
			j = len(t.s)
			continue
		case !quote && (c == '#' || c == '!'):
			j = len(t.s)
			continue
		}
		out.s = append(out.s, c)
		out.pos = append(out.pos, t.pos[j])
	}
	if quote {
		r.complain(t.posAt(qpos), Warning, "", "the quote runs to the end of the line", "unterminated quote")
	}
	k := len(out.s)
	for k > 0 && (out.s[k-1] == ' ' || out.s[k-1] == '\t') {
		k--
	}
	out = out.slice(0, k)
	if cont {
		p := t.posAt(len(t.s) - 1)
		out = concat(out, synth("\\", p))
	}
	return out
}

// continueDef adds one physical line to a multi-line $NAME= definition.
func (r *reader) continueDef(t text) {
	s := string(t.s)
	more := strings.HasSuffix(s, "\\")
	if more {
		s = strings.TrimRight(strings.TrimSuffix(s, "\\"), " \t")
	}
	if s != "" || !more {
		r.cont.lines = append(r.cont.lines, s)
	}
	if !more {
		if len(r.cont.lines) == 0 {
			r.cont.multiline = false
			r.cont.lines = []string{""}
		}
		r.cont = nil
	}
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isNameByte(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '_'
}

// process handles one decommented, non-empty line: conditionals,
// definitions, ~SEQ/~LST, substitution, include, brace splitting.
func (r *reader) process(t text, depth int) {
	if depth > 64 {
		r.complain(t.posAt(0), Warning, "", "line ignored", "expansion nested too deeply")
		return
	}
	var pending []text
	for {
		if len(t.s) > 0 && t.s[0] == '@' {
			ofs := 1
			rev := false
			if len(t.s) > 1 && t.s[1] == '^' {
				rev, ofs = true, 2
			}
			sp := -1
			for k := ofs; k < len(t.s); k++ {
				if t.s[k] == ' ' || t.s[k] == '\t' {
					sp = k
					break
				}
			}
			if sp < 0 {
				return
			}
			match := string(t.s[ofs:sp]) == r.id && r.id != ""
			if match == rev {
				return
			}
			for sp < len(t.s) && (t.s[sp] == ' ' || t.s[sp] == '\t') {
				sp++
			}
			t = t.slice(sp, len(t.s))
			if len(t.s) == 0 {
				return
			}
		}
		if t.s[0] == '$' && r.define(t) {
			return
		}
		if len(t.s) >= 4 && (string(t.s[:4]) == "~SEQ" || string(t.s[:4]) == "~LST") {
			r.seq(t, depth)
			return
		}
		if t.s[0] == '~' {
			break
		}
		if !strings.Contains(string(t.s), "$") {
			break
		}
		nt, more, changed := r.substitute(t)
		if !changed {
			break
		}
		pending = append(more, pending...)
		t = r.decomment(nt)
		if len(t.s) == 0 {
			break
		}
		if t.s[0] != '@' && !strings.Contains(string(t.s), "$") {
			break
		}
	}
	if len(t.s) > 0 {
		if !r.include(t) {
			r.split(t)
		}
	}
	for _, p := range pending {
		p = r.decomment(p)
		if len(p.s) > 0 {
			r.process(p, depth+1)
		}
	}
}

// define handles $NAME=VALUE; it reports false when t is not a definition.
func (r *reader) define(t text) bool {
	s := string(t.s)
	if len(s) < 2 || !(isAlpha(s[1]) || s[1] == '_') {
		return false
	}
	k := 2
	for k < len(s) && s[k] != '=' {
		if !isNameByte(s[k]) {
			return false
		}
		k++
	}
	if k >= len(s) {
		return false
	}
	name := s[1:k]
	val := strings.TrimLeft(s[k+1:], " \t")
	d := &paramDef{name: name}
	if strings.HasSuffix(val, "\\") {
		d.multiline = true
		val = strings.TrimRight(strings.TrimSuffix(val, "\\"), " \t")
		if val != "" {
			d.lines = append(d.lines, val)
		}
		r.cont = d
	} else {
		d.lines = []string{val}
	}
	r.defs[name] = d
	return true
}

// lookup finds the parameter referenced at s (just after '$'). It returns the
// definition, the length of the reference after '$', and params.
func (r *reader) lookup(s string) (*paramDef, int, string) {
	braces := len(s) > 0 && s[0] == '{'
	n := s
	if braces {
		n = s[1:]
	}
	if n == "" || !(isAlpha(n[0]) || n[0] == '_') {
		return nil, 0, ""
	}
	l := 1
	for l < len(n) && isNameByte(n[l]) {
		l++
	}
	name := n[:l]
	params := ""
	var refLen int
	atEnd := false
	if braces {
		p := l
		for p < len(n) && (n[p] == ' ' || isDigit(n[p])) {
			p++
		}
		if p >= len(n) || n[p] != '}' {
			return nil, 0, ""
		}
		params = n[l:p]
		if params != "" && (params[0] != ' ' || strings.HasSuffix(params, " ")) {
			return nil, 0, ""
		}
		refLen = p + 2
		atEnd = p+1 == len(n)
	} else {
		if l < len(n) && !strings.ContainsRune(" \t,)", rune(n[l])) {
			return nil, 0, ""
		}
		refLen = l
		atEnd = l == len(n)
	}
	d := r.defs[name]
	if d == nil {
		return nil, 0, ""
	}
	if d.multiline && !atEnd {
		return nil, 0, ""
	}
	if strings.TrimSpace(params) != "" && d.maxParams == 0 {
		return nil, 0, ""
	}
	return d, refLen, params
}

// substitute replaces $NAME and ${NAME} references, rescanning replaced
// text (so substitution is recursive). Extra lines of a multi-line
// definition are returned in more.
func (r *reader) substitute(t text) (out text, more []text, changed bool) {
	i := 0
	n := 0
	for i < len(t.s) {
		if t.s[i] != '$' || i+1 >= len(t.s) {
			i++
			continue
		}
		d, refLen, params := r.lookup(string(t.s[i+1:]))
		if d == nil {
			i++
			continue
		}
		if r.budget <= 0 || n >= maxLineExpand || r.bytes <= 0 {
			r.complain(t.posAt(i), Warning, "$"+d.name, "substitution stopped", "too many parameter substitutions (recursive definition?)")
			return t, more, false
		}
		r.budget--
		n++
		changed = true
		pos := t.posAt(i)
		var val string
		if d.fn != nil {
			val = d.fn(params)
		} else if len(d.lines) > 0 {
			val = d.lines[0]
		}
		if d.multiline && len(d.lines) > 1 {
			var ml []text
			for _, l := range d.lines[1:] {
				ml = append(ml, synth(l, pos))
			}
			more = append(ml, more...)
		}
		nt := concat(t.slice(0, i), synth(val, pos), t.slice(i+1+refLen, len(t.s)))
		r.bytes -= len(nt.s)
		if len(nt.s) > maxLineBytes {
			r.complain(pos, Warning, "$"+d.name, "substitution stopped", "line longer than %d bytes after substitution", maxLineBytes)
			return t, more, false
		}
		t = nt
		if v := strings.TrimLeft(val, " \t"); strings.HasPrefix(v, "~") {
			break
		}
	}
	return t, more, changed
}

// seq handles ~SEQ(var, start, step, end), ~SEQx(...) and ~LST(...).
func (r *reader) seq(t text, depth int) {
	s := string(t.s)
	pos := t.posAt(0)
	kind := s[:4]
	close := strings.IndexByte(s, ')')
	if close < 0 {
		r.complain(pos, Warning, kind, "line ignored", "invalid %s specification: no ')'", kind)
		return
	}
	hex := false
	p := 4
	if kind == "~SEQ" && p < len(s) && s[p] == 'x' {
		hex = true
		p++
	}
	for p < len(s) && (s[p] == ' ' || s[p] == '\t') {
		p++
	}
	if p >= len(s) || s[p] != '(' {
		r.complain(pos, Warning, kind, "line ignored", "invalid %s specification: no '('", kind)
		return
	}
	rest := close + 1
	for rest < len(s) && (s[rest] == ' ' || s[rest] == '\t') {
		rest++
	}
	body := t.slice(rest, len(t.s))
	inner := s[p+1 : close]
	emit := func(vars []string, vals []string) bool {
		for i, v := range vars {
			val := ""
			if i < len(vals) {
				val = vals[i]
			}
			r.defs[v] = &paramDef{name: v, lines: []string{val}}
		}
		r.seqs++
		if r.seqs > maxSeqLines {
			r.complain(pos, Warning, kind, "expansion stopped", "more than %d lines produced by ~SEQ/~LST", maxSeqLines)
			return false
		}
		b := concat(body)
		if len(b.s) > 0 {
			r.process(b, depth+1)
		}
		return true
	}
	if kind == "~SEQ" {
		f := strings.Split(inner, ",")
		if len(f) < 2 || len(f) > 4 {
			r.complain(pos, Warning, kind, "line ignored", "invalid ~SEQ specification %q", s)
			return
		}
		v := strings.TrimSpace(f[0])
		if v == "" || !(isAlpha(v[0]) || v[0] == '_') {
			r.complain(pos, Warning, kind, "line ignored", "invalid ~SEQ variable %q", v)
			return
		}
		nums := make([]int64, 0, 3)
		for _, x := range f[1:] {
			x = strings.TrimSpace(x)
			if nt, _, ch := r.substitute(synth(x, pos)); ch {
				x = strings.TrimSpace(string(nt.s))
			}
			n, err := strconv.ParseInt(x, 0, 64)
			if err != nil {
				r.complain(pos, Warning, kind, "line ignored", "invalid ~SEQ number %q", x)
				return
			}
			nums = append(nums, n)
		}
		var start, step, end int64
		switch len(nums) {
		case 1:
			end = nums[0]
			step, start = 1, 1
			if end < 1 {
				step = -1
			}
			if end < 0 {
				start = -1
			}
		case 2:
			start, end = nums[0], nums[1]
			step = 1
			if start > end {
				step = -1
			}
		case 3:
			start, step, end = nums[0], nums[1], nums[2]
			if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
				r.complain(pos, Warning, kind, "line ignored", "invalid ~SEQ values %q", s)
				return
			}
		}
		if hex && (start < 0 || end < 0) {
			r.complain(pos, Warning, kind, "line ignored", "~SEQx is only valid for positive numbers")
			return
		}
		for n := start; (step > 0 && n <= end) || (step < 0 && n >= end); n += step {
			val := strconv.FormatInt(n, 10)
			if hex {
				val = strconv.FormatInt(n, 16)
			}
			if !emit([]string{v}, []string{val}) {
				return
			}
		}
		return
	}
	// ~LST(var, v1, v2) or ~LST({a,b}, {1,2}, {3,4})
	groups, err := splitLST(inner)
	if err != nil || len(groups) < 2 {
		r.complain(pos, Warning, kind, "line ignored", "invalid ~LST specification %q", s)
		return
	}
	vars := groups[0]
	for _, v := range vars {
		if v == "" || !(isAlpha(v[0]) || v[0] == '_') {
			r.complain(pos, Warning, kind, "line ignored", "invalid ~LST variable %q", v)
			return
		}
	}
	for _, vals := range groups[1:] {
		if len(vals) > len(vars) {
			r.complain(pos, Warning, kind, "line ignored", "~LST specification has too many values")
			return
		}
	}
	for _, vals := range groups[1:] {
		if !emit(vars, vals) {
			return
		}
	}
}

// splitLST splits "{a,b},{1,2},x" into groups of words.
func splitLST(s string) ([][]string, error) {
	var out [][]string
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skip()
		if i < len(s) && s[i] == '{' {
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return nil, errors.New("unbalanced {")
			}
			var g []string
			for _, w := range strings.Split(s[i+1:i+j], ",") {
				g = append(g, strings.TrimSpace(w))
			}
			out = append(out, g)
			i += j + 1
		} else {
			j := strings.IndexByte(s[i:], ',')
			if j < 0 {
				j = len(s) - i
			}
			out = append(out, []string{strings.TrimSpace(s[i : i+j])})
			i += j
		}
		skip()
		if i >= len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, errors.New("expected ,")
		}
		i++
	}
}

// include handles include and its variants; it reports whether t was one.
func (r *reader) include(t text) bool {
	s := string(t.s)
	if !strings.HasPrefix(s, "include") || len(s) < 8 {
		return false
	}
	var kind byte
	var p int
	switch {
	case s[7] == ' ' || s[7] == '\t':
		p = 8
	case len(s) > 8 && strings.IndexByte("rmwba", s[7]) >= 0 && (s[8] == ' ' || s[8] == '\t'):
		kind, p = s[7], 9
	default:
		return false
	}
	kw := s[:p-1]
	pos := t.posAt(0)
	pat := strings.TrimSpace(s[p:])
	readable := kind != 0
	mustMatch := kind == 'm' || kind == 'w' || kind == 'a'
	wildMust := kind == 'w' || kind == 'a'
	braceMust := kind == 'b' || kind == 'a'
	if pat == "" {
		r.complain(pos, Warning, kw, "line ignored", "no file name")
		return true
	}
	cur := r.stack[len(r.stack)-1]
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(filepath.Dir(cur), pat)
	}
	var files []string
	for _, alt := range expandBraces(pat) {
		m, err := r.opts.Glob(alt)
		if err != nil {
			r.complain(pos, Warning, kw, "pattern ignored", "bad pattern %q: %v", alt, err)
			continue
		}
		if len(m) == 0 {
			if braceMust && alt != pat {
				r.complain(pos, Fatal, kw, "vigild does not start", "no file matches %q", alt)
			} else if wildMust && hasMeta(alt) {
				r.complain(pos, Fatal, kw, "vigild does not start", "no file matches wildcard %q", alt)
			}
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		if mustMatch {
			r.complain(pos, Fatal, kw, "vigild does not start", "no file matches %q", pat)
		} else {
			r.complain(pos, Notice, kw, "nothing included", "no file matches %q", pat)
		}
		return true
	}
	for _, f := range files {
		if err := r.readFile(f, pos); err != nil {
			if readable {
				r.complain(pos, Fatal, kw, "vigild does not start", "cannot read %s: %v", f, unwrapPathErr(err))
			} else {
				r.complain(pos, Notice, kw, "file skipped", "cannot read %s: %v", f, unwrapPathErr(err))
			}
		}
	}
	return true
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// expandBraces does csh brace expansion: a{b,c}d -> abd acd. A backslash
// escapes a brace.
func expandBraces(s string) []string {
	depth, start := 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				start = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth == 0 {
				// split s[start+1:i] on top-level commas
				var alts []string
				d, last := 0, start+1
				for k := start + 1; k < i; k++ {
					switch s[k] {
					case '\\':
						k++
					case '{':
						d++
					case '}':
						d--
					case ',':
						if d == 0 {
							alts = append(alts, s[last:k])
							last = k + 1
						}
					}
				}
				alts = append(alts, s[last:i])
				if len(alts) == 1 {
					// "{x}" is not an expansion in csh; keep it literally.
					continue
				}
				var out []string
				for _, a := range alts {
					out = append(out, expandBraces(s[:start]+a+s[i+1:])...)
					if len(out) > 4096 {
						return out
					}
				}
				return out
			}
		}
	}
	return []string{s}
}

// split cuts t at every '{' or '}' outside double quotes into logical lines,
// as keepalived does, and tokenises each.
func (r *reader) split(t text) {
	for len(t.s) > 0 {
		idx := -1
		if t.s[0] != '{' && t.s[0] != '}' {
			inq := false
			for k := 0; k < len(t.s); k++ {
				c := t.s[k]
				if c == '"' {
					inq = !inq
					continue
				}
				if !inq && (c == '{' || c == '}') {
					idx = k
					break
				}
			}
		} else {
			idx = 0
		}
		var head, rest text
		switch {
		case idx < 0:
			head, rest = t, text{}
		case idx == 0:
			head = t.slice(0, 1)
			k := 1
			for k < len(t.s) && (t.s[k] == ' ' || t.s[k] == '\t') {
				k++
			}
			rest = t.slice(k, len(t.s))
		default:
			head, rest = t.slice(0, idx), t.slice(idx, len(t.s))
		}
		k := len(head.s)
		for k > 0 && (head.s[k-1] == ' ' || head.s[k-1] == '\t') {
			k--
		}
		head = head.slice(0, k)
		if len(head.s) > 0 {
			toks := r.tokenize(head)
			if len(toks) > 0 {
				r.out = append(r.out, line{toks: toks, raw: head})
			}
		}
		if len(rest.s) == 0 {
			return
		}
		// keepalived runs the residue through conditionals and
		// substitution again.
		if rest.s[0] == '@' || rest.s[0] == '$' || rest.s[0] == '~' {
			r.process(rest, 1)
			return
		}
		t = rest
	}
}

// tokenize splits a logical line into words: whitespace separates, a word
// that starts with '"' runs to the next '"' (quotes removed), an unquoted
// word ends at whitespace or '"'.
func (r *reader) tokenize(t text) []token {
	var toks []token
	i := 0
	for {
		for i < len(t.s) && (t.s[i] == ' ' || t.s[i] == '\t' || t.s[i] == '\v' || t.s[i] == '\f' || t.s[i] == '\r') {
			i++
		}
		if i >= len(t.s) {
			return toks
		}
		start := i
		if t.s[i] == '"' {
			j := i + 1
			for j < len(t.s) && t.s[j] != '"' {
				j++
			}
			if j >= len(t.s) {
				r.complain(t.posAt(i), Warning, "", "the word runs to the end of the line", "unmatched quote")
				toks = append(toks, token{s: string(t.s[i+1:]), pos: t.posAt(start)})
				return toks
			}
			toks = append(toks, token{s: string(t.s[i+1 : j]), pos: t.posAt(start)})
			i = j + 1
			continue
		}
		for i < len(t.s) && !(t.s[i] == ' ' || t.s[i] == '\t' || t.s[i] == '\v' || t.s[i] == '\f' || t.s[i] == '\r' || t.s[i] == '"') {
			i++
		}
		toks = append(toks, token{s: string(t.s[start:i]), pos: t.posAt(start)})
	}
}

// splitQuotedEscaped splits s as keepalived splits script strings: words
// separated by whitespace, '...' and "..." group (and concatenate with
// adjacent text), backslash escapes (\n \t \xNN \NNN \cX ...) everywhere
// except that inside single quotes only \' and \\ matter as escapes too.
func splitQuotedEscaped(s string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		var w []byte
		var q byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return out, errors.New("missing escape character at end")
				}
				e := s[i]
				switch {
				case e == 'x' && i+1 < len(s) && isHex(s[i+1]):
					i++
					var v byte
					for i < len(s) && isHex(s[i]) {
						v = v<<4 | hexVal(s[i])
						i++
					}
					w = append(w, v)
					continue
				case e == 'c' && i+1 < len(s):
					w = append(w, s[i+1]&0x1f)
					i += 2
					continue
				case e >= '0' && e <= '7':
					v := e - '0'
					i++
					for n := 0; n < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; n++ {
						v = v<<3 + (s[i] - '0')
						i++
					}
					w = append(w, v)
					continue
				}
				m := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
				if v, ok := m[e]; ok {
					w = append(w, v)
				} else {
					w = append(w, e)
				}
				i++
			case q != 0 && c == q:
				q = 0
				i++
			case q != 0:
				w = append(w, c)
				i++
			case c == '"' || c == '\'':
				q = c
				i++
			case c == ' ' || c == '\t':
				break word
			default:
				w = append(w, c)
				i++
			}
		}
		if q != 0 {
			return out, fmt.Errorf("missing terminating %c", q)
		}
		out = append(out, string(w))
	}
}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
