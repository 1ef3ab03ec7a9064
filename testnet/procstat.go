package testnet

import (
	"fmt"
	"os"
	"slices"
	"strconv"
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

// StatusKB returns the kB figures of keys ("VmHWM", "RssFile", ...) in
// /proc/PID/status.
func StatusKB(pid int, keys ...string) ([]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	kb, err := ParseStatusKB(string(b), keys...)
	if err != nil {
		return nil, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return kb, nil
}

// ParseStatusKB reads the kB figures of keys from a /proc/PID/status text:
// an error when one is missing or not a "N kB" figure.
func ParseStatusKB(s string, keys ...string) ([]int64, error) {
	out := make([]int64, len(keys))
	found := 0
	for line := range strings.Lines(s) {
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		i := slices.Index(keys, key)
		if !ok || i < 0 {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return nil, fmt.Errorf("%s: %q", key, val)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out[i] = kb
		found++
	}
	if found != len(keys) {
		return nil, fmt.Errorf("want %v", keys)
	}
	return out, nil
}

// PeakKB returns the largest VmHWM, in kB, of pid and every process
// descended from it: the working process of a daemon that forks (keepalived's
// VRRP child under its parent) as well as one that does not.
func PeakKB(pid int) (int64, error) {
	kb, err := StatusKB(pid, "VmHWM")
	if err != nil {
		return 0, err
	}
	peak := kb[0]
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			// A child that exited meanwhile has nothing to report.
			if c, err := PeakKB(child); err == nil {
				peak = max(peak, c)
			}
		}
	}
	return peak, nil
}
