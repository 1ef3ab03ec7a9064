package healthcheck

import (
	"errors"
	"strings"
	"syscall"

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
	err := rc.Control(func(fd uintptr) {
		if udp {
			// As keepalived: every ICMP error (a router's host
			// unreachable too, not only port unreachable) fails the read.
			if network == "udp6" {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_RECVERR, 1)
			}
			if serr != nil {
				return
			}
		}
		if c.FWMark != 0 {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(c.FWMark)); serr != nil {
				return
			}
		}
		if c.BindIf != "" {
			serr = unix.BindToDevice(int(fd), c.BindIf)
		}
	})
	return errors.Join(err, serr)
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
