package testnet

import (
	"os"
	"strconv"
)

// GroupStates returns the state letter (/proc/PID/stat field 3) of every
// live process in process group pgid, by pid. Zombies and dead processes
// are left out.
func GroupStates(pgid int) map[int]byte {
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
		f, err := StatFields(pid)
		if err != nil {
			continue // exited meanwhile
		}
		if f[2] != strconv.Itoa(pgid) || f[0] == "Z" || f[0] == "X" {
			continue
		}
		out[pid] = f[0][0]
	}
	return out
}
