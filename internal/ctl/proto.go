package ctl

import (
	"fmt"
	"slices"
	"strings"
)

// Command is one request of the control protocol: a single line of text
// sent by the client. The server answers it with one JSON document and
// closes the connection.
type Command string

// The commands vigild answers.
const (
	// CmdStatus asks for the Status document.
	CmdStatus Command = "status"
	// CmdReload reloads the configuration (as SIGHUP does) and answers
	// with a Result.
	CmdReload Command = "reload"
	// CmdForceReload is CmdReload that also applies a configuration
	// without any vrrp_instance.
	CmdForceReload Command = "reload --force"
	// CmdDemote makes a master (an instance, or every member of a sync
	// group) hand over now; it takes a target. Answered with a Result.
	CmdDemote Command = "demote"
	// CmdPromote ends a demotion or maintenance; it takes a target.
	CmdPromote Command = "promote"
	// CmdMaintenanceOn holds instances in BACKUP at the lowest priority
	// until CmdMaintenanceOff, across restarts; its target defaults to all.
	CmdMaintenanceOn Command = "maintenance on"
	// CmdMaintenanceOff ends maintenance; its target defaults to all.
	CmdMaintenanceOff Command = "maintenance off"
	// CmdEvents streams the instances' transitions as JSON lines (Event)
	// until the client hangs up.
	CmdEvents Command = "events"

	// The conntrack replication's commands, conntrackd's -i, -e, -s, -c,
	// -f external, -n and -B. Refused when no conntrack_sync is configured.
	//
	// CmdCTDumpInternal and CmdCTDumpExternal answer with a CTDump of the
	// internal cache (our kernel table, filtered) or of the external one
	// (the peer's, as replicated); CmdCTStats with the CTStatus.
	CmdCTDumpInternal Command = "ct dump internal"
	CmdCTDumpExternal Command = "ct dump external"
	CmdCTStats        Command = "ct stats"
	// CmdCTCommit writes the external cache into the kernel now and
	// answers when it is there; CmdCTFlush empties the external cache;
	// CmdCTResync asks the peer for its whole table; CmdCTBulk sends ours
	// to the peer. Each answers with a Result whose Done says what it did.
	CmdCTCommit Command = "ct commit"
	CmdCTFlush  Command = "ct flush"
	CmdCTResync Command = "ct resync"
	CmdCTBulk   Command = "ct bulk"
)

// ctCommands are the ct commands, for the request parser.
var ctCommands = []Command{CmdCTDumpInternal, CmdCTDumpExternal, CmdCTStats, CmdCTCommit, CmdCTFlush, CmdCTResync, CmdCTBulk}

// IsConntrack reports whether c is one of the ct commands.
func (c Command) IsConntrack() bool { return slices.Contains(ctCommands, c) }

// TargetAll is the target that names every instance.
const TargetAll = "all"

// Request is one parsed request line: a command and, for the commands
// that act on instances, its target (an instance, a sync group, or
// TargetAll).
type Request struct {
	Cmd    Command
	Target string
}

// String is the request line (without its newline).
func (r Request) String() string {
	if r.Target == "" {
		return string(r.Cmd)
	}
	return string(r.Cmd) + " " + r.Target
}

// maxTarget bounds a target name; keepalived's instance and group names
// are far shorter.
const maxTarget = 128

// maxRequest bounds the request line: the longest command is far shorter,
// and a client that sends more is refused before it is read further.
const maxRequest = 256

// maxAnswer is the default of Client.MaxAnswer.
const maxAnswer = 64 << 20

// Result is the answer to every command but status, and to any command
// the server refuses (an unknown command, a client refused for its uid).
// The fields are in this order so that the document is byte for byte the
// one vigild has always written.
type Result struct {
	Error  string `json:"error,omitempty"`
	Result string `json:"result"` // "ok" or "failed"
	// Done says, one line per instance, what a command that acts on
	// instances did (demote, promote, maintenance).
	Done []string `json:"done,omitempty"`
}

// Result values.
const (
	ResultOK     = "ok"
	ResultFailed = "failed"
)

// parseRequest returns the request of a line (without its newline), or
// an error naming what was sent. Words are separated by blanks; a target
// is printable ASCII without blanks, at most maxTarget bytes.
func parseRequest(line string) (Request, error) {
	f := strings.Fields(line)
	bad := func(why string) (Request, error) {
		return Request{}, fmt.Errorf("%s: %q", why, strings.TrimSpace(line))
	}
	// What vigild has always answered to a command it does not know.
	unknown := func() (Request, error) {
		return Request{}, fmt.Errorf("unknown command %s", strings.TrimSpace(line))
	}
	if len(f) == 0 {
		return unknown()
	}
	var r Request
	var args []string
	switch {
	case len(f) >= 2 && f[0] == "reload" && f[1] == "--force":
		r.Cmd, args = CmdForceReload, f[2:]
	case len(f) >= 2 && f[0] == "maintenance" && (f[1] == "on" || f[1] == "off"):
		r.Cmd, args = Command(f[0]+" "+f[1]), f[2:]
	case f[0] == "maintenance":
		return bad("maintenance wants on or off")
	case f[0] == "ct":
		r.Cmd = Command(strings.Join(f, " "))
		switch {
		case r.Cmd == "ct flush internal":
			return bad("the internal cache follows the kernel table and is not flushed (ct flush empties the external cache)")
		case !r.Cmd.IsConntrack():
			return bad("ct wants dump internal, dump external, stats, commit, flush, resync or bulk")
		}
		return r, nil
	default:
		r.Cmd, args = Command(f[0]), f[1:]
	}
	switch r.Cmd {
	case CmdStatus, CmdReload, CmdForceReload, CmdEvents:
		if len(args) > 0 {
			return bad("unexpected argument")
		}
		return r, nil
	case CmdDemote, CmdPromote, CmdMaintenanceOn, CmdMaintenanceOff:
	default:
		return unknown()
	}
	switch len(args) {
	case 0:
		if r.Cmd == CmdDemote || r.Cmd == CmdPromote {
			return bad(string(r.Cmd) + " wants an instance or sync group")
		}
		r.Target = TargetAll
	case 1:
		r.Target = args[0]
	default:
		return bad("more than one target")
	}
	if len(r.Target) > maxTarget {
		return bad("target name too long")
	}
	for _, c := range []byte(r.Target) {
		if c <= ' ' || c >= 0x7f {
			return bad("target name with a control or non-ASCII byte")
		}
	}
	return r, nil
}

// FailedError is a command that vigild answered with a failed Result.
type FailedError struct {
	Command Command
	Reason  string // the Result's error
}

func (e *FailedError) Error() string { return string(e.Command) + " failed: " + e.Reason }
