// Package buildinfo turns the build information the Go linker records in
// every binary (runtime/debug.ReadBuildInfo) into the one-line version that
// vigild --version and vigilctl --version print: the module version, the
// VCS commit and whether the tree had uncommitted changes.
//
// What it owns: the format of that line. It reads nothing but the build
// information handed to it (Format is pure; String reads the running
// binary's), touches no file, socket or clock, and keeps no state.
package buildinfo
