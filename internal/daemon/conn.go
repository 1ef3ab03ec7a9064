package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vrrp"
)

// connKey identifies one VRRP socket. Instances on the same interface,
// family and transport with the same source address share one.
type connKey struct {
	ifname  string
	ipv6    bool
	unicast bool
	src     netip.Addr // configured source, zero = the interface's primary address
	group   netip.Addr // multicast group; zero for unicast
}

func connKeyOf(ic *config.Instance) connKey {
	k := connKey{ifname: ic.Interface, ipv6: ic.IPv6, unicast: len(ic.UnicastPeers) > 0}
	if k.unicast {
		k.src = ic.UnicastSrcIP
	} else {
		k.src = ic.McastSrcIP
		k.group = mcastGroup(ic)
	}
	return k
}

// conn is one shared VRRP socket and the instances reading from it.
type conn struct {
	key    connKey
	c      vrrp.Conn
	byVRID map[uint8]*instance
	reader chan struct{} // closed when the reader goroutine ends; nil until started

	rx          [32]uint64 // drops before demultiplexing, by vrrp.DropReason
	unknownVRID uint64
	readErrors  uint64
}

// rxPacket is one received advert on its way from a reader to the loop.
type rxPacket struct {
	conn *conn
	buf  []byte
	n    int
	meta vrrp.RecvMeta
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, vrrp.MaxMessageLen); return &b }}

func (d *Daemon) putBuf(b []byte) { bufPool.Put(&b) }

// attachConn finds or opens the socket for inst and registers its VRID.
func (d *Daemon) attachConn(inst *instance) (*conn, error) {
	key := connKeyOf(inst.cfg)
	c := d.conns[key]
	if c == nil {
		opts := vrrp.ConnOptions{Src: key.src, Group: key.group, NoJoin: key.unicast}
		var vc vrrp.Conn
		var err error
		if key.ipv6 {
			vc, err = vrrp.ListenIPv6(key.ifname, opts)
		} else {
			vc, err = vrrp.ListenIPv4(key.ifname, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("VRRP socket on %s: %w", key.ifname, err)
		}
		c = &conn{key: key, c: vc, byVRID: make(map[uint8]*instance)}
		d.conns[key] = c
	}
	vrid := uint8(inst.cfg.VRID)
	if other := c.byVRID[vrid]; other != nil && other != inst {
		return nil, fmt.Errorf("VRID %d on %s is already used by vrrp_instance %s", vrid, key.ifname, other.cfg.Name)
	}
	c.byVRID[vrid] = inst
	return c, nil
}

// detach removes inst from its socket without closing it.
func (d *Daemon) detach(inst *instance) {
	for _, c := range d.conns {
		if c.byVRID[uint8(inst.cfg.VRID)] == inst {
			delete(c.byVRID, uint8(inst.cfg.VRID))
		}
	}
}

// releaseConn detaches inst and closes its socket when no instance is left.
func (d *Daemon) releaseConn(inst *instance) {
	c := inst.conn
	if c.byVRID[uint8(inst.cfg.VRID)] == inst {
		delete(c.byVRID, uint8(inst.cfg.VRID))
	}
	if len(c.byVRID) == 0 {
		c.c.Close()
		delete(d.conns, c.key)
	}
}

// startReader starts the goroutine that reads c and posts adverts to the
// loop. It ends when c is closed; Run waits for it.
func (d *Daemon) startReader(c *conn) {
	c.reader = make(chan struct{})
	d.readers.Add(1)
	go d.runReader(c)
}

func (d *Daemon) runReader(c *conn) {
	defer d.readers.Done()
	defer close(c.reader)
	for {
		bp := bufPool.Get().(*[]byte)
		n, meta, err := c.c.ReadFrom(*bp)
		if err != nil {
			bufPool.Put(bp)
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			// A transient error (ENOBUFS, a vanished interface) must not
			// end reception; it is counted by the loop.
			d.rx <- rxPacket{conn: c, n: -1}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		d.rx <- rxPacket{conn: c, buf: *bp, n: n, meta: meta}
	}
}
