package config

import (
	"errors"
	"strconv"
	"strings"
)

// Parameter definitions ($NAME=), substitution ($NAME, ${NAME}) and line
// repetition (~SEQ, ~SEQx, ~LST), as keepalived's read_line does them.

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
