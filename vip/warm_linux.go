package vip

import (
	"log/slog"
	"reflect"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/logfast"
)

// TakeoverCode returns the entry addresses of the functions a takeover
// runs here, in this package and the libraries it calls: the address
// addition's request, the GARP and NA frames and their sockets' writes,
// and the log lines they write. memtrim.Populate maps the code around
// them before a takeover (the daemon's standby), since a backup never ran
// most of it, or the trims after start dropped it.
func TakeoverCode() []uintptr {
	fns := []any{
		(*Manager).AddAddresses, apply[Address], each[Address], (*Manager).addAddr, (*Manager).addAddrAt, (*Manager).added,
		(*addrConn).add, appendNewAddr, ackFor, unix.Sendto, unix.Recvfrom,
		(*Announcer).Announce, (*Announcer).sendGARPLocked, (*Announcer).sendNALocked,
		GARPFrame, arp.NewPacket, (*arp.Packet).MarshalBinary, (*ethernet.Frame).MarshalBinary,
		UnsolicitedNA, ndp.MarshalMessage, (*packet.Conn).WriteTo, (*ipv6.PacketConn).WriteTo,
		logfast.Log, (*slog.TextHandler).Handle,
	}
	pcs := make([]uintptr, len(fns))
	for i, f := range fns {
		pcs[i] = reflect.ValueOf(f).Pointer()
	}
	return pcs
}
