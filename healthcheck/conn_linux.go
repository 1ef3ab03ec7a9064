package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// control sets SO_MARK and SO_BINDTODEVICE before the socket binds or
// connects.
func (c Conn) control(network, address string, rc syscall.RawConn) error {
	udp := strings.HasPrefix(network, "udp")
	if c.FWMark == 0 && c.BindIf == "" && !udp {
		return nil
	}
	var serr error
	err := rc.Control(func(fd uintptr) { serr = c.setOptions(int(fd), network) })
	return errors.Join(err, serr)
}

// setOptions sets a new socket's options: IP_RECVERR for UDP, SO_MARK and
// SO_BINDTODEVICE.
func (c Conn) setOptions(fd int, network string) error {
	if strings.HasPrefix(network, "udp") {
		// As keepalived: every ICMP error (a router's host unreachable
		// too, not only port unreachable) fails the read.
		var err error
		if network == "udp6" {
			err = unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
		} else {
			err = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
		}
		if err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if c.FWMark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(c.FWMark)); err != nil {
			return os.NewSyscallError("setsockopt SO_MARK", err)
		}
	}
	if c.BindIf != "" {
		if err := unix.BindToDevice(fd, c.BindIf); err != nil {
			return os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
		}
	}
	return nil
}

// beginTCP starts one TCP_CHECK attempt on a non-blocking socket of its
// own: socket, options, bind, connect, and the connection's state read
// from TCP_INFO. A connection to a local network is usually established
// when connect returns, so the common success costs four system calls and
// returns the result with wait nil; otherwise wait waits on the runtime's
// poller until the connect timeout (counted from beginTCP) and must be
// called once. A connection found established when the timeout fires
// counts as a success (the server answered; only this process was late to
// look), as keepalived handles a ready socket before an expired timer.
func (c Conn) beginTCP(ctx context.Context) (res Result, wait func(context.Context) Result) {
	if ctx.Err() != nil {
		return Result{Verdict: Skip, Err: "cancelled"}, nil
	}
	var deadline time.Time // zero: no timeout but the kernel's, as net.Dialer
	if c.Timeout > 0 {
		deadline = time.Now().Add(c.Timeout)
	}
	dst := c.Addr.Addr().Unmap()
	v4 := dst.Is4()
	family := unix.AF_INET6
	if v4 {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return localError("socket", err), nil
	}
	network := "tcp6"
	if v4 {
		network = "tcp4"
	}
	if err := c.setOptions(fd, network); err != nil {
		unix.Close(fd)
		return Result{Verdict: Skip, Err: "local error: " + err.Error()}, nil
	}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		ip := c.BindTo.Unmap()
		if !ip.IsValid() {
			ip = netip.IPv6Unspecified()
			if v4 {
				ip = netip.IPv4Unspecified()
			}
		}
		sa, err := sockaddr(netip.AddrPortFrom(ip, uint16(c.BindPort)), v4)
		if err == nil {
			err = unix.Bind(fd, sa)
		}
		if err != nil {
			unix.Close(fd)
			return localError("bind", err), nil
		}
	}
	sa, err := sockaddr(netip.AddrPortFrom(dst.WithZone(c.Addr.Addr().Zone()), c.Addr.Port()), v4)
	if err != nil {
		unix.Close(fd)
		return localError("connect", err), nil
	}
	switch err := unix.Connect(fd, sa); err {
	case nil:
		unix.Close(fd)
		return Result{Verdict: Success}, nil
	case unix.EINPROGRESS, unix.EINTR:
	default:
		unix.Close(fd)
		return connResult(err), nil
	}
	if done, res := tcpState(fd); done {
		unix.Close(fd)
		return res, nil
	}
	return Result{}, func(ctx context.Context) Result { return waitTCP(ctx, fd, deadline) }
}

// waitTCP waits for fd's connection until deadline or ctx's end, and
// closes fd.
func waitTCP(ctx context.Context, fd int, deadline time.Time) Result {
	f := os.NewFile(uintptr(fd), "") // f owns fd from here
	defer f.Close()
	rc, err := f.SyscallConn()
	if err == nil {
		err = f.SetWriteDeadline(deadline)
	}
	if err != nil {
		return localError("poll", err)
	}
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	var res Result
	werr := rc.Write(func(fd uintptr) bool {
		var done bool
		done, res = tcpState(int(fd))
		return done
	})
	if werr == nil {
		return res
	}
	if ctx.Err() != nil {
		return Result{Verdict: Skip, Err: "cancelled"}
	}
	// The timeout fired: the connection may have been established while
	// this goroutine waited for a CPU.
	var done bool
	if cerr := rc.Control(func(fd uintptr) { done, res = tcpState(int(fd)) }); cerr == nil && done {
		return res
	}
	return Result{Verdict: Failure, Err: "timeout connecting"}
}

// probeTCP is one TCP_CHECK attempt.
func (c Conn) probeTCP(ctx context.Context) Result {
	res, wait := c.beginTCP(ctx)
	if wait != nil {
		return wait(ctx)
	}
	return res
}

// tcpState reads a connecting socket's state: done is false while the
// handshake is still under way.
func tcpState(fd int) (done bool, res Result) {
	st, err := unix.GetsockoptByte(fd, unix.SOL_TCP, unix.TCP_INFO) // tcpi_state is TCP_INFO's first byte
	if err != nil {
		return true, localError("getsockopt", err)
	}
	switch st {
	case unix.BPF_TCP_SYN_SENT:
		return false, Result{}
	case unix.BPF_TCP_ESTABLISHED, unix.BPF_TCP_CLOSE_WAIT:
		return true, Result{Verdict: Success}
	}
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return true, localError("getsockopt", err)
	}
	if soerr == 0 {
		soerr = int(unix.ECONNREFUSED) // closed without a recorded error
	}
	return true, connResult(unix.Errno(soerr))
}

// connResult classifies a connect error as connError does.
func connResult(errno error) Result {
	return *connError(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
}

func localError(op string, err error) Result {
	return Result{Verdict: Skip, Err: "local error: " + os.NewSyscallError(op, err).Error()}
}

// sockaddr converts ap for a socket of the given family (an IPv6 zone
// names the interface).
func sockaddr(ap netip.AddrPort, v4 bool) (unix.Sockaddr, error) {
	a := ap.Addr()
	if v4 {
		if !a.Is4() {
			return nil, unix.EAFNOSUPPORT
		}
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, nil
	}
	if a.Is4() {
		return nil, unix.EAFNOSUPPORT
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return nil, err
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, nil
}

// isConnFailure reports the connect errors keepalived counts as the
// server's failure; any other is a local error.
func isConnFailure(err error) bool {
	for _, e := range []error{unix.ENETUNREACH, unix.EHOSTUNREACH, unix.ECONNREFUSED, unix.EHOSTDOWN, unix.ENETDOWN,
		unix.ECONNRESET, unix.ECONNABORTED, unix.ETIMEDOUT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// isPermission reports the errors of a ping socket the sysctl forbids.
func isPermission(err error) bool {
	return errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EPROTONOSUPPORT)
}
