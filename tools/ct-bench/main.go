//go:build linux

// Command ct-bench measures vigil's conntrack replication against Debian's
// conntrackd in the same lab and run, beside the floors that bound both,
// at several table sizes, and prints them side by side: commit of the
// external cache into the kernel (with the kernel's own insert floor: a
// bare batched ctnetlink create of the same requests), CPU per replicated
// entry on the event path for sender and receiver, bulk resync of the
// whole table to a peer whose external cache was flushed (with the
// encoding alone and the link's floor: a bare sendmmsg of the same
// datagrams) and, last and at the largest size only, to a restarted peer
// (a new receiver process, from its exec, beside the kernel's walk of the
// table that its start-up dump pays and the floor: a new process, this
// command's "floor-recv" mode, that only keeps the same bulk's datagrams),
// and peak RSS. Every figure but the
// event path is the median of -trials trials.
//
// It builds nine network namespaces: a vigil pair and a conntrackd pair,
// a vigil pair whose backup is a warm standby and a conntrackd pair whose
// backup has DisableExternalCache (both backups write each flow into their
// kernel as it arrives), each pair joined by its own veth sync link, and
// one for the floors; it writes the same flows into every sender's kernel.
// The DisableExternalCache pair runs alone, after the others' event path:
// started for each size, fed that size's flows, then stopped and flushed.
// Each vigil node runs in a child process (this command's "node" mode, in
// a copy built at the start without cgo, as vigild ships) so that its CPU
// time and RSS are measured from /proc exactly like conntrackd's. For
// sizes beyond the host's nf_conntrack_max it raises that limit for the
// run, and it sizes the host's conntrack hash (nf_conntrack_buckets) for
// the entries the run holds at once across its namespaces; it restores
// both afterwards (the hash size is in every table's header). Needs root, ip, conntrack,
// conntrackd. With -out it writes the tables (ct-scale.md) and SVG charts
// (ct-*.svg) into that directory.
//
//	go run ./tools/ct-bench [-sizes 10000,100000] [-trials 3] [-out docs/perf]
//
// It prints on standard error, for each size, the event path's CPU of
// every thread of the four daemons, and how often each sender's event
// socket has overflowed so far (vigil's dumps of the table; conntrackd's
// netlink overruns and resyncs with the kernel's table, from conntrackd
// -s runtime): an overflow costs a dump, which the CPU per entry then
// includes. For every bulk of vigil's it prints the CPU its sender and
// receiver took and the pages each touched for the first time (minor
// faults), and after them what one such first touch costs on this machine
// (a fresh anonymous mapping written page by page): a bulk that needs fresh
// memory pays that per page. With CTBENCH_PERF_DIR=DIR it records a
// perf profile of each of them over the event path, and of the vigil
// nodes over each size's first bulk, into DIR; with
// CTBENCH_PROFILE_DIR=DIR the vigil nodes write Go CPU and heap profiles
// of their whole run there, and heap profiles of what is live once the
// receivers hold each size's flows and after its commits and bulks (each
// after a collection, which the nodes would not have run then). With
// CTBENCH_BACKLOG=1 the vigil sender samples its channel's backlog
// (messages queued and unacknowledged) every 2 ms over the event path, and
// the bench prints the largest and the sender's resident file pages (the
// sampling adds to the sender's CPU and garbage over the event path, so it
// is off by default). With CTBENCH_LOG=info the
// vigil nodes log at info level too, with microsecond stamps: when
// sessions start, bulks are sent and the start-up read begins.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/testnet"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		// Memory as vigild's has it: without transparent huge pages.
		// Where the host's mode is "always" the node starts again for
		// that, which vigild's sync worker does not need (it inherits the
		// setting from the daemon), so there a restarted node's time
		// from its exec holds one start more than vigild's.
		if err := memtrim.NoHugePages(); err != nil {
			fmt.Fprintln(os.Stderr, "ct-bench node:", err)
		}
		if err := runNode(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "ct-bench node:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "floor-recv" {
		if err := runFloorRecv(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "ct-bench floor-recv:", err)
			os.Exit(1)
		}
		return
	}
	sizesFlag := flag.String("sizes", "10000,100000", "table sizes, ascending, comma-separated")
	trials := flag.Int("trials", 3, "trials per measure (the median is reported)")
	out := flag.String("out", "", "directory for ct-scale.md and the charts (for example docs/perf)")
	warmOnly := flag.Bool("warm-only", false, "flows to the warm standby's pair only, and measure its event path and takeover alone (no commits, no bulks): a shorter run")
	bulkOnly := flag.Bool("bulk-only", false, "measure the event path and the bulk resyncs only (no commits, no warm takeovers: their tables show 0): a shorter run for comparing bulks over many trials")
	flag.Parse()
	var sizes []int
	for _, f := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || (len(sizes) > 0 && n <= sizes[len(sizes)-1]) {
			fmt.Fprintln(os.Stderr, "ct-bench: -sizes must be ascending positive integers")
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	if *warmOnly && *bulkOnly {
		fmt.Fprintln(os.Stderr, "ct-bench: -warm-only and -bulk-only exclude each other")
		os.Exit(2)
	}
	if err := bench("ct-bench", sizes, max(1, *trials), *out, *warmOnly, *bulkOnly); err != nil {
		fmt.Fprintln(os.Stderr, "ct-bench:", err)
		os.Exit(1)
	}
}

// vnode is a vigil node child process.
type vnode struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	once sync.Once
}

// stop ends the node: closing its stdin ends it cleanly (profiles
// flushed), SIGKILL if it does not exit within 5 s. Stopping twice is
// harmless.
func (v *vnode) stop() {
	v.once.Do(func() {
		_ = v.in.Close()
		done := make(chan struct{})
		go func() { _ = v.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = v.cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
	})
}

func (v *vnode) call(format string, args ...any) (map[string]any, error) {
	if _, err := fmt.Fprintf(v.in, format+"\n", args...); err != nil {
		return nil, err
	}
	if !v.out.Scan() {
		return nil, fmt.Errorf("node exited: %v", v.out.Err())
	}
	var m map[string]any
	if err := json.Unmarshal(v.out.Bytes(), &m); err != nil {
		return nil, err
	}
	// A node answers a command that failed (or that it does not know)
	// with "err".
	if e, ok := m["err"]; ok {
		return m, fmt.Errorf("node: %s: %v", strings.Fields(format)[0], e)
	}
	return m, nil
}

func (v *vnode) num(key string) int {
	m, err := v.call("stats")
	if err != nil {
		return -1
	}
	f, _ := m[key].(float64)
	return int(f)
}

// procCPU returns a process's CPU time (the sum of its threads'
// /proc/PID/task/TID/schedstat run times, nanosecond resolution), and its
// peak RSS (VmHWM).
func procCPU(pid int) (time.Duration, int64) {
	var cpu time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			cpu += time.Duration(ns)
		}
	}
	var hwm int64
	if kb, err := testnet.StatusKB(pid, "VmHWM"); err == nil {
		hwm = kb[0]
	}
	return cpu, hwm * 1024
}

// minorFaults returns a process's minor page faults so far (proc(5),
// /proc/PID/stat field 10; 0 if it cannot be read): on an anonymous
// mapping, mostly the first touches of fresh pages.
func minorFaults(pid int) int64 {
	f, err := testnet.StatFields(pid)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(f[7], 10, 64)
	return n
}

// firstTouchMicros is what this machine's kernel takes to give a process
// a fresh page on its first write: the median over five 10 MiB anonymous
// mappings, written once per 4 KiB page, in µs per page.
func firstTouchMicros() float64 {
	const size, page = 10 << 20, 4096
	var per []float64
	for range 5 {
		b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			return 0
		}
		t0 := time.Now()
		for i := 0; i < size; i += page {
			b[i] = 1
		}
		per = append(per, float64(time.Since(t0).Nanoseconds())/1e3/(size/page))
		_ = syscall.Munmap(b)
	}
	return median(per)
}

// genFlows builds n distinct established TCP and UDP flows, a tenth of
// them source-NATed.
func genFlows(from, n int) []conntracksync.Entry {
	out := make([]conntracksync.Entry, 0, n)
	now := time.Now()
	for i := from; i < from+n; i++ {
		f := conntracksync.Flow{
			Orig: conntracksync.Tuple{Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%250)}),
				Dst:     netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + (i/250)%240)}),
				Proto:   conntracksync.ProtoTCP,
				SrcPort: uint16(1024 + i%60000), DstPort: uint16(80 + i/60000)},
			Status:     conntracksync.StatusSeenReply | conntracksync.StatusAssured | conntracksync.StatusConfirmed,
			TCPState:   conntracksync.TCPEstablished,
			TimeoutSec: 3600,
		}
		if i%3 == 1 {
			f.Orig.Proto, f.TCPState = conntracksync.ProtoUDP, 0
		}
		f.Reply = f.Orig.Invert()
		if i%10 == 2 {
			f.Reply.Dst = netip.MustParseAddr("203.0.113.1")
			f.Reply.DstPort = uint16(10000 + i/10)
		}
		out = append(out, conntracksync.Entry{Flow: f, Updated: now})
	}
	return out
}

func inject(netns string, es []conntracksync.Entry) error {
	c, err := ctnetlink.NewCommitter(2, netns)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Commit(context.Background(), es, time.Now(), 0)
	if err == nil && st.Created != len(es) {
		err = fmt.Errorf("injected %d of %d flows: %v", st.Created, len(es), st.Errors)
	}
	return err
}

func waitFor(what string, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// bigSize is the table size from which each measure runs a third of the
// trials (at least one): a million flows take minutes per trial.
const bigSize = 500000

// resetPeak resets a process's peak RSS (VmHWM) to its current RSS
// (proc(5), clear_refs).
func resetPeak(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// waitProgress polls count until it reaches target or has not changed for
// idle, and returns its last value.
func waitProgress(count func() int, target int, idle time.Duration) int {
	last, since := -1, time.Now()
	for {
		c := count()
		if c >= target {
			return c
		}
		if c != last {
			last, since = c, time.Now()
		} else if time.Since(since) > idle {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// num reads a number of a node's answer (0 when absent).
func num(m map[string]any, key string) float64 {
	v, _ := m[key].(float64)
	return v
}

func kernelCount(h *testnet.Host) int {
	out, err := h.Command(context.Background(), "conntrack", "-C").Output()
	if err != nil {
		return -1
	}
	v, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return v
}

// ns is the path of h's network namespace.
func ns(h *testnet.Host) string { return "/run/netns/" + h.Name() }

// directResult is what directPair measured.
type directResult struct {
	flows          int     // flows in the backup's kernel
	cpu            float64 // the backup's CPU per flow, µs
	rss, senderRSS float64 // peak RSS (VmHWM), MB
}

// directPair measures conntrackd with DisableExternalCache at size n: a
// pair started on d1 and d2 (conf(i, extra) is node i's configuration),
// n flows written into d1's kernel, and the backup's CPU until its kernel
// holds them (or as many as it got: conntrackd may lose some for good);
// then both stopped and their tables flushed.
func directPair(t *testnet.Standalone, d1, d2 *testnet.Host, conf func(i int, extra string) testnet.ConntrackdConfig, n int) (directResult, error) {
	var r directResult
	ds := d1.Conntrackd(t, conf(0, "DisableExternalCache On"))
	dr := d2.Conntrackd(t, conf(1, "DisableExternalCache On"))
	defer func() {
		_ = ds.Kill()
		_ = dr.Kill()
		d1.Exec(t, "conntrack", "-F")
		d2.Exec(t, "conntrack", "-F")
	}()
	time.Sleep(1500 * time.Millisecond) // conntrackd's HELLO rides on its 1 s ALIVE
	base := max(0, kernelCount(d2))     // the sync link's own entries
	c0, _ := procCPU(dr.Pid())
	if err := inject(ns(d1), genFlows(0, n)); err != nil {
		return r, err
	}
	got := waitProgress(func() int { return kernelCount(d2) - base }, n, 20*time.Second)
	if got <= 0 {
		return r, fmt.Errorf("conntrackd's DisableExternalCache backup wrote none of the %d flows into its kernel", n)
	}
	if got < n {
		fmt.Fprintf(os.Stderr, "ct-bench: conntrackd's DisableExternalCache backup holds %d of %d flows in its kernel after 20 s without progress\n", got, n)
	}
	c1, rss := procCPU(dr.Pid())
	_, srss := procCPU(ds.Pid())
	r.flows, r.cpu = got, float64((c1-c0).Nanoseconds())/1000/float64(got)
	r.rss, r.senderRSS = float64(rss)/1e6, float64(srss)/1e6
	return r, nil
}

// point is one size's figures: each a median over the trials.
type point struct {
	N int
	// Commit of the external cache into an empty table, ms: the kernel's
	// floor (bare batched creates of the same requests), vigil's
	// Committer alone, vigil's Replicator.Commit (the node), conntrackd -c.
	Floor, Committer, Commit, CtdCommit float64
	// Floor64 is the kernel's floor per flow (µs) in datagrams of 64
	// creates on one socket: what applying replicated flows to a
	// backup's table as they arrive would cost at least.
	Floor64 float64
	// Bulk resync, ms: encoding only, the link's floor (bare sendmmsg of
	// the same datagrams until the last one is received), vigil (flush +
	// request until the external cache is full), conntrackd (-f external,
	// -n until its external cache is full).
	Encode, Link, Resync, CtdResync float64
	Datagrams, Bytes                int
	// Restart and CtdRestart are the bulk resync to a restarted receiver,
	// ms: from the new receiver's exec until its external cache is full;
	// RestartWalk is the kernel's walk of the table that either's start-up
	// dump pays in this lab (conntrack -L in the receiver's empty
	// namespace, its exec included). Measured at the largest size only.
	// RestartFloor is the same bulk's floor: a new process that keeps its
	// datagrams (floor-recv), from its exec until its socket is open plus
	// from the first send until it holds the last datagram.
	Restart, CtdRestart, RestartWalk, RestartFloor float64
	// Event path CPU per entry, µs, for the flows added at this size.
	CPUSend, CPURecv, CtdCPUSend, CtdCPURecv float64
	// Redumps and CtdOverruns are how often the senders' event sockets
	// overflowed over this size's event path: each cost vigil a dump of
	// the table and conntrackd a resync against it, which their CPU per
	// entry includes (-1: conntrackd did not tell).
	Redumps, CtdOverruns int
	// CPUWarm is the warm standby's receiver CPU per entry, µs: it also
	// writes each flow into its kernel. CtdCPUDirect is the same for
	// conntrackd's backup with DisableExternalCache, which writes each
	// flow into its kernel instead of keeping it.
	CPUWarm, CtdCPUDirect float64
	// RSSWarm and CtdRSSDirect are those two backups' peak RSS (VmHWM,
	// MB) once they hold the flows.
	RSSWarm, CtdRSSDirect float64
	// WarmTakeover is what a takeover of the warm standby does before the
	// VIPs (SetMaster, Commit of the dirty set, flush), ms; WarmDirty the
	// size of that dirty set (the flows lost in its kernel first).
	WarmTakeover, WarmDirty float64
	// CtdLost is how many flows conntrackd's receiver never got.
	CtdLost int
	// LinkLost and RestartFloorLost are the most datagrams a trial of the
	// link's floor or of the restarted peer's floor did not receive of
	// those its send sent (neither retransmits): that trial's figure is
	// until the last one that came.
	LinkLost, RestartFloorLost int
	// Peak RSS (VmHWM), MB, once the receivers hold the flows, and at
	// the end of the size (commits and bulks included).
	RSSSend, RSSRecv, CtdRSSSend, CtdRSSRecv     float64
	PeakSend, PeakRecv, CtdPeakSend, CtdPeakRecv float64
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// bench builds the lab (namespaces named after name), measures every size
// and prints the tables; with outDir it writes them there with the charts.
func bench(name string, sizes []int, trials int, outDir string, warmOnly, bulkOnly bool) error {
	t := testnet.NewStandalone(name, os.Stderr)
	defer t.Close()
	t.CloseOnSignal()
	largest := slices.Max(sizes)
	// The table limit counts each namespace's entries against the host's
	// nf_conntrack_max: raise it for the largest size, restore it after.
	const maxPath = "/proc/sys/net/netfilter/nf_conntrack_max"
	if b, err := os.ReadFile(maxPath); err == nil {
		old := strings.TrimSpace(string(b))
		if cur, _ := strconv.Atoi(old); cur < largest+largest/4 {
			if err := os.WriteFile(maxPath, []byte(strconv.Itoa(largest+largest/4)), 0o644); err != nil {
				return fmt.Errorf("raising nf_conntrack_max: %w", err)
			}
			t.Cleanup(func() { _ = os.WriteFile(maxPath, []byte(old), 0o644) })
		}
	}
	// Every namespace's entries share the host's one hash table, whose
	// chains grow with the entries of all of them (and beyond a bound the
	// kernel refuses a create with ENOSPC): size it for what the run holds
	// at once, as a firewall sizes its hash for its table, restore it after.
	if err := sizeHostHash(labBuckets(largest, warmOnly, headsPerPage()), t.Cleanup); err != nil {
		return err
	}
	lab := testnet.New(t)
	v1, v2, c1, c2, fl := lab.Host("v1"), lab.Host("v2"), lab.Host("c1"), lab.Host("c2"), lab.Host("fl")
	w1, w2 := lab.Host("w1"), lab.Host("w2") // a vigil pair whose backup is a warm standby
	// A conntrackd pair with DisableExternalCache: its backup writes the
	// flows into its kernel as they arrive, the mode the warm standby is
	// compared with.
	d1, d2 := lab.Host("d1"), lab.Host("d2")
	for _, pair := range [][2]*testnet.Host{{v1, v2}, {c1, c2}, {w1, w2}, {d1, d2}} {
		a, b := lab.Wire(pair[0], "sync0", pair[1], "sync0")
		a.AddAddr(t, "203.0.113.201/24")
		b.AddAddr(t, "203.0.113.202/24")
	}

	// The nodes run as vigild's sync worker ships, static (not this
	// binary, which go run links against libc where a C compiler is
	// installed: about 1.5 MB more resident memory per node).
	nodeBin := testnet.BuildStatic(t, "github.com/vigil-ha/vigil/tools/ct-bench")
	startNode := func(h *testnet.Host, local, peer string, extra ...string) (*vnode, error) {
		cmd := exec.Command(nodeBin, append([]string{"node", "-netns", ns(h), "-local", local, "-peer", peer, "-iface", "sync0"}, extra...)...)
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		v := &vnode{cmd: cmd, in: in, out: sc}
		t.Cleanup(v.stop)
		return v, nil
	}
	vs, err := startNode(v1, "203.0.113.201", "203.0.113.202")
	if err != nil {
		return err
	}
	vr, err := startNode(v2, "203.0.113.202", "203.0.113.201")
	if err != nil {
		return err
	}
	ws, err := startNode(w1, "203.0.113.201", "203.0.113.202")
	if err != nil {
		return err
	}
	wr, err := startNode(w2, "203.0.113.202", "203.0.113.201", "-warm")
	if err != nil {
		return err
	}
	ctdConf := func(i int, modeExtra string) testnet.ConntrackdConfig {
		local, peer := "203.0.113.201", "203.0.113.202"
		if i == 1 {
			local, peer = peer, local
		}
		return testnet.ConntrackdConfig{Local: local, Peer: peer, Interface: "sync0", ModeExtra: modeExtra,
			SocketBuffer: 16 << 20, HashSize: 65536, HashLimit: max(524288, 2*largest), NetlinkBuffer: 32 << 20}
	}
	var ctds [2]*testnet.Conntrackd
	for i, h := range []*testnet.Host{c1, c2} {
		ctds[i] = h.Conntrackd(t, ctdConf(i, ""))
	}
	cs, cr := ctds[0], ctds[1]
	if err := waitFor("vigil handshake", 10*time.Second, func() bool {
		m, _ := vs.call("stats")
		est, _ := m["established"].(bool)
		return est
	}); err != nil {
		return err
	}
	if err := waitFor("conntrackd start", 10*time.Second, func() bool { return cr.ExternalCount(context.Background()) == 0 }); err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond) // conntrackd's HELLO rides on its 1 s ALIVE

	const linkPort = 3790
	lr, err := newLinkReceiver(ns(v2), "sync0", netip.MustParseAddr("203.0.113.202"), netip.MustParseAddr("203.0.113.201"), linkPort)
	if err != nil {
		return err
	}
	defer lr.close()

	pids := []int{vs.cmd.Process.Pid, vr.cmd.Process.Pid, cs.Pid(), cr.Pid(), ws.cmd.Process.Pid, wr.cmd.Process.Pid}
	flush := func(h *testnet.Host) { h.Exec(t, "conntrack", "-F") }
	// settle waits until the daemons are idle (less than 10 ms of CPU in
	// 250 ms, at most 30 s), so that no measurement competes with the
	// aftermath of the previous one (events of a flush, a re-dump).
	settle := func() {
		cpu := func() (sum time.Duration) {
			for _, pid := range pids {
				c, _ := procCPU(pid)
				sum += c
			}
			return sum
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			c0 := cpu()
			time.Sleep(250 * time.Millisecond)
			if cpu()-c0 < 10*time.Millisecond {
				return
			}
		}
	}
	var points []point
	prev, lastCtdN := 0, 0
	redumps, ctdOver := 0, 0 // the senders' overflows before this size
	for _, n := range sizes {
		p := point{N: n}
		fmt.Fprintf(os.Stderr, "ct-bench: %d entries\n", n)
		// The event path: the flows added since the previous size, into
		// both senders' kernels; CPU until both receivers hold them all.
		es := genFlows(prev, n-prev)
		var before, after [6]time.Duration
		var threads [4]map[string][2]int64
		for i, pid := range pids {
			resetPeak(pid) // each size's peaks are its own
			before[i], _ = procCPU(pid)
			if i < len(threads) {
				threads[i] = threadCPU(pid)
			}
		}
		// With -warm-only the other pairs get nothing: a shorter run of
		// the warm standby alone (no conntrackd, no commits, no bulks),
		// with two namespaces' flows in the host's hash instead of seven.
		senders := []*testnet.Host{v1, c1, w1}
		if warmOnly {
			senders = senders[2:]
		}
		backlog := os.Getenv("CTBENCH_BACKLOG") != "" && !warmOnly
		if backlog {
			if _, err := vs.call("backlog start"); err != nil {
				return err
			}
		}
		stopPerf := perfRecord(os.Getenv("CTBENCH_PERF_DIR"), "event", n, pids[:4])
		defer stopPerf() // on an error below; stopping twice is harmless
		for _, h := range senders {
			if err := inject(ns(h), es); err != nil {
				return err
			}
		}
		ctdN := n
		if !warmOnly {
			if err := waitFor("vigil receiver", 300*time.Second, func() bool { return vr.num("external") >= n }); err != nil {
				return err
			}
			// conntrackd may lose entries for good (FTFW's HELLO-phase and
			// event-overflow losses): wait until it holds them all or stops
			// making progress, and go on with what it holds.
			ctdN = waitProgress(func() int { return cr.ExternalCount(context.Background()) }, n, 20*time.Second)
			if ctdN < n {
				fmt.Fprintf(os.Stderr, "ct-bench: conntrackd's receiver holds %d of %d flows after 20 s without progress\n", ctdN, n)
				p.CtdLost = n - ctdN
			}
		}
		lastCtdN = ctdN
		stopPerf()
		// The warm standby: every flow written into its kernel.
		var last map[string]any
		if err := waitFor("vigil warm standby", max(300*time.Second, time.Duration(n)*time.Millisecond), func() bool {
			m, err := wr.call("stats")
			last = m
			// Flows the kernel refused are lost: the takeover writes them.
			return err == nil && int(num(m, "external")) >= n && int(num(m, "pending")) == 0 && kernelCount(w2)+int(num(m, "lost_now")) >= n
		}); err != nil {
			return fmt.Errorf("%w: %v, kernel %d", err, last, kernelCount(w2))
		}
		// What its event socket received of its own writes, and the
		// overflows (a dump each) they caused.
		fmt.Fprintf(os.Stderr, "ct-bench: warm standby %d: events received %v (own %v), redumps %v, write time %v ms\n",
			n, last["events"], last["own_events"], last["redumps"], last["write_ms"])
		var rss [6]int64
		for i, pid := range pids {
			after[i], rss[i] = procCPU(pid)
		}
		fmt.Fprintf(os.Stderr, "ct-bench: warm standby %d: peak RSS %.1f MB (its sender %.1f)\n", n, float64(rss[5])/1e6, float64(rss[4])/1e6)
		// conntrackd with DisableExternalCache, alone, after the others:
		// a pair of its own for this size, fed all n flows, then stopped
		// and its tables flushed. Left running, it keeps both CPUs busy
		// for a minute or more after its backup holds 1M flows, which the
		// measurements after the event path would pay.
		direct, err := directPair(t, d1, d2, ctdConf, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "ct-bench: conntrackd with DisableExternalCache %d: its backup wrote %d flows at %.2f µs each, peak RSS %.1f MB (its sender %.1f)\n",
			n, direct.flows, direct.cpu, direct.rss, direct.senderRSS)
		// Where the event path's CPU went, thread by thread (ms / times
		// scheduled in): a Go process's scheduler threads and runtime
		// monitor beside conntrackd's one thread.
		for i, who := range []string{"vigil sender", "vigil receiver", "conntrackd sender", "conntrackd receiver"} {
			fmt.Fprintf(os.Stderr, "ct-bench: event path %d, %s threads:%s\n", n, who, threadLine(threads[i], threadCPU(pids[i])))
		}
		if !warmOnly {
			// Events the senders' kernels dropped because their event
			// sockets were full: each costs vigil a dump of the table, and
			// conntrackd (NetlinkOverrunResync) a resync against it.
			m, err := vs.call("stats")
			if err != nil {
				return err
			}
			over, resync := ctdOverruns(cs)
			fmt.Fprintf(os.Stderr, "ct-bench: event path %d, senders' event sockets overflowed so far: vigil %v (a dump of the table each), conntrackd %d (resyncs with the kernel's table %d)\n",
				n, m["redumps"], over, resync)
			p.Redumps, p.CtdOverruns = int(num(m, "redumps"))-redumps, -1
			if over >= 0 {
				p.CtdOverruns = over - ctdOver
				ctdOver = over
			}
			redumps = int(num(m, "redumps"))
		}
		if backlog {
			m, err := vs.call("backlog stop")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "ct-bench: event path %d: the vigil sender's channel held at most %v messages (queued and unacknowledged, sampled every 2 ms); its resident file pages %v kB\n",
				n, m["max"], m["rss_file_kb"])
		}
		if err := heapProfiles(fmt.Sprintf("event-%d", n), fmt.Sprintf("once the receivers hold %d flows", n), vs, vr, wr); err != nil {
			return err
		}
		per := func(i int) float64 { return float64((after[i] - before[i]).Nanoseconds()) / 1000 / float64(n-prev) }
		p.CPUSend, p.CPURecv, p.CtdCPUSend, p.CtdCPURecv = per(0), per(1), per(2), per(3)
		p.CPUWarm = per(5)
		p.CtdCPUDirect = direct.cpu
		mb := func(x int64) float64 { return float64(x) / 1e6 }
		p.RSSSend, p.RSSRecv, p.CtdRSSSend, p.CtdRSSRecv = mb(rss[0]), mb(rss[1]), mb(rss[2]), mb(rss[3])
		p.RSSWarm, p.CtdRSSDirect = mb(rss[5]), direct.rss
		prev = n

		// Commit into an empty table, trials times each, interleaved.
		trials := trials
		if n >= bigSize {
			trials = max(1, trials/3)
		}
		// With -warm-only the commits and bulks are not measured again.
		others := trials
		if warmOnly {
			others = 0
		}
		// With -bulk-only neither the commits nor the warm takeovers.
		commits, takeovers := others, trials
		if bulkOnly {
			commits, takeovers = 0, 0
		}
		all := genFlows(0, n)
		dgrams := ctnetlink.EncodeCreates(all, time.Now(), 0, ctnetlink.CommitBatch)
		small := ctnetlink.EncodeCreates(all, time.Now(), 0, 64)
		workers := 0
		var fls, f64s, cms, nodes, ctdc []float64
		for range commits {
			flush(fl)
			settle()
			c, err := ctnetlink.NewCommitter(0, ns(fl))
			if err != nil {
				return err
			}
			workers = len(c.PortIDs())
			took, refused, err := floorCommit(ns(fl), workers, dgrams)
			if err != nil || refused > 0 {
				c.Close()
				return fmt.Errorf("floor commit: %d refused, %v", refused, err)
			}
			fls = append(fls, ms(took))
			flush(fl)
			settle()
			took, refused, err = floorCommit(ns(fl), 1, small)
			if err != nil || refused > 0 {
				c.Close()
				return fmt.Errorf("floor commit in 64s: %d refused, %v", refused, err)
			}
			f64s = append(f64s, float64(took.Nanoseconds())/1000/float64(n))
			flush(fl)
			settle()
			t0 := time.Now()
			st, err := c.Commit(context.Background(), all, t0, 0)
			cms = append(cms, ms(time.Since(t0)))
			c.Close()
			if err != nil || st.Created != n {
				return fmt.Errorf("committer: %+v %v", st, err)
			}
			flush(fl)

			flush(v2)
			if err := waitFor("v2 drained", 120*time.Second, func() bool { return vr.num("internal") == 0 }); err != nil {
				return err
			}
			settle()
			t0 = time.Now()
			m, err := vr.call("commit")
			took = time.Since(t0)
			if err != nil {
				return err
			}
			if f, _ := m["failed"].(float64); f != 0 {
				return fmt.Errorf("vigil commit: %v", m)
			}
			nodes = append(nodes, ms(took))
			if k := kernelCount(v2); k != n {
				return fmt.Errorf("vigil commit: kernel holds %d of %d", k, n)
			}

			flush(c2)
			settle()
			ext := cr.ExternalCount(context.Background()) // it may still be catching up
			t0 = time.Now()
			if out, err := cr.Client(context.Background(), "-c"); err != nil {
				return fmt.Errorf("conntrackd -c: %v: %s", err, out)
			}
			ctdc = append(ctdc, ms(time.Since(t0)))
			if k := kernelCount(c2); k < ext {
				return fmt.Errorf("conntrackd commit: kernel holds %d of %d", k, ext)
			}
		}
		flush(v2)
		flush(c2)
		p.Floor, p.Committer, p.Commit, p.CtdCommit, p.Floor64 = median(fls), median(cms), median(nodes), median(ctdc), median(f64s)
		fmt.Fprintf(os.Stderr, "ct-bench: commit %d: floor %v (%d workers), committer %v, replicator %v, conntrackd %v\n", n, fls, workers, cms, nodes, ctdc)

		// Takeover readiness with the warm standby: a few flows lost in
		// its kernel first (deleted by another process: for the standby
		// the same as an expiry), then what a takeover does before the
		// VIPs; then back to backup for the next trial and size.
		var wtk, wdirty, wcommit []float64
		for range takeovers {
			w2.Exec(t, "conntrack", "-D", "-s", "192.0.2.7")
			if err := waitFor("lost flows", 30*time.Second, func() bool {
				m, err := wr.call("stats")
				return err == nil && num(m, "lost_now") > 0
			}); err != nil {
				return err
			}
			settle()
			m, err := wr.call("takeover")
			if err != nil {
				return err
			}
			if num(m, "failed") != 0 {
				return fmt.Errorf("warm takeover: %v", m)
			}
			if k := kernelCount(w2); k < n {
				return fmt.Errorf("warm takeover: kernel holds %d of %d", k, n)
			}
			wtk, wdirty, wcommit = append(wtk, num(m, "ms")), append(wdirty, num(m, "dirty")), append(wcommit, num(m, "commit_ms"))
			time.Sleep(1100 * time.Millisecond) // the sender starts a peer's bulk at most once a second
			if m, err := wr.call("backup %d", n); err != nil || num(m, "external") < float64(n) {
				return fmt.Errorf("warm standby back to backup: %v %v", m, err)
			}
		}
		p.WarmTakeover, p.WarmDirty = median(wtk), median(wdirty)
		fmt.Fprintf(os.Stderr, "ct-bench: warm takeover %d: %v ms (of which the commit %v), dirty %v\n", n, wtk, wcommit, wdirty)

		// Bulk resync, then its parts: the encoding alone, and the link's
		// floor (after the peaks are read: they are the bench's commands,
		// not what a node does).
		var encs, links, vres, cres []float64
		for trial := range others {
			time.Sleep(1100 * time.Millisecond) // the sender starts a peer's bulk at most once a second
			settle()
			stopPerf := func() {}
			if trial == 0 {
				stopPerf = perfRecord(os.Getenv("CTBENCH_PERF_DIR"), "bulk", n, pids[:2])
			}
			var cpu0, cpu1 [2]time.Duration
			var flt0, flt1 [2]int64
			// The sender's retransmissions over the bulk: the loss it met.
			retx := func() float64 {
				m, _ := vs.call("stats")
				return num(m, "retransmits")
			}
			retx0 := retx()
			for i := range 2 {
				cpu0[i], _ = procCPU(pids[i])
				flt0[i] = minorFaults(pids[i])
			}
			m, err := vr.call("resync %d", n)
			stopPerf()
			if err != nil {
				return err
			}
			for i := range 2 {
				cpu1[i], _ = procCPU(pids[i])
				flt1[i] = minorFaults(pids[i])
			}
			v, _ := m["ms"].(float64)
			vres = append(vres, v)
			fmt.Fprintf(os.Stderr, "ct-bench: bulk %d: vigil %.1f ms; sender %.1f ms CPU, %d pages first touched, %.0f retransmissions; receiver %.1f ms CPU, %d pages first touched\n",
				n, v, ms(cpu1[0]-cpu0[0]), flt1[0]-flt0[0], retx()-retx0, ms(cpu1[1]-cpu0[1]), flt1[1]-flt0[1])

			if out, err := cr.Client(context.Background(), "-f", "external"); err != nil {
				return fmt.Errorf("conntrackd -f external: %v: %s", err, out)
			}
			settle()
			t1 := time.Now()
			if out, err := cr.Client(context.Background(), "-n"); err != nil {
				return fmt.Errorf("conntrackd -n: %v: %s", err, out)
			}
			if got := waitProgress(func() int { return cr.ExternalCount(context.Background()) }, ctdN, 20*time.Second); got < ctdN {
				return fmt.Errorf("conntrackd resync: %d of %d entries", got, ctdN)
			}
			cres = append(cres, ms(time.Since(t1)))
		}
		for i, pid := range pids {
			_, rss[i] = procCPU(pid)
		}
		if err := heapProfiles(fmt.Sprintf("bulk-%d", n), fmt.Sprintf("after the commits and bulks of %d flows", n), vs, vr); err != nil {
			return err
		}
		p.PeakSend, p.PeakRecv, p.CtdPeakSend, p.CtdPeakRecv = mb(rss[0]), mb(rss[1]), mb(rss[2]), mb(rss[3])
		for range others {
			settle()
			m, err := vs.call("encode")
			if err != nil {
				return err
			}
			e, _ := m["ms"].(float64)
			encs = append(encs, e)
			d, _ := m["datagrams"].(float64)
			by, _ := m["bytes"].(float64)
			p.Datagrams, p.Bytes = int(d), int(by)

			lr.reset()
			settle()
			m, err = vs.call("sendraw %d", linkPort)
			if err != nil {
				return err
			}
			t0, _ := m["t0"].(float64)
			// Until every datagram this send sent is in, or none came for
			// 300 ms (the floor sends without retransmission: a loss is
			// reported). The send's own count, not the encoding's above:
			// the map order that packs the flows moves it by one or two.
			sent := int(num(m, "datagrams"))
			for got, idle := 0, 0; idle < 150; idle++ {
				time.Sleep(2 * time.Millisecond)
				if c, _ := lr.count(); c != got {
					got, idle = c, 0
				}
				if got >= sent {
					break
				}
			}
			got, last := lr.count()
			if got < sent {
				p.LinkLost = max(p.LinkLost, sent-got)
				fmt.Fprintf(os.Stderr, "ct-bench: link floor: %d of %d datagrams arrived (sender: %v failed, %v)\n", got, sent, m["failed"], m["send_err"])
			}
			links = append(links, float64(last.UnixNano()-int64(t0))/1e6)
		}
		p.Encode, p.Link, p.Resync, p.CtdResync = median(encs), median(links), median(vres), median(cres)
		fmt.Fprintf(os.Stderr, "ct-bench: a fresh page's first touch on this machine: %.2f µs\n", firstTouchMicros())
		fmt.Fprintf(os.Stderr, "ct-bench: bulk %d: encode %v, link %v, vigil %v, conntrackd %v\n", n, encs, links, vres, cres)
		points = append(points, p)
		// After every size, so that a later size's failure keeps these.
		if err := report(points, trials, outDir); err != nil {
			return err
		}
	}
	if warmOnly || len(points) == 0 {
		return nil
	}

	// Bulk resync to a restarted peer, at the largest size, last: each
	// receiver stopped and started again, a new process with empty caches
	// whose maps and pages are all fresh, timed from its exec until it
	// holds the flows. Both ask at their start: vigil's sender sends a
	// bulk to every new session, and conntrackd's receiver runs with
	// StartupResync. conntrackd dumps its kernel's table at its start, and
	// vigil once the peer's table is in (a node without MASTER); in this
	// lab that walks the host's one hash table with every namespace's
	// flows in it: the other pairs' tables are emptied first, so that only
	// the two senders' flows are left in it, and the walk over them is
	// timed alone (conntrack -L in the restarted receivers' empty
	// namespace).
	p := &points[len(points)-1]
	n, ctdN := p.N, lastCtdN
	for _, h := range []*testnet.Host{w1, w2, d1, d2, fl, v2, c2} {
		flush(h)
	}
	restarts := trials
	if n >= bigSize {
		restarts = max(1, trials/3)
	}
	var vrst, crst, walks, floors []float64
	for range restarts {
		time.Sleep(1100 * time.Millisecond) // the sender starts a peer's bulk at most once a second
		settle()
		t0 := time.Now()
		v2.Exec(t, "conntrack", "-L")
		walks = append(walks, ms(time.Since(t0)))

		// The bulks the vigil sender starts for the restart (counted once
		// its bulk gate has let a second one through, if it would).
		bulks0, err := vs.call("stats")
		if err != nil {
			return err
		}
		vr.stop()
		t0 = time.Now()
		if vr, err = startNode(v2, "203.0.113.202", "203.0.113.201", "-wait-external", strconv.Itoa(n)); err != nil {
			return err
		}
		pids[1] = vr.cmd.Process.Pid
		m, err := vr.call("started")
		if err != nil {
			return err
		}
		cpu, _ := procCPU(pids[1])
		took := float64(int64(num(m, "full_unix_ns"))-t0.UnixNano()) / 1e6
		vrst = append(vrst, took)
		dumped := "not yet read"
		if d := num(m, "dumped_ms"); d > 0 {
			dumped = fmt.Sprintf("read %.1f", d)
		}
		fmt.Fprintf(os.Stderr, "ct-bench: bulk %d to a restarted peer: vigil %.1f ms from its exec, %.1f from its Replicator's start (handshake %.1f, first entry %.1f, its kernel's table %s); its CPU %.1f ms, %d pages first touched\n",
			n, took, num(m, "ms"), num(m, "established_ms"), num(m, "first_ms"), dumped, ms(cpu), minorFaults(pids[1]))

		if err := cr.Signal(syscall.SIGTERM); err != nil {
			return fmt.Errorf("stopping conntrackd's receiver: %w", err)
		}
		if _, err := cr.Wait(10 * time.Second); err != nil {
			return fmt.Errorf("stopping conntrackd's receiver: %w", err)
		}
		settle()
		t1 := time.Now()
		cr = c2.Conntrackd(t, ctdConf(1, "StartupResync on"))
		pids[3] = cr.Pid()
		if got := waitProgress(func() int { return cr.ExternalCount(context.Background()) }, ctdN, 20*time.Second); got < ctdN {
			return fmt.Errorf("conntrackd's restarted receiver: %d of %d entries", got, ctdN)
		}
		crst = append(crst, ms(time.Since(t1)))
		cpu, _ = procCPU(pids[3])
		fmt.Fprintf(os.Stderr, "ct-bench: bulk %d to a restarted peer: conntrackd %.1f ms from its exec; its CPU %.1f ms, %d pages first touched\n",
			n, crst[len(crst)-1], ms(cpu), minorFaults(pids[3]))
		time.Sleep(time.Until(t0.Add(3 * time.Second)))
		settle()
		bulks1, err := vs.call("stats")
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "ct-bench: bulk %d to a restarted peer: the vigil sender started %.0f bulks for it\n", n, num(bulks1, "bulks")-num(bulks0, "bulks"))

		// The floor: a new process that only keeps the bulk's datagrams.
		settle()
		fl, lost, err := restartFloor(nodeBin, ns(v2), vs)
		if err != nil {
			return err
		}
		floors = append(floors, fl)
		p.RestartFloorLost = max(p.RestartFloorLost, lost)
	}
	p.Restart, p.CtdRestart, p.RestartWalk, p.RestartFloor = median(vrst), median(crst), median(walks), median(floors)
	fmt.Fprintf(os.Stderr, "ct-bench: bulk %d to a restarted peer: vigil %v, conntrackd %v, the table walk alone %v, the floor %v\n", n, vrst, crst, walks, floors)
	return report(points, trials, outDir)
}

// report prints the tables of points and, with outDir, writes them there
// with the charts.
func report(points []point, trials int, outDir string) error {
	load, _ := os.ReadFile("/proc/loadavg")
	var md strings.Builder
	buckets := "unknown"
	if n, err := hostBuckets(); err == nil {
		buckets = strconv.Itoa(n)
	}
	fmt.Fprintf(&md, "ct-bench %s, %d CPUs, load average %s, conntrack hash %s buckets, transparent huge pages %s, medians of %d trials (%d from %d flows; event path: one run per size).\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), strings.TrimSpace(string(load)), buckets, memtrim.HostHugePages(), trials, max(1, trials/3), bigSize)
	md.WriteString(table(points))
	fmt.Print("\n" + md.String())
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, "ct-scale.md"), []byte(md.String()), 0o644); err != nil {
			return err
		}
		for name, svg := range charts(points) {
			if err := os.WriteFile(filepath.Join(outDir, name), []byte(svg), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// perfRecord, when dir is set, records perf profiles (call graphs, user and
// kernel) of the vigil and conntrackd senders and receivers (pids in that
// order, as many as given) over one size's event path or first bulk (what),
// written to dir as WHAT-N-{vigil,ctd}-{send,recv}.data; the function it returns stops
// them. The profiles are for finding where an entry's CPU goes; perf's
// own cost makes the run's CPU figures higher than without it, and a
// thread that a process starts later is not in its profile (the per-thread
// CPU that the bench prints has every thread).
// heapProfiles has the vigil nodes (the sender, the receiver and, if given,
// the warm standby) write heap profiles named name, with CTBENCH_PROFILE_DIR,
// and prints their memory statistics, said to be taken when.
func heapProfiles(name, when string, nodes ...*vnode) error {
	if os.Getenv("CTBENCH_PROFILE_DIR") == "" {
		return nil
	}
	// Each node names its profiles after its namespace (node.go).
	roles := []string{"sender", "receiver", "warm standby"}
	for i, v := range nodes {
		m, err := v.call("heap %s", name)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "ct-bench: vigil node memory %s (%s): %v\n", when, roles[i], m)
	}
	return nil
}

func perfRecord(dir, what string, n int, pids []int) (stop func()) {
	if dir == "" {
		return func() {}
	}
	names := []string{"vigil-send", "vigil-recv", "ctd-send", "ctd-recv"}
	var cmds []*exec.Cmd
	for i, pid := range pids {
		out := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.data", what, n, names[i]))
		c := exec.Command("perf", "record", "-q", "-g", "-o", out, "-p", strconv.Itoa(pid))
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "ct-bench: perf: %v\n", err)
			continue
		}
		cmds = append(cmds, c)
	}
	time.Sleep(300 * time.Millisecond) // perf attaches before the flows come
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, c := range cmds {
				_ = c.Process.Signal(os.Interrupt)
				_ = c.Wait()
			}
		})
	}
}

// threadCPU returns the CPU time and the number of times it was scheduled
// in (/proc/PID/task/TID/schedstat) of each of a process's threads.
func threadCPU(pid int) map[string][2]int64 {
	out := map[string][2]int64{}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) == 3 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			n, _ := strconv.ParseInt(f[2], 10, 64)
			out[filepath.Base(filepath.Dir(p))] = [2]int64{ns, n}
		}
	}
	return out
}

// threadLine formats what each thread of a process spent between two
// threadCPU readings, busiest first: "TID ms/slices".
func threadLine(before, after map[string][2]int64) string {
	type th struct {
		tid   string
		ns, n int64
	}
	var ts []th
	for tid, a := range after {
		b := before[tid]
		if a[0] > b[0] {
			ts = append(ts, th{tid, a[0] - b[0], a[1] - b[1]})
		}
	}
	slices.SortFunc(ts, func(x, y th) int { return int(y.ns - x.ns) })
	var sb strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&sb, " %s %.1f/%d", t.tid, float64(t.ns)/1e6, t.n)
	}
	return sb.String()
}

// ctdOverruns reads conntrackd's runtime statistics (conntrackd -s
// runtime): how often its event socket dropped events ("netlink overrun")
// and how often it resynchronised with the kernel's table since (the
// dump NetlinkOverrunResync schedules); -1 where it did not answer.
func ctdOverruns(c *testnet.Conntrackd) (overruns, resyncs int) {
	out, err := c.Client(context.Background(), "-s", "runtime")
	if err != nil {
		return -1, -1
	}
	return parseCtdRuntime(string(out))
}

// parseCtdRuntime takes the two counters out of conntrackd -s runtime's
// "name: value" lines; -1 for one that is missing.
func parseCtdRuntime(out string) (overruns, resyncs int) {
	overruns, resyncs = -1, -1
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(k) {
		case "netlink overrun":
			overruns = n
		case "resync with kernel table":
			resyncs = n
		}
	}
	return overruns, resyncs
}
