package config

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Conntrackd is what conntrack_sync's conntrackd_config reads from a
// conntrackd.conf (conntrack-tools 1.4.7 grammar):
//
//   - Sync / Mode FTFW: ResendQueueSize, ACKWindowSize, CommitTimeout,
//     PurgeTimeout (CommitTimeout and PurgeTimeout also straight under
//     Sync, where conntrackd takes them too);
//   - Sync / UDP [Default]: IPv4_address or IPv6_address,
//     IPv4_Destination_Address or IPv6_Destination_Address, Port,
//     Interface, SndSocketBuffer, RcvSocketBuffer;
//   - Sync / Multicast [Default]: IPv4_address or IPv6_address (the
//     group), Group (the port), IPv4_interface (our address), Interface,
//     SndSocketBuffer, RcvSocketBuffer;
//   - up to four such channels, all UDP or all Multicast as conntrackd
//     demands, the one marked Default (the last so marked) first;
//   - General / Filter [From Userspace|Kernelspace]: Protocol, Address and
//     State lists with their Accept or Ignore policy;
//   - Sync / Options: ExpectationSync on, off, or { helper ... }.
//
// Every other option of conntrackd 1.4.7 either acts as conntrackd's does
// (Checksum on, StartupResync on, DisableExternalCache off, ...), or draws
// a Warning when vigil runs the same without it (logging, the UNIX
// socket, hash and netlink buffer sizes, the scheduler, ...), or a Fatal
// complaint when vigil would behave differently in a way that matters
// (Mode ALARM or NOTRACK, TCP channels, more than four channels or
// mixed kinds, TCP window tracking, user-space helpers); each names
// the conntrackd.conf file:line:col. ctdOptions lists them with the
// reason. A zero value is a setting the file does not give.
type Conntrackd struct {
	File string
	// Interface, LocalAddr, PeerAddr, Group and Port are the default
	// channel's (Channels[0]).
	Interface string
	LocalAddr netip.Addr
	PeerAddr  netip.Addr
	Group     netip.Addr
	Port      int
	// Channels are the UDP or Multicast sections, the default one first,
	// then the others in the file's order.
	Channels      []CTChannel
	AckWindow     int
	ResendQueue   int
	CommitTimeout time.Duration
	// PurgeTimeout is conntrackd's PurgeTimeout, 0 when the file does not
	// give it (then nothing is purged): when this node leaves MASTER, the
	// connections of its table get at most this timeout. A PurgeTimeout
	// of 0 is conntrackd's default, 60 s.
	PurgeTimeout time.Duration
	SocketBuffer int
	// The Filter section's lists; nil when the file has none.
	Protocol, Address, State *CTList
	// DisableExternalCache is Mode FTFW { DisableExternalCache On }:
	// conntrackd then writes the peer's states straight into the kernel;
	// vigil reads it as warm_standby (which keeps the external cache).
	DisableExternalCache bool
	// ExpectationSync is Options { ExpectationSync }: nil when the file
	// does not give it or gives off.
	ExpectationSync *CTExpect

	at map[string]Pos // where each setting was read, by conntrackd's name
}

// CTChannel is one UDP or Multicast section of a conntrackd.conf's Sync:
// a sync path. A Multicast channel has Group and no PeerAddr.
type CTChannel struct {
	Pos       Pos
	Multicast bool
	Default   bool
	Interface string
	// IfacePos is where Interface was set.
	IfacePos  Pos
	LocalAddr netip.Addr
	PeerAddr  netip.Addr
	Group     netip.Addr
	Port      int // 0: not given
}

// ctdMaxChannels is conntrackd's limit of dedicated links.
const ctdMaxChannels = 4

// CTList is one list of conntrackd.conf's Filter section: Names for
// Protocol and State (TCP states), Prefixes for Address.
type CTList struct {
	Pos      Pos
	Policy   CTPolicy
	Names    []CTName
	Prefixes []CTPrefix
}

// At returns where setting (conntrackd's name, e.g. "Port") was read, and
// whether the file gives it.
func (c *Conntrackd) At(setting string) (Pos, bool) {
	pos, ok := c.at[atKey(setting)]
	return pos, ok
}

// atKey is how a setting's name keys Conntrackd.at: conntrackd's names are
// matched without regard to case, so "InterfACe" is where Interface was set.
func atKey(setting string) string { return strings.ToLower(setting) }

// cdWord is a word of a conntrackd.conf with its position.
type cdWord struct {
	s   string
	pos Pos
}

// cdNode is a statement (words up to the end of the line) or a block
// ("words { ... }").
type cdNode struct {
	words    []cdWord
	block    bool
	children []*cdNode
}

func (n *cdNode) name() string { return n.words[0].s }
func (n *cdNode) pos() Pos     { return n.words[0].pos }
func (n *cdNode) is(name string) bool {
	return strings.EqualFold(n.words[0].s, name)
}

// cdParser reads one conntrackd.conf; its complaints go to the parser of
// the keepalived.conf that names it.
type cdParser struct {
	p   *parser
	out *Conntrackd
}

// readConntrackd reads the file named by conntrackd_config's argument t.
// It returns nil (with a Fatal complaint at t) when the file cannot be
// read.
func (p *parser) readConntrackd(t token) *Conntrackd {
	b, err := p.opts.ReadFile(t.s)
	if err != nil {
		p.fatal(t.pos, "conntrackd_config", ctFatal, "%w", err)
		return nil
	}
	c := &cdParser{p: p, out: &Conntrackd{File: t.s, at: map[string]Pos{}}}
	root, ok := c.blocks(string(b))
	if !ok {
		return c.out
	}
	var sync *cdNode
	for _, n := range root {
		switch {
		case n.is("Sync"):
			sync = n
			c.sync(n)
		case n.is("General"):
			c.general(n)
		default:
			c.option(n, "", "unknown section")
		}
	}
	if _, ok := c.out.at["channel"]; !ok {
		pos := Pos{File: t.s, Line: 1, Col: 1}
		kw := ""
		if sync != nil {
			pos, kw = sync.pos(), sync.name()
		}
		c.p.fatal(pos, kw, ctFatal, "no UDP or Multicast channel")
	}
	return c.out
}

// blocks turns the text into statements and blocks; # starts a comment.
func (c *cdParser) blocks(text string) ([]*cdNode, bool) {
	file := c.out.File
	var root []*cdNode
	stack := []*[]*cdNode{&root}
	var opens []Pos
	var cur *cdNode
	flush := func() {
		if cur != nil {
			l := stack[len(stack)-1]
			*l = append(*l, cur)
			cur = nil
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		for col := 0; col < len(line); {
			ch := line[col]
			pos := Pos{File: file, Line: i + 1, Col: col + 1}
			switch {
			case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f':
				col++
			case ch == '{':
				col++
				if cur == nil {
					// "{" on its own line opens the previous statement.
					l := stack[len(stack)-1]
					if len(*l) == 0 || (*l)[len(*l)-1].block {
						c.p.fatal(pos, "{", ctFatal, "'{' without a keyword")
						return nil, false
					}
					cur = (*l)[len(*l)-1]
					*l = (*l)[:len(*l)-1]
				}
				cur.block = true
				n := cur
				flush()
				stack = append(stack, &n.children)
				opens = append(opens, n.pos())
			case ch == '}':
				col++
				flush()
				if len(stack) == 1 {
					c.p.fatal(pos, "}", ctFatal, "unbalanced '}'")
					return nil, false
				}
				stack = stack[:len(stack)-1]
				opens = opens[:len(opens)-1]
			default:
				end := col
				for end < len(line) && !strings.ContainsRune(" \t\r\v\f{}", rune(line[end])) {
					end++
				}
				if cur == nil {
					cur = &cdNode{}
				}
				cur.words = append(cur.words, cdWord{s: line[col:end], pos: pos})
				col = end
			}
		}
		flush()
	}
	if len(opens) > 0 {
		c.p.fatal(opens[len(opens)-1], "", ctFatal, "missing '}' at the end of the block")
		return nil, false
	}
	return root, true
}

func (c *cdParser) errf(at cdWord, kw, format string, args ...any) {
	c.p.fatal(at.pos, kw, ctFatal, format, args...)
}

// arg returns the single value of n.
func (c *cdParser) arg(n *cdNode) (cdWord, bool) {
	if len(n.words) != 2 {
		c.errf(n.words[0], n.name(), "want one value, have %d", len(n.words)-1)
		return cdWord{}, false
	}
	return n.words[1], true
}

func (c *cdParser) num(n *cdNode, lo, hi uint64) (uint64, bool) {
	w, ok := c.arg(n)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(w.s, 10, 64)
	if err != nil || v < lo || v > hi {
		c.errf(w, n.name(), "%q is not a number in %d..%d", w.s, lo, hi)
		return 0, false
	}
	c.out.at[atKey(n.name())] = n.pos()
	return v, true
}

func (c *cdParser) addr(n *cdNode) (netip.Addr, bool) {
	w, ok := c.arg(n)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(w.s)
	if err != nil || a.Zone() != "" {
		c.errf(w, n.name(), "%q is not an IP address", w.s)
		return netip.Addr{}, false
	}
	c.out.at[atKey(n.name())] = n.pos()
	return a.Unmap(), true
}

func (c *cdParser) sync(n *cdNode) {
	out := c.out
	var channels []CTChannel
	def := -1
	for _, s := range n.children {
		switch {
		case s.is("Mode"):
			if len(s.words) < 2 || !strings.EqualFold(s.words[1].s, "FTFW") {
				at := s.words[0]
				if len(s.words) > 1 {
					at = s.words[1]
				}
				c.errf(at, s.name(), "vigil speaks FTFW only, not %q", cdJoin(s.words[1:]))
				continue
			}
			for _, o := range s.children {
				switch {
				case o.is("ResendQueueSize"):
					if v, ok := c.num(o, 1, 1<<24); ok {
						out.ResendQueue = int(v)
					}
				case o.is("ACKWindowSize"):
					if v, ok := c.num(o, 1, 1<<20); ok {
						out.AckWindow = int(v)
					}
				case o.is("CommitTimeout"):
					if v, ok := c.num(o, 0, 1<<31); ok {
						out.CommitTimeout = time.Duration(v) * time.Second
					}
				case o.is("PurgeTimeout"):
					c.purgeTimeout(o)
				case o.is("DisableExternalCache"):
					c.option(o, "Mode FTFW", "")
					if len(o.words) == 2 && isOn(o.words[1].s) {
						out.DisableExternalCache = true
						out.at[atKey("DisableExternalCache")] = o.pos()
						c.p.warn(o.words[1].pos, o.name(), "read as conntrack_sync's warm_standby",
							"the peer's connections are written into this node's kernel as they arrive, as conntrackd does; unlike conntrackd, vigil keeps them in its external cache too (vigilctl ct dump external shows them) and writes none while this node is MASTER")
					}
				default:
					c.option(o, "Mode FTFW", "unknown FTFW option")
				}
			}
		case s.is("UDP"), s.is("Multicast"):
			if len(s.words) > 2 || (len(s.words) == 2 && !strings.EqualFold(s.words[1].s, "Default")) {
				c.errf(s.words[len(s.words)-1], s.name(), "want %s or %s Default, not %q", s.name(), s.name(), cdJoin(s.words))
				continue
			}
			mcast := s.is("Multicast")
			if len(channels) > 0 && channels[0].Multicast != mcast {
				c.errf(s.words[0], s.name(), "conntrackd cannot mix UDP and Multicast channels (the first is at %s)", channels[0].Pos)
				continue
			}
			if len(channels) == ctdMaxChannels {
				c.errf(s.words[0], s.name(), "conntrackd takes at most %d channels", ctdMaxChannels)
				continue
			}
			out.at["channel"] = s.pos()
			ch := CTChannel{Pos: s.pos(), Multicast: mcast, Default: len(s.words) == 2}
			if ch.Default {
				def = len(channels)
			}
			if mcast {
				c.multicast(s, &ch)
			} else {
				c.udp(s, &ch)
			}
			channels = append(channels, ch)
		case s.is("TCP"):
			c.errf(s.words[0], s.name(), "vigil syncs over UDP, unicast or multicast, not TCP")
		case s.is("CommitTimeout"):
			// conntrackd takes the timeouts straight under Sync too.
			if v, ok := c.num(s, 0, 1<<31); ok {
				out.CommitTimeout = time.Duration(v) * time.Second
			}
		case s.is("PurgeTimeout"):
			c.purgeTimeout(s)
		case s.is("Options"):
			for _, o := range s.children {
				if o.is("ExpectationSync") {
					c.expectationSync(o)
				}
				c.option(o, "Options", "unknown Sync option")
			}
		default:
			c.errf(s.words[0], s.name(), "unknown Sync section")
		}
	}
	if len(channels) == 0 {
		return
	}
	// conntrackd starts on the channel marked Default (the last so
	// marked), else the first; vigil lists that one first.
	if def > 0 {
		d := channels[def]
		channels = append([]CTChannel{d}, slices.Delete(channels, def, def+1)...)
	}
	out.Channels = channels
	d := &channels[0]
	out.Interface, out.LocalAddr, out.PeerAddr, out.Group, out.Port = d.Interface, d.LocalAddr, d.PeerAddr, d.Group, d.Port
	if d.Interface != "" {
		out.at[atKey("Interface")] = d.IfacePos
	}
}

// cdJoin joins the words of a statement.
func cdJoin(ws []cdWord) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.s
	}
	return strings.Join(out, " ")
}

// purgeTimeout reads PurgeTimeout; 0 is conntrackd's default, 60 s.
func (c *cdParser) purgeTimeout(n *cdNode) {
	if v, ok := c.num(n, 0, 1<<31); ok {
		if v == 0 {
			v = ctdPurgeDefault
		}
		c.out.PurgeTimeout = time.Duration(v) * time.Second
	}
}

// ctdPurgeDefault is conntrackd's PurgeTimeout when the file says 0.
const ctdPurgeDefault = 60

func (c *cdParser) udp(n *cdNode, ch *CTChannel) {
	for _, o := range n.children {
		switch {
		case o.is("IPv4_address"), o.is("IPv6_address"):
			if a, ok := c.addr(o); ok {
				ch.LocalAddr = a
			}
		case o.is("IPv4_Destination_Address"), o.is("IPv6_Destination_Address"):
			if a, ok := c.addr(o); ok {
				ch.PeerAddr = a
			}
		case o.is("Port"):
			if v, ok := c.num(o, 1, 65535); ok {
				ch.Port = int(v)
			}
		default:
			if !c.channelOption(o, ch) {
				c.option(o, "UDP", "unknown UDP option")
			}
		}
	}
}

// multicast reads a Multicast section: IPv4_address or IPv6_address is
// the group, Group the port, IPv4_interface our address on the link.
func (c *cdParser) multicast(n *cdNode, ch *CTChannel) {
	for _, o := range n.children {
		switch {
		case o.is("IPv4_address"), o.is("IPv6_address"):
			if a, ok := c.addr(o); ok {
				if !a.IsMulticast() {
					c.errf(o.words[1], o.name(), "%s is not a multicast group", a)
					continue
				}
				ch.Group = a
			}
		case o.is("IPv4_interface"):
			if a, ok := c.addr(o); ok {
				ch.LocalAddr = a
			}
		case o.is("Group"):
			if v, ok := c.num(o, 1, 65535); ok {
				ch.Port = int(v)
			}
		default:
			if !c.channelOption(o, ch) {
				c.option(o, "Multicast", "unknown Multicast option")
			}
		}
	}
	if !ch.Group.IsValid() {
		c.errf(n.words[0], n.name(), "no IPv4_address or IPv6_address (the multicast group)")
	}
	if ch.Interface == "" {
		c.errf(n.words[0], n.name(), "no Interface (conntrackd needs it to join the group)")
	}
	if ch.LocalAddr.IsValid() && ch.Group.IsValid() && ch.LocalAddr.Is4() != ch.Group.Is4() {
		c.errf(n.words[0], n.name(), "IPv4_interface %s and the group %s are of different families", ch.LocalAddr, ch.Group)
	}
}

// channelOption reads the options UDP and Multicast share; false when o
// is none of them.
func (c *cdParser) channelOption(o *cdNode, ch *CTChannel) bool {
	switch {
	case o.is("Interface"):
		if w, ok := c.arg(o); ok {
			ch.Interface, ch.IfacePos = w.s, o.pos()
		}
	case o.is("SndSocketBuffer"), o.is("RcvSocketBuffer"):
		if v, ok := c.num(o, 0, 1<<30); ok {
			c.out.SocketBuffer = max(c.out.SocketBuffer, int(v))
		}
	default:
		return false
	}
	return true
}

// policy reads "Accept" or "Ignore" of a Filter list.
func (c *cdParser) policy(n *cdNode) (CTPolicy, bool) {
	if len(n.words) != 2 {
		c.errf(n.words[0], n.name(), "want Accept or Ignore")
		return CTAccept, false
	}
	switch {
	case strings.EqualFold(n.words[1].s, "Accept"):
		return CTAccept, true
	case strings.EqualFold(n.words[1].s, "Ignore"):
		return CTIgnore, true
	}
	c.errf(n.words[1], n.name(), "want Accept or Ignore, not %q", n.words[1].s)
	return CTAccept, false
}

func (c *cdParser) filter(n *cdNode) {
	switch {
	case len(n.words) == 1:
	case len(n.words) == 3 && strings.EqualFold(n.words[1].s, "From") && strings.EqualFold(n.words[2].s, "Userspace"):
	case len(n.words) == 3 && strings.EqualFold(n.words[1].s, "From") && strings.EqualFold(n.words[2].s, "Kernelspace"):
		c.p.warn(n.words[2].pos, n.name(), "filtered in user space",
			"vigil filters the kernel's events in user space, not with a socket filter in the kernel; the same connections are replicated")
	default:
		c.errf(n.words[len(n.words)-1], n.name(), "want Filter From Userspace or Filter From Kernelspace, not %q", cdJoin(n.words))
		return
	}
	for _, s := range n.children {
		pol, ok := CTAccept, false
		if s.is("Protocol") || s.is("Address") || s.is("State") {
			if pol, ok = c.policy(s); !ok {
				continue
			}
		}
		l := &CTList{Pos: s.pos(), Policy: pol}
		switch {
		case s.is("Protocol"):
			c.out.Protocol = l
			for _, item := range s.children {
				for _, w := range item.words {
					if v, ok := ctProtocol(w.s, false); ok {
						l.Names = append(l.Names, CTName{Pos: w.pos, Name: strings.ToUpper(w.s), Num: v})
					} else {
						c.errf(w, item.name(), "%q is not a protocol: %s", w.s, ctProtocolWant)
					}
				}
			}
		case s.is("Address"):
			c.out.Address = l
			for _, item := range s.children {
				w, ok := c.arg(item)
				if !ok {
					continue
				}
				if !item.is("IPv4_address") && !item.is("IPv6_address") {
					c.errf(item.words[0], item.name(), "want IPv4_address or IPv6_address")
					continue
				}
				pf, ok := ctPrefix(w.s)
				if !ok {
					c.errf(w, item.name(), "%q is not an IP address or prefix", w.s)
					continue
				}
				l.Prefixes = append(l.Prefixes, CTPrefix{Pos: w.pos, Prefix: pf})
			}
		case s.is("State"):
			c.out.State = l
			for _, item := range s.children {
				words := item.words
				if k := len(words); k >= 2 && strings.EqualFold(words[k-2].s, "for") {
					if !strings.EqualFold(words[k-1].s, "TCP") {
						c.errf(words[k-1], item.name(), "states are supported for TCP only")
						continue
					}
					words = words[:k-2]
				}
				for _, w := range words {
					name := strings.TrimSuffix(w.s, ",")
					if v, ok := ctTCPState(name); ok {
						l.Names = append(l.Names, CTName{Pos: w.pos, Name: strings.ToUpper(name), Num: v})
					} else {
						c.errf(w, item.name(), "%q is not a TCP state: %s", w.s, ctStateWant)
					}
				}
			}
		default:
			c.errf(s.words[0], s.name(), "unknown Filter section")
		}
	}
}

// general reads the General section: its Filter, and the options of
// ctdOptions.
func (c *cdParser) general(n *cdNode) {
	for _, g := range n.children {
		if g.is("Filter") {
			c.filter(g)
			continue
		}
		c.option(g, "General", "unknown General option")
	}
}

// ctdVerdict is what vigil does with an option of conntrackd.conf.
type ctdVerdict uint8

const (
	// ctdHonoured: vigil acts as conntrackd does; no complaint.
	ctdHonoured ctdVerdict = iota
	// ctdWarned: vigil runs the same without what the option asks for;
	// a Warning.
	ctdWarned
	// ctdRefused: vigil would behave differently in a way that matters;
	// a Fatal complaint.
	ctdRefused
)

// ctdOption is an option of conntrackd 1.4.7 that vigil does not read a
// setting from. Boolean options (on/yes, off/no) have a verdict for each
// value; the others one for any value.
type ctdOption struct {
	section, name string
	boolean       bool
	on, off       ctdVerdict // on is the verdict of a non-boolean option
	why           string     // the complaint's text
}

// ctdChecksumWhy is what vigil says of Checksum off, in either kind of
// channel.
const ctdChecksumWhy = "vigil leaves the UDP checksum on; a peer accepts either"

// ctdOptions are the options of conntrackd 1.4.7 (conntrackd.conf(5) and
// its grammar) that vigil reads and judges without taking a setting from
// them. The settings vigil takes (Port, ACKWindowSize, the Filter lists,
// ...) are read by the parser itself. Section "" is the top level.
var ctdOptions = []ctdOption{
	{section: "", name: "Stats", on: ctdRefused,
		why: "a Stats section makes conntrackd a statistics collector, and conntrackd refuses it beside Sync; vigil replicates"},
	{section: "", name: "Helper", on: ctdRefused,
		why: "vigil runs no user-space conntrack helpers: connections that need them would not be tracked"},

	{section: "Mode FTFW", name: "DisableExternalCache", boolean: true, on: ctdHonoured, off: ctdHonoured,
		why: "read by the parser (Conntrackd.DisableExternalCache: conntrack_sync's warm_standby)"},
	{section: "Mode FTFW", name: "StartupResync", boolean: true, on: ctdHonoured, off: ctdWarned,
		why: "vigil asks the peer for its whole table whenever a peer session starts"},
	{section: "Mode FTFW", name: "DisableInternalCache", on: ctdWarned,
		why: "vigil always keeps an internal cache; the peer gets the same updates and bulks (conntrackd itself takes this option in Mode NOTRACK only)"},

	{section: "UDP", name: "Checksum", boolean: true, on: ctdHonoured, off: ctdWarned, why: ctdChecksumWhy},
	{section: "Multicast", name: "Checksum", boolean: true, on: ctdHonoured, off: ctdWarned, why: ctdChecksumWhy},
	{section: "Multicast", name: "IPv6_interface", on: ctdWarned,
		why: "not needed: the group is joined on Interface (conntrackd ignores it too)"},
	{section: "Multicast", name: "Backlog", on: ctdWarned,
		why: "obsolete; conntrackd ignores it too"},

	{section: "Options", name: "TCPWindowTracking", boolean: true, on: ctdRefused, off: ctdHonoured,
		why: "not supported by vigil: its commits let the kernel track TCP windows liberally"},
	{section: "Options", name: "ExpectationSync", boolean: true, on: ctdHonoured, off: ctdHonoured,
		why: "read by the parser (Conntrackd.ExpectationSync)"},

	{section: "General", name: "HashSize", on: ctdWarned,
		why: "vigil's caches size themselves"},
	{section: "General", name: "HashLimit", on: ctdWarned,
		why: "vigil's caches have no limit of their own: the kernel's nf_conntrack_max bounds the table they copy"},
	{section: "General", name: "LogFile", boolean: true, on: ctdWarned, off: ctdHonoured,
		why: "vigild logs the replication in its own log"},
	{section: "General", name: "Syslog", boolean: true, on: ctdWarned, off: ctdHonoured,
		why: "vigild logs the replication in its own log"},
	{section: "General", name: "LockFile", on: ctdWarned,
		why: "vigild takes no lock file of conntrackd's; do not run conntrackd beside it"},
	{section: "General", name: "UNIX", on: ctdWarned,
		why: "vigild opens no conntrackd control socket: vigilctl ct (dump, stats, commit, flush, resync, bulk) speaks over vigild's"},
	{section: "General", name: "NetlinkBufferSize", on: ctdWarned,
		why: "vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun"},
	{section: "General", name: "NetlinkBufferSizeMaxGrowth", on: ctdWarned,
		why: "vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun"},
	{section: "General", name: "SocketBufferSize", on: ctdWarned,
		why: "vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun"},
	{section: "General", name: "SocketBufferSizeMaxGrowth", on: ctdWarned,
		why: "vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun"},
	{section: "General", name: "NetlinkOverrunResync", on: ctdWarned,
		why: "vigil re-reads the table at once after an event socket overrun"},
	{section: "General", name: "NetlinkEventsReliable", boolean: true, on: ctdWarned, off: ctdHonoured,
		why: "vigil does not ask for reliable events: it re-reads the table after a loss"},
	{section: "General", name: "PollSecs", on: ctdWarned,
		why: "vigil follows the kernel's events, it does not poll: short-lived connections are replicated too"},
	{section: "General", name: "EventIterationLimit", on: ctdWarned,
		why: "vigil batches the kernel's events its own way"},
	{section: "General", name: "Nice", on: ctdWarned,
		why: "deprecated; conntrackd ignores it too"},
	{section: "General", name: "Scheduler", on: ctdWarned,
		why: "vigild runs with the normal scheduler, not conntrackd's real-time one"},
	{section: "General", name: "Systemd", boolean: true, on: ctdWarned, off: ctdHonoured,
		why: "vigild's own service unit decides"},
}

// option judges n, an option of section, by ctdOptions; an option the
// table does not know is Fatal with unknown.
func (c *cdParser) option(n *cdNode, section, unknown string) {
	var o *ctdOption
	for i := range ctdOptions {
		if ctdOptions[i].section == section && n.is(ctdOptions[i].name) {
			o = &ctdOptions[i]
			break
		}
	}
	if o == nil {
		c.errf(n.words[0], n.name(), "%s", unknown)
		return
	}
	verdict, at := o.on, n.words[0]
	if o.boolean {
		switch {
		case n.block && len(n.words) == 1:
			// ExpectationSync { ftp sip }: a list means on.
		case len(n.words) != 2:
			c.errf(n.words[0], n.name(), "want on or off")
			return
		case isOff(n.words[1].s):
			verdict, at = o.off, n.words[1]
		default:
			// LogFile and Syslog take a path or a facility for on.
			at = n.words[1]
			if o.name != "LogFile" && o.name != "Syslog" && !isOn(n.words[1].s) {
				c.errf(n.words[1], n.name(), "want on or off, not %q", n.words[1].s)
				return
			}
		}
	}
	switch verdict {
	case ctdWarned:
		c.p.warn(at.pos, n.name(), "ignored", "%s", o.why)
	case ctdRefused:
		c.errf(at, n.name(), "%s", o.why)
	}
}

// expectationSync reads Options { ExpectationSync on | off | { helper ... } }
// into ExpectationSync (option judges the syntax of on and off). An empty
// list is conntrackd's "on": its helper filter exists only once a name is
// added.
func (c *cdParser) expectationSync(n *cdNode) {
	out := c.out
	switch {
	case n.block && len(n.words) == 1:
		x := &CTExpect{Pos: n.pos()}
		for _, item := range n.children {
			for _, w := range item.words {
				if h, ok := helperName(w.s); ok {
					x.Helpers = append(x.Helpers, h)
				} else {
					c.errf(w, n.name(), "%q is not a conntrack helper name (%s)", w.s, helperNameWant)
				}
			}
		}
		out.ExpectationSync = x
	case len(n.words) == 2 && isOn(n.words[1].s):
		out.ExpectationSync = &CTExpect{Pos: n.pos()}
	case len(n.words) == 2 && isOff(n.words[1].s):
		out.ExpectationSync = nil
	default:
		return
	}
	out.at[atKey("ExpectationSync")] = n.pos()
}

func isOn(s string) bool  { return strings.EqualFold(s, "on") || strings.EqualFold(s, "yes") }
func isOff(s string) bool { return strings.EqualFold(s, "off") || strings.EqualFold(s, "no") }
