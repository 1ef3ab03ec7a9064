package notify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind says whether an Event is about a vrrp_instance or a vrrp_sync_group.
type Kind uint8

// Event kinds. Their String is keepalived's word for them.
const (
	KindInstance Kind = iota + 1
	KindGroup
)

func (k Kind) String() string {
	switch k {
	case KindInstance:
		return "INSTANCE"
	case KindGroup:
		return "GROUP"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// States as keepalived writes them. The last three appear only on FIFOs.
const (
	StateMaster           = "MASTER"
	StateBackup           = "BACKUP"
	StateFault            = "FAULT"
	StateStop             = "STOP"
	StateDeleted          = "DELETED"
	StateMasterRxLowerPri = "MASTER_RX_LOWER_PRI"
	StateMasterPriority   = "MASTER_PRIORITY"
	StateBackupPriority   = "BACKUP_PRIORITY"
)

// Event is one state change (or FIFO-only notice) of an instance or group.
type Event struct {
	Kind     Kind
	Name     string
	State    string // one of the State constants
	Priority int    // the instance's effective priority; 0 for a group (keepalived sends 0)
	Reason   string // why (vrrp/check reason text); not sent to scripts or FIFOs
	Time     time.Time
}

// FIFOLine is the exact line keepalived writes to a notify FIFO for ev,
// newline included. A group's priority is written as 0 whatever ev says.
func FIFOLine(ev Event) string {
	return fmt.Sprintf("%s \"%s\" %s %d\n", ev.Kind, ev.Name, ev.State, ev.wirePriority())
}

// LVSLine is the exact line keepalived's health checkers write to
// notify_fifo and lvs_notify_fifo, newline included: for a virtual server
// (rs "") "VS [192.0.2.1]:tcp:80 UP" when it gains its quorum, DOWN when it
// loses it; for a real server "RS [198.51.100.1]:tcp:80 [192.0.2.1]:tcp:80
// UP" (or DOWN) when it joins or leaves its virtual server.
func LVSLine(rs, vs string, up bool) string {
	state := "DOWN"
	if up {
		state = "UP"
	}
	if rs == "" {
		return "VS " + vs + " " + state + "\n"
	}
	return "RS " + rs + " " + vs + " " + state + "\n"
}

func (ev Event) wirePriority() int {
	if ev.Kind == KindGroup {
		return 0
	}
	return ev.Priority
}

// ErrBadLine is wrapped by ParseFIFOLine's errors.
var ErrBadLine = errors.New("notify: bad FIFO line")

// ParseFIFOLine parses one line (with or without its newline) in
// keepalived's FIFO format, strictly: single spaces, a decimal priority
// written as keepalived writes it. Reason and Time are left zero. Names are
// written by keepalived between double quotes without escaping, so a name
// is everything between the first quote and the last quote.
func ParseFIFOLine(line string) (Event, error) {
	line = strings.TrimSuffix(line, "\n")
	kind, rest, ok := strings.Cut(line, " ")
	if !ok {
		return Event{}, fmt.Errorf("%w: %q", ErrBadLine, line)
	}
	var ev Event
	switch kind {
	case "INSTANCE":
		ev.Kind = KindInstance
	case "GROUP":
		ev.Kind = KindGroup
	default:
		return Event{}, fmt.Errorf("%w: type %q: %q", ErrBadLine, kind, line)
	}
	end := strings.LastIndexByte(rest, '"')
	if !strings.HasPrefix(rest, `"`) || end < 1 {
		return Event{}, fmt.Errorf("%w: unquoted name: %q", ErrBadLine, line)
	}
	ev.Name = rest[1:end]
	if strings.ContainsRune(ev.Name, '\n') {
		return Event{}, fmt.Errorf("%w: newline in name: %q", ErrBadLine, line)
	}
	fields := strings.Split(rest[end+1:], " ")
	if len(fields) != 3 || fields[0] != "" || fields[1] == "" {
		return Event{}, fmt.Errorf("%w: want \" STATE PRIORITY\" after the name: %q", ErrBadLine, line)
	}
	ev.State = fields[1]
	p, err := strconv.Atoi(fields[2])
	if err != nil || strconv.Itoa(p) != fields[2] {
		return Event{}, fmt.Errorf("%w: priority: %q", ErrBadLine, line)
	}
	ev.Priority = p
	return ev, nil
}
