package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestProgramRanges(t *testing.T) {
	const maps = `00400000-0096d000 r-xp 00000000 fd:01 1234                               /usr/sbin/vigild
0096d000-00ed5000 r--p 0056d000 fd:01 1234                               /usr/sbin/vigild
00ed5000-00f47000 rw-p 00ad5000 fd:01 1234                               /usr/sbin/vigild
00f47000-02f8a000 rw-p 00000000 00:00 0
7f13d5600000-7f13d5900000 r--p 00000000 fd:01 999                        /usr/lib/other
7ffe72726000-7ffe72747000 rw-p 00000000 00:00 0                          [stack]
7f141c39c000-7f141c39e000 r-xp 00000000 00:00 0                          [vdso]
`
	got, err := programRanges(strings.NewReader(maps), 1234)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]uintptr{{0x400000, 0x96d000}, {0x96d000, 0xed5000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("programRanges = %#x, want %#x (the read-only mappings of inode 1234 only)", got, want)
	}
	if _, err := programRanges(strings.NewReader("zz r-xp 0 fd:01 1234 /x\n"), 1234); err == nil {
		t.Error("a malformed range was accepted")
	}
	if got, _ := programRanges(strings.NewReader(maps), 0); len(got) != 0 {
		t.Errorf("inode 0 (anonymous mappings) matched %#x", got)
	}
}

// TestTrimAfterStart drops this test binary's own program mappings and
// goes on running code and garbage collections.
func TestTrimAfterStart(t *testing.T) {
	n, err := trimAfterStart()
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		t.Errorf("trimAfterStart dropped %d bytes, want the program's read-only mappings", n)
	}
	runtime.GC()
	var b strings.Builder
	for i := range 1000 {
		b.WriteString(strings.Repeat("x", i%7))
	}
	if b.Len() == 0 {
		t.Error("no output after the trim")
	}
}
