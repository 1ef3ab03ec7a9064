package vip

import (
	"runtime"
	"strings"
	"testing"
)

// TakeoverCode names the takeover's functions here and in the libraries
// that build and send its packets: each address is a function's entry.
func TestTakeoverCode(t *testing.T) {
	var names []string
	for _, pc := range TakeoverCode() {
		f := runtime.FuncForPC(pc)
		if f == nil || f.Entry() != pc {
			t.Fatalf("%#x is not a function's entry", pc)
		}
		names = append(names, f.Name())
	}
	all := strings.Join(names, " ")
	for _, want := range []string{"vip.(*Manager).AddAddresses", "vip.(*addrConn).add", "vip.(*Announcer).sendGARPLocked",
		"vip.(*Announcer).sendNALocked", "arp.NewPacket", "ethernet.(*Frame).MarshalBinary", "ndp.MarshalMessage",
		"packet.(*Conn).WriteTo", "ipv6.(*PacketConn).WriteTo"} {
		if !strings.Contains(all, want) {
			t.Errorf("TakeoverCode lacks %s: %s", want, all)
		}
	}
}
