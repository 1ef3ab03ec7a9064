package vip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/nsenter"
	"github.com/vigil-ha/vigil/testnet"
)

// wireMsg builds a netlink message from the kernel ABI's own structs
// (x/sys/unix), independently of appendNewAddr.
type wireMsg struct {
	body bytes.Buffer
}

func (w *wireMsg) put(v any) { binary.Write(&w.body, binary.NativeEndian, v) }

func (w *wireMsg) attr(typ uint16, data []byte) {
	w.put(unix.RtAttr{Len: uint16(unix.SizeofRtAttr + len(data)), Type: typ})
	w.body.Write(data)
	for w.body.Len()%4 != 0 {
		w.body.WriteByte(0)
	}
}

func (w *wireMsg) bytes(seq uint32) []byte {
	var out bytes.Buffer
	binary.Write(&out, binary.NativeEndian, unix.NlMsghdr{
		Len:   uint32(unix.SizeofNlMsghdr + w.body.Len()),
		Type:  unix.RTM_NEWADDR,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_CREATE | unix.NLM_F_EXCL,
		Seq:   seq,
	})
	out.Write(w.body.Bytes())
	return out.Bytes()
}

func TestAppendNewAddrIPv4(t *testing.T) {
	a := Address{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Dev: "eth0", Label: "eth0:vip1", Scope: "host",
		Broadcast: netip.MustParsePrefix("192.0.2.255/32").Addr()}
	n, err := toNetlinkAddr(a, 7)
	if err != nil {
		t.Fatal(err)
	}
	var w wireMsg
	w.put(unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: 32, Scope: unix.RT_SCOPE_HOST, Index: 7})
	w.attr(unix.IFA_LOCAL, []byte{192, 0, 2, 10})
	w.attr(unix.IFA_ADDRESS, []byte{192, 0, 2, 10})
	w.attr(unix.IFA_BROADCAST, []byte{192, 0, 2, 255})
	w.attr(unix.IFA_LABEL, []byte("eth0:vip1\x00"))
	if got, want := appendNewAddr([]byte{0xaa}, 3, n), append([]byte{0xaa}, w.bytes(3)...); !bytes.Equal(got, want) {
		t.Errorf("appendNewAddr:\n got %x\nwant %x", got, want)
	}

	// A peer: its prefix length and address; no broadcast at all.
	a = Address{Prefix: netip.MustParsePrefix("203.0.113.1/32"), Dev: "eth0", Peer: netip.MustParsePrefix("203.0.113.2/30")}
	if n, err = toNetlinkAddr(a, 9); err != nil {
		t.Fatal(err)
	}
	w = wireMsg{}
	w.put(unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: 30, Index: 9})
	w.attr(unix.IFA_LOCAL, []byte{203, 0, 113, 1})
	w.attr(unix.IFA_ADDRESS, []byte{203, 0, 113, 2})
	if got, want := appendNewAddr(nil, 4, n), w.bytes(4); !bytes.Equal(got, want) {
		t.Errorf("appendNewAddr with peer:\n got %x\nwant %x", got, want)
	}
}

func TestAppendNewAddrIPv6(t *testing.T) {
	zero := 0
	a := Address{Prefix: netip.MustParsePrefix("2001:db8::10/64"), Dev: "eth0", NoPrefixRoute: true, PreferredLft: &zero}
	n, err := toNetlinkAddr(a, 2)
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP("2001:db8::10").To16()
	var w wireMsg
	// NODAD|NOPREFIXROUTE does not fit ifaddrmsg's byte: IFA_FLAGS only.
	w.put(unix.IfAddrmsg{Family: unix.AF_INET6, Prefixlen: 64, Index: 2})
	w.attr(unix.IFA_LOCAL, ip)
	w.attr(unix.IFA_ADDRESS, ip)
	w.attr(unix.IFA_FLAGS, binary.NativeEndian.AppendUint32(nil, unix.IFA_F_NODAD|unix.IFA_F_NOPREFIXROUTE))
	var ci bytes.Buffer
	binary.Write(&ci, binary.NativeEndian, unix.IfaCacheinfo{Prefered: 0, Valid: math.MaxUint32})
	w.attr(unix.IFA_CACHEINFO, ci.Bytes())
	if got, want := appendNewAddr(nil, 1, n), w.bytes(1); !bytes.Equal(got, want) {
		t.Errorf("appendNewAddr:\n got %x\nwant %x", got, want)
	}

	// NODAD alone fits the header's byte.
	n = &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(128, 128)}, Flags: unix.IFA_F_NODAD, LinkIndex: 2}
	w = wireMsg{}
	w.put(unix.IfAddrmsg{Family: unix.AF_INET6, Prefixlen: 128, Flags: unix.IFA_F_NODAD, Index: 2})
	w.attr(unix.IFA_LOCAL, ip)
	w.attr(unix.IFA_ADDRESS, ip)
	if got, want := appendNewAddr(nil, 2, n), w.bytes(2); !bytes.Equal(got, want) {
		t.Errorf("appendNewAddr NODAD:\n got %x\nwant %x", got, want)
	}
}

// ack builds an NLMSG_ERROR acknowledgement of request seq.
func ack(seq uint32, errno int32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.NativeEndian, unix.NlMsghdr{Len: unix.SizeofNlMsghdr + 4 + unix.SizeofNlMsghdr, Type: unix.NLMSG_ERROR, Seq: seq})
	binary.Write(&b, binary.NativeEndian, errno)
	binary.Write(&b, binary.NativeEndian, unix.NlMsghdr{Type: unix.RTM_NEWADDR, Seq: seq})
	return b.Bytes()
}

func TestAckFor(t *testing.T) {
	for _, c := range []struct {
		name  string
		b     []byte
		errno unix.Errno
		ok    bool
	}{
		{"success", ack(5, 0), 0, true},
		{"refused", ack(5, -int32(unix.EEXIST)), unix.EEXIST, true},
		{"another request's", ack(4, 0), 0, false},
		{"after another's, in one datagram", append(ack(4, -int32(unix.ENODEV)), ack(5, 0)...), 0, true},
		{"truncated", ack(5, 0)[:18], 0, false},
		{"length beyond the datagram", ack(5, 0)[:30], 0, false},
		{"zero length", make([]byte, 40), 0, false},
		{"empty", nil, 0, false},
	} {
		errno, ok := ackFor(c.b, 5)
		if errno != c.errno || ok != c.ok {
			t.Errorf("%s: ackFor = %v, %v; want %v, %v", c.name, errno, ok, c.errno, c.ok)
		}
	}
}

// TestAddrConnIgnoresForgedAck: a datagram another netlink socket sends to
// the address socket's port, a forged success for the request about to be
// made, is not taken for the kernel's answer: the addition on an
// interface that does not exist still fails with the kernel's ENODEV.
// (An unprivileged process cannot send it at all: rtnetlink refuses a
// unicast to a socket from a sender without CAP_NET_ADMIN.)
func TestAddrConnIgnoresForgedAck(t *testing.T) {
	testnet.NeedRoot(t)
	h := testnet.New(t).Host("r")
	c, err := dialAddrConn(h.NsHandle(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrNetlink).Pid

	forger := -1
	err = nsenter.DoAt(h.NsHandle(), func() (err error) {
		forger, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		return unix.Bind(forger, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(forger)
	if err := unix.Sendto(forger, ack(c.seq+1, 0), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port}); err != nil {
		t.Fatalf("forging the acknowledgement: %v", err)
	}

	n := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("192.0.2.10").To4(), Mask: net.CIDRMask(32, 32)}, LinkIndex: 999999}
	if err := c.add(n); !errors.Is(err, unix.ENODEV) {
		t.Errorf("add on a missing interface after a forged success: %v, want ENODEV from the kernel", err)
	}
}
