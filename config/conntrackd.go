package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Conntrackd is what conntrack_sync's conntrackd_config reads from a
// conntrackd.conf (conntrack-tools 1.4.x grammar):
//
//   - Sync / Mode FTFW: ResendQueueSize, ACKWindowSize, CommitTimeout;
//   - Sync / UDP [Default]: IPv4_address or IPv6_address,
//     IPv4_Destination_Address or IPv6_Destination_Address, Port,
//     Interface, SndSocketBuffer, RcvSocketBuffer;
//   - General / Filter [From Userspace|Kernelspace]: Protocol, Address and
//     State lists with their Accept or Ignore policy.
//
// Settings that do not change replication (Checksum, logging, the UNIX
// socket, ...) are accepted and ignored. What vigil cannot do (Mode ALARM
// or NOTRACK, Multicast or TCP channels, several channels, expectation
// sync) is a Fatal complaint naming the conntrackd.conf file:line:col,
// never silently replaced. A zero value is a setting the file does not
// give.
type Conntrackd struct {
	File          string
	Interface     string
	LocalAddr     netip.Addr
	PeerAddr      netip.Addr
	Port          int
	AckWindow     int
	ResendQueue   int
	CommitTimeout time.Duration
	SocketBuffer  int
	// The Filter section's lists; nil when the file has none.
	Protocol, Address, State *CTList

	at map[string]Pos // where each setting was read, by conntrackd's name
}

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
			for _, g := range n.children {
				if g.is("Filter") {
					c.filter(g)
				}
			}
		}
	}
	if _, ok := c.out.at["channel"]; !ok {
		pos := Pos{File: t.s, Line: 1, Col: 1}
		kw := ""
		if sync != nil {
			pos, kw = sync.pos(), sync.name()
		}
		c.p.fatal(pos, kw, ctFatal, "no UDP channel")
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
	channels := 0
	for _, s := range n.children {
		switch {
		case s.is("Mode"):
			if len(s.words) < 2 || !strings.EqualFold(s.words[1].s, "FTFW") {
				at := s.words[0]
				if len(s.words) > 1 {
					at = s.words[1]
				}
				var rest []string
				for _, w := range s.words[1:] {
					rest = append(rest, w.s)
				}
				c.errf(at, s.name(), "vigil speaks FTFW only, not %q", strings.Join(rest, " "))
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
						out.at[atKey("CommitTimeout")] = o.pos()
					}
				case o.is("DisableExternalCache"):
					if len(o.words) == 2 && strings.EqualFold(o.words[1].s, "on") {
						c.errf(o.words[1], o.name(), "vigil always keeps an external cache")
					}
				case o.is("PurgeTimeout"), o.is("StartupResync"), o.is("DisableInternalCache"):
					// StartupResync: vigil always asks for a resync when
					// a peer session starts.
				default:
					c.errf(o.words[0], o.name(), "unknown FTFW option")
				}
			}
		case s.is("UDP"):
			channels++
			if channels > 1 {
				c.errf(s.words[0], s.name(), "vigil supports one sync channel")
				continue
			}
			out.at["channel"] = s.pos()
			c.udp(s)
		case s.is("Multicast"), s.is("TCP"):
			c.errf(s.words[0], s.name(), "vigil syncs over UDP unicast only")
		case s.is("Options"):
			// ExpectationSync, TCPWindowTracking: not replicated by vigil.
			for _, o := range s.children {
				if len(o.words) == 2 && strings.EqualFold(o.words[1].s, "on") {
					c.errf(o.words[1], o.name(), "not supported by vigil")
				}
			}
		default:
			c.errf(s.words[0], s.name(), "unknown Sync section")
		}
	}
}

func (c *cdParser) udp(n *cdNode) {
	out := c.out
	for _, o := range n.children {
		switch {
		case o.is("IPv4_address"), o.is("IPv6_address"):
			if a, ok := c.addr(o); ok {
				out.LocalAddr = a
			}
		case o.is("IPv4_Destination_Address"), o.is("IPv6_Destination_Address"):
			if a, ok := c.addr(o); ok {
				out.PeerAddr = a
			}
		case o.is("Port"):
			if v, ok := c.num(o, 1, 65535); ok {
				out.Port = int(v)
			}
		case o.is("Interface"):
			if w, ok := c.arg(o); ok {
				out.Interface = w.s
				out.at[atKey(o.name())] = o.pos()
			}
		case o.is("SndSocketBuffer"), o.is("RcvSocketBuffer"):
			if v, ok := c.num(o, 0, 1<<30); ok {
				out.SocketBuffer = max(out.SocketBuffer, int(v))
			}
		case o.is("Checksum"):
		default:
			c.errf(o.words[0], o.name(), "unknown UDP option")
		}
	}
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
