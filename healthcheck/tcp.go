package healthcheck

import (
	"context"
	"time"
)

// TCPProbe is TCP_CHECK: success when the connection is established
// within the connect timeout; the socket is closed at once, nothing sent.
type TCPProbe struct{ Conn Conn }

// Probe connects once.
func (p *TCPProbe) Probe(ctx context.Context) Result { return p.Conn.probeTCP(ctx) }

// begin starts the attempt at now without blocking (see beginProber).
func (p *TCPProbe) begin(ctx context.Context, now time.Time) (Result, func(context.Context) Result) {
	return p.Conn.beginTCP(ctx, now)
}

// beginProber is a Prober whose attempt starts without blocking and
// usually ends at once (TCP_CHECK's non-blocking connect): the
// Scheduler's loop calls begin itself, saving two goroutine handoffs per
// attempt, and runs a wait it returns in a goroutine of its own. now is
// the attempt's start, from which its connect timeout runs.
type beginProber interface {
	begin(ctx context.Context, now time.Time) (res Result, wait func(context.Context) Result)
}
