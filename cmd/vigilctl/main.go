// Command vigilctl talks to a running vigild over its unix socket.
//
//	vigilctl status          # instances, states, priorities, counters (table)
//	vigilctl status --json   # the same as JSON
//	vigilctl reload          # reload the configuration (like SIGHUP, but reports the result)
//	vigilctl reload --force  # also apply a configuration without any vrrp_instance
//	vigilctl demote VI_1     # a master hands over now (an instance or a sync group)
//	vigilctl promote VI_1    # undo demote or maintenance
//	vigilctl maintenance on|off [VI_1|GROUP|all]  # hold in BACKUP, across restarts
//	vigilctl events          # transitions as JSON lines, until interrupted
//	vigilctl ct dump internal|external [--json]  # the replication's caches (conntrackd -i / -e)
//	vigilctl ct stats [--json]                    # its statistics (conntrackd -s)
//	vigilctl ct commit|flush|resync|bulk          # conntrackd -c, -f external, -n, -B
//	vigilctl --version
//
// The socket is -s, else $VIGIL_SOCKET, else /run/vigild.sock. A bad
// command line gets one line naming the problem and the usage, exit
// status 2; a failed request exits 1.
//
// It never touches the kernel: everything it shows comes from vigild.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/vigil-ha/vigil/internal/buildinfo"
	"github.com/vigil-ha/vigil/internal/ctl"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// socketEnv names the socket when -s is not given.
const socketEnv = "VIGIL_SOCKET"

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigilctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Usage is printed here, not by pflag: to stdout for --help, to stderr
	// after the error for anything else.
	fs.Usage = func() {}
	def := ctl.DefaultSocket
	if v := os.Getenv(socketEnv); v != "" {
		def = v
	}
	sock := fs.StringP("socket", "s", def, "vigild control socket (default: $"+socketEnv+", else "+ctl.DefaultSocket+")")
	asJSON := fs.Bool("json", false, "status, ct dump, ct stats: print vigild's JSON document instead of the text")
	force := fs.Bool("force", false, "reload: apply a configuration without any vrrp_instance too (stops every running one)")
	showVer := fs.BoolP("version", "v", false, "print the version and exit")
	fs.Lookup("socket").DefValue = "" // the help text says it
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return 0
		}
		return usageError(stderr, fs, err.Error())
	}
	if *showVer {
		fmt.Fprintln(stdout, buildinfo.String("vigilctl"))
		return 0
	}
	rest := fs.Args()
	cmd := ctl.CmdStatus
	if len(rest) > 0 {
		cmd = ctl.Command(rest[0])
	}
	switch cmd {
	case "status", "stats", "dump":
		cmd = ctl.CmdStatus
		if *force {
			return usageError(stderr, fs, "--force is an option of reload, not of status")
		}
	case "reload":
		if *force {
			cmd = ctl.CmdForceReload
		}
	case ctl.CmdDemote, ctl.CmdPromote, "maintenance", ctl.CmdEvents:
		if *force {
			return usageError(stderr, fs, "--force is an option of reload, not of "+string(cmd))
		}
		return operate(rest, *sock, stdout, stderr, fs)
	case "ct":
		if *force {
			return usageError(stderr, fs, "--force is an option of reload, not of ct")
		}
		return conntrack(rest[1:], *sock, *asJSON, stdout, stderr, fs)
	default:
		return usageError(stderr, fs, fmt.Sprintf("unknown command %q", cmd))
	}
	if len(rest) > 1 {
		return usageError(stderr, fs, fmt.Sprintf("unexpected argument %q after %s", rest[1], rest[0]))
	}
	client := ctl.Client{Path: *sock}
	raw, err := client.Do(context.Background(), cmd)
	// Any command may be refused (a client vigild does not accept, an
	// unknown command): say so, whatever the output format.
	if failed := (*ctl.FailedError)(nil); errors.As(err, &failed) {
		stdout.Write(raw)
		fmt.Fprintf(stderr, "vigilctl: %s failed: %s\n", cmd, failed.Reason)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigilctl: %v\n", err)
		return 1
	}
	if *asJSON || cmd != ctl.CmdStatus {
		stdout.Write(raw)
		return 0
	}
	return printStatus(stdout, stderr, raw)
}

// operate runs demote, promote, maintenance and events (args: the command
// and its arguments).
func operate(args []string, sock string, stdout, stderr io.Writer, fs *flag.FlagSet) int {
	client := ctl.Client{Path: sock}
	var req ctl.Request
	switch args[0] {
	case "events":
		if len(args) > 1 {
			return usageError(stderr, fs, fmt.Sprintf("unexpected argument %q after events", args[1]))
		}
		return events(&client, stdout, stderr)
	case "maintenance":
		if len(args) < 2 || (args[1] != "on" && args[1] != "off") {
			return usageError(stderr, fs, "maintenance wants on or off")
		}
		req.Cmd, req.Target, args = ctl.Command("maintenance "+args[1]), ctl.TargetAll, args[2:]
		if len(args) > 0 {
			req.Target, args = args[0], args[1:]
		}
	default:
		if len(args) < 2 {
			return usageError(stderr, fs, args[0]+" wants an instance or sync group name")
		}
		req.Cmd, req.Target, args = ctl.Command(args[0]), args[1], args[2:]
	}
	if len(args) > 0 {
		return usageError(stderr, fs, fmt.Sprintf("unexpected argument %q after %s", args[0], req))
	}
	done, err := client.Operate(context.Background(), req)
	for _, l := range done {
		fmt.Fprintln(stdout, l)
	}
	if code := refused(stderr, req.String(), err); code >= 0 {
		return code
	}
	return 0
}

// events prints vigild's events as JSON lines as they come, until
// interrupted (SIGINT, SIGTERM: exit 0) or vigild ends the stream (1).
func events(client *ctl.Client, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := client.Events(ctx, func(raw []byte, _ ctl.Event) error {
		if _, err := stdout.Write(append(raw, '\n')); err != nil {
			return err // stdout closed (a pipe whose reader went): stop
		}
		return nil
	})
	if ctx.Err() != nil {
		return 0
	}
	fmt.Fprintf(stderr, "vigilctl: %v\n", err)
	return 1
}

// printStatus prints the status document raw as tables: the instances'
// states, then their counters, the VRRP sockets', the daemon's and, with
// conntrack_sync, the replication's.
func printStatus(w, stderr io.Writer, raw []byte) int {
	s, err := ctl.DecodeStatus(raw)
	if err != nil {
		fmt.Fprintf(stderr, "vigilctl: bad answer from vigild: %v\n", err)
		return 1
	}
	fmt.Fprintf(w, "router_id %s\n\n", s.RouterID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tIFACE\tVRID\tFAMILY\tSTATE\tPRIO\tMASTER\tSINCE\tREASON\tSENT\tRECEIVED/DROPPED")
	for _, in := range s.Instances {
		prio := fmt.Sprint(in.Priority)
		if in.Priority != in.BasePriority {
			prio += fmt.Sprintf(" (%d)", in.BasePriority)
		}
		since := "-"
		if !in.Since.IsZero() {
			since = time.Since(in.Since).Round(time.Second).String()
		}
		var rx []string
		for k, v := range in.Received {
			rx = append(rx, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(rx)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", in.Name, in.Interface, in.VRID, in.Family,
			in.State, prio, orDash(in.Master), since, in.Reason, in.AdvertsSent, strings.Join(rx, " "))
	}
	tw.Flush()
	printCounters(w, &s)
	printLVS(w, s.LVS)
	if s.ReloadError != "" {
		fmt.Fprintf(w, "\nlast reload failed (%d failures so far): %s\n", s.ReloadFailures, s.ReloadError)
	}
	return 0
}

// printCounters prints the counters of the instances and sockets, the
// daemon's, and the conntrack replication's summary, under the table of
// states.
func printCounters(w io.Writer, s *ctl.Status) {
	if len(s.Instances) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "INSTANCE\tTRANSITIONS\tMASTER_TAKEN/RELEASED\tPRIO0_SENT/RECEIVED\tSEND_ERRORS\tVIP_ERRORS\tANNOUNCED\tANNOUNCE_ERRORS\tVIPS_LOST/RESTORED\tLOWER_PRIO/THROTTLED\tSPLIT_BRAIN_HEALS\tSTARTUP_REMOVED")
		for _, in := range s.Instances {
			lo := in.StartupRemoved
			fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%d/%d\t%d\t%d\t%d\t%d\t%d/%d\t%d/%d\t%d\taddr=%d route=%d rule=%d\n", in.Name, in.Transitions,
				in.BecomeMaster, in.ReleaseMaster, in.PriorityZeroSent, in.PriorityZeroReceived,
				in.SendErrors, in.VIPErrors, in.Announcements, in.AnnounceErrors, in.VIPsRemoved, in.VIPsRestored,
				in.LowerPriorityAdverts, in.LowerPriorityThrottled, in.SplitBrainHeals, lo.Addresses, lo.Routes, lo.Rules)
		}
		tw.Flush()
		for _, in := range s.Instances {
			if in.Maintenance {
				fmt.Fprintf(w, "%s: in maintenance (held at priority %d; vigilctl maintenance off %s ends it)\n", in.Name, in.Priority, in.Name)
			} else if in.Demoted {
				fmt.Fprintf(w, "%s: demoted (held at priority %d until master again or vigilctl promote %s)\n", in.Name, in.Priority, in.Name)
			}
			if in.Faulted || in.TrackReason != "" {
				fmt.Fprintf(w, "%s: fault: %s\n", in.Name, orDash(in.TrackReason))
			}
			if in.LastError != "" {
				fmt.Fprintf(w, "%s: last error: %s\n", in.Name, in.LastError)
			}
		}
	}
	if len(s.Sockets) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOCKET\tFAMILY\tTRANSPORT\tSOURCE\tUNKNOWN_VRID\tREAD_ERRORS\tSHORT\tREOPENS")
		for _, so := range s.Sockets {
			transport := "multicast"
			if so.Unicast {
				transport = "unicast"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", so.Interface, so.Family, transport, orDash(so.Source),
				so.UnknownVRID, so.ReadErrors, so.Short, so.Reopens)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nreloads %d (failed %d), static errors %d, control clients refused %d, events clients %d (dropped %d), worker standbys %d, takeover jobs run by the loop %d\n",
		s.Reloads, s.ReloadFailures, s.StaticErrors, s.ControlRefused, s.EventSubscribers, s.EventsDropped, s.WorkerStandbys, s.WorkerJobsOnLoop)
	if s.MaintenanceError != "" {
		fmt.Fprintf(w, "maintenance file: %s\n", s.MaintenanceError)
	}
	if ct := s.Conntrack; ct != nil {
		role := "backup"
		if ct.Master {
			role = "master"
		}
		peer := "not established"
		if ct.Established {
			peer = "established"
		}
		fmt.Fprintf(w, "conntrack sync (group %s, %s, peer %s): internal %d, external %d, backlog %d, takeovers %d (late %d), commits %d, retransmits %d, auth drops %d\n",
			ct.TrackGroup, role, peer, ct.Internal, ct.External, ct.Backlog, ct.Takeovers, ct.LateCommits, ct.Commits, ct.Retransmits, ct.AuthDrops)
		if ct.RunError != "" {
			fmt.Fprintf(w, "conntrack sync: last error: %s\n", ct.RunError)
		}
	}
	if a := s.Arbiter; a != nil {
		writeArbiter(w, a)
	}
}

// writeArbiter prints the arbitration's part of the status: the mode
// (SPLIT in capitals while the views disagree), the decision, both views.
func writeArbiter(w io.Writer, a *ctl.ArbiterStatus) {
	fmt.Fprintf(w, "arbiter: %s (rule %s: %s%s), peer heard %s ago; splits %d, yields %d, heartbeat lost %d, heartbeats sent %d received %d refused %d\n",
		pick(a.Split, "SPLIT", a.Mode), a.Rule, pick(a.Win, "this node is to be master", "peer is to be master"), pick(a.Held, ", takeovers held", ""),
		a.PeerAge.Round(time.Millisecond), a.Splits, a.Yields, a.HeartbeatLosts, a.Sent, a.Received, sumDrops(a.Drops))
	view := func(who string, ms []ctl.ArbiterMember) {
		for _, m := range ms {
			fmt.Fprintf(w, "arbiter: %s %s %s priority %d, %d of %d segments down%s\n", who, m.Name, m.State, m.Priority, m.Down, m.Monitored, pick(m.Starved, ", hears no master", ""))
		}
	}
	view("local", a.Local)
	view("peer ", a.Peer)
	for _, x := range a.Witnesses {
		fmt.Fprintf(w, "arbiter: witness %s of %s %s (%d probes, %d unanswered)\n", x.Address, x.Instance, pick(x.Up, "up", "down"), x.Probes, x.Failures)
	}
}

// pick returns yes when c holds, else no.
func pick(c bool, yes, no string) string {
	if c {
		return yes
	}
	return no
}

func sumDrops(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// usage prints vigilctl's synopsis, commands and options to w.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: vigilctl [OPTION]... [COMMAND]
Ask a running vigild over its control socket.

Commands:
  status          instances, states, priorities and counters, virtual and
                  real servers with their checkers (the default)
  reload          load the configuration again (like SIGHUP) and report the result
  reload --force  also apply a configuration without any vrrp_instance
  demote NAME     a master (instance, or every member of a sync group) hands
                  over now with a priority-0 advert and stays BACKUP at
                  priority 1 until the peer is lost or it is promoted
  promote NAME    end a demotion or maintenance: the configured priority is
                  back and preempts as usual, nothing is forced
  maintenance on|off [NAME|all]
                  hold instances BACKUP at priority 1 (a master hands over),
                  kept across restarts of vigild; without NAME: all
  events          print every transition as a JSON line as it happens,
                  until interrupted
  ct dump internal|external
                  the conntrack replication's caches: our connections, or
                  the peer's as replicated (conntrackd -i / -e)
  ct stats        the replication's statistics (conntrackd -s)
  ct commit       write the external cache into the kernel now (conntrackd -c)
  ct flush        empty the external cache (conntrackd -f external)
  ct resync       ask the peer for its whole table (conntrackd -n)
  ct bulk         send our whole table to the peer (conntrackd -B)

Options:
%s`, fs.FlagUsages())
}

// usageError reports a bad command line as getopt tools do: one line
// naming the problem, then the usage, exit status 2.
func usageError(stderr io.Writer, fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(stderr, "vigilctl: %s\n", msg)
	usage(stderr, fs)
	return 2
}
