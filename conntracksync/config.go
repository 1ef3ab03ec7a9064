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
	// our datagrams. Both IPv4 or both IPv6.
	LocalAddr, PeerAddr netip.Addr
	Port                uint16 // 0 = DefaultPort
	AckWindow           int    // 0 = ftfw.Config's default (conntrackd's 300)
	ResendQueue         int    // 0 = ftfw.Config's default (conntrackd's 131072)
	// CommitTimeout, when set, is the timeout of every committed flow, and
	// our updates carry no timeout (like conntrackd's CommitTimeout).
	CommitTimeout time.Duration
	// PurgeTimeout, when set, is the timeout Purge gives every flow of the
	// internal cache (conntrackd's PurgeTimeout); 0 = Purge does nothing.
	PurgeTimeout time.Duration
	Filter       Filter
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
	if !out.LocalAddr.IsValid() {
		errs = append(errs, fmt.Errorf("%w: local_address missing", ErrConfig))
	}
	if !out.PeerAddr.IsValid() {
		errs = append(errs, fmt.Errorf("%w: peer_address missing", ErrConfig))
	}
	if out.LocalAddr.IsValid() && out.PeerAddr.IsValid() && out.LocalAddr.Unmap().Is4() != out.PeerAddr.Unmap().Is4() {
		errs = append(errs, fmt.Errorf("%w: local_address %s and peer_address %s are of different families", ErrConfig, out.LocalAddr, out.PeerAddr))
	}
	if out.AckWindow < 0 || out.ResendQueue < 0 || out.CommitTimeout < 0 || out.PurgeTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: negative ack_window, resend_queue, commit_timeout or PurgeTimeout", ErrConfig))
	}
	if out.MTU < 576 {
		errs = append(errs, fmt.Errorf("%w: mtu %d below 576", ErrConfig, out.MTU))
	}
	return out, errors.Join(errs...)
}
