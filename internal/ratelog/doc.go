// Package ratelog decides which occurrences of a repeated event are worth
// a log line, so that a flood (of dropped packets, failing sends, netlink
// events) cannot fill the disk while the counters stay exact.
//
// What it owns: a Limiter, a pure core keyed by (what, subject, reason),
// for example ("dropped adverts", "VI_1", "checksum"). The first occurrence
// of a key is logged in full by the caller; the occurrences that follow
// within Interval are only counted, and when the interval ends Expire
// returns one Summary for the key ("41230 more dropped adverts on VI_1
// (checksum) in the last 10s"). While the flood goes on, each further
// interval yields at most one summary; an interval that passes without an
// occurrence forgets the key, so the next one is logged in full again.
// A key therefore costs at most two lines per interval, whatever the rate.
//
// The number of keys held at once is bounded (MaxKeys): past it, new keys
// share one overflow key per what, so keys built from hostile input (a
// spoofed source address) cannot grow the table.
//
// What it must not do: read the clock, start timers or goroutines, or
// write logs. The caller passes now, asks Deadline when Expire is next
// due, and writes the lines itself; the purity test holds it to that.
//
// Concurrency: a Limiter is not safe for concurrent use; it belongs to the
// goroutine that owns the events (the daemon loop), or sits behind the
// caller's mutex.
package ratelog
