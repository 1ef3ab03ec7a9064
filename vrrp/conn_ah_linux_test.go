package vrrp_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// TestConnAH: two AH Conns exchange datagrams built by AH.Append over a
// real veth pair; the receiver gets the whole datagram, with the TTL and
// identification as sent, that verifies under the key. An AH Conn's
// WriteTo refuses (it would send an unauthenticated advert), a plain
// Conn's WriteDatagram does not exist, and AH on IPv6 is refused.
func TestConnAH(t *testing.T) {
	p := newPair(t)
	ca := listenIn(t, p.a, false, vrrp.ConnOptions{AH: true})
	cb := listenIn(t, p.b, false, vrrp.ConnOptions{AH: true})
	plain := listenIn(t, p.b, false, vrrp.ConnOptions{})
	if pw, ok := plain.(vrrp.DatagramWriter); ok {
		if err := pw.WriteDatagram([]byte{0x45}, vrrp.GroupIPv4); err == nil {
			t.Error("a protocol-112 Conn sent a whole datagram")
		}
	}
	w, ok := ca.(vrrp.DatagramWriter)
	if !ok {
		t.Fatal("an AH Conn is not a DatagramWriter")
	}
	adv := ahPacket()
	if err := ca.WriteTo(&adv, vrrp.GroupIPv4); err == nil {
		t.Error("AH Conn WriteTo succeeded")
	}
	if err := p.a.Do(func() error { _, err := vrrp.ListenIPv6("eth0", vrrp.ConnOptions{AH: true}); return err }); err == nil {
		t.Error("ListenIPv6 with AH succeeded")
	}

	a := vrrp.NewAH("k3y")
	var st vrrp.AHState
	var sent [][]byte
	for _, dst := range []netip.Addr{vrrp.GroupIPv4, netip.MustParseAddr("192.0.2.2")} {
		seq, id := st.Next()
		d, err := a.Append(nil, &adv, vrrp.AHParams{Src: ca.LocalAddr(), Dst: dst, ID: id, Seq: seq, Unicast: !dst.IsMulticast()})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteDatagram(d, dst); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, d)
	}
	var recv vrrp.AHState
	for i, want := range sent {
		cb.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, vrrp.MaxMessageLen)
		n, m, err := cb.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		got := buf[:n]
		// The kernel may rewrite nothing the ICV covers; the checksum
		// and total length were already right.
		if !bytes.Equal(got, want) {
			t.Errorf("datagram %d\n got %x\nwant %x", i, got, want)
		}
		unicast := !m.Dst.IsMulticast()
		msg, seq, r := a.Open(got, unicast)
		if r != vrrp.DropNone || !recv.Accept(seq) {
			t.Fatalf("datagram %d: %v, seq %d", i, r, seq)
		}
		var q vrrp.Packet
		want := vrrp.CheckConfig{Version: 2, VRID: adv.VRID, AdvertIntSeconds: 1, AuthType: vrrp.AuthAH, Addrs: adv.Addrs}
		if unicast {
			want.Peers = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
		}
		if r := vrrp.Accept(&q, msg, m, want); r != vrrp.DropNone {
			t.Errorf("datagram %d (%v → %v, TTL %d): Accept = %v", i, m.Src, m.Dst, m.TTL, r)
		}
	}
	// The protocol-112 socket saw none of it.
	plain.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, _, err := plain.ReadFrom(make([]byte, vrrp.MaxMessageLen)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("protocol-112 socket read: %v, want a timeout", err)
	}
}

// TestConnAHKeepalived: Debian's keepalived in b runs a VRRPv2 AH
// instance (priority 100). Its live adverts verify through our AH Conn
// and pass Accept. Then we send adverts to it: under a wrong key it logs
// an invalid HMAC and stays MASTER; a genuine priority-50 advert is
// accepted (as a lower-priority one) and the same datagram sent again is
// refused by its sequence check; priority-200 adverts under the right
// key, numbered above what it sent, make it back off.
func TestConnAHKeepalived(t *testing.T) {
	needKeepalived(t)
	p := newPair(t)
	const pass = "ahpass"
	ka := startKeepalived(t, p.b, kaConf{Version: 2, State: "BACKUP", VRID: 61, Priority: 100, AdvertInt: "1",
		AuthPass: pass, AuthType: "AH", VIPs: []string{"192.0.2.100/24"}}.text())
	c := listenIn(t, p.a, false, vrrp.ConnOptions{AH: true})
	w := c.(vrrp.DatagramWriter)
	a := vrrp.NewAH(pass)
	var st vrrp.AHState
	want := vrrp.CheckConfig{Version: 2, VRID: 61, AdvertIntSeconds: 1, AuthType: vrrp.AuthAH, Addrs: addrs("192.0.2.100")}
	for i := range 3 {
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, vrrp.MaxMessageLen)
		n, m, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("advert %d from keepalived: %v\n%s", i, err, ka.Output())
		}
		msg, seq, r := a.Open(buf[:n], false)
		if r != vrrp.DropNone {
			t.Fatalf("advert %d from keepalived: %v", i, r)
		}
		if !st.Accept(seq) {
			t.Fatalf("advert %d: seq %d not above %d", i, seq, st.Seq())
		}
		var q vrrp.Packet
		if r := vrrp.Accept(&q, msg, m, want); r != vrrp.DropNone || q.Priority != 100 {
			t.Fatalf("advert %d: Accept = %v, priority %d", i, r, q.Priority)
		}
	}
	ka.WaitOutput(t, "Entering MASTER STATE", 10*time.Second)

	adv := ahPacket()
	adv.VRID, adv.Priority, adv.Addrs = 61, 200, addrs("192.0.2.100")
	send := func(a *vrrp.AH, st *vrrp.AHState) []byte {
		t.Helper()
		seq, id := st.Next()
		d, err := a.Append(nil, &adv, vrrp.AHParams{Src: c.LocalAddr(), Dst: vrrp.GroupIPv4, ID: id, Seq: seq})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteDatagram(d, vrrp.GroupIPv4); err != nil {
			t.Fatal(err)
		}
		return d
	}
	wrong := st
	send(vrrp.NewAH("ahpasX"), &wrong)
	ka.WaitOutput(t, "invalid IPSEC HMAC-MD5 value", 10*time.Second)
	// A genuine lower-priority advert, numbered above keepalived's
	// adverts, is accepted; the same datagram again is a replay.
	adv.Priority = 50
	st.HeardLower(st.Seq() + 100) // keepalived kept sending meanwhile: get ahead of it
	d := send(a, &st)
	ka.WaitOutput(t, "Received advert from 192.0.2.1 with lower priority 50", 10*time.Second)
	if err := w.WriteDatagram(d, vrrp.GroupIPv4); err != nil {
		t.Fatal(err)
	}
	ka.WaitOutput(t, "already processed", 10*time.Second)
	if strings.Contains(ka.Output(), "higher priority 200") {
		t.Fatalf("keepalived backed off to a forged or replayed advert:\n%s", ka.Output())
	}
	adv.Priority = 200
	st.HeardLower(st.Seq() + 100)
	for range 4 {
		send(a, &st)
		time.Sleep(200 * time.Millisecond)
	}
	ka.WaitOutput(t, "Master received advert from 192.0.2.1 with higher priority 200", 10*time.Second)
}
