package check

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// fakeFS is a file system of stat results; symlinks map to their target.
type fakeFS struct {
	st    map[string]FileStat
	links map[string]string // full path → resolved path
}

func (f fakeFS) Lstat(p string) (FileStat, error) {
	if s, ok := f.st[p]; ok {
		return s, nil
	}
	return FileStat{}, fs.ErrNotExist
}

func (f fakeFS) Stat(p string) (FileStat, error) {
	if r, ok := f.links[p]; ok {
		p = r
	}
	return f.Lstat(p)
}

// RealPath resolves the longest symlinked prefix of p.
func (f fakeFS) RealPath(p string) (string, error) {
	for pre := p; pre != ""; pre = pre[:strings.LastIndexByte(pre, '/')] {
		if r, ok := f.links[pre]; ok {
			p = r + p[len(pre):]
			break
		}
	}
	if _, ok := f.st[p]; !ok {
		return "", fs.ErrNotExist
	}
	return p, nil
}

func dir(mode fs.FileMode, uid, gid uint32) FileStat {
	return FileStat{Mode: fs.ModeDir | mode, UID: uid, GID: gid}
}
func reg(mode fs.FileMode, uid, gid uint32) FileStat {
	inode++
	return FileStat{Mode: mode, UID: uid, GID: gid, Ino: inode}
}

var inode uint64

func baseFS() fakeFS {
	return fakeFS{st: map[string]FileStat{
		"/":                      dir(0o755, 0, 0),
		"/etc":                   dir(0o755, 0, 0),
		"/etc/keepalived":        dir(0o755, 0, 0),
		"/etc/keepalived/chk":    reg(0o755, 0, 0),
		"/tmp":                   dir(0o777|fs.ModeSticky, 0, 0),
		"/tmp/chk":               reg(0o755, 0, 0),
		"/home":                  dir(0o755, 0, 0),
		"/home/u":                dir(0o755, 1000, 1000),
		"/home/u/chk":            reg(0o755, 1000, 1000),
		"/opt":                   dir(0o775, 0, 50),
		"/opt/chk":               reg(0o755, 0, 0),
		"/srv":                   dir(0o775, 0, 0),
		"/srv/chk":               reg(0o775, 0, 0),
		"/srv/gw":                reg(0o775, 0, 50),
		"/srv/ow":                reg(0o757, 0, 0),
		"/srv/noexec":            reg(0o644, 0, 0),
		"/srv/userexec":          reg(0o700, 0, 0),
		"/srv/suid":              reg(0o755|fs.ModeSetuid, 0, 0),
		"/etc/keepalived/link":   {Mode: fs.ModeSymlink | 0o777},
		"/etc/keepalived/link2":  {Mode: fs.ModeSymlink | 0o777},
		"/etc/keepalived/notdir": reg(0o755, 0, 0),
		"/bin":                   {Mode: fs.ModeSymlink | 0o777},
		"/usr":                   dir(0o755, 0, 0),
		"/usr/bin":               dir(0o755, 0, 0),
		"/usr/bin/true":          reg(0o755, 0, 0),
		"/home/u/link":           {Mode: fs.ModeSymlink | 0o777, UID: 1000},
		"/etc/keepalived/ulink":  {Mode: fs.ModeSymlink | 0o777, UID: 1000},
		"/etc/keepalived/same":   {Mode: fs.ModeSymlink | 0o777},
		"/acl":                   {Mode: fs.ModeDir | 0o775, ACLWrite: true},
		"/acl/chk":               reg(0o755, 0, 0),
		"/etc/keepalived/aclchk": {Mode: 0o755, ACLWrite: true, Ino: 999},
	}, links: map[string]string{
		"/etc/keepalived/link":  "/home/u/chk",
		"/etc/keepalived/link2": "/etc/keepalived/chk",
		"/bin":                  "/usr/bin",
		"/home/u/link":          "/etc/keepalived/chk",
		"/etc/keepalived/ulink": "/etc/keepalived/chk",
	}}
}

// TestCheckScript is keepalived's enable_script_security rule set: the
// path chain of a script run with root powers must be root-owned and not
// writable by a non-root group or others (sticky directories excepted), as
// written after resolving its directories and where a symlink leads.
func TestCheckScript(t *testing.T) {
	tests := []struct {
		script   string
		uid, gid uint32
		wantErr  error
		wantPath string // the component at fault, or the path to run
	}{
		{"/etc/keepalived/chk", 0, 0, nil, "/etc/keepalived/chk"},
		{"/tmp/chk", 0, 0, nil, "/tmp/chk"}, // sticky world-writable directory is fine
		{"/home/u/chk", 0, 0, ErrInsecure, "/home/u"},
		{"/home/u/chk", 1000, 1000, nil, "/home/u/chk"},  // not run with root powers: no chain check
		{"/home/u/chk", 1000, 0, ErrInsecure, "/home/u"}, // group root is root powers
		{"/opt/chk", 0, 0, ErrInsecure, "/opt"},
		{"/srv/chk", 0, 0, nil, "/srv/chk"}, // group root may write
		{"/srv/gw", 0, 0, ErrInsecure, "/srv/gw"},
		{"/srv/ow", 0, 0, ErrInsecure, "/srv/ow"},
		{"/srv/noexec", 0, 0, ErrNotExecutable, "/srv/noexec"},
		{"/srv/userexec", 1000, 1000, ErrNotExecutable, "/srv/userexec"},
		{"/srv/userexec", 0, 0, nil, "/srv/userexec"},
		{"/srv/suid", 1000, 1000, nil, "/srv/suid"}, // setuid root, chain fine
		{"/srv/missing", 0, 0, ErrNotFound, "/srv/missing"},
		{"chk", 0, 0, ErrNotFound, "chk"},
		{"/etc/keepalived/link", 0, 0, ErrInsecure, "/home/u"}, // fine as written, insecure where it leads
		{"/etc/keepalived/link2", 0, 0, nil, "/etc/keepalived/link2"},
		{"/etc/keepalived/notdir/x", 0, 0, ErrNotFound, ""},
		{"/bin/true", 0, 0, nil, "/usr/bin/true"},                             // a symlinked directory is resolved, as keepalived does
		{"/home/u/link", 0, 0, nil, "/etc/keepalived/chk"},                    // the link is not run: its target is, under its own name
		{"/etc/keepalived/ulink", 0, 0, ErrInsecure, "/etc/keepalived/ulink"}, // a symlink owned by a user, kept by name
		{"/acl/chk", 0, 0, ErrInsecure, "/acl"},                               // root:root 0775, but an ACL lets a user write
		{"/etc/keepalived/aclchk", 0, 0, ErrInsecure, "/etc/keepalived/aclchk"},
	}
	for _, tc := range tests {
		path, err := CheckScript(tc.script, tc.uid, tc.gid, baseFS())
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("CheckScript(%s, %d:%d) = %v, want %v", tc.script, tc.uid, tc.gid, err, tc.wantErr)
			continue
		}
		if err == nil {
			if path != tc.wantPath {
				t.Errorf("CheckScript(%s) runs %s, want %s", tc.script, path, tc.wantPath)
			}
			continue
		}
		if path != "" {
			t.Errorf("CheckScript(%s) refused but returned path %q", tc.script, path)
		}
		var se *SecurityError
		if !errors.As(err, &se) {
			t.Errorf("%s: %T is not a *SecurityError", tc.script, err)
			continue
		}
		if tc.wantPath != "" && se.Path != tc.wantPath {
			t.Errorf("%s: error names %s, want %s (%v)", tc.script, se.Path, tc.wantPath, err)
		}
		if se.Script != tc.script || !strings.Contains(err.Error(), tc.script) {
			t.Errorf("%s: error does not name the script: %v", tc.script, err)
		}
		if se.Missing() != errors.Is(err, ErrNotFound) || se.Unsafe() != errors.Is(err, ErrInsecure) ||
			se.NotExecutable() != errors.Is(err, ErrNotExecutable) {
			t.Errorf("%s: classification methods disagree with %v", tc.script, err)
		}
	}
}

func TestCheckPathChainWrongType(t *testing.T) {
	f := baseFS()
	f.st["/etc/keepalived/fifo"] = FileStat{Mode: fs.ModeNamedPipe | 0o644}
	if err := CheckPathChain("/etc/keepalived/fifo", f); !errors.Is(err, ErrWrongFileType) {
		t.Errorf("fifo as script: %v", err)
	}
	f.st["/etc/keepalived/sub"] = FileStat{Mode: fs.ModeSymlink | 0o777}
	f.st["/etc/keepalived/sub/x"] = reg(0o755, 0, 0)
	if err := CheckPathChain("/etc/keepalived/sub/x", f); !errors.Is(err, ErrWrongFileType) {
		t.Errorf("symlinked directory in the path: %v", err)
	}
}

// acl builds a system.posix_acl_access value from (tag, perm, id) triples.
func acl(version uint32, entries ...[3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, version)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

func TestACLGrantsWrite(t *testing.T) {
	const none = 0xffffffff
	owner, group, other := [3]uint32{0x01, 7, none}, [3]uint32{0x04, 5, none}, [3]uint32{0x20, 5, none}
	mask := func(p uint32) [3]uint32 { return [3]uint32{0x10, p, none} }
	cases := []struct {
		name string
		acl  []byte
		want bool
	}{
		{"minimal", acl(2, owner, group, other), false},
		{"user nobody rwx", acl(2, owner, [3]uint32{0x02, 7, 65534}, group, mask(7), other), true},
		{"user nobody rwx masked to r-x", acl(2, owner, [3]uint32{0x02, 7, 65534}, group, mask(5), other), false},
		{"user nobody r-x", acl(2, owner, [3]uint32{0x02, 5, 65534}, group, mask(7), other), false},
		{"named user root rwx", acl(2, owner, [3]uint32{0x02, 7, 0}, group, mask(7), other), false},
		{"group 100 -w-", acl(2, owner, group, [3]uint32{0x08, 2, 100}, mask(7), other), true},
		{"named group root rwx", acl(2, owner, group, [3]uint32{0x08, 7, 0}, mask(7), other), false},
		{"unknown version", acl(3, owner, group, other), true},
		{"truncated", acl(2, owner, group, other)[:10], true},
		{"empty", nil, true},
	}
	for _, c := range cases {
		if got := ACLGrantsWrite(c.acl); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
