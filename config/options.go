package config

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
	// CheckScript judges a script as vigild judges it before every run
	// (check.CheckScriptAs: a bare name found in PATH, symlinks resolved,
	// keepalived's script-security rules for the user and group it runs
	// as, "" user meaning the default script user). It returns the path
	// that would run, or why the script must not run; see scriptFault for
	// what the error may say. nil means scripts are not checked.
	CheckScript func(argv0, user, group string) (string, error)
	// KeyFile checks a pre-shared key file (conntrack_sync auth_key_file):
	// ownership, permissions and content; an error is reported, fatal, at
	// the keyword. nil means key files are not checked.
	KeyFile func(path string) error
	// UserExists reports whether a user name exists (script_user,
	// keepalived_script); nil means users are not checked.
	UserExists func(name string) bool
	// ReadFile reads a configuration file; nil means readFile (regular files
	// only, never blocking, at most 16 MiB).
	ReadFile func(name string) ([]byte, error)
	// Glob expands an include pattern (after csh brace expansion); nil means
	// filepath.Glob.
	Glob func(pattern string) ([]string, error)
	// IPRoute2Etc and IPRoute2Usr are iproute2's configuration folders,
	// where routing table names are looked up (rt_tables, rt_tables.d);
	// "" means /etc/iproute2 and /usr/share/iproute2.
	IPRoute2Etc, IPRoute2Usr string
	// InterfaceMTU returns an interface's MTU; nil, or false, means the
	// interface is not known and keepalived's default of 1500 is used.
	InterfaceMTU func(name string) (int, bool)
	// Random returns a random integer in [min, max] for ${_RANDOM}; nil
	// means math/rand/v2.
	Random func(min, max int) int
}
