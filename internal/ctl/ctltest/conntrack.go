package ctltest

import (
	"strings"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// Conntrack answers a ct command as a Handler with conntrack_sync does,
// for the fake Handlers of tests: the dumps with dump (its Cache set from
// the command), ct stats with st, the others with "COMMAND: done".
func Conntrack(req ctl.Request, dump ctl.CTDump, st *ctl.CTStatus) (any, []string) {
	switch req.Cmd {
	case ctl.CmdCTDumpInternal, ctl.CmdCTDumpExternal:
		dump.Cache = strings.TrimPrefix(string(req.Cmd), "ct dump ")
		return dump, nil
	case ctl.CmdCTStats:
		return st, nil
	}
	return nil, []string{string(req.Cmd) + ": done"}
}
