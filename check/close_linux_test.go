package check

import (
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestCloseConcurrent: Close of a FileWatcher and of a Watcher may be
// called from several goroutines at once (a daemon's shutdown and reload
// paths can meet); each call returns once the goroutine has stopped, and
// none panics on a double close.
func TestCloseConcurrent(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	closeAll := func(closeFn func()) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				closeFn()
			})
		}
		close(start)
		wg.Wait()
	}
	for range 50 {
		fw, err := NewFileWatcher(map[string]string{"f": filepath.Join(t.TempDir(), "f")}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		closeAll(fw.Close)
		for range fw.Events() { // closed by Close
		}
	}
	// The interface watcher's netlink subscription needs root here.
	t.Run("watcher", func(t *testing.T) {
		testnet.NeedRoot(t)
		for range 20 {
			w, err := NewWatcher(WatcherConfig{Log: quiet})
			if err != nil {
				t.Fatal(err)
			}
			closeAll(w.Close)
			for range w.Events() { // closed by Close
			}
		}
	})
}
