package arbiter

import (
	"errors"
	"fmt"

	"github.com/vigil-ha/vigil/vrrp"
)

// The heartbeat's payload, sealed by the sync link's authenticated
// envelope (conntracksync's heartbeat link), integers in network order:
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|      'V'      |      'H'      |      'B'      |  version = 1  |
//	+---------------+---------------+---------------+---------------+
//	|  members (n)  |                 reserved (0)                  |
//	+---------------+---------------+---------------+---------------+
//	|  n members, each:                                             |
//	|  name length (1..255), name, state, priority, flags,          |
//	|  monitored, down                       (6 + name length bytes)|
//	+---------------------------------------------------------------+
//
// state is vrrp.State (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT); flags bit 0 is
// Starved; down is at most monitored.

// Wire constants.
const (
	wireVersion   = 1
	wireHeaderLen = 8
	// MaxMembers is the most members one heartbeat carries.
	MaxMembers  = 255
	flagStarved = 0x01
)

var wireMagic = [3]byte{'V', 'H', 'B'}

// ErrMalformed is wrapped by every error UnmarshalBinary returns.
var ErrMalformed = errors.New("arbiter: malformed heartbeat")

// AppendBinary appends v's heartbeat to b. It fails when v has more than
// MaxMembers members, a name of 0 or more than 255 bytes, or Down above
// Monitored.
func (v View) AppendBinary(b []byte) ([]byte, error) {
	if len(v.Members) > MaxMembers {
		return b, fmt.Errorf("arbiter: %d members, at most %d", len(v.Members), MaxMembers)
	}
	b = append(b, wireMagic[0], wireMagic[1], wireMagic[2], wireVersion, byte(len(v.Members)), 0, 0, 0)
	for _, m := range v.Members {
		if len(m.Name) == 0 || len(m.Name) > 255 {
			return b, fmt.Errorf("arbiter: member name %q: want 1..255 bytes", m.Name)
		}
		if m.Down > m.Monitored {
			return b, fmt.Errorf("arbiter: member %s: %d down of %d monitored", m.Name, m.Down, m.Monitored)
		}
		var flags byte
		if m.Starved {
			flags |= flagStarved
		}
		b = append(b, byte(len(m.Name)))
		b = append(b, m.Name...)
		b = append(b, byte(m.State), m.Priority, flags, m.Monitored, m.Down)
	}
	return b, nil
}

// UnmarshalBinary decodes one heartbeat; it checks syntax only.
func (v *View) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	if len(b) < wireHeaderLen {
		return bad("%d bytes, want at least %d", len(b), wireHeaderLen)
	}
	if b[0] != wireMagic[0] || b[1] != wireMagic[1] || b[2] != wireMagic[2] {
		return bad("bad magic")
	}
	if b[3] != wireVersion {
		return bad("version %d, want %d", b[3], wireVersion)
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return bad("reserved bytes are not zero")
	}
	n := int(b[4])
	rest := b[wireHeaderLen:]
	ms := make([]Member, 0, n)
	for i := range n {
		if len(rest) < 1 {
			return bad("member %d: truncated", i)
		}
		l := int(rest[0])
		if l == 0 {
			return bad("member %d: empty name", i)
		}
		if len(rest) < 1+l+5 {
			return bad("member %d: truncated", i)
		}
		m := Member{Name: string(rest[1 : 1+l])}
		f := rest[1+l:]
		if f[0] > byte(vrrp.StateFault) {
			return bad("member %s: state %d", m.Name, f[0])
		}
		if f[2]&^flagStarved != 0 {
			return bad("member %s: unknown flags %#x", m.Name, f[2])
		}
		if f[4] > f[3] {
			return bad("member %s: %d down of %d monitored", m.Name, f[4], f[3])
		}
		m.State, m.Priority, m.Starved, m.Monitored, m.Down = vrrp.State(f[0]), f[1], f[2]&flagStarved != 0, f[3], f[4]
		ms = append(ms, m)
		rest = rest[1+l+5:]
	}
	if len(rest) != 0 {
		return bad("%d bytes after the last member", len(rest))
	}
	v.Members = ms
	return nil
}
