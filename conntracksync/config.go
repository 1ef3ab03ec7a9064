package conntracksync

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// DefaultPort is the sync port used when Config.Port is 0: conntrackd's,
// defined by package ftfw.
const DefaultPort = ftfw.DefaultPort

// Config is what the Replicator runs with. vigild builds it from the
// conntrack_sync block that package config read, merged with its
// conntrackd_config and checked; this package parses no configuration
// text. The checks here only guard the library's own invariants.
type Config struct {
	// Interface is the dedicated sync link (SO_BINDTODEVICE); "" = any.
	Interface string
	// LocalAddr is bound for receiving and sending; PeerAddr receives
	// our datagrams. Both IPv4 or both IPv6. With Group, the path is
	// multicast (see Path).
	LocalAddr, PeerAddr, Group netip.Addr
	Port                       uint16 // 0 = DefaultPort
	// Paths, when not empty, are the sync paths in order of preference,
	// and Interface, LocalAddr, PeerAddr and Group above are not used;
	// when empty, those four make the one path. SyncPaths returns the
	// effective list. With AuthKeyFile, the first path's LocalAddr and
	// PeerAddr name the two nodes in the envelope's keys, on every path.
	Paths       []Path
	AckWindow   int // 0 = ftfw.Config's default (conntrackd's 300)
	ResendQueue int // 0 = ftfw.Config's default (conntrackd's 131072)
	// CommitTimeout, when set, is the timeout of every committed flow, and
	// our updates carry no timeout (like conntrackd's CommitTimeout).
	CommitTimeout time.Duration
	// PurgeTimeout, when set, is the timeout Purge gives every flow of the
	// internal cache (conntrackd's PurgeTimeout); 0 = Purge does nothing.
	PurgeTimeout time.Duration
	Filter       Filter
	// WarmStandby keeps the peer's flows in the local kernel table while
	// this node does not hold MASTER, written in small batches as they
	// arrive, so that a takeover writes only the last changes and what
	// expired here (conntrackd's DisableExternalCache, with the external
	// cache kept). It needs a Kernel that is a WarmKernel. Opt-in: the
	// backup's stateful ruleset then accepts packets of the peer's
	// connections as established.
	WarmStandby bool
	// Expectations says which conntrack expectations are replicated and
	// committed at takeover (ExpectationSync); the zero value: none. It
	// needs a Kernel that is also an ExpectKernel.
	Expectations ExpectSync
	// AuthKeyFile, when set, is the pre-shared key of an authenticated and
	// encrypted sync channel (see ReadAuthKeyFile); both peers must be vigil
	// nodes with the same key. "" = plain FTFW, as conntrackd speaks it:
	// anyone who can send from PeerAddr can inject connection state.
	AuthKeyFile string

	// MTU of the sync link, for the datagram size (0 = 1500).
	MTU int
	// Netns is the path of the network namespace whose conntrack table is
	// replicated and where the sync socket lives ("" = the process's).
	Netns string
	// CommitWorkers is the number of netlink sockets a commit uses in
	// parallel (0 = one per two CPUs, at least 1, at most 4). The kernel does
	// the work inside sendmsg and serialises much of it: on 2 vCPUs one socket
	// committed 100k flows in 334-402 ms, two or four in 399-458 ms and with
	// 30-60 % more CPU (BenchmarkCommit).
	CommitWorkers int
	// EventBuffer is the event socket's receive buffer (0 = 64 MiB,
	// SO_RCVBUFFORCE): room for a burst of about 50k events before ENOBUFS
	// forces a re-dump.
	EventBuffer int
	// SocketBuffer is the sync socket's send and receive buffer (0 = 32 MiB,
	// SO_RCVBUFFORCE): a bulk of 100k entries is about 6000 datagrams.
	SocketBuffer int
}

// SyncPaths returns the effective sync paths: Paths, or the one path of
// Interface, LocalAddr, PeerAddr and Group; ports 0 are Port (or
// DefaultPort), names "" the interface's name (or "path" and the index).
func (c *Config) SyncPaths() []Path {
	ps := append([]Path(nil), c.Paths...)
	if len(ps) == 0 {
		ps = []Path{{Interface: c.Interface, LocalAddr: c.LocalAddr, PeerAddr: c.PeerAddr, Group: c.Group}}
	}
	port := c.Port
	if port == 0 {
		port = DefaultPort
	}
	for i := range ps {
		if ps[i].Port == 0 {
			ps[i].Port = port
		}
		if ps[i].Name == "" {
			ps[i].Name = ps[i].Interface
			if ps[i].Name == "" {
				ps[i].Name = fmt.Sprintf("path%d", i)
			}
		}
	}
	return ps
}

// is6 reports whether the path is IPv6.
func (p *Path) is6() bool {
	if p.Group.IsValid() {
		return !p.Group.Unmap().Is4()
	}
	return !p.LocalAddr.Unmap().Is4()
}

// pathConfig is the Config a LinkOpener gets for path i: the path's
// settings in Interface, LocalAddr, PeerAddr, Group and Port, and Paths
// holding that path alone.
func (c *Config) pathConfig(i int) *Config {
	pc := *c
	p := c.Paths[i]
	pc.Paths = []Path{p}
	pc.Interface, pc.LocalAddr, pc.PeerAddr, pc.Group, pc.Port = p.Interface, p.LocalAddr, p.PeerAddr, p.Group, p.Port
	return &pc
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("conntracksync: bad configuration")

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Port == 0 {
		out.Port = DefaultPort
	}
	if out.MTU == 0 {
		out.MTU = 1500
	}
	if out.SocketBuffer == 0 {
		out.SocketBuffer = 32 << 20
	}
	var errs []error
	out.Paths = out.SyncPaths()
	names := map[string]bool{}
	for i := range out.Paths {
		p := &out.Paths[i]
		if p.Name == "" || names[p.Name] {
			errs = append(errs, fmt.Errorf("%w: path %d: name %q empty or not unique", ErrConfig, i, p.Name))
		}
		names[p.Name] = true
		if !p.LocalAddr.IsValid() && !p.Multicast() {
			errs = append(errs, fmt.Errorf("%w: path %s: local_address missing", ErrConfig, p.Name))
		}
		if !p.PeerAddr.IsValid() && !p.Multicast() {
			errs = append(errs, fmt.Errorf("%w: path %s: peer_address missing", ErrConfig, p.Name))
		}
		if p.Multicast() && (!p.Group.IsMulticast() || p.Interface == "") {
			errs = append(errs, fmt.Errorf("%w: path %s: multicast needs a multicast group (not %s) and an interface", ErrConfig, p.Name, p.Group))
		}
		var fam []netip.Addr
		for _, a := range []netip.Addr{p.LocalAddr, p.PeerAddr, p.Group} {
			if a.IsValid() {
				fam = append(fam, a)
			}
		}
		for _, a := range fam[min(1, len(fam)):] {
			if a.Unmap().Is4() != fam[0].Unmap().Is4() {
				errs = append(errs, fmt.Errorf("%w: path %s: %s and %s are of different families", ErrConfig, p.Name, fam[0], a))
			}
		}
		if i == 0 && out.AuthKeyFile != "" && (!p.PeerAddr.IsValid() || !p.LocalAddr.IsValid()) {
			errs = append(errs, fmt.Errorf("%w: path %s: auth_key_file needs the first path's local_address and peer_address (the envelope's keys name both nodes)", ErrConfig, p.Name))
		}
	}
	if len(out.Paths) > 0 {
		out.LocalAddr, out.PeerAddr = out.Paths[0].LocalAddr, out.Paths[0].PeerAddr
	}
	if out.AckWindow < 0 || out.ResendQueue < 0 || out.CommitTimeout < 0 || out.PurgeTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: negative ack_window, resend_queue, commit_timeout or PurgeTimeout", ErrConfig))
	}
	if out.MTU < 576 {
		errs = append(errs, fmt.Errorf("%w: mtu %d below 576", ErrConfig, out.MTU))
	}
	return out, errors.Join(errs...)
}
