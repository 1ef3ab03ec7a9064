package check

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FileEvent reports a track file's new value.
type FileEvent struct {
	Name  string // the track_file's name
	Path  string
	Value int64 // the value now in force (unchanged when Err is set)
	Err   error // a read that keepalived would ignore (out of range)
}

// FileWatcher follows track files with inotify on their directories, as
// keepalived does: a file written and closed, or moved into place, is read
// again; a file deleted or moved away reads as 0. Events are posted only
// when a value changes, plus one per file at start with its initial value.
type FileWatcher struct {
	log    *slog.Logger
	inot   *os.File
	events chan FileEvent
	stop   chan struct{}
	once   sync.Once // closes stop and the inotify descriptor
	done   chan struct{}
	byWD   map[int32]map[string][]string // watch → base name → track names
	paths  map[string]string             // track name → path

	mu     sync.Mutex // mu guards values
	values map[string]int64
}

// NewFileWatcher watches files (track name → path) and starts its
// goroutine; Close stops it.
func NewFileWatcher(files map[string]string, log *slog.Logger) (*FileWatcher, error) {
	if log == nil {
		log = slog.Default()
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("check: inotify: %w", err)
	}
	w := &FileWatcher{log: log, inot: os.NewFile(uintptr(fd), "inotify"), stop: make(chan struct{}), done: make(chan struct{}),
		byWD: map[int32]map[string][]string{}, paths: map[string]string{}, values: map[string]int64{}}
	w.events = make(chan FileEvent, len(files)+64)
	dirs := map[string]int32{}
	for name, path := range files {
		abs, err := filepath.Abs(path)
		if err != nil {
			w.inot.Close()
			return nil, fmt.Errorf("check: track file %s: %w", name, err)
		}
		dir, base := filepath.Split(abs)
		wd, ok := dirs[dir]
		if !ok {
			n, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_DELETE|unix.IN_MOVE)
			if err != nil {
				w.inot.Close()
				return nil, fmt.Errorf("check: track file %s: watch %s: %w", name, dir, err)
			}
			wd = int32(n)
			dirs[dir] = wd
			w.byWD[wd] = map[string][]string{}
		}
		w.byWD[wd][base] = append(w.byWD[wd][base], name)
		w.paths[name] = abs
	}
	for name, path := range w.paths {
		v, err := ReadTrackFile(path)
		w.values[name] = v
		w.events <- FileEvent{Name: name, Path: path, Value: v, Err: err}
	}
	go w.runWatch()
	return w, nil
}

// Events delivers value changes; closed by Close.
func (w *FileWatcher) Events() <-chan FileEvent { return w.events }

// Value is the current value of the named track file.
func (w *FileWatcher) Value(name string) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.values[name]
	return v, ok
}

// Close stops the watcher and closes Events. It may be called more than
// once, also concurrently; every call returns once the goroutine is done.
func (w *FileWatcher) Close() {
	w.once.Do(func() {
		close(w.stop)
		w.inot.Close()
	})
	<-w.done
}

// post delivers ev unless the watcher is closing.
func (w *FileWatcher) post(ev FileEvent) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.stop:
		return false
	}
}

// runWatch reads inotify events; owned by the FileWatcher, ended by Close
// (closing the inotify descriptor makes the read fail).
func (w *FileWatcher) runWatch() {
	defer close(w.done)
	defer close(w.events)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.inot.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.log.Warn("check: track file watcher stopped", "err", err)
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_ISDIR != 0 {
				continue
			}
			for _, name := range w.byWD[ev.Wd][string(nameBytes[:clen(nameBytes)])] {
				var v int64
				var rerr error
				if ev.Mask&(unix.IN_MOVED_FROM|unix.IN_DELETE) == 0 {
					v, rerr = ReadTrackFile(w.paths[name])
				}
				w.mu.Lock()
				old := w.values[name]
				if rerr == nil {
					w.values[name] = v
				}
				w.mu.Unlock()
				ok := true
				if rerr != nil {
					ok = w.post(FileEvent{Name: name, Path: w.paths[name], Value: old, Err: rerr})
				} else if v != old {
					ok = w.post(FileEvent{Name: name, Path: w.paths[name], Value: v})
				}
				if !ok {
					return
				}
			}
		}
	}
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}
