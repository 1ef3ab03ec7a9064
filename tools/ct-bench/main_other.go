//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main refuses to run: the lab needs Linux network namespaces, netlink and
// the Debian reference daemons.
func main() {
	fmt.Fprintln(os.Stderr, "ct-bench: runs on Linux only")
	os.Exit(2)
}
