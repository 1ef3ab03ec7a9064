package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/ctl"
)

// conntrack runs vigilctl ct (args: the words after ct), conntrackd's
// operator commands over vigild's control socket:
//
//	ct dump internal|external  conntrackd -i / -e
//	ct stats                   conntrackd -s
//	ct commit                  conntrackd -c
//	ct flush [external]        conntrackd -f external
//	ct resync                  conntrackd -n
//	ct bulk                    conntrackd -B
//
// The dumps and stats print text unless asJSON.
func conntrack(args []string, sock string, asJSON bool, stdout, stderr io.Writer, fs *flag.FlagSet) int {
	client := ctl.Client{Path: sock}
	want := func(n int) bool { return len(args) == n }
	var cmd ctl.Command
	switch {
	case len(args) == 0:
		return usageError(stderr, fs, "ct wants dump internal|external, stats, commit, flush, resync or bulk")
	case args[0] == "dump" && want(2) && (args[1] == "internal" || args[1] == "external"):
		d, raw, err := client.CTDump(context.Background(), args[1] == "external")
		if code := refused(stderr, "ct dump "+args[1], err); code >= 0 {
			return code
		}
		if asJSON {
			stdout.Write(raw)
			return 0
		}
		now := time.Now()
		for i := range d.Entries {
			fmt.Fprintln(stdout, ctLine(&d.Entries[i], now))
		}
		fmt.Fprintf(stdout, "%d connections in the %s cache\n", len(d.Entries), d.Cache)
		for i := range d.Expectations {
			fmt.Fprintln(stdout, ctExpectLine(&d.Expectations[i]))
		}
		if len(d.Expectations) > 0 {
			fmt.Fprintf(stdout, "%d expectations in the %s cache\n", len(d.Expectations), d.Cache)
		}
		return 0
	case args[0] == "stats" && want(1):
		st, raw, err := client.CTStats(context.Background())
		if code := refused(stderr, "ct stats", err); code >= 0 {
			return code
		}
		if asJSON {
			stdout.Write(raw)
			return 0
		}
		printCTStats(stdout, &st)
		return 0
	case args[0] == "commit" && want(1):
		cmd = ctl.CmdCTCommit
	case args[0] == "flush" && (want(1) || (want(2) && args[1] == "external")):
		cmd = ctl.CmdCTFlush
	case args[0] == "flush" && want(2) && args[1] == "internal":
		return usageError(stderr, fs, "the internal cache follows the kernel table and is not flushed (ct flush empties the external cache)")
	case args[0] == "resync" && want(1):
		cmd = ctl.CmdCTResync
	case args[0] == "bulk" && want(1):
		cmd = ctl.CmdCTBulk
	default:
		return usageError(stderr, fs, fmt.Sprintf("unknown ct command %q", strings.Join(args, " ")))
	}
	done, err := client.Operate(context.Background(), ctl.Request{Cmd: cmd})
	for _, l := range done {
		fmt.Fprintln(stdout, l)
	}
	if code := refused(stderr, string(cmd), err); code >= 0 {
		return code
	}
	return 0
}

// refused reports a request that failed, refused by vigild or not
// answered (exit status 1), or returns -1 when err is nil.
func refused(stderr io.Writer, what string, err error) int {
	if failed := (*ctl.FailedError)(nil); errors.As(err, &failed) {
		fmt.Fprintf(stderr, "vigilctl: %s refused: %s\n", what, failed.Reason)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigilctl: %v\n", err)
		return 1
	}
	return -1
}

// ctLine is one connection as conntrackd -i and -e (and conntrack -L)
// print it: the timeout is the one it had when last updated, and the line
// ends with when that was.
// ctExpectLine prints an expectation as conntrack -L expect does.
func ctExpectLine(x *ctl.CTExpect) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d proto=%d src=%s dst=%s sport=%d dport=%d mask-src=%s mask-dst=%s sport=%d dport=%d master-src=%s master-dst=%s sport=%d dport=%d class=%d",
		x.TimeoutSec, x.ProtoNum, x.Tuple.Src, x.Tuple.Dst, x.Tuple.SrcPort, x.Tuple.DstPort,
		x.Mask.Src, x.Mask.Dst, x.Mask.SrcPort, x.Mask.DstPort, x.Master.Src, x.Master.Dst, x.Master.SrcPort, x.Master.DstPort, x.Class)
	if x.Helper != "" {
		fmt.Fprintf(&b, " helper=%s", x.Helper)
	}
	return b.String()
}

func ctLine(e *ctl.CTEntry, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %d %d ", strings.ToLower(e.Proto), e.ProtoNum, e.TimeoutSec)
	if e.State != "" {
		b.WriteString(e.State + " ")
	}
	tuple := func(t *ctl.CTTuple) {
		fmt.Fprintf(&b, "src=%s dst=%s ", t.Src, t.Dst)
		switch {
		case t.ICMPType != nil:
			fmt.Fprintf(&b, "type=%d code=%d id=%d ", *t.ICMPType, *t.ICMPCode, *t.ICMPID)
		case t.SrcPort != 0 || t.DstPort != 0:
			fmt.Fprintf(&b, "sport=%d dport=%d ", t.SrcPort, t.DstPort)
		}
	}
	tuple(&e.Orig)
	if e.Status&conntracksync.StatusSeenReply == 0 {
		b.WriteString("[UNREPLIED] ")
	}
	tuple(&e.Reply)
	if e.Status&conntracksync.StatusAssured != 0 {
		b.WriteString("[ASSURED] ")
	}
	fmt.Fprintf(&b, "mark=%d ", e.Mark)
	if e.Zone != 0 {
		fmt.Fprintf(&b, "zone=%d ", e.Zone)
	}
	if e.Helper != "" {
		fmt.Fprintf(&b, "helper=%s ", e.Helper)
	}
	if e.Master != nil {
		b.WriteString("master{")
		tuple(e.Master)
		b.WriteString("} ")
	}
	fmt.Fprintf(&b, "[updated %s ago]", now.Sub(e.Updated).Round(time.Second))
	return b.String()
}

// printCTStats prints the replication's status as conntrackd -s groups
// its statistics: the caches, the sync link, the commits and takeovers,
// the drops.
func printCTStats(w io.Writer, s *ctl.CTStatus) {
	role, peer := "backup", "not established"
	if s.Master {
		role = "master"
	}
	if s.Established {
		peer = "established"
	}
	fmt.Fprintf(w, "track group %s (%s), peer %s\n", s.TrackGroup, role, peer)
	fmt.Fprintf(w, "cache internal:\n  current active connections: %12d\n", s.Internal)
	fmt.Fprintf(w, "cache external:\n  current active connections: %12d\n", s.External)
	fmt.Fprintf(w, "sync link:\n  backlog: %d (for %s), retransmits: %d, resyncs sent: %d, received: %d, bulks sent: %d\n",
		s.Backlog, s.Lag.Round(time.Millisecond), s.Retransmits, s.ResyncsSent, s.ResyncsReceived, s.Bulks)
	fmt.Fprintf(w, "  peer sessions: %d (restarts %d), authenticated: %v (refused %d)\n",
		s.PeerSessions, s.PeerRestarts, s.Authenticated, s.AuthDrops)
	if len(s.Paths) > 1 {
		fmt.Fprintf(w, "  paths (switches %d):\n", s.PathSwitches)
		for _, p := range s.Paths {
			state, heard := "down", "never"
			if p.Up {
				state = "up"
			}
			if p.Active {
				state += ", active"
			}
			if !p.LastHeard.IsZero() {
				heard = p.LastHeard.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "    %s (%s): datagrams in %d, out %d, peer last heard %s\n", p.Name, state, p.In, p.Out, heard)
		}
	}
	lc := s.LastCommit
	fmt.Fprintf(w, "commits: %d (last: %d entries, %d created, %d updated, %d replaced, %d failed, %s)\n",
		s.Commits, lc.Entries, lc.Created, lc.Updated, lc.Replaced, lc.Failed, lc.Duration.Round(time.Microsecond))
	fmt.Fprintf(w, "takeovers: %d (late commits %d), resync requests: %d\n", s.Takeovers, s.LateCommits, s.ResyncRequests)
	l := s.Listener
	fmt.Fprintf(w, "kernel events: %d (own %d), dumps: %d (after errors %d), receive errors: %d\n",
		l.Events, l.OwnEvents, l.Dumps, l.Redumps, l.RecvErrors)
	var drops []string
	for k, v := range s.Drops {
		drops = append(drops, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(drops)
	if len(drops) > 0 {
		fmt.Fprintf(w, "drops: %s\n", strings.Join(drops, " "))
	}
	if s.RunError != "" {
		fmt.Fprintf(w, "last error: %s\n", s.RunError)
	}
}
