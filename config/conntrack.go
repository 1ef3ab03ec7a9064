package config

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// Defaults of the conntrack_sync block, conntrackd's. The port is the FTFW
// protocol's, defined once in package ftfw.
const (
	DefaultSyncPort        = ftfw.DefaultPort
	DefaultSyncAckWindow   = 300
	DefaultSyncResendQueue = 131072
	// DefaultHeartbeatInterval is how often the arbiter's heartbeat goes
	// to the peer (vigil's own; conntrackd has no heartbeat).
	DefaultHeartbeatInterval = 250 * time.Millisecond
)

// The heartbeat interval's range.
const (
	minHeartbeatInterval = 50 * time.Millisecond
	maxHeartbeatInterval = 10 * time.Second
)

// ConntrackSync is vigil's conntrack_sync block. After Load its settings
// are the effective ones: the block's keyword where it is given, else the
// setting of the conntrackd.conf named by conntrackd_config, else
// conntrackd's default. Load has checked all of them: a configuration
// without Fatal complaints can be handed to the replicator as it is.
type ConntrackSync struct {
	Pos       Pos
	Interface string // "" only with conntrackd_config: any interface
	LocalAddr netip.Addr
	// PeerAddr is the peer on the first path; optional when Group is set.
	PeerAddr netip.Addr
	// Group (multicast_group, or conntrackd_config's default Multicast
	// channel) makes the first path multicast.
	Group netip.Addr
	Port  int // DefaultSyncPort
	// Paths are the backup sync paths after the first one: the block's
	// path blocks, or else conntrackd_config's other channels.
	Paths         []CTPath
	TrackGroup    string
	AckWindow     int           // DefaultSyncAckWindow
	ResendQueue   int           // DefaultSyncResendQueue
	CommitTimeout time.Duration // 0 = none
	// SocketBuffer is the sync socket's buffer from conntrackd_config's
	// SndSocketBuffer / RcvSocketBuffer (the larger); 0 = the replicator's.
	SocketBuffer int
	// AuthKeyFile is the pre-shared key of the authenticated sync channel
	// ("" = plain FTFW). Only the path is kept; Dump prints the path.
	AuthKeyFile string
	// ConntrackdConfig is the path given to conntrackd_config ("" = none),
	// Conntrackd what Load read from it (nil without it, or when it could
	// not be read).
	ConntrackdConfig string
	Conntrackd       *Conntrackd
	// Filter is the block's filter { } as written; Rules the effective
	// filter (Filter over Conntrackd's, plus the sync link's addresses).
	Filter CTFilter
	Rules  CTRules
	// WarmStandby (warm_standby, or conntrackd_config's
	// DisableExternalCache On) keeps the peer's connections in this
	// node's kernel table while it is not MASTER, written as they arrive,
	// so that a takeover writes only the last changes.
	WarmStandby bool
	// ExpectSync is the effective expectation sync: the block's
	// expectation_sync, else conntrackd_config's ExpectationSync; nil =
	// expectations are not replicated.
	ExpectSync *CTExpect

	// HeartbeatInterval and HeartbeatPort are the arbiter's heartbeat
	// (DefaultHeartbeatInterval; Port + 1). The arbiter runs only with
	// AuthKeyFile (Arbitration).
	HeartbeatInterval time.Duration
	HeartbeatPort     int
	// Witnesses are the addresses each tracked instance's segment must
	// reach, in the order written.
	Witnesses []Witness

	set map[string]Pos // keywords given in the block
}

// CTPath is a backup sync path: a path block of conntrack_sync, or a
// channel of conntrackd_config after its default one. Port 0 is the
// block's port.
type CTPath struct {
	Pos       Pos
	Name      string
	Interface string
	LocalAddr netip.Addr
	PeerAddr  netip.Addr
	Group     netip.Addr
	Port      int

	set     map[string]Pos // keywords given in the block
	channel bool           // read from conntrackd_config
}

// ctEnds points at the settings of a path that the conntrack_sync block
// and its path blocks share.
type ctEnds struct {
	iface              *string
	local, peer, group *netip.Addr
	port               *int
	set                map[string]Pos
}

func (s *ConntrackSync) ends() ctEnds {
	return ctEnds{&s.Interface, &s.LocalAddr, &s.PeerAddr, &s.Group, &s.Port, s.set}
}

func (c *CTPath) ends() ctEnds {
	return ctEnds{&c.Interface, &c.LocalAddr, &c.PeerAddr, &c.Group, &c.Port, c.set}
}

// ctPathKws are the keywords of a path: conntrack_sync's own (the first
// path) and a path block's. ends finds the settings in the block's node.
func ctPathKws(ends func(n any) ctEnds, port string) []*kwDef {
	e := func(f func(p *parser, e ctEnds, l *line)) handler {
		return func(p *parser, n any, l *line) any {
			x := ends(n)
			x.set[l.toks[0].s] = l.pos()
			f(p, x, l)
			return nil
		}
	}
	return []*kwDef{
		kw("interface", P1, "interface IFNAME", "required", "", e(func(p *parser, e ctEnds, l *line) {
			if t, ok := p.arg(l, 1); ok {
				*e.iface = t.s
				if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(t.s) {
					p.fatal(t.pos, "interface", ctFatal, "conntrack_sync interface %s does not exist", t.s)
				}
			}
		})),
		kw("local_address", P1, "local_address ADDR", "required (multicast: optional)", "", e(func(p *parser, e ctEnds, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				*e.local = a
			}
		})),
		kw("peer_address", P1, "peer_address ADDR", "required (multicast: optional, pins the peer)", "", e(func(p *parser, e ctEnds, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				*e.peer = a
			}
		})),
		kw("multicast_group", P2, "multicast_group GROUP", "none (unicast)", "", e(func(p *parser, e ctEnds, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				if !a.IsMulticast() {
					p.fatal(l.toks[1].pos, "multicast_group", ctFatal, "%s is not a multicast group", a)
					return
				}
				*e.group = a
			}
		})),
		kw("port", P1, "port 1..65535", port, "1..65535", e(func(p *parser, e ctEnds, l *line) {
			if n, ok := p.intArg(l, 1, 1, 65535, "using "+port); ok {
				*e.port = n
			} else {
				delete(e.set, "port")
			}
		})),
	}
}

// Witness is one witness line: addresses on an instance's segment that
// this node must reach for the segment to count as healthy.
type Witness struct {
	Pos      Pos
	Instance string
	Addrs    []netip.Addr
}

// Arbitration reports whether the arbiter runs: only with a key, since an
// unauthenticated heartbeat could be forged to keep a node in BACKUP.
func (s *ConntrackSync) Arbitration() bool { return s.AuthKeyFile != "" }

// CTExpect says which conntrack expectations are replicated: those of
// the listed helpers, or of all helpers when Helpers is empty.
type CTExpect struct {
	Pos     Pos
	Helpers []string // lower-case helper names; empty = all
}

// helperNameWant describes a helper name.
const helperNameWant = "1 to 15 letters, digits, '-' or '_'"

// helperName checks a conntrack helper name (at most NF_CT_HELPER_NAME_LEN
// - 1 bytes) and returns it lower-cased: conntrackd compares helper names
// without regard to case.
func helperName(s string) (string, bool) {
	if len(s) == 0 || len(s) > 15 {
		return "", false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// CTPolicy says whether a filter list names what to keep or what to drop,
// as conntrackd's "Protocol Accept { ... }" / "Address Ignore { ... }".
type CTPolicy uint8

const (
	// CTAccept keeps only what the list names.
	CTAccept CTPolicy = iota
	// CTIgnore drops what the list names.
	CTIgnore
)

// String returns "Accept" or "Ignore".
func (p CTPolicy) String() string {
	if p == CTIgnore {
		return "Ignore"
	}
	return "Accept"
}

// CTName is a protocol or TCP state named in a filter, with its number
// (IP protocol number, or the kernel's TCP conntrack state).
type CTName struct {
	Pos  Pos
	Name string // as written, upper-cased
	Num  uint8
}

// CTPrefix is an address or prefix named in a filter (masked).
type CTPrefix struct {
	Pos    Pos
	Prefix netip.Prefix
}

// CTFilter is conntrack_sync's filter block as written: protocol and
// tcp_state keep only what they name, ignore_address drops what it names.
type CTFilter struct {
	Pos         Pos
	Protocols   []CTName
	IgnoreAddrs []CTPrefix
	TCPStates   []CTName
}

// CTRules is the effective filter of the replication, as conntrackd's
// Filter section: an empty list filters nothing.
type CTRules struct {
	ProtocolPolicy CTPolicy
	Protocols      []uint8
	AddressPolicy  CTPolicy
	Addresses      []netip.Prefix // single addresses as /32 or /128
	StatePolicy    CTPolicy
	TCPStates      []uint8 // TCP conntrack states; apply to TCP only
}

// Protocol and TCP state names come from conntracksync's one table, the
// one its log lines use.
var (
	ctProtocolWant = "want " + conntracksync.ProtocolNames()
	ctStateWant    = "want " + conntracksync.TCPStateNames()
)

// ctProtocol looks a protocol name up; numbers 0..255 too when numeric.
func ctProtocol(s string, numeric bool) (uint8, bool) {
	if n, ok := conntracksync.ProtocolByName(s); ok {
		return n, true
	}
	if numeric {
		if n, err := strconv.ParseUint(s, 10, 8); err == nil {
			return uint8(n), true
		}
	}
	return 0, false
}

func ctTCPState(s string) (uint8, bool) { return conntracksync.TCPStateByName(s) }

// ctPrefix reads an address or prefix of a filter; a bare address is a
// /32 or /128.
func ctPrefix(s string) (netip.Prefix, bool) {
	if pf, err := netip.ParsePrefix(s); err == nil {
		return pf.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

const ctFatal = "vigild does not start"

func addConntrackTop(top *block) {
	cs := func(f func(p *parser, s *ConntrackSync, l *line)) handler {
		return func(p *parser, n any, l *line) any {
			s := n.(*ConntrackSync)
			s.set[l.toks[0].s] = l.pos()
			f(p, s, l)
			return nil
		}
	}
	filter := newBlock("filter",
		kw("protocol", P1, "protocol NAME...", "all", "", func(p *parser, n any, l *line) any {
			f := n.(*CTFilter)
			for _, t := range l.toks[1:] {
				v, ok := ctProtocol(t.s, true)
				if !ok {
					p.fatal(t.pos, "protocol", ctFatal, "%q is not a protocol: %s or a number 0..255", t.s, ctProtocolWant)
					continue
				}
				f.Protocols = append(f.Protocols, CTName{Pos: t.pos, Name: strings.ToUpper(t.s), Num: v})
			}
			return nil
		}),
		kw("ignore_address", P1, "ignore_address PREFIX...", "none", "", func(p *parser, n any, l *line) any {
			f := n.(*CTFilter)
			for _, t := range l.toks[1:] {
				pf, ok := ctPrefix(t.s)
				if !ok {
					p.fatal(t.pos, "ignore_address", ctFatal, "%q is not an IP address or prefix", t.s)
					continue
				}
				f.IgnoreAddrs = append(f.IgnoreAddrs, CTPrefix{Pos: t.pos, Prefix: pf})
			}
			return nil
		}),
		kw("tcp_state", P1, "tcp_state STATE...", "all", "", func(p *parser, n any, l *line) any {
			f := n.(*CTFilter)
			for _, t := range l.toks[1:] {
				v, ok := ctTCPState(t.s)
				if !ok {
					p.fatal(t.pos, "tcp_state", ctFatal, "%q is not a TCP state: %s", t.s, ctStateWant)
					continue
				}
				f.TCPStates = append(f.TCPStates, CTName{Pos: t.pos, Name: strings.ToUpper(t.s), Num: v})
			}
			return nil
		}),
	)
	port := strconv.Itoa(DefaultSyncPort)
	ackWindow := strconv.Itoa(DefaultSyncAckWindow)
	resendQueue := strconv.Itoa(DefaultSyncResendQueue)
	top.add(blockKw("conntrack_sync", P1, "conntrack_sync { interface IF; local_address A; peer_address A; port N; track_group NAME; auth_key_file PATH; ... } (vigil)",
		func(p *parser, n any, l *line) any {
			c := n.(*Config)
			if c.ConntrackSync != nil {
				p.warn(l.pos(), "conntrack_sync", "the second block is ignored", "conntrack_sync already defined at %s", c.ConntrackSync.Pos)
				return nil
			}
			c.ConntrackSync = &ConntrackSync{Pos: l.pos(), Port: DefaultSyncPort, AckWindow: DefaultSyncAckWindow,
				ResendQueue: DefaultSyncResendQueue, set: map[string]Pos{}}
			return c.ConntrackSync
		}, newBlock("conntrack_sync", append(ctPathKws(func(n any) ctEnds { return n.(*ConntrackSync).ends() }, port),
			blockKw("path", P2, "path NAME { interface IF; local_address A; peer_address A; multicast_group G; port N }", func(p *parser, n any, l *line) any {
				s := n.(*ConntrackSync)
				t, ok := p.arg(l, 1)
				if !ok {
					return &CTPath{set: map[string]Pos{}} // read, then dropped
				}
				for _, o := range s.Paths {
					if o.Name == t.s {
						p.fatal(t.pos, "path", ctFatal, "path %s already defined at %s", t.s, o.Pos)
					}
				}
				s.Paths = append(s.Paths, CTPath{Pos: l.pos(), Name: t.s, set: map[string]Pos{}})
				s.set["path"] = l.pos()
				return &s.Paths[len(s.Paths)-1]
			}, newBlock("path", ctPathKws(func(n any) ctEnds { return n.(*CTPath).ends() }, "the block's")...)),
			kw("track_group", P1, "track_group NAME", "required", "", cs(func(p *parser, s *ConntrackSync, l *line) {
				if t, ok := p.arg(l, 1); ok {
					s.TrackGroup = t.s
				}
			})),
			kw("ack_window", P2, "ack_window N", ackWindow, "1..", cs(func(p *parser, s *ConntrackSync, l *line) {
				if n, ok := p.intArg(l, 1, 1, math.MaxInt32, "using "+ackWindow); ok {
					s.AckWindow = n
				} else {
					delete(s.set, "ack_window")
				}
			})),
			kw("resend_queue", P2, "resend_queue N", resendQueue, "1..", cs(func(p *parser, s *ConntrackSync, l *line) {
				if n, ok := p.intArg(l, 1, 1, math.MaxInt32, "using "+resendQueue); ok {
					s.ResendQueue = n
				} else {
					delete(s.set, "resend_queue")
				}
			})),
			kw("commit_timeout", P2, "commit_timeout SECS", "0 (none)", "", cs(func(p *parser, s *ConntrackSync, l *line) {
				if d, ok := p.timerArg(l, 1, 0, maxTimer, "ignored"); ok {
					s.CommitTimeout = d
				} else {
					delete(s.set, "commit_timeout")
				}
			})),
			kw("warm_standby", P2, "warm_standby [BOOL]", "off (conntrackd_config's DisableExternalCache)", "", cs(func(p *parser, s *ConntrackSync, l *line) {
				if v, ok := p.boolArg(l); ok {
					s.WarmStandby = v
				} else {
					delete(s.set, "warm_standby")
				}
			})),
			kw("auth_key_file", P1, "auth_key_file PATH", "none (unauthenticated)", "", cs(func(p *parser, s *ConntrackSync, l *line) {
				if t, ok := p.arg(l, 1); ok {
					s.AuthKeyFile = t.s
					if p.opts.KeyFile != nil {
						if err := p.opts.KeyFile(t.s); err != nil {
							p.fatal(t.pos, "auth_key_file", ctFatal, "%v", err)
						}
					}
				}
			})),
			kw("expectation_sync", P2, "expectation_sync all | off | HELPER...", "off (conntrackd_config's ExpectationSync)", "", cs(func(p *parser, s *ConntrackSync, l *line) {
				if len(l.toks) < 2 {
					p.fatal(l.pos(), "expectation_sync", ctFatal, "want all, off or helper names (%s)", helperNameWant)
					delete(s.set, "expectation_sync")
					return
				}
				first := l.toks[1].s
				switch {
				case len(l.toks) == 2 && strings.EqualFold(first, "off"):
					s.ExpectSync = nil
					return
				case len(l.toks) == 2 && strings.EqualFold(first, "all"):
					s.ExpectSync = &CTExpect{Pos: l.pos()}
					return
				}
				x := &CTExpect{Pos: l.pos()}
				for _, t := range l.toks[1:] {
					h, ok := helperName(t.s)
					if !ok || h == "all" || h == "off" {
						p.fatal(t.pos, "expectation_sync", ctFatal, "%q is not a conntrack helper name (%s; all or off alone)", t.s, helperNameWant)
						continue
					}
					if !slices.Contains(x.Helpers, h) {
						x.Helpers = append(x.Helpers, h)
					}
				}
				s.ExpectSync = x
			})),
			kw("conntrackd_config", P2, "conntrackd_config PATH", "none", "", cs(func(p *parser, s *ConntrackSync, l *line) {
				if t, ok := p.arg(l, 1); ok {
					s.ConntrackdConfig = t.s
					s.Conntrackd = p.readConntrackd(t)
				}
			})),
			kw("heartbeat_interval", P2, "heartbeat_interval SECS", "0.25", "0.05..10", cs(func(p *parser, s *ConntrackSync, l *line) {
				if d, ok := p.timerArg(l, 1, minHeartbeatInterval, maxHeartbeatInterval, "using 0.25"); ok {
					s.HeartbeatInterval = d
				} else {
					delete(s.set, "heartbeat_interval")
				}
			})),
			kw("heartbeat_port", P2, "heartbeat_port 1..65535", "port + 1", "1..65535", cs(func(p *parser, s *ConntrackSync, l *line) {
				if n, ok := p.intArg(l, 1, 1, 65535, "using port + 1"); ok {
					s.HeartbeatPort = n
				} else {
					delete(s.set, "heartbeat_port")
				}
			})),
			kw("witness", P2, "witness INSTANCE ADDRESS...", "none", "", cs(func(p *parser, s *ConntrackSync, l *line) {
				if len(l.toks) < 3 {
					p.fatal(l.pos(), "witness", ctFatal, "want witness INSTANCE ADDRESS...")
					return
				}
				w := Witness{Pos: l.pos(), Instance: l.toks[1].s}
				for _, t := range l.toks[2:] {
					a, err := netip.ParseAddr(t.s)
					if err != nil || a.Zone() != "" || !a.IsGlobalUnicast() && !a.IsPrivate() {
						p.fatal(t.pos, "witness", ctFatal, "%q is not a unicast IP address", t.s)
						continue
					}
					w.Addrs = append(w.Addrs, a.Unmap())
				}
				s.Witnesses = append(s.Witnesses, w)
			})),
			blockKw("filter", P2, "filter { protocol ...; ignore_address ...; tcp_state ... }", func(p *parser, n any, l *line) any {
				f := &n.(*ConntrackSync).Filter
				f.Pos = l.pos()
				return f
			}, filter),
		)...)))
}

// resolveConntrack merges conntrackd_config under the block's keywords,
// builds the effective filter and checks everything the replicator needs,
// so that vigild -t reports what would stop vigild at start.
func (p *parser) resolveConntrack() {
	s := p.cfg.ConntrackSync
	if s == nil {
		return
	}
	given := func(kw string) bool { _, ok := s.set[kw]; return ok }
	if f := s.Conntrackd; f != nil {
		if !given("interface") && f.Interface != "" {
			s.Interface = f.Interface
			if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(f.Interface) {
				p.fatal(f.at[atKey("Interface")], "Interface", ctFatal, "conntrack_sync interface %s does not exist", f.Interface)
			}
		}
		if !given("local_address") && f.LocalAddr.IsValid() {
			s.LocalAddr = f.LocalAddr
		}
		if !given("peer_address") && f.PeerAddr.IsValid() {
			s.PeerAddr = f.PeerAddr
		}
		if !given("multicast_group") && f.Group.IsValid() {
			s.Group = f.Group
		}
		if !given("path") {
			// The file's other channels are the backup paths.
			for _, ch := range f.Channels[min(1, len(f.Channels)):] {
				s.Paths = append(s.Paths, CTPath{Pos: ch.Pos, Name: ch.Interface, Interface: ch.Interface,
					LocalAddr: ch.LocalAddr, PeerAddr: ch.PeerAddr, Group: ch.Group, Port: ch.Port, set: map[string]Pos{}, channel: true})
				if ch.Interface != "" && p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(ch.Interface) {
					p.fatal(ch.IfacePos, "Interface", ctFatal, "conntrack_sync interface %s does not exist", ch.Interface)
				}
			}
		}
		if !given("port") && f.Port != 0 {
			s.Port = f.Port
		}
		if !given("ack_window") && f.AckWindow != 0 {
			s.AckWindow = f.AckWindow
		}
		if !given("resend_queue") && f.ResendQueue != 0 {
			s.ResendQueue = f.ResendQueue
		}
		if _, ok := f.At("CommitTimeout"); ok && !given("commit_timeout") {
			s.CommitTimeout = f.CommitTimeout
		}
		s.SocketBuffer = f.SocketBuffer
		if !given("expectation_sync") {
			s.ExpectSync = f.ExpectationSync
		}
		if !given("warm_standby") {
			s.WarmStandby = f.DisableExternalCache
		}
	}
	s.Rules = p.ctRules(s)

	miss := func(kw string) {
		if s.ConntrackdConfig != "" {
			p.fatal(s.Pos, kw, ctFatal, "conntrack_sync needs %s (neither the block nor %s gives it)", kw, s.ConntrackdConfig)
			return
		}
		p.fatal(s.Pos, kw, ctFatal, "conntrack_sync needs %s", kw)
	}
	if s.Interface == "" && s.ConntrackdConfig == "" {
		miss("interface")
	}
	// A conntrackd_config that could not be read has its own complaint.
	readable := s.ConntrackdConfig == "" || s.Conntrackd != nil
	if !s.LocalAddr.IsValid() && readable && !s.Group.IsValid() {
		miss("local_address")
	}
	if !s.PeerAddr.IsValid() && readable && !s.Group.IsValid() {
		miss("peer_address")
	}
	p.checkPath(s.Pos, "", s.Interface, s.LocalAddr, s.PeerAddr, s.Group)
	if s.Group.IsValid() && s.AuthKeyFile != "" && (!s.PeerAddr.IsValid() || !s.LocalAddr.IsValid()) {
		p.fatal(s.setPos("auth_key_file"), "auth_key_file", ctFatal, "with multicast_group, auth_key_file needs local_address and peer_address: the envelope's keys name both nodes")
	}
	names := map[string]bool{s.Interface: true}
	for i := range s.Paths {
		x := &s.Paths[i]
		what, ifkw := "path "+x.Name, "interface"
		if x.channel {
			what, ifkw = "a backup channel", "Interface"
		}
		switch {
		case x.Interface == "":
			p.fatal(x.Pos, ifkw, ctFatal, "%s needs %s", what, ifkw)
		case names[x.Name]:
			p.fatal(x.Pos, "path", ctFatal, "%s: a second path named %s (the first path is named after its interface)", what, x.Name)
		}
		names[x.Name] = true
		if !x.LocalAddr.IsValid() && !x.Group.IsValid() {
			p.fatal(x.Pos, "local_address", ctFatal, "%s needs local_address", what)
		}
		if !x.PeerAddr.IsValid() && !x.Group.IsValid() {
			p.fatal(x.Pos, "peer_address", ctFatal, "%s needs peer_address", what)
		}
		p.checkPath(x.Pos, what, x.Interface, x.LocalAddr, x.PeerAddr, x.Group)
	}
	if s.HeartbeatInterval == 0 {
		s.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if s.HeartbeatPort == 0 {
		s.HeartbeatPort = s.Port%65535 + 1
	} else if s.HeartbeatPort == s.Port {
		p.fatal(s.setPos("heartbeat_port"), "heartbeat_port", ctFatal, "heartbeat_port %d is the FTFW port", s.HeartbeatPort)
	}
	if !s.Arbitration() {
		for _, kw := range []string{"heartbeat_interval", "heartbeat_port", "witness"} {
			if pos, ok := s.set[kw]; ok {
				p.warn(pos, kw, "no arbitration: VRRP alone decides", "the arbiter's heartbeat runs only with auth_key_file (an unauthenticated heartbeat could be forged)")
			}
		}
	}
	if s.TrackGroup == "" {
		miss("track_group")
		return
	}
	isGroup := false
	for _, g := range p.cfg.SyncGroups {
		isGroup = isGroup || g.Name == s.TrackGroup
	}
	found := false
	for _, x := range p.cfg.Instances {
		found = found || (isGroup && x.SyncGroup == s.TrackGroup) || (!isGroup && x.Name == s.TrackGroup)
	}
	if !found {
		// A vrrp_sync_group without instances has been removed above.
		p.fatal(s.setPos("track_group"), "track_group", ctFatal, "track_group %s is neither a vrrp_sync_group nor a vrrp_instance", s.TrackGroup)
	}
	for _, w := range s.Witnesses {
		var in *Instance
		for _, x := range p.cfg.Instances {
			if x.Name == w.Instance && ((isGroup && x.SyncGroup == s.TrackGroup) || (!isGroup && x.Name == s.TrackGroup)) {
				in = x
			}
		}
		if in == nil {
			p.fatal(w.Pos, "witness", ctFatal, "witness: %s is not an instance of track_group %s", w.Instance, s.TrackGroup)
		}
	}
}

// checkPath checks what a path's settings must agree on: one address
// family, and an interface for a multicast group.
// what prefixes the complaints ("" for the block's own path).
func (p *parser) checkPath(pos Pos, what, iface string, local, peer, group netip.Addr) {
	if what != "" {
		what += ": "
	}
	type named struct {
		kw string
		a  netip.Addr
	}
	pairs := [][2]named{{{"local_address", local}, {"peer_address", peer}}, {{"local_address", local}, {"multicast_group", group}}, {{"peer_address", peer}, {"multicast_group", group}}}
	for _, pr := range pairs {
		x, y := pr[0], pr[1]
		if x.a.IsValid() && y.a.IsValid() && x.a.Unmap().Is4() != y.a.Unmap().Is4() {
			p.fatal(pos, y.kw, ctFatal, "%s%s %s and %s %s must be of one family", what, x.kw, x.a, y.kw, y.a)
			return
		}
	}
	if group.IsValid() && iface == "" {
		p.fatal(pos, "multicast_group", ctFatal, "%smulticast_group %s needs interface (the group is joined there)", what, group)
	}
}

// setPos is where kw was given in the block, or the block's position.
func (s *ConntrackSync) setPos(kw string) Pos {
	if pos, ok := s.set[kw]; ok {
		return pos
	}
	return s.Pos
}

// ctRules overlays the block's filter on conntrackd_config's: each list
// the block sets replaces the file's. The sync link's own traffic is the
// firewall's, not a forwarded connection, so its two addresses join an
// Ignore list (conntrackd's sample configurations list them by hand); an
// Accept list names what to keep and is left alone.
func (p *parser) ctRules(s *ConntrackSync) CTRules {
	var r CTRules
	nums := func(ns []CTName) []uint8 {
		out := make([]uint8, 0, len(ns))
		for _, n := range ns {
			out = append(out, n.Num)
		}
		return out
	}
	prefixes := func(ps []CTPrefix) []netip.Prefix {
		out := make([]netip.Prefix, 0, len(ps))
		for _, x := range ps {
			out = append(out, x.Prefix)
		}
		return out
	}
	var accept *CTList
	if f := s.Conntrackd; f != nil {
		if l := f.Protocol; l != nil {
			r.ProtocolPolicy, r.Protocols = l.Policy, nums(l.Names)
		}
		if l := f.Address; l != nil {
			r.AddressPolicy, r.Addresses = l.Policy, prefixes(l.Prefixes)
			if l.Policy == CTAccept && len(l.Prefixes) > 0 {
				accept = l
			}
		}
		if l := f.State; l != nil {
			r.StatePolicy, r.TCPStates = l.Policy, nums(l.Names)
		}
	}
	b := &s.Filter
	if len(b.Protocols) > 0 {
		r.ProtocolPolicy, r.Protocols = CTAccept, nums(b.Protocols)
	}
	if len(b.IgnoreAddrs) > 0 {
		if accept != nil {
			p.fatal(b.IgnoreAddrs[0].Pos, "ignore_address", ctFatal,
				"cannot be combined with the Address Accept list of conntrackd_config at %s", accept.Pos)
		}
		r.AddressPolicy, r.Addresses = CTIgnore, prefixes(b.IgnoreAddrs)
	}
	if len(b.TCPStates) > 0 {
		r.StatePolicy, r.TCPStates = CTAccept, nums(b.TCPStates)
	}
	if len(r.Addresses) == 0 {
		r.AddressPolicy = CTIgnore
	}
	if r.AddressPolicy == CTIgnore {
		addrs := []netip.Addr{s.LocalAddr, s.PeerAddr}
		for _, x := range s.Paths {
			addrs = append(addrs, x.LocalAddr, x.PeerAddr)
		}
		for _, a := range addrs {
			if a.IsValid() {
				pf := netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
				if !slices.Contains(r.Addresses, pf) {
					r.Addresses = append(r.Addresses, pf)
				}
			}
		}
	}
	return r
}

// ReplicatorConfig maps the block, after Load has merged it with its
// conntrackd_config and checked it, onto conntracksync's Config: the first
// path from the block's own settings, then the backup paths.
func (s *ConntrackSync) ReplicatorConfig() conntracksync.Config {
	policy := func(p CTPolicy) conntracksync.Policy {
		if p == CTIgnore {
			return conntracksync.Ignore
		}
		return conntracksync.Accept
	}
	r := s.Rules
	var purge time.Duration
	if s.Conntrackd != nil {
		purge = s.Conntrackd.PurgeTimeout
	}
	var exp conntracksync.ExpectSync
	if s.ExpectSync != nil {
		exp = conntracksync.ExpectSync{On: true, Helpers: slices.Clone(s.ExpectSync.Helpers)}
	}
	c := conntracksync.Config{
		Expectations:  exp,
		Interface:     s.Interface,
		LocalAddr:     s.LocalAddr,
		PeerAddr:      s.PeerAddr,
		Group:         s.Group,
		Port:          uint16(s.Port),
		AckWindow:     s.AckWindow,
		ResendQueue:   s.ResendQueue,
		CommitTimeout: s.CommitTimeout,
		PurgeTimeout:  purge,
		AuthKeyFile:   s.AuthKeyFile,
		SocketBuffer:  s.SocketBuffer,
		WarmStandby:   s.WarmStandby,
		Filter: conntracksync.Filter{
			ProtocolPolicy: policy(r.ProtocolPolicy), Protocols: slices.Clone(r.Protocols),
			AddressPolicy: policy(r.AddressPolicy), Addresses: slices.Clone(r.Addresses),
			StatePolicy: policy(r.StatePolicy), TCPStates: slices.Clone(r.TCPStates),
		},
	}
	if len(s.Paths) > 0 {
		c.Paths = []conntracksync.Path{{Interface: s.Interface, LocalAddr: s.LocalAddr, PeerAddr: s.PeerAddr, Group: s.Group}}
		for _, x := range s.Paths {
			c.Paths = append(c.Paths, conntracksync.Path{Name: x.Name, Interface: x.Interface, LocalAddr: x.LocalAddr,
				PeerAddr: x.PeerAddr, Group: x.Group, Port: uint16(x.Port)})
		}
	}
	return c
}

// dumpConntrack prints the conntrack_sync block. With conntrackd_config
// only the keywords given in the block are printed (the rest comes from
// that file again when the dump is read); without it, every setting.
func (d *dumper) dumpConntrack(s *ConntrackSync) {
	show := func(kw string) bool {
		_, given := s.set[kw]
		return s.ConntrackdConfig == "" || given
	}
	d.open("conntrack_sync")
	if s.Interface != "" && show("interface") {
		d.line("interface", quote(s.Interface))
	}
	if s.LocalAddr.IsValid() && show("local_address") {
		d.line("local_address", s.LocalAddr.String())
	}
	if s.PeerAddr.IsValid() && show("peer_address") {
		d.line("peer_address", s.PeerAddr.String())
	}
	if s.Group.IsValid() && show("multicast_group") {
		d.line("multicast_group", s.Group.String())
	}
	if show("port") {
		d.line("port", itoa(s.Port))
	}
	if s.TrackGroup != "" {
		d.line("track_group", quote(s.TrackGroup))
	}
	if show("ack_window") {
		d.line("ack_window", itoa(s.AckWindow))
	}
	if show("resend_queue") {
		d.line("resend_queue", itoa(s.ResendQueue))
	}
	if show("commit_timeout") {
		d.line("commit_timeout", secs(s.CommitTimeout))
	}
	if _, given := s.set["warm_standby"]; s.WarmStandby && show("warm_standby") {
		d.line("warm_standby")
	} else if given && !s.WarmStandby {
		d.line("warm_standby", "off")
	}
	if s.AuthKeyFile != "" {
		d.line("auth_key_file", quote(s.AuthKeyFile))
	}
	if s.ConntrackdConfig != "" {
		d.line("conntrackd_config", quote(s.ConntrackdConfig))
	}
	if show("path") {
		for _, x := range s.Paths {
			d.open("path", quote(x.Name))
			if x.Interface != "" {
				d.line("interface", quote(x.Interface))
			}
			for _, a := range []struct {
				kw string
				a  netip.Addr
			}{{"local_address", x.LocalAddr}, {"peer_address", x.PeerAddr}, {"multicast_group", x.Group}} {
				if a.a.IsValid() {
					d.line(a.kw, a.a.String())
				}
			}
			if x.Port != 0 {
				d.line("port", itoa(x.Port))
			}
			d.close()
		}
	}
	if _, ok := s.set["heartbeat_interval"]; ok {
		d.line("heartbeat_interval", secs(s.HeartbeatInterval))
	}
	if _, ok := s.set["heartbeat_port"]; ok {
		d.line("heartbeat_port", itoa(s.HeartbeatPort))
	}
	for _, w := range s.Witnesses {
		l := []string{"witness", quote(w.Instance)}
		for _, a := range w.Addrs {
			l = append(l, a.String())
		}
		d.line(l...)
	}
	f := s.Filter
	if len(f.Protocols)+len(f.IgnoreAddrs)+len(f.TCPStates) > 0 {
		d.open("filter")
		names := func(kw string, ns []CTName) {
			if len(ns) > 0 {
				w := []string{kw}
				for _, n := range ns {
					w = append(w, quote(n.Name))
				}
				d.line(w...)
			}
		}
		names("protocol", f.Protocols)
		if len(f.IgnoreAddrs) > 0 {
			w := []string{"ignore_address"}
			for _, x := range f.IgnoreAddrs {
				w = append(w, x.Prefix.String())
			}
			d.line(w...)
		}
		names("tcp_state", f.TCPStates)
		d.close()
	}
	d.close()
}
