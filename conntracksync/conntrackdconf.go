package conntracksync

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// ParseConntrackdConf reads the Sync and Filter settings of a
// conntrackd.conf (conntrack-tools 1.4.x grammar) into a Config:
//
//   - Sync / Mode FTFW: ResendQueueSize, ACKWindowSize, CommitTimeout;
//   - Sync / UDP [Default]: IPv4_address or IPv6_address,
//     IPv4_Destination_Address or IPv6_Destination_Address, Port,
//     Interface;
//   - General / Filter [From Userspace|Kernelspace]: Protocol, Address and
//     State lists with their Accept or Ignore policy.
//
// Settings that do not change replication (socket buffers, Checksum,
// logging, the UNIX socket, ...) are accepted and ignored. What vigil
// cannot do — Mode ALARM or NOTRACK, Multicast or TCP channels, several
// channels — is an error naming file:line, never silently replaced.
func ParseConntrackdConf(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("conntracksync: conntrackd config: %w", err)
	}
	root, err := parseBlocks(path, string(b))
	if err != nil {
		return Config{}, err
	}
	p := confParser{path: path}
	var cfg Config
	for _, n := range root {
		switch strings.ToLower(n.words[0]) {
		case "sync":
			p.sync(n, &cfg)
		case "general":
			for _, g := range n.children {
				if strings.EqualFold(g.words[0], "filter") {
					p.filter(g, &cfg.Filter)
				}
			}
		}
	}
	if len(p.errs) == 0 && (!cfg.LocalAddr.IsValid() || !cfg.PeerAddr.IsValid()) {
		p.errf(&confNode{line: 1, words: []string{"Sync"}}, "no UDP channel with a local and a destination address")
	}
	return cfg, errors.Join(p.errs...)
}

type confNode struct {
	line     int
	words    []string
	block    bool
	children []*confNode
}

// parseBlocks turns the text into statements (words up to the end of the
// line) and blocks ("words { ... }"); # starts a comment.
func parseBlocks(path, text string) ([]*confNode, error) {
	type frame struct{ list *[]*confNode }
	var root []*confNode
	stack := []frame{{&root}}
	var cur *confNode
	flush := func() {
		if cur != nil {
			l := stack[len(stack)-1].list
			*l = append(*l, cur)
			cur = nil
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.NewReplacer("{", " { ", "}", " } ").Replace(line)
		for _, w := range strings.Fields(line) {
			switch w {
			case "{":
				if cur == nil {
					// "{" on its own line opens the previous statement.
					l := stack[len(stack)-1].list
					if len(*l) == 0 || (*l)[len(*l)-1].block {
						return nil, fmt.Errorf("%w: %s:%d: '{' without a keyword", ErrConfig, path, i+1)
					}
					cur = (*l)[len(*l)-1]
					*l = (*l)[:len(*l)-1]
				}
				cur.block = true
				n := cur
				flush()
				stack = append(stack, frame{&n.children})
			case "}":
				flush()
				if len(stack) == 1 {
					return nil, fmt.Errorf("%w: %s:%d: unbalanced '}'", ErrConfig, path, i+1)
				}
				stack = stack[:len(stack)-1]
			default:
				if cur == nil {
					cur = &confNode{line: i + 1}
				}
				cur.words = append(cur.words, w)
			}
		}
		flush()
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("%w: %s: missing '}' at end of file", ErrConfig, path)
	}
	return root, nil
}

type confParser struct {
	path string
	errs []error
}

func (p *confParser) errf(n *confNode, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%w: %s:%d: %s: %s", ErrConfig, p.path, n.line, n.words[0], fmt.Sprintf(format, args...)))
}

func (p *confParser) arg(n *confNode) (string, bool) {
	if len(n.words) != 2 {
		p.errf(n, "want one value, have %d", len(n.words)-1)
		return "", false
	}
	return n.words[1], true
}

func (p *confParser) num(n *confNode, max uint64) (uint64, bool) {
	s, ok := p.arg(n)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		p.errf(n, "%q is not a number in 0..%d", s, max)
		return 0, false
	}
	return v, true
}

func (p *confParser) addr(n *confNode) (netip.Addr, bool) {
	s, ok := p.arg(n)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		p.errf(n, "%q is not an address", s)
		return netip.Addr{}, false
	}
	return a, true
}

func (p *confParser) sync(n *confNode, cfg *Config) {
	channels := 0
	for _, c := range n.children {
		switch strings.ToLower(c.words[0]) {
		case "mode":
			if len(c.words) < 2 || !strings.EqualFold(c.words[1], "ftfw") {
				p.errf(c, "vigil speaks FTFW only, not %q", strings.Join(c.words[1:], " "))
				continue
			}
			for _, o := range c.children {
				switch strings.ToLower(o.words[0]) {
				case "resendqueuesize":
					if v, ok := p.num(o, 1<<24); ok {
						cfg.ResendQueue = int(v)
					}
				case "ackwindowsize":
					if v, ok := p.num(o, 1<<20); ok && v > 0 {
						cfg.AckWindow = int(v)
					} else if ok {
						p.errf(o, "must be at least 1")
					}
				case "committimeout":
					if v, ok := p.num(o, 1<<31); ok {
						cfg.CommitTimeout = time.Duration(v) * time.Second
					}
				case "disableexternalcache":
					if len(o.words) == 2 && strings.EqualFold(o.words[1], "on") {
						p.errf(o, "vigil always keeps an external cache")
					}
				case "purgetimeout", "startupresync", "disableinternalcache":
					// StartupResync: vigil always asks for a resync
					// when a peer session starts.
				default:
					p.errf(o, "unknown FTFW option")
				}
			}
		case "udp":
			channels++
			if channels > 1 {
				p.errf(c, "vigil supports one sync channel")
				continue
			}
			p.udp(c, cfg)
		case "multicast", "tcp":
			p.errf(c, "vigil syncs over UDP unicast only")
		case "options":
			// ExpectationSync, TCPWindowTracking: not replicated by vigil.
			for _, o := range c.children {
				if len(o.words) == 2 && strings.EqualFold(o.words[1], "on") {
					p.errf(o, "not supported by vigil")
				}
			}
		default:
			p.errf(c, "unknown Sync section")
		}
	}
}

func (p *confParser) udp(n *confNode, cfg *Config) {
	for _, o := range n.children {
		switch strings.ToLower(o.words[0]) {
		case "ipv4_address", "ipv6_address":
			if a, ok := p.addr(o); ok {
				cfg.LocalAddr = a
			}
		case "ipv4_destination_address", "ipv6_destination_address":
			if a, ok := p.addr(o); ok {
				cfg.PeerAddr = a
			}
		case "port":
			if v, ok := p.num(o, 65535); ok {
				cfg.Port = uint16(v)
			}
		case "interface":
			if s, ok := p.arg(o); ok {
				cfg.Interface = s
			}
		case "sndsocketbuffer", "rcvsocketbuffer":
			if v, ok := p.num(o, 1<<30); ok {
				cfg.SocketBuffer = max(cfg.SocketBuffer, int(v))
			}
		case "checksum":
		default:
			p.errf(o, "unknown UDP option")
		}
	}
}

var protoByName = map[string]uint8{"tcp": ProtoTCP, "udp": ProtoUDP, "icmp": ProtoICMP, "icmpv6": ProtoICMPv6,
	"ipv6-icmp": ProtoICMPv6, "sctp": ProtoSCTP, "dccp": ProtoDCCP, "udplite": ProtoUDPLite, "gre": 47}

var tcpStateByName = map[string]uint8{"SYN_SENT": TCPSynSent, "SYN_RECV": TCPSynRecv, "ESTABLISHED": TCPEstablished,
	"FIN_WAIT": TCPFinWait, "CLOSE_WAIT": TCPCloseWait, "LAST_ACK": TCPLastAck, "TIME_WAIT": TCPTimeWait,
	"CLOSE": TCPClose, "CLOSED": TCPClose, "LISTEN": TCPSynSent2, "SYN_SENT2": TCPSynSent2}

func (p *confParser) policy(n *confNode) (Policy, bool) {
	if len(n.words) != 2 {
		p.errf(n, "want Accept or Ignore")
		return Accept, false
	}
	switch strings.ToLower(n.words[1]) {
	case "accept":
		return Accept, true
	case "ignore":
		return Ignore, true
	}
	p.errf(n, "want Accept or Ignore, not %q", n.words[1])
	return Accept, false
}

func (p *confParser) filter(n *confNode, f *Filter) {
	for _, c := range n.children {
		switch strings.ToLower(c.words[0]) {
		case "protocol":
			pol, ok := p.policy(c)
			if !ok {
				continue
			}
			f.ProtocolPolicy = pol
			for _, item := range c.children {
				for _, w := range item.words {
					if v, ok := protoByName[strings.ToLower(w)]; ok {
						f.Protocols = append(f.Protocols, v)
					} else {
						p.errf(item, "unknown protocol %q", w)
					}
				}
			}
		case "address":
			pol, ok := p.policy(c)
			if !ok {
				continue
			}
			f.AddressPolicy = pol
			for _, item := range c.children {
				s, ok := p.arg(item)
				if !ok {
					continue
				}
				kw := strings.ToLower(item.words[0])
				if kw != "ipv4_address" && kw != "ipv6_address" {
					p.errf(item, "want IPv4_address or IPv6_address")
					continue
				}
				pfx, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						p.errf(item, "%q is not an address or prefix", s)
						continue
					}
					pfx = netip.PrefixFrom(a, a.BitLen())
				}
				f.Addresses = append(f.Addresses, pfx.Masked())
			}
		case "state":
			pol, ok := p.policy(c)
			if !ok {
				continue
			}
			f.StatePolicy = pol
			for _, item := range c.children {
				words := item.words
				if k := len(words); k >= 2 && strings.EqualFold(words[k-2], "for") {
					if !strings.EqualFold(words[k-1], "tcp") {
						p.errf(item, "states are supported for TCP only")
						continue
					}
					words = words[:k-2]
				}
				for _, w := range words {
					if v, ok := tcpStateByName[strings.ToUpper(strings.TrimSuffix(w, ","))]; ok {
						f.TCPStates = append(f.TCPStates, v)
					} else {
						p.errf(item, "unknown TCP state %q", w)
					}
				}
			}
		default:
			p.errf(c, "unknown Filter section")
		}
	}
}
