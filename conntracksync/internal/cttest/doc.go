// Package cttest holds the test helpers that the tests of conntracksync and
// of its kernel side (ctnetlink) share: network namespaces for a test, a
// logger into the test's log, and an independent view of the kernel table
// (ti-mo/conntrack's dump, converted to conntracksync.Flow) to check
// commits and dumps against. Tests only; it owns nothing at run time.
package cttest
