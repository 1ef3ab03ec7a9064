package check_test

import (
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/check"
)

// The daemon loop drives a tracker like this: start a run when it is due,
// feed the result back, and recompute the instance's priority on a change.
func ExampleTracker() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := check.NewTracker(check.TrackerConfig{Interval: 2 * time.Second, Rise: 2, Fall: 2}, now)
	results := []check.Result{
		{Outcome: check.OutcomeSuccess},
		{Outcome: check.OutcomeTimeout},
		{Outcome: check.OutcomeFailure, ExitCode: 1},
	}
	for _, r := range results {
		if !now.Before(tr.Deadline()) && tr.Start(now) {
			// runner.Run(script) here; its RunResult arrives later on a channel.
			if ch, ok := tr.Handle(r, now); ok {
				prio, fault, why := check.Priority(100, []check.Ref{{Kind: check.KindScript, Name: "chk_haproxy", Weight: -30, State: ch.To}})
				fmt.Printf("%s -> %s (%s): priority %d fault %v: %s\n", ch.From, ch.To, ch.Result, prio, fault, why)
			}
		}
		now = tr.Deadline()
	}
	// Output:
	// INIT -> OK (succeeded): priority 100 fault false: base priority
	// OK -> FAILED (failed (exited with status 1)): priority 70 fault false: script chk_haproxy failed (-30)
}
