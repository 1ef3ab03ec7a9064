package conntracksync

import (
	"fmt"
	"strings"
)

// ProtoGRE is GRE's IP protocol number, which conntrack tracks too.
const ProtoGRE = 47

// nameEntry is one spelling of a protocol or TCP state, as conntrack-tools
// and keepalived.conf's conntrack_sync filter write it. Spellings are
// matched without regard to case.
type nameEntry struct {
	name  string
	num   uint8
	parse bool // accepted in a configuration
	show  bool // the spelling printed for num
	hint  bool // listed when a configuration names something else
}

// protocolNames is the one table of protocol names of the replication
// (conntrackd.conf's Filter, conntrack_sync's filter, log lines).
var protocolNames = []nameEntry{
	{"TCP", ProtoTCP, true, true, true}, {"UDP", ProtoUDP, true, true, true},
	{"ICMP", ProtoICMP, true, true, true}, {"ICMPv6", ProtoICMPv6, true, true, true},
	{"IPv6-ICMP", ProtoICMPv6, true, false, false}, {"SCTP", ProtoSCTP, true, true, true},
	{"DCCP", ProtoDCCP, true, true, true}, {"UDPlite", ProtoUDPLite, true, true, true},
	{"GRE", ProtoGRE, true, true, true},
}

// tcpStateNames is the one table of TCP state names, with the kernel's
// enum tcp_conntrack values (linux/netfilter/nf_conntrack_tcp.h).
// conntrackd's configuration says LISTEN for the value the kernel now
// calls SYN_SENT2, and CLOSED for CLOSE.
var tcpStateNames = []nameEntry{
	{"NONE", TCPNone, false, true, false},
	{"SYN_SENT", TCPSynSent, true, true, true}, {"SYN_RECV", TCPSynRecv, true, true, true},
	{"ESTABLISHED", TCPEstablished, true, true, true}, {"FIN_WAIT", TCPFinWait, true, true, true},
	{"CLOSE_WAIT", TCPCloseWait, true, true, true}, {"LAST_ACK", TCPLastAck, true, true, true},
	{"TIME_WAIT", TCPTimeWait, true, true, true}, {"CLOSE", TCPClose, true, true, true},
	{"CLOSED", TCPClose, true, false, false}, {"LISTEN", TCPSynSent2, true, false, true},
	{"SYN_SENT2", TCPSynSent2, true, true, false},
}

func lookupName(tab []nameEntry, s string) (uint8, bool) {
	for _, e := range tab {
		if e.parse && strings.EqualFold(e.name, s) {
			return e.num, true
		}
	}
	return 0, false
}

func nameOf(tab []nameEntry, n uint8) (string, bool) {
	for _, e := range tab {
		if e.show && e.num == n {
			return e.name, true
		}
	}
	return "", false
}

// hints lists the table's hinted spellings: "A, B, C", with last before
// the final one when last is not empty ("A, B or C").
func hints(tab []nameEntry, last string) string {
	var names []string
	for _, e := range tab {
		if e.hint {
			names = append(names, e.name)
		}
	}
	if last == "" || len(names) < 2 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + last + " " + names[len(names)-1]
}

// ProtocolByName returns the protocol number of a name (any case).
func ProtocolByName(s string) (uint8, bool) { return lookupName(protocolNames, s) }

// ProtocolNames lists the protocol names a configuration may use, for an
// error message.
func ProtocolNames() string { return hints(protocolNames, "") }

// ProtocolName returns the name of a protocol number, or its number.
func ProtocolName(p uint8) string {
	if s, ok := nameOf(protocolNames, p); ok {
		return s
	}
	return fmt.Sprint(p)
}

// TCPStateByName returns the TCP state of a conntrackd state name (any
// case).
func TCPStateByName(s string) (uint8, bool) { return lookupName(tcpStateNames, s) }

// TCPStateNames lists the TCP state names a configuration may use, for an
// error message.
func TCPStateNames() string { return hints(tcpStateNames, "or") }

// TCPStateName returns the conntrack-tools spelling of a TCP state.
func TCPStateName(s uint8) string {
	if n, ok := nameOf(tcpStateNames, s); ok {
		return n
	}
	return fmt.Sprintf("TCP_STATE_%d", s)
}
