package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Routing table names, as iproute2 resolves them for `ip route ... table
// NAME`: a number (decimal, 0x hex or 0 octal, as strtoul reads it) is
// itself; a name is looked up in rt_tables, which is <etc>/rt_tables, or
// <usr>/rt_tables when that does not exist (iproute2 ≥ 6.5 ships its
// defaults under /usr/share/iproute2 and leaves /etc to the
// administrator), then every *.conf of <usr>/rt_tables.d and
// <etc>/rt_tables.d; the first entry with the name wins. default (253),
// main (254) and local (255) are known unless a file gives their number
// another name (keepalived's add_default).
//
// The files are read once per load, and only when a name needs them. They
// are hostile input: each is bounded (maxRTTablesBytes), at most
// maxRTTablesFiles are read, and every line that is not blank, a comment or
// exactly "ID NAME [# comment]" with a valid ID and name is reported with
// its file:line and ignored.

const (
	defaultIPRoute2Etc = "/etc/iproute2"
	defaultIPRoute2Usr = "/usr/share/iproute2"
	maxRTTablesBytes   = 1 << 20
	maxRTTablesFiles   = 256
	maxRTTableName     = 64
	maxRTTable         = 1<<32 - 1 // RT_TABLE_MAX
)

// rtTable is one "ID NAME" line of an rt_tables file.
type rtTable struct {
	id   uint32
	name string
}

// rtTablesError is a line of an rt_tables file that was ignored.
type rtTablesError struct {
	line int
	msg  string
}

// parseRTTables reads the text of one rt_tables file: lines of "ID NAME",
// with '#' starting a comment. It never fails; each bad line is returned
// with why it was skipped.
func parseRTTables(data []byte) ([]rtTable, []rtTablesError) {
	var out []rtTable
	var bad []rtTablesError
	for i, ln := range strings.Split(string(data), "\n") {
		if c := strings.IndexByte(ln, '#'); c >= 0 {
			ln = ln[:c]
		}
		f := strings.FieldsFunc(ln, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' })
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			bad = append(bad, rtTablesError{i + 1, fmt.Sprintf("want \"ID NAME\", got %d fields", len(f))})
			continue
		}
		id, ok := parseTableID(f[0])
		if !ok {
			bad = append(bad, rtTablesError{i + 1, fmt.Sprintf("table id %q is not a number in [0, %d]", trunc(f[0]), uint64(maxRTTable))})
			continue
		}
		if !validRTName(f[1]) {
			bad = append(bad, rtTablesError{i + 1, fmt.Sprintf("table name %q is not a name (at most %d printable characters, not a number)", trunc(f[1]), maxRTTableName)})
			continue
		}
		out = append(out, rtTable{id: id, name: f[1]})
	}
	return out, bad
}

// trunc bounds what a complaint quotes of a hostile file.
func trunc(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// parseTableID reads a table number as strtoul(s, _, 0) does, without a
// sign or spaces.
func parseTableID(s string) (uint32, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil || strings.Contains(s, "_") || strings.HasPrefix(s, "0o") || strings.HasPrefix(s, "0O") ||
		strings.HasPrefix(s, "0b") || strings.HasPrefix(s, "0B") {
		return 0, false
	}
	return uint32(n), true
}

// validRTName accepts printable ASCII without '#' that does not read as a
// number (a numeric token is always taken as the number).
func validRTName(s string) bool {
	if s == "" || len(s) > maxRTTableName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '#' {
			return false
		}
	}
	_, num := parseTableID(s)
	return !num
}

// routeTable resolves a table number or name for kw at pos; false (and a
// warning) when the name is unknown.
func (p *parser) routeTable(s string, pos Pos, kw, fallback string) (int, bool) {
	if n, ok := parseTableID(s); ok {
		return int(n), true
	}
	if p.rtTables == nil {
		p.rtTables = p.loadRTTables()
	}
	for _, t := range *p.rtTables {
		if t.name == s {
			return int(t.id), true
		}
	}
	p.warn(pos, kw, fallback, "routing table %q not found in rt_tables", s)
	return 0, false
}

func (p *parser) iproute2Dirs() (etc, usr string) {
	etc, usr = p.opts.IPRoute2Etc, p.opts.IPRoute2Usr
	if etc == "" {
		etc = defaultIPRoute2Etc
	}
	if usr == "" {
		usr = defaultIPRoute2Usr
	}
	return etc, usr
}

// loadRTTables reads the rt_tables files in iproute2's order and adds the
// kernel's three named tables.
func (p *parser) loadRTTables() *[]rtTable {
	etc, usr := p.iproute2Dirs()
	read := p.opts.ReadFile
	if read == nil {
		read = readFile
	}
	glob := p.opts.Glob
	if glob == nil {
		glob = filepath.Glob
	}
	files := []string{filepath.Join(etc, "rt_tables")}
	if _, err := read(files[0]); errors.Is(err, fs.ErrNotExist) {
		files[0] = filepath.Join(usr, "rt_tables")
	}
	for _, d := range []string{usr, etc} {
		m, err := glob(filepath.Join(d, "rt_tables.d", "*.conf"))
		if err != nil {
			continue
		}
		slices.Sort(m)
		files = append(files, m...)
	}
	var all []rtTable
	for i, f := range files {
		if i == maxRTTablesFiles {
			p.warn(Pos{File: f, Line: 1, Col: 1}, "rt_tables", "this and later files ignored", "more than %d rt_tables files", maxRTTablesFiles)
			break
		}
		data, err := read(f)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				p.warn(Pos{File: f, Line: 1, Col: 1}, "rt_tables", "file ignored", "%v", err)
			}
			continue
		}
		if len(data) > maxRTTablesBytes {
			p.warn(Pos{File: f, Line: 1, Col: 1}, "rt_tables", "file ignored", "%d bytes, more than an rt_tables file may hold (%d)", len(data), maxRTTablesBytes)
			continue
		}
		entries, bad := parseRTTables(data)
		for _, b := range bad {
			p.warn(Pos{File: f, Line: b.line, Col: 1}, "rt_tables", "line ignored", "%s", b.msg)
		}
		all = append(all, entries...)
	}
	for _, d := range []rtTable{{253, "default"}, {254, "main"}, {255, "local"}} {
		if !slices.ContainsFunc(all, func(t rtTable) bool { return t.id == d.id }) {
			all = append(all, d)
		}
	}
	return &all
}
