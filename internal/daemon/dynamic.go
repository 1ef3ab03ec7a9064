package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vrrp"
)

// errNoInterface is what an absent socket returns on writes.
var errNoInterface = errors.New("interface does not exist (dynamic_interfaces: waiting for it)")

// absentConn stands for the socket of an interface that does not exist
// yet (dynamic_interfaces): reads block until Close, writes fail, and its
// local address is the unspecified one of its family, which the machine
// holds until the real socket gives it the interface's (LocalAddrChanged). The
// instances on it are held in FAULT (trackRefs) until ifaceChanged opens
// the real socket, when the interface appears.
type absentConn struct {
	local  netip.Addr
	once   sync.Once
	closed chan struct{}
}

func newAbsentConn(ipv6 bool) *absentConn {
	c := &absentConn{local: netip.IPv4Unspecified(), closed: make(chan struct{})}
	if ipv6 {
		c.local = netip.IPv6Unspecified()
	}
	return c
}

func (c *absentConn) ReadFrom([]byte) (int, vrrp.RecvMeta, error) {
	<-c.closed
	return 0, vrrp.RecvMeta{}, net.ErrClosed
}
func (c *absentConn) WriteTo(*vrrp.Packet, netip.Addr) error { return errNoInterface }
func (c *absentConn) LocalAddr() netip.Addr                  { return c.local }
func (c *absentConn) SetReadDeadline(time.Time) error        { return nil }
func (c *absentConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

var _ vrrp.Conn = (*absentConn)(nil)

// absent reports whether c waits for its interface to appear.
func (c *conn) absent() bool {
	_, ok := c.c.(*absentConn)
	return ok
}

// absentSocket is attachConn's way out when the interface of key does not
// exist and dynamic_interfaces allows waiting for it.
func (d *Daemon) absentSocket(key connKey, err error) (vrrp.Conn, error) {
	if _, lerr := d.host.Interface(key.ifname); lerr == nil || !d.cfg.Global.DynamicInterfaces {
		return nil, err
	}
	d.log.Info(fmt.Sprintf("Configuration specifies interface %s which doesn't currently exist - will use if created", key.ifname))
	return newAbsentConn(key.ipv6), nil
}

// absentRefs adds, for an instance whose interface does not exist yet, a
// failed weight-0 reference to it, whatever dont_track_primary says:
// without its interface an instance can neither send nor hear adverts.
func (inst *instance) absentRefs(out []check.Ref) []check.Ref {
	if inst.conn == nil || !inst.conn.absent() {
		return out
	}
	return append(out, check.Ref{Kind: check.KindInterface, Name: inst.cfg.Interface, State: check.StateFailed})
}
