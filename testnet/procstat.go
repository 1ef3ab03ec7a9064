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

// GroupSumPeakKB returns the sum of VmHWM, in kB, over the live
// processes of process group pgid ([GroupStates]): the memory of a daemon
// of several processes (vigild and its sync worker, keepalived and its
// VRRP process) as well as of a lone one. A [Proc]'s pid is its group's:
// Start gives each process a group of its own, which its children join.
func GroupSumPeakKB(pgid int) (int64, error) { return groupKB(pgid, "VmHWM") }

// GroupSumRSSKB is GroupSumPeakKB for the resident size now (VmRSS).
func GroupSumRSSKB(pgid int) (int64, error) { return groupKB(pgid, "VmRSS") }

// groupKB sums the /proc status field key, in kB, over the live processes
// of process group pgid.
func groupKB(pgid int, key string) (int64, error) {
	var acc int64
	found := false
	for pid := range GroupStates(pgid) {
		kb, err := StatusKB(pid, key)
		if err != nil {
			continue // exited meanwhile
		}
		acc, found = acc+kb[0], true
	}
	if !found {
		return 0, fmt.Errorf("no live process in group %d", pgid)
	}
	return acc, nil
}
