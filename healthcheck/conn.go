package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"
)

// Conn holds a checker's connection keywords: where to connect
// (connect_ip:connect_port, by default the real server's address and
// port), the local address (bindto, bind_port), the interface (bind_if,
// SO_BINDTODEVICE) and the firewall mark (fwmark, SO_MARK), and
// connect_timeout.
type Conn struct {
	Addr     netip.AddrPort
	BindTo   netip.Addr
	BindPort int
	BindIf   string
	FWMark   uint32
	Timeout  time.Duration
}

// dial connects over network ("tcp" or "udp") with the local address,
// interface and mark applied, within c.Timeout. Failures are classified
// as keepalived does: a connection failure is Failure, a local error
// (socket, bind, option) is Skip.
func (c Conn) dial(ctx context.Context, network string) (net.Conn, *Result) {
	d := net.Dialer{Timeout: c.Timeout, Control: c.control}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		ip := c.BindTo
		if !ip.IsValid() {
			ip = netip.IPv6Unspecified()
			if c.Addr.Addr().Is4() {
				ip = netip.IPv4Unspecified()
			}
		}
		ap := netip.AddrPortFrom(ip, uint16(c.BindPort))
		if network == "tcp" {
			d.LocalAddr = net.TCPAddrFromAddrPort(ap)
		} else {
			d.LocalAddr = net.UDPAddrFromAddrPort(ap)
		}
	}
	conn, err := d.DialContext(ctx, network, c.Addr.String())
	if err != nil {
		return nil, connError(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	return probeConn{conn, stop}, nil
}

// probeConn is a dialled connection whose blocked reads and writes end
// when the probe's context is cancelled.
type probeConn struct {
	net.Conn
	stop func() bool
}

func (c probeConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// connError classifies a dial error.
func connError(err error) *Result {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return &Result{Verdict: Skip, Err: "cancelled"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Result{Verdict: Failure, Err: "timeout connecting"}
	case isConnFailure(err):
		return &Result{Verdict: Failure, Err: "connection failed: " + err.Error()}
	}
	return &Result{Verdict: Skip, Err: "local error: " + err.Error()}
}

// ioError words a read or write error after the connection stood.
func ioError(what string, err error) Result {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Result{Verdict: Failure, Err: "timeout " + what}
	}
	return Result{Verdict: Failure, Err: what + ": " + err.Error()}
}

// hostPort is the address as keepalived writes it into an HTTP Host
// header: IPv6 in brackets, always with the port.
func hostPort(ap netip.AddrPort) string {
	return net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port())))
}
