package safefile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/safefile"
	"github.com/vigil-ha/vigil/testnet"
)

// secret writes a root-owned file the attacker wants overwritten and
// returns its path.
func secret(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("root's data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func asNobody(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := testnet.AsNobody(t, name, args...); err != nil {
		t.Fatalf("as nobody: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func unchanged(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "root's data\n" {
		t.Errorf("%s changed: %q, %v", path, b, err)
	}
}

// ownRegular checks that path is a regular file of ours with mode perm
// holding want.
func ownRegular(t *testing.T, path string, perm fs.FileMode, want string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != perm || int(st.Uid) != os.Geteuid() || st.Nlink != 1 {
		t.Errorf("%s: mode %v uid %d links %d, want a regular file %v of uid %d", path, fi.Mode(), st.Uid, st.Nlink, perm, os.Geteuid())
	}
	b, _ := os.ReadFile(path)
	if string(b) != want {
		t.Errorf("%s holds %q, want %q", path, b, want)
	}
}

// within runs f and fails the test if it has not returned after a
// generous timeout (it would block forever on a FIFO).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// TestWriteFileSymlinkAttack: nobody plants a symlink to a root file at
// the name root is about to write in a sticky shared directory. The
// symlink is replaced; its target is untouched.
func TestWriteFileSymlinkAttack(t *testing.T) {
	dir, target := testnet.SharedDir(t), secret(t)
	path := filepath.Join(dir, "vigild.data")
	asNobody(t, "ln", "-s", target, path)
	replaced, err := safefile.WriteFile(path, []byte("status\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	unchanged(t, target)
	ownRegular(t, path, 0o600, "status\n")
	if !strings.Contains(replaced, "symlink owned by uid") {
		t.Errorf("replaced = %q, want it to name the symlink", replaced)
	}
}

// TestWriteFileFIFO: a FIFO at the name neither blocks the writer nor
// receives the data.
func TestWriteFileFIFO(t *testing.T) {
	dir := testnet.SharedDir(t)
	path := filepath.Join(dir, "vigild.data")
	asNobody(t, "mkfifo", "-m", "0666", path)
	var replaced string
	var err error
	within(t, "WriteFile onto a FIFO", func() { replaced, err = safefile.WriteFile(path, []byte("status\n"), 0o600) })
	if err != nil {
		t.Fatal(err)
	}
	ownRegular(t, path, 0o600, "status\n")
	if !strings.Contains(replaced, "FIFO") {
		t.Errorf("replaced = %q, want a FIFO", replaced)
	}
}

// TestWriteFileForeignFile: nobody pre-creates the file (and could keep it
// open); the data goes into a new root file, never into nobody's.
func TestWriteFileForeignFile(t *testing.T) {
	dir := testnet.SharedDir(t)
	path := filepath.Join(dir, "vigild.stats")
	asNobody(t, "sh", "-c", "umask 0; echo mine > "+path)
	held, err := os.Open(path) // what nobody would still hold open
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	replaced, err := safefile.WriteFile(path, []byte("counters\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ownRegular(t, path, 0o644, "counters\n")
	b := make([]byte, 64)
	n, _ := held.ReadAt(b, 0)
	if string(b[:n]) != "mine\n" {
		t.Errorf("nobody's file now holds %q", b[:n])
	}
	uid, _ := testnet.Nobody(t)
	if !strings.Contains(replaced, "regular file owned by uid "+strconv.Itoa(int(uid))) {
		t.Errorf("replaced = %q", replaced)
	}
	// A second write replaces our own file and reports nothing.
	if replaced, err := safefile.WriteFile(path, []byte("again\n"), 0o644); err != nil || replaced != "" {
		t.Errorf("rewrite: replaced %q, err %v", replaced, err)
	}
	ownRegular(t, path, 0o644, "again\n")
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1 (no temporary files left)", len(entries))
	}
}

// TestWriteFileDirectory: a directory at the name is an error, left alone.
func TestWriteFileDirectory(t *testing.T) {
	testnet.NeedRoot(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := safefile.WriteFile(filepath.Join(dir, "x"), []byte("a"), 0o600); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("err = %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "x")); err != nil || !fi.IsDir() {
		t.Errorf("directory gone: %v", err)
	}
}

// TestOpenDirRefuses: directories someone else could change are refused,
// with the component named; a FIFO on the way does not block.
func TestOpenDirRefuses(t *testing.T) {
	uid, _ := testnet.Nobody(t)
	base := testnet.SharedDir(t)
	theirs := filepath.Join(base, "theirs")
	asNobody(t, "mkdir", "-m", "0755", theirs)
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(base, "good")
	if err := os.Mkdir(good, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody(t, "ln", "-s", good, filepath.Join(base, "theirlink"))
	if err := os.Symlink(good, filepath.Join(base, "rootlink")); err != nil {
		t.Fatal(err)
	}
	asNobody(t, "mkfifo", filepath.Join(base, "fifo"))
	for _, c := range []struct{ path, want string }{
		{theirs, "directory owned by uid " + strconv.Itoa(int(uid))},
		{filepath.Join(theirs, "sub"), "directory owned by uid " + strconv.Itoa(int(uid))},
		{open, "writable by group or others"},
		{filepath.Join(base, "theirlink"), "a symlink owned by uid " + strconv.Itoa(int(uid))},
		{filepath.Join(base, "fifo"), "not a directory"},
		{"relative/dir", "not an absolute path"},
	} {
		var err error
		within(t, "OpenDir "+c.path, func() {
			var d *safefile.Dir
			if d, err = safefile.OpenDir(c.path, 0o700); err == nil {
				d.Close()
			}
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenDir(%s) = %v, want an error with %q", c.path, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(theirs, "sub")); err == nil {
		t.Error("OpenDir created a directory inside nobody's")
	}
	// Root's own symlink is followed; the sticky shared directory is
	// accepted.
	for _, p := range []string{filepath.Join(base, "rootlink"), base} {
		d, err := safefile.OpenDir(p, 0)
		if err != nil {
			t.Errorf("OpenDir(%s): %v", p, err)
			continue
		}
		d.Close()
	}
}

// TestOpenDirCreate: missing directories are created with exactly the
// mode asked, whatever the umask; an existing one keeps its mode.
func TestOpenDirCreate(t *testing.T) {
	testnet.NeedRoot(t)
	base := t.TempDir()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(base, "a", "b")
	d, err := safefile.OpenDir(p, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	mode, uid, err := d.Mode()
	d.Close()
	if err != nil || mode != 0o755 || int(uid) != os.Geteuid() {
		t.Errorf("created %s: mode %v uid %d err %v", p, mode, uid, err)
	}
	for _, q := range []string{filepath.Join(base, "a"), p} {
		if fi, err := os.Stat(q); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v", q, fi.Mode(), err)
		}
	}
	if err := os.Chmod(p, 0o711); err != nil {
		t.Fatal(err)
	}
	d, err = safefile.OpenDir(p, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	mode, _, _ = d.Mode()
	d.Close()
	if mode != 0o711 {
		t.Errorf("existing directory's mode changed to %v", mode)
	}
	if _, err := safefile.OpenDir(filepath.Join(base, "missing"), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenDir without create of a missing directory: %v", err)
	}
}

// TestPIDFileLock: the lock, not the pid written in the file, decides
// whether another process owns it.
func TestPIDFileLock(t *testing.T) {
	testnet.NeedRoot(t)
	path := filepath.Join(t.TempDir(), "run", "vigild.pid")
	// A stale file naming a live process (pid 1) does not block.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := safefile.CreatePIDFile(path, 4242)
	if err != nil {
		t.Fatalf("stale pid file: %v", err)
	}
	ownRegular(t, path, 0o644, "4242\n")
	if p.Replaced != "" {
		t.Errorf("own stale file reported as replaced: %q", p.Replaced)
	}
	// A second owner is refused (flock is per open file, so this holds
	// within one process too) and the file is left as it is.
	_, err = safefile.CreatePIDFile(path, 4343)
	if !errors.Is(err, safefile.ErrLocked) || !strings.Contains(err.Error(), "pid 4242") || !strings.Contains(err.Error(), path) {
		t.Errorf("second CreatePIDFile: %v, want ErrLocked naming the path and pid 4242", err)
	}
	ownRegular(t, path, 0o644, "4242\n")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pid file left after Close: %v", err)
	}
	// Free again.
	p, err = safefile.CreatePIDFile(path, 4444)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}

// TestPIDFileAttacks: whatever nobody plants at the pid file's name in a
// shared directory is replaced without being followed, opened or blocked
// on.
func TestPIDFileAttacks(t *testing.T) {
	dir := testnet.SharedDir(t)
	target := secret(t)
	for _, c := range []struct {
		name, want string
		plant      []string
	}{
		{"symlink", "a symlink", []string{"ln", "-s", target, "PATH"}},
		{"fifo", "a FIFO", []string{"mkfifo", "-m", "0666", "PATH"}},
		{"file", "a regular file owned by uid", []string{"sh", "-c", "echo 1 > PATH"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".pid")
			args := append([]string(nil), c.plant...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "PATH", path)
			}
			asNobody(t, args[0], args[1:]...)
			var p *safefile.PIDFile
			var err error
			within(t, "CreatePIDFile", func() { p, err = safefile.CreatePIDFile(path, 77) })
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ownRegular(t, path, 0o644, "77\n")
			unchanged(t, target)
			if !strings.Contains(p.Replaced, c.want) {
				t.Errorf("Replaced = %q, want %q", p.Replaced, c.want)
			}
		})
	}
}

// TestPIDFileHardLink: a second link to a root file at the pid path (the
// kernel's protected_hardlinks keeps nobody from making one, root could by
// mistake) is replaced, not written through.
func TestPIDFileHardLink(t *testing.T) {
	testnet.NeedRoot(t)
	target := secret(t)
	path := filepath.Join(filepath.Dir(target), "vigild.pid")
	if err := os.Link(target, path); err != nil {
		t.Fatal(err)
	}
	p, err := safefile.CreatePIDFile(path, 55)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	unchanged(t, target)
	ownRegular(t, path, 0o644, "55\n")
}

// TestPIDFileCloseKeepsReplacement: if the pid file's name no longer
// refers to the locked file at exit (renamed away and a symlink put in its
// place), Close removes nothing and follows nothing.
func TestPIDFileCloseKeepsReplacement(t *testing.T) {
	testnet.NeedRoot(t)
	target := secret(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "vigild.pid")
	p, err := safefile.CreatePIDFile(path, 66)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink at the pid path was removed: %v", err)
	}
	unchanged(t, target)
}

// TestOpenAppendAttacks: vigild -t=FILE appends its report as root,
// often in /tmp. nobody plants a symlink to a root file, a FIFO, or a
// file of their own at the name: none is written (and the FIFO does not
// block); a missing file is created 0600, an existing one of ours is
// appended to.
func TestOpenAppendAttacks(t *testing.T) {
	testnet.Nobody(t)
	dir := testnet.SharedDir(t)
	target := secret(t)
	link, fifo, theirs := filepath.Join(dir, "link"), filepath.Join(dir, "fifo"), filepath.Join(dir, "theirs")
	asNobody(t, "ln", "-s", target, link)
	asNobody(t, "mkfifo", "-m", "0666", fifo)
	asNobody(t, "sh", "-c", "echo mine > "+theirs+" && chmod 666 "+theirs)
	for _, p := range []string{link, fifo, theirs} {
		within(t, "OpenAppend "+p, func() {
			if f, err := safefile.OpenAppend(p); err == nil {
				f.Close()
				t.Errorf("OpenAppend(%s) opened nobody's entry", filepath.Base(p))
			}
		})
	}
	unchanged(t, target)
	if b, _ := os.ReadFile(theirs); string(b) != "mine\n" {
		t.Errorf("nobody's file now holds %q", b)
	}

	ok := filepath.Join(dir, "report")
	for _, line := range []string{"one\n", "two\n"} {
		f, err := safefile.OpenAppend(ok)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(line)
		f.Close()
	}
	ownRegular(t, ok, 0o600, "one\ntwo\n")
}
