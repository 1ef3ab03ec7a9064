package check

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func nextFileEvent(t *testing.T, w *FileWatcher) FileEvent {
	t.Helper()
	select {
	case e, ok := <-w.Events():
		if !ok {
			t.Fatal("events closed")
		}
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no track file event within 20 s")
	}
	return FileEvent{}
}

// TestFileWatcher: initial values, a write, an atomic rename into place, an
// unchanged rewrite (no event), an out-of-range value (error, value kept)
// and a deletion (reads as 0), as keepalived's inotify handling does.
func TestFileWatcher(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	os.WriteFile(a, []byte("3\n"), 0o644)
	b := filepath.Join(dir, "b") // missing at start: 0
	w, err := NewFileWatcher(map[string]string{"ta": a, "tb": b}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	init := map[string]int64{}
	for range 2 {
		e := nextFileEvent(t, w)
		init[e.Name] = e.Value
	}
	if init["ta"] != 3 || init["tb"] != 0 || len(init) != 2 {
		t.Fatalf("initial values %v", init)
	}

	os.WriteFile(a, []byte("-20\n"), 0o644)
	if e := nextFileEvent(t, w); e.Name != "ta" || e.Value != -20 || e.Err != nil {
		t.Fatalf("after write: %+v", e)
	}
	tmp := filepath.Join(dir, ".b.tmp")
	os.WriteFile(tmp, []byte("7"), 0o644)
	os.Rename(tmp, b)
	if e := nextFileEvent(t, w); e.Name != "tb" || e.Value != 7 {
		t.Fatalf("after rename into place: %+v", e)
	}
	os.WriteFile(b, []byte("7\n"), 0o644) // same value: no event
	os.WriteFile(a, []byte("99999999999"), 0o644)
	if e := nextFileEvent(t, w); e.Name != "ta" || !errors.Is(e.Err, ErrFileValue) || e.Value != -20 {
		t.Fatalf("out of range: %+v", e)
	}
	if v, _ := w.Value("ta"); v != -20 {
		t.Fatalf("value after a bad read %d, want the previous -20", v)
	}
	os.Remove(b)
	if e := nextFileEvent(t, w); e.Name != "tb" || e.Value != 0 {
		t.Fatalf("after delete: %+v", e)
	}
	w.Close()
	for range w.Events() {
	}
}
