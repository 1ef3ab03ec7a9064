package testnet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// GroupsUniqueKB returns the resident memory of the live processes of the
// process groups pgids in kB, every page counted once: the distinct page
// frames present in their mappings (/proc/PID/pagemap, whose frame
// numbers only root sees). A page of a binary or library that several of
// them map, shared by the kernel, counts once, where a sum of their RSS
// counts it in each. It is a reading at one moment: the kernel keeps no
// peak of it.
func GroupsUniqueKB(pgids ...int) (int64, error) {
	frames := map[uint64]struct{}{}
	found := false
	for _, pgid := range pgids {
		for pid := range GroupStates(pgid) {
			err := presentFrames(pid, frames)
			if errors.Is(err, fs.ErrNotExist) {
				continue // exited meanwhile
			}
			if err != nil {
				return 0, err
			}
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("no live process in groups %v", pgids)
	}
	// As RSS, without the shared zero page (read but never written
	// memory) and frames that are no memory (/proc/kpageflags).
	kf, err := os.Open("/proc/kpageflags")
	if err != nil {
		return 0, err
	}
	defer kf.Close()
	var n int64
	var b [8]byte
	for pfn := range frames {
		if _, err := kf.ReadAt(b[:], int64(pfn*8)); err != nil {
			return 0, fmt.Errorf("/proc/kpageflags: frame %d: %w", pfn, err)
		}
		if f := binary.LittleEndian.Uint64(b[:]); f&(kpfNoPage|kpfZeroPage) == 0 {
			n++
		}
	}
	return n * int64(os.Getpagesize()) / 1024, nil
}

// Bits of /proc/kpageflags (the kernel's page-types documentation).
const (
	kpfNoPage   = 1 << 20
	kpfZeroPage = 1 << 24
)

// presentFrames adds the page frames present in process pid's mappings to
// frames.
func presentFrames(pid int, frames map[uint64]struct{}) error {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return err
	}
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return err
	}
	defer pm.Close()
	page := uint64(os.Getpagesize())
	buf := make([]byte, 8*1024)
	present, zero := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		rng, _, _ := bytes.Cut(sc.Bytes(), []byte(" "))
		lo, hi, ok := bytes.Cut(rng, []byte("-"))
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("/proc/%d/maps: %q", pid, sc.Bytes())
		}
		for addr := start; addr < end; {
			n := min((end-addr)/page, uint64(len(buf)/8))
			got, err := pm.ReadAt(buf[:n*8], int64(addr/page*8))
			if got == 0 || (err != nil && got < int(n*8)) {
				break // [vsyscall] and the like: not the process's pages
			}
			for i := 0; i+8 <= got; i += 8 {
				e := binary.LittleEndian.Uint64(buf[i:])
				if e>>63 == 0 { // not present
					continue
				}
				present++
				pfn := e & (1<<55 - 1)
				if pfn == 0 {
					zero++
					continue
				}
				frames[pfn] = struct{}{}
			}
			addr += uint64(got/8) * page
		}
	}
	if present > 0 && zero == present {
		return fmt.Errorf("/proc/%d/pagemap shows no page frame numbers (root only)", pid)
	}
	return sc.Err()
}

// Resident reports whether the page holding addr is mapped into process
// pid now: /proc/PID/pagemap's present bit, which, unlike the frame
// numbers, needs no privilege for one's own process.
func Resident(pid int, addr uintptr) (bool, error) {
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return false, err
	}
	defer pm.Close()
	var b [8]byte
	if _, err := pm.ReadAt(b[:], int64(addr/uintptr(os.Getpagesize()))*8); err != nil {
		return false, fmt.Errorf("/proc/%d/pagemap at %#x: %w", pid, addr, err)
	}
	return binary.LittleEndian.Uint64(b[:])&(1<<63) != 0, nil
}
