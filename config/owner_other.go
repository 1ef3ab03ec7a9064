//go:build !linux

package config

import "io/fs"

// owner is unknown off Linux: permissions are not judged.
func owner(fi fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }
