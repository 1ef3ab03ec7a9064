package memtrim

import (
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// resident reports whether the page holding addr is mapped into this
// process now.
func resident(t *testing.T, addr uintptr) bool {
	t.Helper()
	ok, err := testnet.Resident(os.Getpid(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestPopulate: code this test never runs, its pages dropped by
// AfterStart, is resident once Populate has mapped it, without running
// it.
func TestPopulate(t *testing.T) {
	var pcs []uintptr
	for _, f := range []any{slog.NewJSONHandler, (*slog.JSONHandler).Handle, (*slog.JSONHandler).WithGroup, debug.WriteHeapDump, exec.LookPath} {
		pcs = append(pcs, reflect.ValueOf(f).Pointer())
	}
	if _, err := AfterStart(); err != nil {
		t.Fatal(err)
	}
	absent := 0
	for _, pc := range pcs {
		if !resident(t, pc) {
			absent++
		}
	}
	if absent == 0 {
		t.Fatal("every target is resident after the trim: the test cannot fail")
	}
	Populate(pcs)
	for _, pc := range pcs {
		if !resident(t, pc) {
			t.Errorf("%s not resident after Populate", runtime.FuncForPC(pc).Name())
		}
		if !resident(t, pc&^(codeBlock-1)) || !resident(t, pc|(codeBlock-1)) {
			t.Errorf("the block around %s not resident after Populate", runtime.FuncForPC(pc).Name())
		}
	}
}
