package config

import (
	"io/fs"
)

// Options control Load.
type Options struct {
	// ConfigID is the config id (-i) matched by @ID / @^ID lines and
	// exposed as ${_INSTANCE}; "" means the short host name.
	ConfigID string
	// Strict makes every complaint fatal (vigild --strict).
	Strict bool
	// InterfaceExists reports whether a network interface exists; nil means
	// interfaces are not checked.
	InterfaceExists func(name string) bool
	// Stat returns information about a script file (os.Stat); nil means
	// scripts are not checked for existence or script security.
	Stat func(name string) (fs.FileInfo, error)
	// LookPath resolves a script name without '/' through PATH
	// (exec.LookPath); nil means such scripts are not checked.
	LookPath func(file string) (string, error)
	// KeyFile checks a pre-shared key file (conntrack_sync auth_key_file):
	// ownership, permissions and content; an error is reported, fatal, at
	// the keyword. nil means key files are not checked.
	KeyFile func(path string) error
	// UserExists reports whether a user name exists (script_user,
	// keepalived_script); nil means users are not checked.
	UserExists func(name string) bool
	// ReadFile reads a configuration file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Glob expands an include pattern (after csh brace expansion); nil means
	// filepath.Glob.
	Glob func(pattern string) ([]string, error)
	// Random returns a random integer in [min, max] for ${_RANDOM}; nil
	// means math/rand/v2.
	Random func(min, max int) int
}
