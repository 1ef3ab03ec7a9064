package testnet

import (
	"fmt"
	"os"
	"strings"
)

// StatFields returns the fields of /proc/PID/stat (proc(5)) after the
// command name: [0] is field 3 (state), [2] pgrp, [7] minflt, [11] utime,
// [12] stime.
func StatFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	f, err := ParseStat(string(b))
	if err != nil {
		return nil, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return f, nil
}

// ParseStat splits a /proc/PID/stat line after its command name, which
// may hold spaces and parentheses: the fields after its last closing
// parenthesis, at least 13 of them.
func ParseStat(stat string) ([]string, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("no command name")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return nil, fmt.Errorf("%d fields after the command name", len(f))
	}
	return f, nil
}
