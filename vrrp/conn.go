package vrrp

import (
	"net/netip"
	"time"
)

// RecvMeta is what the socket tells about a received advert besides its
// bytes. Addresses carry no zone.
type RecvMeta struct {
	Src     netip.Addr // IP source: the sender's primary address (unicast: its unicast_src_ip)
	Dst     netip.Addr // IP destination: the multicast group, or our unicast address
	TTL     int        // IPv4 TTL or IPv6 hop limit as received
	IfIndex int        // interface the packet arrived on
	// At is when the kernel received the packet (SO_TIMESTAMPNS, the
	// wall clock, no monotonic reading); zero when the Conn cannot tell.
	At time.Time
}

// Conn sends and receives VRRP adverts of one address family on one
// interface. One Conn serves every instance on that (interface, family):
// the daemon reads in one goroutine and demultiplexes by VRID, counting
// adverts for no configured VRID as DropUnknownVRID (an IPv4 and an IPv6
// instance may share a VRID on one interface, as they use two Conns).
// Every raw socket bound to an interface receives every advert arriving
// there, so a second Conn on the same (interface, family), say for an
// instance with its own unicast_src_ip, sees the same packets: the daemon
// should read each packet from one Conn only, or drop duplicates by VRID.
// Implementations: ListenIPv4 / ListenIPv6 (raw IP protocol 112 sockets,
// Linux) and vrrptest.Conn (in memory).
//
// Contract:
//   - ReadFrom blocks until an advert arrives, copies the VRRP message (IP
//     header removed; with ConnOptions.AH, the whole IPv4 datagram) into b
//     and returns its length and metadata. A message
//     longer than b is truncated (it will fail to decode). It is safe to call
//     from one goroutine while others call WriteTo. After Close, or when the
//     read deadline passes, it returns an error (net.ErrClosed, or one for
//     which os.IsTimeout is true). Our own multicast adverts are not looped
//     back.
//   - WriteTo encodes p with the checksum for LocalAddr → dst and sends it
//     with TTL / hop limit 255 on the interface (to a unicast peer:
//     ConnOptions.UnicastTTL when set). dst is the multicast group
//     or one unicast peer; the caller calls it once per peer. It is safe for
//     concurrent use.
//   - LocalAddr is the source address of every advert sent (the configured
//     source, or the interface's primary IPv4 / IPv6 link-local address when
//     the Conn was opened).
//   - Close releases the socket and unblocks ReadFrom; it is idempotent.
//
// Received packets are not checked: pass them to Accept.
type Conn interface {
	ReadFrom(b []byte) (n int, meta RecvMeta, err error)
	WriteTo(p *Packet, dst netip.Addr) error
	LocalAddr() netip.Addr
	SetReadDeadline(t time.Time) error
	Close() error
}

// ConnOptions tune ListenIPv4 / ListenIPv6. The zero value is keepalived's
// default: multicast on the standard group, source = primary address.
type ConnOptions struct {
	// Src is the source address of sent adverts (keepalived's
	// unicast_src_ip / mcast_src_ip). Zero: PrimaryAddr of the interface.
	Src netip.Addr
	// Group is the multicast group joined on the interface. Zero:
	// 224.0.0.18 or ff02::12.
	Group netip.Addr
	// NoJoin skips the group membership: a Conn for unicast peers only.
	NoJoin bool
	// NotFrom are addresses never chosen as the source when Src is zero:
	// the virtual addresses, which a master adds to the interface (an IPv6
	// instance's first VIP is link-local, as RFC 5798 asks, and would
	// otherwise become the source of its own adverts).
	NotFrom []netip.Addr
	// AH opens an IPv4 socket for VRRPv2 under an IP Authentication
	// Header (IP protocol 51, keepalived's auth_type AH) instead of one for
	// IP protocol 112. Such a Conn is also a DatagramWriter; its ReadFrom
	// returns whole IPv4 datagrams for AH.Open and its WriteTo refuses.
	AH bool
	// UnicastTTL is the IPv4 TTL / IPv6 hop limit of adverts sent to
	// unicast peers (keepalived's unicast_ttl), 1..255. Zero: TTL (255).
	// Multicast adverts always leave with 255 (RFC 5798 section 5.1.1.3).
	UnicastTTL int
}

// DatagramWriter is implemented by Conns opened with ConnOptions.AH.
// WriteDatagram sends d, a whole IPv4 datagram built by AH.Append, to dst
// as it is (TTL and identification included). It is safe for concurrent
// use.
type DatagramWriter interface {
	WriteDatagram(d []byte, dst netip.Addr) error
}

// MaxMessageLen is a receive buffer size that holds any VRRP message
// (header, 255 IPv6 addresses; v2's auth data fits too), and any
// AH-wrapped IPv4 datagram (MaxAHDatagramLen is smaller).
const MaxMessageLen = HeaderLen + 255*16 + AuthDataLen

// Message is one advert of a batch read (ReadBatch): Buf is the caller's
// buffer (MaxMessageLen holds any advert); N and Meta are what ReadFrom
// would have returned for it.
type Message struct {
	Buf  []byte
	N    int
	Meta RecvMeta
}

// BatchReader is implemented by Conns that can read several queued
// adverts at once (the raw-socket Conns, with recvmmsg(2), and
// vrrptest.Conn). ReadBatch blocks as ReadFrom does until at least one
// advert arrives, then fills ms[:n] with it and with those already queued
// behind it, at most len(ms), and returns n ≥ 1; each message is
// what ReadFrom returns for it (truncation, metadata, the AH datagram).
// Errors are ReadFrom's, with n = 0. The same concurrency rule holds:
// one reading goroutine.
type BatchReader interface {
	ReadBatch(ms []Message) (n int, err error)
}

// ReadBatch reads a batch from c: with c's ReadBatch when c is a
// BatchReader, else one advert with ReadFrom. ms must not be empty.
func ReadBatch(c Conn, ms []Message) (int, error) {
	if br, ok := c.(BatchReader); ok {
		return br.ReadBatch(ms)
	}
	n, meta, err := c.ReadFrom(ms[0].Buf)
	if err != nil {
		return 0, err
	}
	ms[0].N, ms[0].Meta = n, meta
	return 1, nil
}
