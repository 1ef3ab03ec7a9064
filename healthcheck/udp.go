package healthcheck

import (
	"context"
	"errors"
	"net"
	"time"
)

// DefaultUDPPayload is what UDP_CHECK sends without payload.
var DefaultUDPPayload = []byte("keepalived check - keepalived ch")

// UDPProbe is UDP_CHECK: send the payload and wait the connect timeout.
// An ICMP error (the connected socket reports it on the read) or a read
// error fails; silence succeeds unless RequireReply. With RequireReply
// and a Pattern, the reply's length must lie in [MinLen, MaxLen] and its
// first bytes match Pattern where Mask has bits.
type UDPProbe struct {
	Conn           Conn
	Payload        []byte // nil: DefaultUDPPayload
	RequireReply   bool
	Pattern, Mask  []byte
	MinLen, MaxLen int
}

// Probe sends one datagram.
func (p *UDPProbe) Probe(ctx context.Context) Result {
	c, fail := p.Conn.dial(ctx, "udp")
	if fail != nil {
		if fail.Verdict == Skip && ctx.Err() == nil {
			fail.Verdict = Failure // keepalived counts any UDP send/connect error
		}
		return *fail
	}
	defer c.Close()
	payload := p.Payload
	if payload == nil {
		payload = DefaultUDPPayload
	}
	c.SetDeadline(time.Now().Add(p.Conn.Timeout))
	if _, err := c.Write(payload); err != nil {
		return ioError("send", err)
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil:
		if p.RequireReply {
			return Result{Verdict: Failure, Err: "no reply"}
		}
		return Result{Verdict: Success}
	case err != nil:
		return ioError("receive", err)
	}
	if p.RequireReply && p.Pattern != nil {
		if n < p.MinLen || n > p.MaxLen {
			return Result{Verdict: Failure, Err: "reply length out of range"}
		}
		for i := 0; i < len(p.Pattern) && i < n; i++ {
			if buf[i]&p.Mask[i] != p.Pattern[i]&p.Mask[i] {
				return Result{Verdict: Failure, Err: "reply does not match"}
			}
		}
	}
	return Result{Verdict: Success}
}
