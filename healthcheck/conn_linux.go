package healthcheck

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

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

// beginTCP starts one TCP_CHECK attempt at now on a non-blocking socket
// of its own: socket, options, bind, connect, and the connection's state
// read from TCP_INFO. A connection to a local network is usually
// established by the time connect returns, so the common success costs
// three or four system calls (socket, connect, the TCP_INFO read when
// connect said EINPROGRESS, close), made raw: they never block, so
// they need not hand the runtime's processor to another thread as a
// blocking call would, and nothing is allocated. Otherwise wait waits on
// the runtime's poller until the connect timeout (counted from now) and
// must be called once. A connection found established when the timeout
// fires counts as a success (the server answered; only this process was
// late to look), as keepalived handles a ready socket before an expired
// timer.
//
// The socket is closed normally (a FIN, and TIME_WAIT on this side), as
// keepalived 2.2.7 does with its SO_LINGER of 5 s on a non-blocking
// socket.
func (c Conn) beginTCP(ctx context.Context, now time.Time) (res Result, wait func(context.Context) Result) {
	if ctx.Err() != nil {
		return Result{Verdict: Skip, Err: "cancelled"}, nil
	}
	dst := c.Addr.Addr().Unmap()
	v4 := dst.Is4()
	family := unix.AF_INET6
	if v4 {
		family = unix.AF_INET
	}
	var sa rawSockaddr
	if err := sa.set(netip.AddrPortFrom(dst.WithZone(c.Addr.Addr().Zone()), c.Addr.Port()), v4); err != nil {
		return localError("connect", err), nil
	}
	r, _, errno := syscall.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return localError("socket", errno), nil
	}
	fd := int(r)
	if c.FWMark != 0 || c.BindIf != "" {
		network := "tcp6"
		if v4 {
			network = "tcp4"
		}
		if err := c.setOptions(fd, network); err != nil {
			rawClose(fd)
			return Result{Verdict: Skip, Err: "local error: " + err.Error()}, nil
		}
	}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		ip := c.BindTo.Unmap()
		if !ip.IsValid() {
			ip = netip.IPv6Unspecified()
			if v4 {
				ip = netip.IPv4Unspecified()
			}
		}
		bsa, err := sockaddr(netip.AddrPortFrom(ip, uint16(c.BindPort)), v4)
		if err == nil {
			err = unix.Bind(fd, bsa)
		}
		if err != nil {
			rawClose(fd)
			return localError("bind", err), nil
		}
	}
	_, _, errno = syscall.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(sa.pointer()), sa.len())
	runtime.KeepAlive(&sa)
	switch errno {
	case 0:
		rawClose(fd)
		return Result{Verdict: Success}, nil
	case unix.EINPROGRESS, unix.EINTR:
	default:
		rawClose(fd)
		return connResult(errno), nil
	}
	if done, res := tcpState(fd); done {
		rawClose(fd)
		return res, nil
	}
	var deadline time.Time // zero: no timeout but the kernel's, as net.Dialer
	if c.Timeout > 0 {
		deadline = now.Add(c.Timeout)
	}
	return Result{}, func(ctx context.Context) Result { return waitTCP(ctx, fd, deadline) }
}

// rawClose closes a socket the runtime's poller never saw (a TCP socket
// without SO_LINGER: close does not block).
func rawClose(fd int) { syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

// rawSockaddr is a socket address in the kernel's layout, built where it
// is used: unix.Connect takes it as an interface, an allocation per call.
type rawSockaddr struct {
	v4  unix.RawSockaddrInet4
	v6  unix.RawSockaddrInet6
	is4 bool
}

// set fills r from ap for a socket of the given family (an IPv6 zone
// names the interface).
func (r *rawSockaddr) set(ap netip.AddrPort, v4 bool) error {
	a := ap.Addr()
	if a.Is4() != v4 {
		return unix.EAFNOSUPPORT
	}
	r.is4 = v4
	if v4 {
		r.v4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&r.v4.Port))[:], ap.Port())
		return nil
	}
	r.v6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&r.v6.Port))[:], ap.Port())
	if z := a.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return err
		}
		r.v6.Scope_id = uint32(ifi.Index)
	}
	return nil
}

func (r *rawSockaddr) pointer() unsafe.Pointer {
	if r.is4 {
		return unsafe.Pointer(&r.v4)
	}
	return unsafe.Pointer(&r.v6)
}

func (r *rawSockaddr) len() uintptr {
	if r.is4 {
		return unix.SizeofSockaddrInet4
	}
	return unix.SizeofSockaddrInet6
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
	res, wait := c.beginTCP(ctx, time.Now())
	if wait != nil {
		return wait(ctx)
	}
	return res
}

// tcpState reads a connecting socket's state: done is false while the
// handshake is still under way.
func tcpState(fd int) (done bool, res Result) {
	// tcpi_state is TCP_INFO's first byte.
	var st byte
	n := uint32(1)
	_, _, errno := syscall.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return true, localError("getsockopt", errno)
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
