package conntracksync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
)

// fromKernel converts a ti-mo flow to ours.
func fromKernel(k *conntrack.Flow) Flow {
	f := Flow{
		Orig:       tupleFromKernel(k.TupleOrig),
		Reply:      tupleFromKernel(k.TupleReply),
		Zone:       k.Zone,
		Status:     uint32(k.Status.Value),
		TimeoutSec: k.Timeout,
		Mark:       k.Mark,
		Helper:     k.Helper.Name,
		SeqAdjOrig: SeqAdj{k.SeqAdjOrig.Position, k.SeqAdjOrig.OffsetBefore, k.SeqAdjOrig.OffsetAfter},
		SeqAdjReply: SeqAdj{k.SeqAdjReply.Position, k.SeqAdjReply.OffsetBefore,
			k.SeqAdjReply.OffsetAfter},
	}
	if k.TupleMaster.IP.SourceAddress.IsValid() {
		f.Master = tupleFromKernel(k.TupleMaster)
	}
	if t := k.ProtoInfo.TCP; t != nil {
		f.TCPState, f.TCPWScaleOrig, f.TCPWScaleRep = t.State, t.OriginalWindowScale, t.ReplyWindowScale
	}
	if s := k.ProtoInfo.SCTP; s != nil {
		f.SCTPState, f.SCTPVTagOrig, f.SCTPVTagRep = s.State, s.VTagOriginal, s.VTagReply
	}
	if d := k.ProtoInfo.DCCP; d != nil {
		f.DCCPState, f.DCCPRole = d.State, d.Role
	}
	if strings.Trim(string(k.Labels), "\x00") != "" {
		f.Labels = string(k.Labels)
	}
	return f
}

func tupleFromKernel(t conntrack.Tuple) Tuple {
	out := Tuple{
		Src:   t.IP.SourceAddress.Unmap(),
		Dst:   t.IP.DestinationAddress.Unmap(),
		Proto: t.Proto.Protocol,
	}
	switch t.Proto.Protocol {
	case ProtoICMP, ProtoICMPv6:
		out.ICMPType, out.ICMPCode, out.ICMPID = t.Proto.ICMPType, t.Proto.ICMPCode, t.Proto.ICMPID
	default:
		out.SrcPort, out.DstPort = t.Proto.SourcePort, t.Proto.DestinationPort
	}
	return out
}

// Update kinds reported by the listener.
type UpdateKind uint8

// What happened to a flow of the internal cache.
const (
	UpdateNew UpdateKind = iota
	UpdateChange
	UpdateDelete
)

func (k UpdateKind) String() string {
	switch k {
	case UpdateNew:
		return "new"
	case UpdateChange:
		return "update"
	}
	return "delete"
}

// ListenerStats counts the listener's work.
type ListenerStats struct {
	Events       uint64 // kernel events received
	OwnEvents    uint64 // events caused by our own commits (applied, not announced)
	Dumps        uint64 // full dumps, the initial one included
	Redumps      uint64 // dumps after a receive error (ENOBUFS and others)
	RecvErrors   uint64
	LastError    string
	Filtered     [numDropReasons]uint64
	DecodeErrors uint64
}

// Listener keeps an internal cache equal to the kernel table: an initial
// dump, then new/update/destroy events. Changes that are not ours are
// reported to OnUpdate, from the listener's goroutine.
type Listener struct {
	log    *slog.Logger
	cache  *Cache
	filter *Filter
	pids   *pidSet
	// OnUpdate, when set, is called for every change of the cache that
	// did not come from our own commit.
	onUpdate func(UpdateKind, *Flow)
	// readBuffer is the event socket's receive buffer (SO_RCVBUFFORCE).
	readBuffer int
	// minRedump is the least time between two dumps.
	minRedump time.Duration
	netns     string

	events, ownEvents, dumps, redumps, recvErrors, decodeErrors atomic.Uint64
	filtered                                                    [numDropReasons]atomic.Uint64
	lastErr                                                     atomic.Value // string
}

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	Filter *Filter
	// ReadBuffer is the event socket's receive buffer in bytes; 0 = 8 MiB.
	ReadBuffer int
	// MinRedump is the least time between two dumps after receive
	// errors; 0 = 1 s.
	MinRedump time.Duration
	// OnUpdate is called, from the listener's goroutine, for every change
	// of the cache not caused by our own commits.
	OnUpdate func(UpdateKind, *Flow)
	// Netns is the path of the network namespace to follow (empty: the
	// one the process runs in), such as /run/netns/NAME.
	Netns string
}

// NewListener returns a listener that keeps cache in step with the kernel
// of the network namespace its Run is called in.
func NewListener(log *slog.Logger, cache *Cache, cfg ListenerConfig) *Listener {
	return newListener(log, cache, cfg, &pidSet{})
}

func newListener(log *slog.Logger, cache *Cache, cfg ListenerConfig, pids *pidSet) *Listener {
	l := &Listener{log: log, cache: cache, filter: cfg.Filter, pids: pids, onUpdate: cfg.OnUpdate,
		readBuffer: cfg.ReadBuffer, minRedump: cfg.MinRedump, netns: cfg.Netns}
	if l.readBuffer == 0 {
		l.readBuffer = 8 << 20
	}
	if l.minRedump == 0 {
		l.minRedump = time.Second
	}
	return l
}

// NewCommitter opens a committer whose events this listener recognises as
// its own.
func (l *Listener) NewCommitter(workers int) (*Committer, error) {
	return newCommitter(workers, l.pids, l.netns)
}

// Stats returns a snapshot of the counters.
func (l *Listener) Stats() ListenerStats {
	s := ListenerStats{Events: l.events.Load(), OwnEvents: l.ownEvents.Load(), Dumps: l.dumps.Load(),
		Redumps: l.redumps.Load(), RecvErrors: l.recvErrors.Load(), DecodeErrors: l.decodeErrors.Load()}
	if e, ok := l.lastErr.Load().(string); ok {
		s.LastError = e
	}
	for i := range s.Filtered {
		s.Filtered[i] = l.filtered[i].Load()
	}
	return s
}

// Run subscribes to events, dumps the table, and follows events until ctx
// ends. Any receive error (ENOBUFS when events came faster than they were
// read) makes Run subscribe a new socket, close the old one, and dump again,
// at most once per MinRedump, forever. The new socket is joined before the
// old one is closed: the kernel attaches the event extension to a new flow
// only while some socket listens (net.netfilter.nf_conntrack_events=2, the
// default), so a gap without listeners would create flows whose destruction
// is never reported. Run returns ctx's error, or the setup error when the
// very first subscription or dump fails (no permission, no ctnetlink).
func (l *Listener) Run(ctx context.Context) error {
	ev, err := l.subscribe()
	if err != nil {
		return err
	}
	defer func() { ev.Close() }()
	if err := l.dump(); err != nil {
		return fmt.Errorf("%w: dump: %w", errSetup, err)
	}
	backoff := l.minRedump
	for {
		lastDump := time.Now()
		err := l.receive(ctx, ev)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.recvErrors.Add(1)
		l.lastErr.Store(err.Error())
		l.log.Warn("conntrack event socket failed: subscribing and dumping again", "err", err)
		for {
			next, err := l.subscribe()
			if err == nil {
				ev.Close()
				ev = next
				break
			}
			l.lastErr.Store(err.Error())
			l.log.Error("conntrack event socket: cannot subscribe again", "err", err, "retry", backoff)
			if !sleepCtx(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		if !sleepCtx(ctx, time.Until(lastDump.Add(l.minRedump))) {
			return ctx.Err()
		}
		for {
			err := l.dump()
			if err == nil {
				break
			}
			l.lastErr.Store(err.Error())
			l.log.Error("conntrack dump failed", "err", err, "retry", backoff)
			if !sleepCtx(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		l.redumps.Add(1)
		backoff = l.minRedump
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

var errSetup = errors.New("conntracksync: event socket setup")

// subscribe opens an event socket joined to the conntrack groups.
func (l *Listener) subscribe() (*netfilter.Conn, error) {
	var ev *netfilter.Conn
	err := inNetns(l.netns, func() (err error) {
		ev, err = netfilter.Dial(&netlink.Config{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSetup, err)
	}
	if err := ev.SetReadBuffer(l.readBuffer); err != nil {
		ev.Close()
		return nil, fmt.Errorf("%w: read buffer: %w", errSetup, err)
	}
	if err := ev.JoinGroups(netfilter.GroupsCT); err != nil {
		ev.Close()
		return nil, fmt.Errorf("%w: join: %w", errSetup, err)
	}
	return ev, nil
}

// receive handles events until a receive error or ctx's end.
func (l *Listener) receive(ctx context.Context, ev *netfilter.Conn) error {
	// Unblock Receive when ctx ends; the deadline leaves the socket open
	// for Run to close.
	stop := context.AfterFunc(ctx, func() { _ = ev.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		msgs, err := ev.Receive()
		if err != nil {
			return fmt.Errorf("conntracksync: event receive: %w", err)
		}
		for _, m := range msgs {
			l.handle(m)
		}
	}
}

func (l *Listener) dump() error {
	var c *conntrack.Conn
	err := inNetns(l.netns, func() (err error) {
		c, err = conntrack.Dial(nil)
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()
	kflows, err := c.Dump(nil)
	if err != nil {
		return err
	}
	l.dumps.Add(1)
	flows := make([]Flow, 0, len(kflows))
	for i := range kflows {
		f := fromKernel(&kflows[i])
		if r := l.filter.Check(&f); r != DropNone {
			l.filtered[r].Add(1)
			continue
		}
		flows = append(flows, f)
	}
	now := time.Now()
	changed, removed := l.cache.Replace(flows, now)
	if l.onUpdate != nil {
		for i := range changed {
			l.onUpdate(UpdateChange, &changed[i])
		}
		for i := range removed {
			l.onUpdate(UpdateDelete, &removed[i])
		}
	}
	return nil
}

func (l *Listener) handle(m netlink.Message) {
	l.events.Add(1)
	var ev conntrack.Event
	if err := ev.Unmarshal(m); err != nil || ev.Flow == nil {
		l.decodeErrors.Add(1)
		return
	}
	own := l.pids.has(m.Header.PID)
	if own {
		l.ownEvents.Add(1)
	}
	f := fromKernel(ev.Flow)
	now := time.Now()
	if ev.Type == conntrack.EventDestroy {
		if old, ok := l.cache.Delete(f.Key()); ok && !own && l.onUpdate != nil {
			l.onUpdate(UpdateDelete, &old)
		}
		return
	}
	if r := l.filter.Check(&f); r != DropNone {
		l.filtered[r].Add(1)
		return
	}
	old, existed := l.cache.Get(f.Key())
	if existed {
		mergeEvent(&f, &old.Flow, ev.Flow)
	}
	changed := l.cache.Put(f, now)
	if own || !changed || l.onUpdate == nil {
		return
	}
	kind := UpdateChange
	if !existed {
		kind = UpdateNew
	}
	l.onUpdate(kind, &f)
}

// mergeEvent completes f, decoded from an update event, with what such an
// event leaves out unless it changed: protocol info, master, helper and
// sequence adjustment are only present in the events that change them.
func mergeEvent(f, old *Flow, k *conntrack.Flow) {
	if k.ProtoInfo.TCP == nil {
		f.TCPState, f.TCPWScaleOrig, f.TCPWScaleRep = old.TCPState, old.TCPWScaleOrig, old.TCPWScaleRep
	}
	if k.ProtoInfo.SCTP == nil {
		f.SCTPState, f.SCTPVTagOrig, f.SCTPVTagRep = old.SCTPState, old.SCTPVTagOrig, old.SCTPVTagRep
	}
	if k.ProtoInfo.DCCP == nil {
		f.DCCPState, f.DCCPRole = old.DCCPState, old.DCCPRole
	}
	if f.Master.IsZero() {
		f.Master = old.Master
	}
	if f.Helper == "" {
		f.Helper = old.Helper
	}
	if f.SeqAdjOrig == (SeqAdj{}) && f.SeqAdjReply == (SeqAdj{}) {
		f.SeqAdjOrig, f.SeqAdjReply = old.SeqAdjOrig, old.SeqAdjReply
	}
}
