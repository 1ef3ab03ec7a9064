package healthcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// DNSProbe is DNS_CHECK: one query over UDP to the connect address; the
// first reply with our ID and QR set decides (RCODE 0 is success, any
// other a failure); other datagrams are ignored. Sending and receiving
// share one deadline, the connect timeout.
type DNSProbe struct {
	Conn  Conn
	QType uint16
	Name  string
}

// Probe sends one query.
func (p *DNSProbe) Probe(ctx context.Context) Result {
	id := uint16(rand.Uint32())
	q, err := AppendDNSQuery(nil, id, p.QType, p.Name)
	if err != nil {
		return Result{Verdict: Skip, Err: err.Error()}
	}
	c, fail := p.Conn.dial(ctx, "udp")
	if fail != nil {
		return *fail
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(p.Conn.Timeout))
	if _, err := c.Write(q); err != nil {
		return ioError("write", err)
	}
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return ioError("read", err)
		}
		r, ok := ParseDNSReply(buf[:n])
		if !ok || r.ID != id || !r.QR {
			continue
		}
		if r.RCode != 0 {
			return Result{Verdict: Failure, Err: fmt.Sprintf("rcode %d", r.RCode)}
		}
		return Result{Verdict: Success}
	}
}
