package testnet

import (
	"os"
	"strconv"
	"strings"
)

// groupStates returns the state letter (/proc/PID/stat field 3) of every
// live process in process group pgid, by pid. Zombies are left out.
func groupStates(pgid int) map[int]byte {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := map[int]byte{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) || f[0] == "Z" || f[0] == "X" {
			continue
		}
		out[pid] = f[0][0]
	}
	return out
}
