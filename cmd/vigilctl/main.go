// Command vigilctl talks to a running vigild over its unix socket.
//
//	vigilctl status          # instances, states, priorities, counters (table)
//	vigilctl status --json   # the same as JSON
//	vigilctl reload          # reload the configuration (like SIGHUP, but reports the result)
//	vigilctl reload --force  # also apply a configuration without any vrrp_instance
//
// It never touches the kernel: everything it shows comes from vigild.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	flag "github.com/spf13/pflag"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigilctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.StringP("socket", "s", "/run/vigild.sock", "vigild control socket")
	asJSON := fs.Bool("json", false, "print JSON")
	force := fs.Bool("force", false, "reload: apply a configuration without any vrrp_instance too (stops every running one)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd := "status"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	switch cmd {
	case "status", "stats", "dump":
		cmd = "status"
	case "reload":
		if *force {
			cmd = "reload --force"
		}
	default:
		fmt.Fprintf(stderr, "vigilctl: unknown command %q (status, reload)\n", cmd)
		return 2
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
			if k == "none" {
				k = "ok"
			}
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
