package check

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ScanProc lists the live (non-zombie) processes under procRoot (normally
// "/proc"): pid, comm from stat, and the command line split at NULs.
// Processes that vanish during the scan are skipped.
func ScanProc(procRoot string) ([]Proc, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("check: scan %s: %w", procRoot, err)
	}
	var out []Proc
	for _, e := range ents {
		if !e.IsDir() || e.Name()[0] < '1' || e.Name()[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		comm, state, ok := parseStat(stat)
		if !ok || state == 'Z' {
			continue
		}
		p := Proc{PID: pid, Comm: comm}
		if cl, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cl) > 0 {
			p.Cmdline = strings.Split(string(bytes.TrimSuffix(cl, []byte{0})), "\x00")
		}
		out = append(out, p)
	}
	return out, nil
}

// parseStat takes comm (between the first '(' and the last ')') and the
// state letter after it from /proc/PID/stat.
func parseStat(b []byte) (comm string, state byte, ok bool) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i || j+2 >= len(b) {
		return "", 0, false
	}
	return string(b[i+1 : j]), b[j+2], true
}
