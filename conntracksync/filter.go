package conntracksync

import (
	"net/netip"
	"slices"
)

// Policy says whether a filter list names what to keep or what to drop,
// as in conntrackd's "Protocol Accept { ... }" / "Address Ignore { ... }".
type Policy uint8

const (
	// Accept keeps only what the list names (an empty list keeps everything).
	Accept Policy = iota
	// Ignore drops what the list names.
	Ignore
)

func (p Policy) String() string {
	if p == Ignore {
		return "Ignore"
	}
	return "Accept"
}

// Filter selects which kernel flows enter the internal cache, like
// conntrackd's Filter section. The zero Filter keeps everything.
//
// Addresses are matched against the original source and the reply source
// (the original destination after DNAT), as conntrackd does. TCPStates
// apply to TCP flows only.
type Filter struct {
	ProtocolPolicy Policy
	Protocols      []uint8 // IP protocol numbers; empty = no protocol filter

	AddressPolicy Policy
	Addresses     []netip.Prefix // single addresses as /32 or /128; empty = no address filter

	StatePolicy Policy
	TCPStates   []uint8 // TCP conntrack states (TCPEstablished, ...); empty = no state filter
}

// DropReason says why a flow was not taken into a cache, or why a datagram
// or update was dropped. Counted in Stats, never returned as an error.
type DropReason uint8

// Reasons a flow or an update is dropped.
const (
	DropNone        DropReason = iota
	DropProtocol               // Filter: protocol
	DropAddress                // Filter: address
	DropState                  // Filter: TCP state
	DropKernelError            // an event the listener could not decode
	DropCommitError            // the kernel refused a commit request
	DropSendError              // the sync socket refused a datagram
	DropMalformed              // a sync datagram or message that does not parse
	NumDropReasons             // the number of reasons, for arrays indexed by DropReason
)

var dropReasonNames = [...]string{"none", "filter_protocol", "filter_address", "filter_tcp_state",
	"kernel_decode", "commit_error", "send_error", "malformed"}

func (r DropReason) String() string {
	if int(r) < len(dropReasonNames) {
		return dropReasonNames[r]
	}
	return "unknown"
}

// Check returns DropNone when the flow passes the filter, or the reason it
// does not. A nil Filter passes everything.
func (f *Filter) Check(fl *Flow) DropReason {
	if f == nil {
		return DropNone
	}
	if len(f.Protocols) > 0 {
		in := slices.Contains(f.Protocols, fl.Orig.Proto)
		if in != (f.ProtocolPolicy == Accept) {
			return DropProtocol
		}
	}
	if len(f.Addresses) > 0 {
		in := f.matchAddr(fl.Orig.Src) || f.matchAddr(fl.replySrc())
		if in != (f.AddressPolicy == Accept) {
			return DropAddress
		}
	}
	if len(f.TCPStates) > 0 && fl.Orig.Proto == ProtoTCP {
		in := slices.Contains(f.TCPStates, fl.TCPState)
		if in != (f.StatePolicy == Accept) {
			return DropState
		}
	}
	return DropNone
}

func (fl *Flow) replySrc() netip.Addr {
	if fl.Reply.Src.IsValid() {
		return fl.Reply.Src
	}
	return fl.Orig.Dst
}

func (f *Filter) matchAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range f.Addresses {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
