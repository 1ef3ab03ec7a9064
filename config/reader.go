package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
			// keepalived reads the file again and again until it runs out
			// of file descriptors; what it then runs depends on the limit.
			r.complain(from, Fatal, "include", "vigild does not start", "include loop: %s includes itself", name)
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
	if line, col, c, ok := binaryByte(data); ok {
		r.complain(Pos{File: name, Line: line, Col: col}, Fatal, "", "file not read, vigild does not start",
			"binary data (byte 0x%02x): %w", c, ErrNotKeepalivedConf)
		return
	}
	r.stack = append(r.stack, name)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()
	r.cont = nil
	// One copy of the file, and the lines' positions cut from blocks of a
	// few thousand: an allocation per line made a large file's reading
	// mostly garbage collection, one table for the whole file would keep
	// the positions of every comment line.
	buf := bytes.Clone(data)
	var block []Pos
	positions := func(n, left int) []Pos { // left: the file's bytes from here on
		if len(block) < n {
			block = make([]Pos, max(n, min(4096, left)))
		}
		p := block[:n:n]
		block = block[n:]
		return p
	}
	// Room for a line per physical line, up to a bound: a hostile file of
	// blank lines or comments must not reserve what it never fills.
	r.out = slices.Grow(r.out, min(bytes.Count(buf, []byte{'\n'})+1, 1<<16))
	for i, start := 0, 0; start <= len(buf); i++ {
		end := bytes.IndexByte(buf[start:], '\n')
		if end < 0 {
			end = len(buf)
		} else {
			end += start
		}
		lineStart := start
		start = end + 1
		ln := bytes.TrimRight(buf[lineStart:end:end], "\r\n")
		if len(ln) > maxLineBytes {
			r.complain(Pos{File: name, Line: i + 1, Col: 1}, Warning, "", "line ignored", "line longer than %d bytes", maxLineBytes)
			continue
		}
		t := text{s: ln, pos: positions(len(ln), len(buf)-lineStart)}
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

// binaryByte finds the first byte no text file holds: NUL or an ASCII
// control character other than tab, line feed, vertical tab, form feed and
// carriage return. Bytes above 0x7f are not judged: a comment in Latin-1
// is still a configuration.
func binaryByte(data []byte) (line, col int, c byte, ok bool) {
	line, col = 1, 1
	for _, b := range data {
		switch {
		case b == '\n':
			line, col = line+1, 1
			continue
		case b < 0x20 && b != '\t' && b != '\v' && b != '\f' && b != '\r', b == 0x7f:
			return line, col, b, true
		}
		col++
	}
	return 0, 0, 0, false
}

// decomment strips leading and trailing blanks and the comment, turns \# and
// \! outside quotes into # and !, and keeps a trailing backslash.
func (r *reader) decomment(t text) text {
	i := 0
	for i < len(t.s) && (t.s[i] == ' ' || t.s[i] == '\t') {
		i++
	}
	t = t.slice(i, len(t.s))
	if !bytes.ContainsAny(t.s, "\"\\#!") {
		// Nothing to strip or unescape: the line as it is, less its
		// trailing blanks.
		k := len(t.s)
		for k > 0 && (t.s[k-1] == ' ' || t.s[k-1] == '\t') {
			k--
		}
		return t.slice(0, k)
	}
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
	complained := false
	for _, alt := range expandBraces(pat) {
		m, err := r.opts.Glob(alt)
		if err != nil {
			r.complain(pos, Warning, kw, "pattern ignored", "bad pattern %q: %v", alt, err)
			continue
		}
		if len(m) == 0 {
			if braceMust && alt != pat {
				r.complain(pos, Fatal, kw, "vigild does not start", "no file matches %q", alt)
				complained = true
			} else if wildMust && hasMeta(alt) {
				r.complain(pos, Fatal, kw, "vigild does not start", "no file matches wildcard %q", alt)
				complained = true
			}
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		if mustMatch {
			if !complained {
				r.complain(pos, Fatal, kw, "vigild does not start", "no file matches %q", pat)
			}
		} else if !complained {
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
