package daemon

import (
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/check"
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
	ah      bool       // IP protocol 51 (VRRPv2 under auth_type AH) instead of 112
	srcOf   string     // without src: take the primary address of this interface (an IPv4 VMAC's parent)
	ttl     int        // unicast TTL / hop limit (unicast_ttl); zero for multicast
}

// connKeyOf is the socket of ic, whose VMAC (if any) is named vmac.
func connKeyOf(ic *config.Instance, vmac string) connKey {
	k := connKey{ifname: xmitIface(ic, vmac), ipv6: ic.IPv6, unicast: len(ic.UnicastPeers) > 0, ah: ahPass(ic) != ""}
	if k.unicast {
		k.src = ic.UnicastSrcIP
		k.ttl = ic.UnicastTTL
	} else {
		k.src = ic.McastSrcIP
		k.group = mcastGroup(ic)
	}
	if !k.src.IsValid() && !k.ipv6 && k.ifname != ic.Interface {
		k.srcOf = ic.Interface // a VMAC has no address of its own
	}
	return k
}

// vridTable is a socket's instances by VRID: a lookup per advert
// received is an index, not a map's hash and probe.
type vridTable struct {
	t [256]*instance
	n int // instances in t
}

func (v *vridTable) get(vrid uint8) *instance { return v.t[vrid] }

func (v *vridTable) set(vrid uint8, inst *instance) {
	if v.t[vrid] == nil {
		v.n++
	}
	v.t[vrid] = inst
}

// remove clears vrid's slot if inst holds it.
func (v *vridTable) remove(vrid uint8, inst *instance) {
	if v.t[vrid] == inst && inst != nil {
		v.t[vrid] = nil
		v.n--
	}
}

// conn is one shared VRRP socket and the instances reading from it.
type conn struct {
	key     connKey
	c       vrrp.Conn // replaced by reopen; only the loop reads this field
	ifindex int       // of the interface when the socket was opened
	byVRID  vridTable
	reading bool // a reader goroutine runs for c

	rx           [32]uint64 // drops before demultiplexing, by vrrp.DropReason
	unknownVRID  uint64
	readErrors   uint64
	reopens      uint64
	reopenErrors uint64
}

// rxBatchLen is how many adverts a reader takes from its socket in one
// read (recvmmsg).
const rxBatchLen = 8

// rxBatch is what a reader read in one call: the adverts that arrived
// together, handled in one turn of the loop's state (Daemon.rxTurn).
type rxBatch struct {
	conn *conn
	n    int // adverts in msgs; -1: the read failed
	msgs [rxBatchLen]vrrp.Message
	at   [rxBatchLen]time.Time // when each arrived (receivedAt): the machine's "now" for it
}

// maxRxAge bounds how far before the reader's clock reading a kernel
// receive stamp may lie and still be believed.
const maxRxAge = time.Second

// receivedAt is when a packet arrived, on the monotonic clock: the
// kernel's receive stamp kernel (wall clock) carried back from now, the
// reader's clock reading. A wake-up of the reader then no longer delays
// the Master_Down timer the advert restarts. Without a stamp, or with one
// in the future or older than maxRxAge (the wall clock was stepped), now.
func receivedAt(kernel, now time.Time) time.Time {
	if kernel.IsZero() {
		return now
	}
	age := now.Round(0).Sub(kernel)
	if age < 0 || age > maxRxAge {
		return now
	}
	return now.Add(-age)
}

// openConn opens the socket for key.
func (d *Daemon) openConn(key connKey) (vrrp.Conn, int, error) {
	ifi, err := d.host.Interface(key.ifname)
	if err != nil {
		return nil, 0, fmt.Errorf("VRRP socket on %s: %w", key.ifname, err)
	}
	src := key.src
	if key.srcOf != "" {
		if src, err = d.host.PrimaryAddr(key.srcOf, key.ipv6, d.vipAddrs()...); err != nil {
			return nil, 0, fmt.Errorf("VRRP socket on %s: source from %s: %w", key.ifname, key.srcOf, err)
		}
	}
	vc, err := d.host.Listen(key.ifname, key.ipv6, vrrp.ConnOptions{Src: src, Group: key.group, NoJoin: key.unicast, NotFrom: d.vipAddrs(), AH: key.ah, UnicastTTL: key.ttl})
	if err != nil {
		return nil, 0, fmt.Errorf("VRRP socket on %s: %w", key.ifname, err)
	}
	return vc, ifi.Index, nil
}

// vipAddrs lists every virtual address of the configuration: none of them
// may become the source of adverts, whoever holds it now.
func (d *Daemon) vipAddrs() []netip.Addr { return slices.Collect(d.allVIPs()) }

// allVIPs yields every virtual address of the configuration, excluded ones
// too.
func (d *Daemon) allVIPs() iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for _, ic := range d.cfg.Instances {
			for _, list := range [][]config.Address{ic.VIPs, ic.ExcludedVIPs} {
				for _, a := range list {
					if !yield(a.Prefix.Addr()) {
						return
					}
				}
			}
		}
	}
}

// isVIP reports whether a is one of vipAddrs, without building the list.
func (d *Daemon) isVIP(a netip.Addr) bool {
	a = a.WithZone("")
	for v := range d.allVIPs() {
		if v.WithZone("") == a {
			return true
		}
	}
	return false
}

// attachConn finds or opens the socket for inst and registers its VRID.
func (d *Daemon) attachConn(inst *instance) (*conn, error) {
	key := connKeyOf(inst.cfg, inst.vmacName())
	c := d.conns[key]
	if c == nil {
		vc, index, err := d.openConn(key)
		if err != nil {
			if vc, err = d.absentSocket(key, err); err != nil {
				return nil, err
			}
		}
		c = &conn{key: key, c: vc, ifindex: index}
		d.conns[key] = c
	}
	vrid := uint8(inst.cfg.VRID)
	if other := c.byVRID.get(vrid); other != nil && other != inst {
		return nil, fmt.Errorf("VRID %d on %s is already used by vrrp_instance %s", vrid, key.ifname, other.cfg.Name)
	}
	c.byVRID.set(vrid, inst)
	return c, nil
}

// detach removes inst from its socket without closing it.
func (d *Daemon) detach(inst *instance) {
	for _, c := range d.conns {
		c.byVRID.remove(uint8(inst.cfg.VRID), inst)
	}
}

// releaseConn detaches inst and closes its socket when no instance is left.
func (d *Daemon) releaseConn(inst *instance) {
	c := inst.conn
	c.byVRID.remove(uint8(inst.cfg.VRID), inst)
	if c.byVRID.n == 0 {
		c.c.Close()
		delete(d.conns, c.key)
	}
}

// startReader starts the goroutine that reads c's current socket and
// handles what it reads (rxTurn). It ends when that socket is closed or
// the loop has ended; Run waits for it.
func (d *Daemon) startReader(c *conn) {
	c.reading = true
	d.readers.Add(1)
	go d.runReader(c, c.c)
}

func (d *Daemon) runReader(c *conn, vc vrrp.Conn) {
	defer d.readers.Done()
	b := &rxBatch{conn: c}
	for i := range b.msgs {
		b.msgs[i].Buf = make([]byte, vrrp.MaxMessageLen)
	}
	for {
		n, err := vrrp.ReadBatch(vc, b.msgs[:])
		now := time.Now()
		b.n = n
		for i := range n {
			b.at[i] = receivedAt(b.msgs[i].Meta.At, now)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			// A transient error (ENOBUFS, a vanished interface) must not
			// end reception; it is counted by the loop.
			b.n = -1
			time.Sleep(10 * time.Millisecond)
		}
		if !d.rxTurn(b) {
			return
		}
	}
}

// reopen replaces c's socket, after its interface was recreated or its
// primary address changed, and restarts its reader; it reports whether it
// did. On failure the old socket stays (sends fail and are counted) until
// the next change.
func (d *Daemon) reopen(c *conn, why string) bool {
	vc, index, err := d.openConn(c.key)
	if err != nil {
		c.reopenErrors++
		// Retried on every event for the interface: rate-limited.
		if d.rateLogs().allow(slog.LevelWarn, "VRRP socket reopen failures", c.key.ifname, why, time.Now()) {
			d.log.Warn("VRRP socket could not be reopened", "iface", c.key.ifname, "why", why, "err", err)
		}
		return false
	}
	old := c.c
	c.c, c.ifindex = vc, index
	old.Close()
	d.startReader(c)
	c.reopens++
	for _, inst := range c.byVRID.t {
		if inst == nil {
			continue
		}
		inst.check.Self = vc.LocalAddr()
		if ifi, err := d.host.Interface(c.key.ifname); err == nil && inst.vmac == nil {
			inst.mac = ifi.HardwareAddr // a VMAC's instance keeps the virtual MAC
		}
		if inst.m.Config().LocalAddr != vc.LocalAddr() {
			d.handle(inst, vrrp.LocalAddrChanged{Addr: vc.LocalAddr()}, time.Now())
		}
	}
	d.log.Info("VRRP socket reopened", "iface", c.key.ifname, "why", why, "source", vc.LocalAddr())
	return true
}

// ifaceChanged reopens the sockets an interface event invalidates: the
// interface was recreated (it has a new index: every event for it retries
// until a socket opens, as the new link may not have its address yet), or
// the address our adverts come from changed (for an IPv4 VMAC, its
// parent's). It reports whether a socket of an interface that did not
// exist (dynamic_interfaces) opened.
func (d *Daemon) ifaceChanged(e check.IfaceEvent) (opened bool) {
	if e.Kind == check.IfaceRemoved {
		return false
	}
	for _, c := range d.conns {
		own := c.key.ifname == e.Name
		parent := c.key.srcOf != "" && c.key.srcOf == e.Name
		if !own && !parent {
			continue
		}
		if own && e.Index != c.ifindex {
			absent := c.absent()
			if d.reopen(c, "interface recreated") && absent {
				opened = true
			}
			continue
		}
		if (e.Kind == check.AddrAdded || e.Kind == check.AddrRemoved) && !c.key.src.IsValid() &&
			e.Addr.Addr().Is6() == c.key.ipv6 {
			// A virtual address coming or going cannot move the source:
			// PrimaryAddr never picks one, and an address whose flags
			// the change moves (a secondary promoted when a primary
			// goes) has an event of its own. A takeover adds an
			// instance's addresses one by one; reading every address of
			// the interface again for each of them cost a takeover of
			// 50 instances 50 dumps, and the program pages and heap they
			// touched set the master's peak resident size.
			if d.isVIP(e.Addr.Addr()) {
				continue
			}
			from := c.key.ifname
			if c.key.srcOf != "" {
				from = c.key.srcOf
			}
			if pa, err := d.host.PrimaryAddr(from, c.key.ipv6, d.vipAddrs()...); err == nil && pa != c.c.LocalAddr() {
				d.reopen(c, "source address changed")
			}
		}
	}
	return opened
}
