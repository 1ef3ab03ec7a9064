//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/internal/syncworker"
	"github.com/vigil-ha/vigil/testnet"
)

// runNode is the child process mode: one vigil Replicator in a namespace,
// driven by line commands on stdin, answering one JSON line each on stdout:
//
//	stats              {"internal":N,"external":N,"established":bool}
//	commit             {"ms":F,"created":N,"failed":N,...}
//	resync N           flush the external cache, request a resync, wait
//	                   until it holds N entries: {"ms":F}
//	encode             encode the internal cache as a bulk's datagrams:
//	                   {"ms":F,"datagrams":N,"bytes":N}
//	sendraw PORT       send those datagrams on a bare socket to the
//	                   peer's PORT: {"t0":unix ns,"send_ms":F,...}
//	takeover           (a -warm node) what a takeover does before the
//	                   VIPs: SetMaster, Commit (the dirty set), flush:
//	                   {"ms":F,"commit_ms":F,"warm":N,"dirty":N,...}
//	backup N           (a -warm node) back to backup: SetMaster(false),
//	                   request a resync, wait until the external cache
//	                   holds N and nothing is pending: {"ms":F}
//	backlog start|stop sample the channel's backlog every 2 ms from start
//	                   to stop; the largest, and RssFile:
//	                   {"max":N,"rss_file_kb":N}
//	heap NAME          with CTBENCH_PROFILE_DIR, collect, then write a heap
//	                   profile named NAME there: {"heap_alloc":N,...}
//	                   (MemStats; heap_alloc is then what is live)
//	started            with -wait-external N: wait (up to 30 s) until the
//	                   external cache holds N entries (a restarted peer's
//	                   bulk): {"ms":F,"full_unix_ns":N,"external":N,
//	                   "established_ms":F,"first_ms":F,"dumped_ms":F},
//	                   times from the Replicator's start: full, our HELLO
//	                   answered, the first entry in, the kernel's table
//	                   dumped once (sampled every 200 µs, by a goroutine
//	                   that waits for the one P while the loop handles
//	                   a batch: first_ms can be late by several batches)
//
// linkFlags defines on fs the flags that place a node's sync socket (and
// the restarted peer's floor's): its namespace, its interface, and the
// addresses at both ends.
func linkFlags(fs *flag.FlagSet) (netns, local, peer, iface *string) {
	netns = fs.String("netns", "", "network namespace path")
	local = fs.String("local", "", "local address")
	peer = fs.String("peer", "", "peer address")
	iface = fs.String("iface", "", "sync interface")
	return netns, local, peer, iface
}

// A separate process so that the parent can read its CPU time and peak
// RSS from /proc like conntrackd's.
func runNode(args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	netns, local, peer, iface := linkFlags(fs)
	warm := fs.Bool("warm", false, "warm standby")
	waitExternal := fs.Int("wait-external", 0, "time from the start until the external cache holds this many entries (answered by \"started\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Profiles are named after the node's namespace, one per node (the
	// warm pair's nodes have the others' addresses), and a restarted
	// node's are marked so: it replaces a node in the same namespace.
	tag := filepath.Base(*netns)
	if *warm {
		tag += "-warm"
	}
	if *waitExternal > 0 {
		tag += "-restarted"
	}
	if path := os.Getenv("CTBENCH_PROFILE_DIR"); path != "" {
		f, err := os.Create(filepath.Join(path, fmt.Sprintf("cpu-%s.pprof", tag)))
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() {
				pprof.StopCPUProfile()
				_ = writeHeapProfile(filepath.Join(path, fmt.Sprintf("heap-%s.pprof", tag))) // at exit: no one to tell
				f.Close()
			}()
		}
	}
	// The collector and the Ps as vigild's sync worker runs them (its
	// commits with syncworker.CommitProcs): the node's peak RSS and CPU
	// are then the worker's. GOMAXPROCS in the
	// environment overrides the Ps, to compare.
	memtrim.SetGC()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(syncworker.WorkerProcs)
	}
	l, p := netip.MustParseAddr(*local), netip.MustParseAddr(*peer)
	// CTBENCH_LOG=info: the Replicator's log lines at info too (sessions,
	// bulks, the start-up read), each stamped to the microsecond.
	opts := &slog.HandlerOptions{Level: slog.LevelWarn}
	if os.Getenv("CTBENCH_LOG") == "info" {
		opts.Level = slog.LevelInfo
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				a.Value = slog.StringValue(a.Value.Time().UTC().Format("15:04:05.000000"))
			}
			return a
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, opts)).With("node", *local)
	cfg := conntracksync.Config{Interface: *iface, LocalAddr: l, PeerAddr: p, Netns: *netns,
		Filter: conntracksync.Filter{AddressPolicy: conntracksync.Ignore,
			Addresses: []netip.Prefix{netip.PrefixFrom(l, l.BitLen()), netip.PrefixFrom(p, p.BitLen())}},
		WarmStandby: *warm}
	r, err := conntracksync.New(log, cfg, conntracksync.Parts{Kernel: ctnetlink.ForReplicator(log, cfg)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	start := time.Now()
	log.Info("ct-bench node: starting its Replicator")
	go func() { errc <- r.Run(ctx) }()
	// With -wait-external, when the external cache came to hold that many
	// entries: the bulk a restarted node gets from its peer, whose channel
	// sends one to every new session. On the way, when our HELLO was
	// answered, the first entry came in and the kernel's table had been
	// dumped once (the internal cache's start), sampled every 200 µs.
	type startup struct{ full, established, first, dumped time.Duration }
	filled := make(chan startup, 1)
	if *waitExternal > 0 {
		go func() {
			var st startup
			for time.Since(start) < 30*time.Second {
				s := r.Stats()
				if s.Established && st.established == 0 {
					st.established = time.Since(start)
				}
				if s.External > 0 && st.first == 0 {
					st.first = time.Since(start)
				}
				if s.Listener.Dumps > 0 && st.dumped == 0 {
					st.dumped = time.Since(start)
				}
				if s.External >= *waitExternal {
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
			st.full = time.Since(start)
			filled <- st
		}()
	}
	// "backlog start" samples the channel's backlog (messages queued and
	// unacknowledged) every 2 ms until "backlog stop", which answers the
	// largest. The sampling costs the node some CPU and garbage of its own.
	var backlogMax atomic.Int64
	var stopBacklog chan struct{}
	sampleBacklog := func(stop <-chan struct{}) {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-t.C:
				if b := int64(r.Stats().Backlog); b > backlogMax.Load() {
					backlogMax.Store(b)
				}
			}
		}
	}
	out := json.NewEncoder(os.Stdout)
	// reply answers m, or {"err": ...} with m's figures when err is set:
	// the parent takes an answer with "err" as the command's failure.
	reply := func(m map[string]any, err error) {
		if err != nil {
			m["err"] = err.Error()
		}
		_ = out.Encode(m)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		select {
		case err := <-errc:
			return err
		default:
		}
		switch f[0] {
		case "stats":
			s := r.Stats()
			_ = out.Encode(map[string]any{"internal": s.Internal, "external": s.External, "established": s.Established,
				"retransmits": s.Retransmits, "bulks": s.Bulks, "drops": s.Drops, "pending": s.Warm.Pending, "lost_now": s.Warm.LostNow,
				"written": s.Warm.Written, "write_ms": ms(s.Warm.WriteTime), "warm_failed": s.Warm.Failed,
				"write_errors": s.Warm.WriteErrors, "redumps": s.Listener.Redumps,
				"events": s.Listener.Events, "own_events": s.Listener.OwnEvents})
		case "takeover":
			t0 := time.Now()
			r.SetMaster(true)
			st, err := syncworker.CommitWithProcs(ctx, log, r)
			t1 := time.Now()
			r.FlushExternal()
			took := time.Since(t0)
			reply(map[string]any{"ms": ms(took), "commit_ms": ms(t1.Sub(t0)), "warm": st.Warm, "dirty": r.Stats().Warm.LastCommitDirty,
				"created": st.Created, "updated": st.Updated, "failed": st.Failed}, err)
		case "backup":
			n, _ := strconv.Atoi(f[1])
			t0 := time.Now()
			r.SetMaster(false)
			r.RequestResync()
			for time.Since(t0) < 120*time.Second {
				if s := r.Stats(); s.External >= n && s.Warm.Pending == 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			_ = out.Encode(map[string]any{"ms": ms(time.Since(t0)), "external": r.Stats().External})
		case "commit":
			t0 := time.Now()
			st, err := syncworker.CommitWithProcs(ctx, log, r)
			reply(map[string]any{"ms": ms(time.Since(t0)), "kernel_ms": ms(st.Duration), "created": st.Created, "updated": st.Updated,
				"failed": st.Failed}, err)
		case "resync":
			n, _ := strconv.Atoi(f[1])
			r.FlushExternal()
			t0 := time.Now()
			r.RequestResync()
			for r.Stats().External < n && time.Since(t0) < 30*time.Second {
				time.Sleep(200 * time.Microsecond)
			}
			_ = out.Encode(map[string]any{"ms": ms(time.Since(t0)), "external": r.Stats().External})
		case "started":
			if *waitExternal <= 0 {
				reply(map[string]any{}, fmt.Errorf("started: not run with -wait-external"))
				continue
			}
			st := <-filled
			filled <- st // a second "started" answers the same
			ext := r.Stats().External
			var err error
			if ext < *waitExternal {
				err = fmt.Errorf("started: the external cache holds %d of %d entries after %v", ext, *waitExternal, st.full)
			}
			reply(map[string]any{"ms": ms(st.full), "full_unix_ns": start.Add(st.full).UnixNano(), "external": ext,
				"established_ms": ms(st.established), "first_ms": ms(st.first), "dumped_ms": ms(st.dumped)}, err)
		case "encode":
			// The bulk's encoding alone (BulkDatagrams), timed.
			t0 := time.Now()
			ds := r.BulkDatagrams()
			took := time.Since(t0)
			_ = out.Encode(map[string]any{"ms": ms(took), "datagrams": len(ds), "bytes": totalLen(ds)})
		case "sendraw":
			// The link's floor: the bulk's datagrams (encoded before the
			// clock starts) sent by the sync link's own sendmmsg from a
			// socket of its own on port f[1] to the same port of the peer.
			port, _ := strconv.Atoi(f[1])
			ds := r.BulkDatagrams()
			link, err := conntracksync.OpenUDP(&conntracksync.Config{Interface: *iface, LocalAddr: l, PeerAddr: p,
				Port: uint16(port), Netns: *netns, SocketBuffer: 32 << 20})
			if err != nil {
				_ = out.Encode(map[string]any{"err": err.Error()})
				continue
			}
			t0 := time.Now()
			failed, serr := link.Send(ds)
			took := time.Since(t0)
			_ = link.Close()
			// A send error is a measurement here (the floor sends without
			// retransmission), not the command's failure.
			_ = out.Encode(map[string]any{"t0": t0.UnixNano(), "send_ms": ms(took), "datagrams": len(ds), "bytes": totalLen(ds),
				"failed": failed, "send_err": fmt.Sprint(serr)})
		case "backlog":
			if stopBacklog != nil {
				close(stopBacklog)
				stopBacklog = nil
			}
			if len(f) > 1 && f[1] == "start" {
				backlogMax.Store(0)
				stopBacklog = make(chan struct{})
				go sampleBacklog(stopBacklog)
			}
			// The largest backlog sampled, and the resident file pages now.
			m := map[string]any{"max": backlogMax.Load()}
			file, err := testnet.StatusKB(os.Getpid(), "RssFile")
			if err == nil {
				m["rss_file_kb"] = file[0]
			}
			reply(m, err)
		case "heap":
			// A heap profile now, named f[1], when profiling.
			var err error
			if dir := os.Getenv("CTBENCH_PROFILE_DIR"); dir != "" && len(f) > 1 {
				runtime.GC() // the profile then holds what is live now, not at the last cycle
				err = writeHeapProfile(filepath.Join(dir, fmt.Sprintf("heap-%s-%s.pprof", tag, filepath.Base(f[1]))))
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			reply(map[string]any{"heap_alloc": m.HeapAlloc, "heap_inuse": m.HeapInuse, "heap_sys": m.HeapSys,
				"heap_released": m.HeapReleased, "stack_sys": m.StackSys, "sys": m.Sys, "next_gc": m.NextGC, "num_gc": m.NumGC}, err)
		default:
			_ = out.Encode(map[string]any{"err": "unknown command " + f[0]})
		}
	}
	cancel()
	return <-errc
}

func totalLen(ds [][]byte) int {
	n := 0
	for _, d := range ds {
		n += len(d)
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeHeapProfile writes a heap profile to path.
func writeHeapProfile(path string) error {
	hf, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(hf); err != nil {
		hf.Close()
		return err
	}
	return hf.Close()
}
