package vip

import (
	"fmt"
	"os"
	"strings"
)

// ProcSys is the real Sysctls: files under /proc/sys of the calling
// process's network namespace. Every path is checked first (CheckSysctlPath),
// so a name from a configuration file cannot reach another file.
type ProcSys struct{}

// CheckSysctlPath refuses a path that is not a plain relative path of
// safe elements under /proc/sys/net: each element is a valid interface
// name (ValidIfName's rule, which also covers sysctl names) and the path
// starts with "net/". Errors wrap ErrInvalid.
func CheckSysctlPath(path string) error {
	elems := strings.Split(path, "/")
	if len(elems) < 2 || elems[0] != "net" {
		return fmt.Errorf("%w: sysctl path %q", ErrInvalid, path)
	}
	for _, e := range elems {
		if !ValidIfName(e) && !(len(e) > 15 && validSysctlName(e)) {
			return fmt.Errorf("%w: sysctl path %q", ErrInvalid, path)
		}
	}
	return nil
}

// validSysctlName accepts a sysctl's own name, which may be longer than an
// interface name: lower-case letters, digits and '_'.
func validSysctlName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// ReadSysctl returns the setting's value without the trailing newline.
func (ProcSys) ReadSysctl(path string) (string, error) {
	if err := CheckSysctlPath(path); err != nil {
		return "", err
	}
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// WriteSysctl writes value to an existing setting (it never creates a file).
func (ProcSys) WriteSysctl(path, value string) error {
	if err := CheckSysctlPath(path); err != nil {
		return err
	}
	f, err := os.OpenFile("/proc/sys/"+path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ListSysctl returns the entries of a directory under /proc/sys.
func (ProcSys) ListSysctl(dir string) ([]string, error) {
	if err := CheckSysctlPath(dir); err != nil {
		return nil, err
	}
	es, err := os.ReadDir("/proc/sys/" + dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out, nil
}
