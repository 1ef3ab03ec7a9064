// Command vigilctl talks to a running vigild over its unix socket.
//
//	vigilctl status          # instances, states, priorities, counters (table)
//	vigilctl status --json   # the same as JSON
//	vigilctl reload          # reload the configuration (like SIGHUP, but reports the result)
//	vigilctl reload --force  # also apply a configuration without any vrrp_instance
//	vigilctl --version
//
// The socket is -s, else $VIGIL_SOCKET, else /run/vigild.sock. A bad
// command line gets one line naming the problem and the usage, exit
// status 2; a failed request exits 1.
//
// It never touches the kernel: everything it shows comes from vigild.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/vigil-ha/vigil/internal/buildinfo"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultSocket is vigild's default --control.
const defaultSocket = "/run/vigild.sock"

// socketEnv names the socket when -s is not given.
const socketEnv = "VIGIL_SOCKET"

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigilctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Usage is printed here, not by pflag: to stdout for --help, to stderr
	// after the error for anything else.
	fs.Usage = func() {}
	def := defaultSocket
	if v := os.Getenv(socketEnv); v != "" {
		def = v
	}
	sock := fs.StringP("socket", "s", def, "vigild control socket (default: $"+socketEnv+", else "+defaultSocket+")")
	asJSON := fs.Bool("json", false, "status: print vigild's JSON document instead of the table")
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
	cmd := "status"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	if fs.NArg() > 1 {
		return usageError(stderr, fs, fmt.Sprintf("unexpected argument %q after %s", fs.Arg(1), cmd))
	}
	switch cmd {
	case "status", "stats", "dump":
		cmd = "status"
		if *force {
			return usageError(stderr, fs, "--force is an option of reload, not of status")
		}
	case "reload":
		if *force {
			cmd = "reload --force"
		}
	default:
		return usageError(stderr, fs, fmt.Sprintf("unknown command %q", cmd))
	}
	raw, err := request(*sock, cmd)
	if err != nil {
		fmt.Fprintf(stderr, "vigilctl: %v\n", err)
		return 1
	}
	// Any command may be refused (a client vigild does not accept, an
	// unknown command): say so, whatever the output format.
	var res struct{ Result, Error string }
	failed := json.Unmarshal(raw, &res) == nil && res.Result == "failed"
	if *asJSON || cmd != "status" || failed {
		stdout.Write(raw)
		if failed {
			fmt.Fprintf(stderr, "vigilctl: %s failed: %s\n", cmd, res.Error)
			return 1
		}
		return 0
	}
	return printStatus(stdout, raw)
}

func request(path, cmd string) ([]byte, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("is vigild running? %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := fmt.Fprintln(c, cmd); err != nil {
		return nil, err
	}
	return io.ReadAll(bufio.NewReader(c))
}

// status mirrors the fields of daemon.Status that vigilctl prints.
type status struct {
	RouterID       string `json:"router_id"`
	ReloadFailures uint64 `json:"reload_failures"`
	ReloadError    string `json:"reload_error"`
	Instances      []struct {
		Name           string            `json:"name"`
		Interface      string            `json:"interface"`
		VRID           int               `json:"vrid"`
		Family         string            `json:"family"`
		State          string            `json:"state"`
		Priority       int               `json:"priority"`
		BasePriority   int               `json:"base_priority"`
		Master         string            `json:"master"`
		Reason         string            `json:"reason"`
		Since          time.Time         `json:"since"`
		AdvertsSent    uint64            `json:"adverts_sent"`
		SendErrors     uint64            `json:"send_errors"`
		Received       map[string]uint64 `json:"received"`
		VIPs           []string          `json:"vips"`
		VIPErrors      uint64            `json:"vip_errors"`
		Announcements  uint64            `json:"announcements"`
		AnnounceErrors uint64            `json:"announce_errors"`
	} `json:"instances"`
}

func printStatus(w io.Writer, raw []byte) int {
	var s status
	if err := json.Unmarshal(raw, &s); err != nil {
		fmt.Fprintf(w, "vigilctl: bad answer from vigild: %v\n", err)
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
	if s.ReloadError != "" {
		fmt.Fprintf(w, "\nlast reload failed (%d failures so far): %s\n", s.ReloadFailures, s.ReloadError)
	}
	return 0
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
  status          instances, states, priorities and counters (the default)
  reload          load the configuration again (like SIGHUP) and report the result
  reload --force  also apply a configuration without any vrrp_instance

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
