package notify

import (
	"strconv"
	"time"
)

// Command is a configured script: its argv (split as keepalived splits
// script strings) and the credentials to run it with.
type Command struct {
	Argv       []string
	Credential bool // run as UID:GID; otherwise as the daemon
	UID, GID   uint32
	// AllowUnsafe runs the script even when the script-security check
	// refuses it right before a run (keepalived without
	// enable_script_security); see check.Command.
	AllowUnsafe bool
}

// Scripts are the notify scripts of one instance or sync group. keepalived
// reports an instance removed by a reload as FAULT unless notify_deleted is
// configured; the caller chooses the Event's State accordingly.
type Scripts struct {
	Master, Backup, Fault, Stop, Deleted *Command
	MasterRxLowerPri                     *Command // instances only
	Generic                              *Command // `notify`: gets TYPE NAME STATE PRIORITY appended
}

// Commands returns the argvs keepalived runs for ev, in its order: the
// state's own script as configured, then the generic script with
// "INSTANCE|GROUP name STATE priority" appended. Priority-change notices
// run nothing; MASTER_RX_LOWER_PRI runs only its own script.
func Commands(s Scripts, ev Event) []*Command {
	var out []*Command
	var own *Command
	generic := true
	switch ev.State {
	case StateMaster:
		own = s.Master
	case StateBackup:
		own = s.Backup
	case StateFault:
		own = s.Fault
	case StateStop:
		own = s.Stop
	case StateDeleted:
		own = s.Deleted
	case StateMasterRxLowerPri:
		own, generic = s.MasterRxLowerPri, false
	default:
		generic = false
	}
	if own != nil && len(own.Argv) > 0 {
		out = append(out, own)
	}
	if generic && s.Generic != nil && len(s.Generic.Argv) > 0 {
		g := *s.Generic
		g.Argv = append(append([]string(nil), s.Generic.Argv...),
			ev.Kind.String(), ev.Name, ev.State, strconv.Itoa(ev.wirePriority()))
		out = append(out, &g)
	}
	return out
}

// DefaultTimeout bounds one notify script run when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second
