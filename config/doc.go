// Package config reads keepalived.conf into a typed, validated model.
//
// It owns the whole keepalived 2.2 configuration grammar: the reader
// (comments, quotes and escapes, braces glued to words, include and its
// variants with globs and csh braces, @ID / @^ID conditionals, $NAME
// parameters, ~SEQ / ~LST expansion), the declarative keyword table per block
// (published by Keywords), keepalived's defaults, ranges, inheritance and
// fallbacks, script security, and Dump, which prints the effective
// configuration back in keepalived.conf syntax.
//
// A file that is not a keepalived configuration at all (binary data, more
// unknown keyword lines than known ones) and an include loop are Fatal
// complaints, so neither vigild nor a reload runs one; the former wrap
// ErrNotKeepalivedConf.
//
// Every node of the model and every complaint carries the file:line:col of
// the text that produced it, also through includes and expansion.
// Complaints are *Error values with a Severity (Warning, Fatal, Security,
// Notice), sorted and deduplicated; ExitCode maps them to keepalived's -t
// exit codes (0 clean, 5 runs with complaints, 4 cannot run, 6 script
// security), except that a missing file is 4. COMPATIBILITY.md lists the
// deliberate deviations from keepalived 2.2.7, which the differential tests
// assert.
//
// It also owns the configuration of conntrack replication (conntrack.go):
// vigil's conntrack_sync block, its filter with the one table of protocol
// and TCP state names, its defaults (DefaultSyncPort, ...), and the
// conntrackd.conf its conntrackd_config names (conntrackd.go), read, merged
// under the block's keywords and checked at load, with that file's
// positions in its complaints, with its sync paths (the block's path
// blocks, or the file's UDP or Multicast channels). What Load returns is
// what the replicator runs with (ConntrackSync.ReplicatorConfig maps it);
// nothing downstream parses or checks it again.
//
// Layout: reader.go, expand.go and quote.go turn files into logical lines;
// parse.go walks them through the keyword tables (kw_*.go, addr.go,
// conntrack.go); rttables.go resolves routing table names through
// iproute2's rt_tables files; resolve*.go and security.go apply
// keepalived's semantics;
// dump*.go prints the model back; load.go is the entry point.
//
// It must not touch the network or the kernel and does no I/O beyond reading
// configuration files (keepalived.conf, its includes, conntrackd.conf and
// iproute2's rt_tables): interface (existence, MTU), user, script and
// key-file (conntrack_sync
// auth_key_file) checks go through functions injected in Options (script
// security is check.CheckScriptAs; config only decides, as keepalived, what
// a verdict disables and how it is reported). RFC 5798 §5.2 (VRID, priority,
// Max Advertise Interval in centiseconds) and RFC 3768 §5.3.6 (simple
// password authentication, 8 octets) bound the ranges it enforces.
//
// Concurrency: Load, Dump, ExitCode and Keywords are safe for concurrent use;
// a *Config is a value that callers must not mutate while others read it.
package config
