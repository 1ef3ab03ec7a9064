package notify

import (
	"errors"
	"log/slog"
)

// ErrFIFOFull is returned by FIFO.WriteLine when the pipe is full: nobody
// reads it, or the reader is behind. The line is lost, as in keepalived.
var ErrFIFOFull = errors.New("notify: FIFO full")

// ErrFIFOClosed is returned by writes after Close.
var ErrFIFOClosed = errors.New("notify: FIFO closed")

// FIFOConfig configures one notify FIFO (notify_fifo or vrrp_notify_fifo).
type FIFOConfig struct {
	Path string
	// Chown gives a FIFO we create to UID:GID (keepalived's
	// "notify_fifo PATH user group").
	Chown    bool
	UID, GID uint32
	// Script, if set, is notify_fifo_script: started once, before the FIFO
	// is opened, with Path appended to its argv; it is sent SIGTERM on
	// Close. The script-security check runs right before the start (see
	// check.Command); a refused script is logged and counted, and the FIFO
	// works without it.
	Script *Command
	Log    *slog.Logger // nil: slog.Default()
}

// FIFOStats are a FIFO's counters.
type FIFOStats struct {
	Lines  uint64 // lines written whole
	Errors uint64 // lines refused (full, short write, closed)
	// ScriptRefused counts starts of the FIFO script that the
	// script-security check refused.
	ScriptRefused uint64
}
