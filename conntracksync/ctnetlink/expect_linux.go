package ctnetlink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"golang.org/x/sys/unix"
)

// Expectations: the same hand-written netlink as the conntrack table, on
// the expectation subsystem. They are few (one per FTP transfer or SIP
// call being set up), so the event socket is small, commits go in one
// batch on one socket, and our own commits are not told apart by port id:
// the Replicator puts them into its cache before it commits them, and an
// event that changes nothing there is not announced.

var _ ct.ExpectKernel = (*Kernel)(nil)

// FollowExpect keeps t.Cache equal to the kernel's expectation table: a
// dump (once t.ReadAfter, when set, is closed), then NEW and DESTROY
// events; after a receive error (an overflow) a new socket and a dump
// again, at most once a second. It returns ctx's error, or the setup
// error of the first subscription or dump.
func (k *Kernel) FollowExpect(ctx context.Context, t ct.ExpectTable) error {
	ev, err := k.subscribeExpect()
	if err != nil {
		return err
	}
	defer func() { ev.close() }()
	if err := ct.AwaitRead(ctx, t.ReadAfter); err != nil {
		return err
	}
	if err := dumpExpect(ev, t); err != nil {
		return fmt.Errorf("%w: expectation dump: %w", errSetup, err)
	}
	for {
		lastDump := time.Now()
		err := k.receiveExpect(ctx, ev, t)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		k.log.Warn("expectation event socket failed: subscribing and dumping again", "err", err)
		for {
			next, err := k.subscribeExpect()
			if err == nil {
				ev.close()
				ev = next
				break
			}
			if !sleepCtx(ctx, time.Second) {
				return ctx.Err()
			}
		}
		if !sleepCtx(ctx, time.Until(lastDump.Add(time.Second))) {
			return ctx.Err()
		}
		for dumpExpect(ev, t) != nil {
			if !sleepCtx(ctx, time.Second) {
				return ctx.Err()
			}
		}
	}
}

// followed returns the listener of Follow, nil before it runs.
func (k *Kernel) followed() *Listener {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.l
}

// expEventBuffer is the expectation event socket's receive buffer.
const expEventBuffer = 4 << 20

func (k *Kernel) subscribeExpect() (*evSock, error) {
	ev, err := openEvSockIn(k.cfg.Netns, expEventBuffer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSetup, err)
	}
	if err := ev.joinGroups(nfnlgrpExpNew, nfnlgrpExpDestroy); err != nil {
		ev.close()
		return nil, fmt.Errorf("%w: %w", errSetup, err)
	}
	return ev, nil
}

// dumpExpect replaces t.Cache's content with the kernel's expectations and
// reports the differences.
func dumpExpect(ev *evSock, t ct.ExpectTable) error {
	var xs []ct.Expect
	err := ev.dumpSub(subsysCTExp, func(data []byte) error {
		var x ct.Expect
		if err := decodeExpect(data, &x); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		xs = append(xs, x)
		return nil
	})
	if err != nil {
		return err
	}
	t.Replace(xs, time.Now())
	return nil
}

// receiveExpect handles expectation events until a receive error or ctx's
// end. A message it cannot decode is skipped.
func (k *Kernel) receiveExpect(ctx context.Context, ev *evSock, t ct.ExpectTable) error {
	handle := func(m nlMsg) error {
		if m.typ>>8 != subsysCTExp || len(m.data) < nfgenmsgLen {
			return nil
		}
		var x ct.Expect
		if decodeExpect(m.data[nfgenmsgLen:], &x) != nil {
			return nil
		}
		now := time.Now()
		switch m.typ & 0xff {
		case expMsgNew:
			if l := k.followed(); l != nil {
				if err := l.refresh(expTuple(&x.Master)); err != nil {
					k.log.Debug("expectation's master: cannot read it again", "err", err)
				}
			}
			if t.Cache.Put(&x, now) && t.OnUpdate != nil {
				t.OnUpdate(ct.UpdateNew, &x)
			}
		case expMsgDelete:
			if t.Cache.Delete(&x) && t.OnUpdate != nil {
				t.OnUpdate(ct.UpdateDelete, &x)
			}
		}
		return nil
	}
	for ctx.Err() == nil {
		if err := ev.recvEvents(handle); err != nil && !errors.Is(err, errRecvTimeout) {
			return err
		}
	}
	return ctx.Err()
}

// CommitExpect creates entries in the kernel on the committer's first
// socket, in batches, each linked to its master by the master's original
// tuple. A master that is not there makes the kernel answer ENOENT
// (counted as NoMaster); EEXIST counts as committed (it is there).
func (k *Kernel) CommitExpect(ctx context.Context, entries []ct.ExpectEntry, now time.Time, commitTimeout time.Duration) (ct.ExpectCommitStats, []bool, error) {
	st := ct.ExpectCommitStats{Entries: len(entries), Errors: map[string]int{}}
	ok := make([]bool, len(entries))
	err := k.withCommitter(true, func(c *Committer) error {
		s := c.socks[0]
		errs := make([]syscall.Errno, commitBatch)
		for from := 0; from < len(entries); from += commitBatch {
			if err := ctx.Err(); err != nil {
				return err
			}
			part := entries[from:min(from+commitBatch, len(entries))]
			err := s.batch(len(part), func(w *nlb, i int, seq uint32, ack bool) {
				w.appendExpect(&part[i].Expect, ct.ExpectTimeoutSec(&part[i], now, commitTimeout), seq, ack)
			}, errs[:len(part)])
			if err != nil {
				return err
			}
			for i, e := range errs[:len(part)] {
				switch e {
				case 0, unix.EEXIST:
					ok[from+i] = true
					st.Committed++
				case unix.ENOENT:
					st.NoMaster++
				default:
					st.Failed++
					st.Errors[e.Error()]++
				}
			}
		}
		return nil
	})
	return st, ok, err
}

// refresh reads the flow with original tuple t from the kernel (a
// ctnetlink GET) into the followed table, as an event would. The kernel
// sends no event when a NAT helper changes a flow's sequence adjustment
// (an FTP PORT rewritten to a longer or shorter address), so FollowExpect
// calls it for the master of every new expectation: the helper adjusts
// the master's sequence numbers in the same packet that makes the
// expectation. Safe to call beside Run.
func (l *Listener) refresh(t ct.Tuple) error {
	s, err := openEvSockIn(l.netns, 0)
	if err != nil {
		return err
	}
	defer s.close()
	var w nlb
	start := w.header(ctMsgGet, nlmFRequest, 1, family(t))
	w.tuple(ctaTupleOrig, t)
	w.msgEnd(start)
	if _, err := unix.Write(s.fd, w.b); err != nil {
		return err
	}
	var f ct.Flow
	found := false
	err = s.recv(func(m nlMsg) error {
		switch {
		case m.typ == nlmsgError:
			if len(m.data) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(m.data)); e != 0 {
					return unix.Errno(-e)
				}
			}
			return nil
		case m.typ>>8 != subsysCT || len(m.data) < nfgenmsgLen:
			return nil
		}
		var d decoded
		if err := decodeFlow(m.data[nfgenmsgLen:], &f, &d); err != nil {
			return err
		}
		found = true
		return nil
	})
	if err != nil || !found {
		return err
	}
	if r := l.filter.Check(&f); r != ct.DropNone {
		return nil
	}
	if l.cache.Put(f, time.Now()) && l.onUpdate != nil {
		l.onUpdate(ct.UpdateChange, &f)
	}
	return nil
}
