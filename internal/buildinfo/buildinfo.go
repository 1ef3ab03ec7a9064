package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Devel is the version printed when the binary carries no module version:
// built from a work tree (go build, go test) rather than with go install
// module@version, or without build information at all.
const Devel = "devel"

// String returns the version line of the running binary for the command
// called name, for example
//
//	vigild v1.2.0 (commit 5f08648c1e2a, modified)
//	vigilctl devel (commit 5f08648c1e2a)
//	vigild devel
func String(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return Format(name, bi)
}

// Format returns the version line for name from bi; a nil bi (no build
// information) gives "name devel". The commit is shortened to 12 hex
// digits; ", modified" follows it when vcs.modified is true.
func Format(name string, bi *debug.BuildInfo) string {
	version := Devel
	var rev string
	var modified bool
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(' ')
	b.WriteString(version)
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		b.WriteString(" (commit ")
		b.WriteString(rev)
		if modified {
			b.WriteString(", modified")
		}
		b.WriteByte(')')
	}
	return b.String()
}
