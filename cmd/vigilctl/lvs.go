package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// printLVS prints the virtual servers (quorum, sorry server) and their
// real servers with each checker's state, last result and counters.
func printLVS(w io.Writer, l *ctl.LVSStatus) {
	if l == nil {
		return
	}
	fmt.Fprintln(w)
	if l.Error != "" {
		fmt.Fprintf(w, "IPVS not programmed: %s\n", l.Error)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VIRTUAL SERVER\tREAL SERVER\tSTATE\tWEIGHT\tIN TABLE\tCHECKER\tCHECK\tLAST\tLATENCY\tATTEMPTS/OK/FAILED")
	for _, vs := range l.VirtualServers {
		quorum := "quorum up"
		if !vs.QuorumUp {
			quorum = "quorum down"
		}
		if vs.SorryActive {
			quorum += ", sorry server active"
		}
		if vs.Suspended {
			quorum += ", suspended"
		}
		fmt.Fprintf(tw, "%s\t(%s)\t\t\t\t\t\t\t\t\n", vs.Name, quorum)
		for _, rs := range vs.Real {
			state := "DOWN"
			if rs.Up {
				state = "UP"
			}
			in := "no"
			if rs.InTable {
				in = "yes"
			}
			if len(rs.Checkers) == 0 {
				fmt.Fprintf(tw, "\t%s\t%s\t%d\t%s\t-\t\t\t\t\n", rs.Address, state, rs.Weight, in)
			}
			for i, c := range rs.Checkers {
				cs := "down"
				if c.Up {
					cs = "up"
				}
				last := c.LastVerdict.String()
				if c.LastError != "" {
					last += ": " + c.LastError
				}
				if i == 0 {
					fmt.Fprintf(tw, "\t%s\t%s\t%d\t%s", rs.Address, state, rs.Weight, in)
				} else {
					fmt.Fprint(tw, "\t\t\t\t")
				}
				fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%d/%d/%d\n", c.Kind, cs, last, c.LastLatency.Round(time.Microsecond),
					c.Attempts, c.Successes, c.Failures)
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "ipvs applies %d (failed %d), changes %d, notify scripts %d (failed %d, errors %d, dropped %d)\n",
		l.Applies, l.ApplyErrors, l.Changes, l.Scripts.Runs, l.Scripts.Failed, l.Scripts.Errors, l.Scripts.Dropped)
	if len(l.Foreign) > 0 {
		fmt.Fprintf(w, "ipvs services not in the configuration (left alone): %s\n", strings.Join(l.Foreign, " "))
	}
	if l.SyncDaemon != "" {
		fmt.Fprintf(w, "ipvs sync daemon: %s\n", l.SyncDaemon)
	}
	if l.LastError != "" {
		fmt.Fprintf(w, "ipvs last error: %s\n", l.LastError)
	}
}
