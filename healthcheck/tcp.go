package healthcheck

import "context"

// TCPProbe is TCP_CHECK: success when the connection is established
// within the connect timeout; the socket is closed at once, nothing sent.
type TCPProbe struct{ Conn Conn }

// Probe connects once.
func (p *TCPProbe) Probe(ctx context.Context) Result {
	c, fail := p.Conn.dial(ctx, "tcp")
	if fail != nil {
		return *fail
	}
	c.Close()
	return Result{Verdict: Success}
}
