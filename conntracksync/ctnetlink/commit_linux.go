package ctnetlink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/nsenter"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Committer tuning: messages per sendmsg, and the socket buffers that make
// room for a batch and for its error replies.
const (
	commitBatch    = 512
	commitSockBuf  = 4 << 20
	commitRecvWait = 10 * time.Second
)

// CommitBatch is how many requests a commit sends per datagram.
const CommitBatch = commitBatch

// ctSock is a raw NETLINK_NETFILTER socket for batched requests. mdlayher's
// netlink.Conn stops at the first error message of a datagram, which would
// lose the per-message replies of a batch, so this one reads them itself.
type ctSock struct {
	fd  int
	pid uint32
	seq uint32
	rb  []byte
	wb  nlb
}

func openCTSock() (*ctSock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("conntracksync: commit socket: %w", err)
	}
	s := &ctSock{fd: fd, rb: make([]byte, 1<<16), seq: uint32(time.Now().UnixNano())}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		s.close()
		return nil, fmt.Errorf("conntracksync: commit socket bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("conntracksync: commit socket name: %w", err)
	}
	s.pid = sa.(*unix.SockaddrNetlink).Pid
	// Best effort: larger buffers (FORCE needs CAP_NET_ADMIN, which commit
	// needs anyway), short error replies, and a receive deadline so that a
	// lost reply can never hang a commit.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, commitSockBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, commitSockBuf)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, commitSockBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, commitSockBuf)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	tv := unix.NsecToTimeval(commitRecvWait.Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return s, nil
}

func (s *ctSock) close() { _ = unix.Close(s.fd) }

// batchReq is one request of a batch.
type batchReq struct {
	op      commitOp
	flow    *ct.Flow
	timeout uint32
	idx     int // index in the committed entries
}

// do sends reqs in one sendmsg, acknowledged only on the last message, and
// returns the errno of every request. Requests that the kernel did not
// answer with an error succeeded: netlink reports every failure even
// without NLM_F_ACK, and processes a datagram's messages in order.
func (s *ctSock) do(reqs []batchReq, errs []syscall.Errno) error {
	return s.batch(len(reqs), func(w *nlb, i int, seq uint32, ack bool) {
		w.appendFlow(reqs[i].op, reqs[i].flow, reqs[i].timeout, seq, ack)
	}, errs)
}

// batch sends n requests, built by enc (request i with sequence number seq,
// ack on the last), as do does, and fills errs[:n].
func (s *ctSock) batch(n int, enc func(w *nlb, i int, seq uint32, ack bool), errs []syscall.Errno) error {
	s.wb.b = s.wb.b[:0]
	base := s.seq + 1
	for i := range n {
		enc(&s.wb, i, base+uint32(i), i == n-1)
	}
	s.seq += uint32(n)
	last := s.seq
	clear(errs)
	if _, err := unix.Write(s.fd, s.wb.b); err != nil {
		return fmt.Errorf("conntracksync: commit send: %w", err)
	}
	for {
		got, err := unix.Read(s.fd, s.rb)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("conntracksync: commit receive: %w", err)
		}
		b := s.rb[:got]
		for len(b) >= nlmsgHdrLen {
			l := int(binary.NativeEndian.Uint32(b))
			if l < nlmsgHdrLen || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			seq := binary.NativeEndian.Uint32(b[8:])
			if typ == nlmsgError && l >= nlmsgHdrLen+4 {
				errno := syscall.Errno(-int32(binary.NativeEndian.Uint32(b[nlmsgHdrLen:])))
				if idx := seq - base; idx < uint32(n) {
					errs[idx] = errno
				}
				if seq == last {
					return nil
				}
			}
			adv := (l + 3) &^ 3
			if adv > len(b) {
				break
			}
			b = b[adv:]
		}
	}
}

// Committer writes flows into the kernel table with batched ctnetlink
// requests on several sockets in parallel. Its sockets' port ids are
// registered in pids while it is open, so that the event listener knows the
// resulting events as ours.
type Committer struct {
	socks []*ctSock
	pids  *pidSet
}

// NewCommitter opens workers netlink sockets (0 = one per two CPUs, at least 1,
// at most 4) in
// the network namespace at netnsPath (empty: the current one).
func NewCommitter(workers int, netnsPath string) (*Committer, error) {
	return newCommitter(workers, nil, netnsPath)
}

func newCommitter(workers int, pids *pidSet, netnsPath string) (*Committer, error) {
	if workers <= 0 {
		workers = min(4, max(1, runtime.NumCPU()/2))
	}
	c := &Committer{pids: pids}
	for range workers {
		var s *ctSock
		err := nsenter.Do(netnsPath, func() (err error) {
			s, err = openCTSock()
			return err
		})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.socks = append(c.socks, s)
		if pids != nil {
			pids.add(s.pid)
		}
	}
	return c, nil
}

// PortIDs returns the netlink port ids of the committer's sockets.
func (c *Committer) PortIDs() []uint32 {
	out := make([]uint32, len(c.socks))
	for i, s := range c.socks {
		out[i] = s.pid
	}
	return out
}

// pidGrace is how long a closed committer's port ids stay known to the
// listener: the events of its last requests may still wait in the event
// socket when it closes.
const pidGrace = 10 * time.Second

// Close closes the sockets.
func (c *Committer) Close() {
	for _, s := range c.socks {
		if c.pids != nil {
			pid, pids := s.pid, c.pids
			time.AfterFunc(pidGrace, func() { pids.remove(pid) })
		}
		s.close()
	}
	c.socks = nil
}

// Commit writes entries into the kernel: flows without a master first, then
// related flows, each phase spread over the committer's sockets. An entry
// that exists already (EEXIST) is updated in place; if the kernel refuses
// the update, it is deleted and created again. Timeouts follow
// commitTimeoutSec. A per-entry refusal is counted in the stats; the error
// is for socket failures and ctx cancellation only.
func (c *Committer) Commit(ctx context.Context, entries []ct.Entry, now time.Time, commitTimeout time.Duration) (ct.CommitStats, error) {
	st, _, err := c.commit(ctx, entries, now, commitTimeout)
	return st, err
}

// commit is Commit, also returning which entries are now in the kernel.
func (c *Committer) commit(ctx context.Context, entries []ct.Entry, now time.Time, commitTimeout time.Duration) (ct.CommitStats, []bool, error) {
	start := time.Now()
	st := ct.CommitStats{Entries: len(entries)}
	ok := make([]bool, len(entries))
	masters, related := make([]batchReq, 0, len(entries)), []batchReq(nil)
	for i := range entries {
		e := &entries[i]
		r := batchReq{op: opCreate, flow: &e.Flow, timeout: ct.CommitTimeoutSec(e, now, commitTimeout), idx: i}
		if e.Flow.Related() {
			related = append(related, r)
		} else {
			masters = append(masters, r)
		}
	}
	for _, phase := range [][]batchReq{masters, related} {
		ps, err := c.commitPhase(ctx, phase, ok)
		st.Add(ps)
		if err != nil {
			st.Duration = time.Since(start)
			return st, ok, err
		}
	}
	st.Duration = time.Since(start)
	return st, ok, nil
}

func (c *Committer) commitPhase(ctx context.Context, reqs []batchReq, ok []bool) (ct.CommitStats, error) {
	if len(reqs) == 0 {
		return ct.CommitStats{}, nil
	}
	if len(c.socks) == 0 {
		return ct.CommitStats{}, errors.New("conntracksync: commit: committer closed")
	}
	n := min(len(c.socks), (len(reqs)+commitBatch-1)/commitBatch)
	per := (len(reqs) + n - 1) / n
	stats := make([]ct.CommitStats, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		lo, hi := w*per, min(len(reqs), (w+1)*per)
		wg.Go(func() { stats[w], errs[w] = c.socks[w].commitAll(ctx, reqs[lo:hi], ok) })
	}
	wg.Wait()
	var st ct.CommitStats
	for i := range stats {
		st.Add(stats[i])
	}
	return st, errors.Join(errs...)
}

// setTimeouts sets the timeout of each of flows that is still in the
// kernel table to timeout seconds, in batches on the first socket; a flow
// the kernel no longer has (ENOENT) is skipped. It returns how many were
// set and how many the kernel refused otherwise.
func (c *Committer) setTimeouts(ctx context.Context, flows []ct.Flow, timeout uint32) (set, failed int, err error) {
	return c.each(ctx, len(flows), func(i int, f *ct.Flow) { *f = flows[i] }, opTimeout, timeout)
}

// each sends request op (opTimeout with timeout, or opDelete) for n flows,
// flow i set by at, in batches on the first socket; a flow the kernel no
// longer has (ENOENT) is skipped. It returns how many succeeded and how
// many the kernel refused otherwise.
func (c *Committer) each(ctx context.Context, n int, at func(i int, f *ct.Flow), op commitOp, timeout uint32) (done, failed int, err error) {
	if len(c.socks) == 0 {
		return 0, 0, errors.New("conntracksync: committer closed")
	}
	s := c.socks[0]
	flows := make([]ct.Flow, min(n, commitBatch))
	reqs := make([]batchReq, 0, len(flows))
	errs := make([]syscall.Errno, commitBatch)
	for lo := 0; lo < n; lo += commitBatch {
		if err := ctx.Err(); err != nil {
			return done, failed, err
		}
		reqs = reqs[:0]
		for i := lo; i < min(n, lo+commitBatch); i++ {
			f := &flows[i-lo]
			at(i, f)
			reqs = append(reqs, batchReq{op: op, flow: f, timeout: timeout, idx: i})
		}
		if err := s.do(reqs, errs[:len(reqs)]); err != nil {
			return done, failed, err
		}
		for _, e := range errs[:len(reqs)] {
			switch e {
			case 0:
				done++
			case unix.ENOENT:
			default:
				failed++
			}
		}
	}
	return done, failed, nil
}

// commitAll creates reqs in batches, then retries EEXIST as updates and
// failed updates as delete+create.
// ok[r.idx] is set for each request that succeeded; workers own disjoint
// indexes.
func (s *ctSock) commitAll(ctx context.Context, reqs []batchReq, ok []bool) (ct.CommitStats, error) {
	var st ct.CommitStats
	errs := make([]syscall.Errno, commitBatch)
	var exists []batchReq
	for lo := 0; lo < len(reqs); lo += commitBatch {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		b := reqs[lo:min(len(reqs), lo+commitBatch)]
		if err := s.do(b, errs[:len(b)]); err != nil {
			return st, err
		}
		for i, e := range errs[:len(b)] {
			switch e {
			case 0:
				st.Created++
				ok[b[i].idx] = true
			case unix.EEXIST:
				r := b[i]
				r.op = opUpdate
				exists = append(exists, r)
			default:
				failStats(&st, e)
			}
		}
	}
	var replace []batchReq
	for lo := 0; lo < len(exists); lo += commitBatch {
		b := exists[lo:min(len(exists), lo+commitBatch)]
		if err := s.do(b, errs[:len(b)]); err != nil {
			return st, err
		}
		for i, e := range errs[:len(b)] {
			if e == 0 {
				st.Updated++
				ok[b[i].idx] = true
				continue
			}
			r := b[i]
			r.op = opDelete
			replace = append(replace, r)
			r.op = opCreate
			replace = append(replace, r)
		}
	}
	for lo := 0; lo < len(replace); lo += commitBatch {
		b := replace[lo:min(len(replace), lo+commitBatch)]
		if err := s.do(b, errs[:len(b)]); err != nil {
			return st, err
		}
		for i, e := range errs[:len(b)] {
			if b[i].op != opCreate {
				continue // a failed delete shows again as a failed create
			}
			if e == 0 {
				st.Replaced++
				ok[b[i].idx] = true
			} else {
				failStats(&st, e)
			}
		}
	}
	return st, nil
}
