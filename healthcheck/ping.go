package healthcheck

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingData is the echo payload: 128 bytes of keepalived's text pattern.
var pingData = func() []byte {
	const pat = "keepalived check - "
	b := make([]byte, 128)
	for i := range b {
		b[i] = pat[i%len(pat)]
	}
	return b
}()

// PingProbe is PING_CHECK: one ICMP or ICMPv6 echo request, success when
// the reply arrives within the connect timeout. It uses an unprivileged
// ping socket when net.ipv4.ping_group_range admits our group (the kernel
// then hands it only replies to its own requests, and the first packet
// decides, as in keepalived), and a raw socket otherwise, where only an
// echo reply from the target with our identifier and sequence counts.
// bind and mark options do not apply, as in keepalived.
type PingProbe struct {
	Conn Conn
}

// Probe sends one echo request.
func (p *PingProbe) Probe(ctx context.Context) Result {
	dst := p.Conn.Addr.Addr().Unmap()
	v6 := dst.Is6()
	udpNet, rawNet, proto := "udp4", "ip4:icmp", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if v6 {
		udpNet, rawNet, proto = "udp6", "ip6:ipv6-icmp", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	raw := false
	c, err := icmp.ListenPacket(udpNet, "")
	if err != nil && (errors.Is(err, os.ErrPermission) || errors.Is(err, errors.ErrUnsupported) || isPermission(err)) {
		raw = true
		c, err = icmp.ListenPacket(rawNet, "")
	}
	if err != nil {
		return Result{Verdict: Failure, Err: "socket: " + err.Error()}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	id, seq := int(rand.Uint32()&0xffff), int(rand.Uint32()&0xffff)
	msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: pingData}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return Result{Verdict: Failure, Err: err.Error()}
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if raw {
		to = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	c.SetDeadline(time.Now().Add(p.Conn.Timeout))
	if _, err := c.WriteTo(b, to); err != nil {
		return ioError("send", err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return ioError("receive", err)
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if !raw {
			if err != nil || m.Type != replyType {
				return Result{Verdict: Failure, Err: "not an echo reply"}
			}
			return Result{Verdict: Success}
		}
		if err != nil || m.Type != replyType || !sameIP(from, dst.AsSlice()) {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return Result{Verdict: Success}
		}
	}
}

func sameIP(a net.Addr, ip net.IP) bool {
	switch a := a.(type) {
	case *net.IPAddr:
		return a.IP.Equal(ip)
	case *net.UDPAddr:
		return a.IP.Equal(ip)
	}
	return false
}
