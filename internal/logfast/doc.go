// Package logfast writes a log line through a *slog.Logger without the
// caller's program counter that slog's own methods look up for every line
// (runtime.Callers: a walk of the calling frames through the function
// tables). vigild's handlers never print the source, so the walk is only
// cost, and on a takeover's path it is worse than CPU: the trims after
// start give the function tables' pages back, and the walk faults them in
// one by one between the address addition and the GARP.
//
// It owns no state. It must not change what a line says: the same level,
// message and attributes reach the same handler.
package logfast
