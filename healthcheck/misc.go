package healthcheck

import (
	"context"
	"fmt"

	"github.com/vigil-ha/vigil/check"
)

// MiscProbe is MISC_CHECK: the script runs through check.Exec (script
// security checked right before the exec, own process group, SIGTERM at
// misc_timeout then SIGKILL after check.DefaultKillGrace). Exit 0 is
// success; with Dynamic, exit 2..255 is success too (the core turns it
// into a weight) and 1 a failure; without it any non-zero exit, a signal,
// a timeout or a refused start is a failure.
type MiscProbe struct {
	Script  check.Script
	Dynamic bool
}

// MiscTimedOut is the Err of a MISC_CHECK result whose script was killed at
// its timeout (keepalived reports it apart: "timed out").
const MiscTimedOut = "timed out"

// Probe runs the script once.
func (p *MiscProbe) Probe(ctx context.Context) Result {
	r := check.Exec(ctx, p.Script, nil)
	switch r.Outcome {
	case check.OutcomeSuccess:
		return Result{Verdict: Success, ExitCode: 0}
	case check.OutcomeFailure:
		if r.Signal != 0 {
			return Result{Verdict: Failure, ExitCode: -1, Err: fmt.Sprintf("due to signal %d", r.Signal)}
		}
		if p.Dynamic && r.ExitCode >= 2 && r.ExitCode <= 255 {
			return Result{Verdict: Success, ExitCode: r.ExitCode}
		}
		return Result{Verdict: Failure, ExitCode: r.ExitCode, Err: fmt.Sprintf("exited with status %d", r.ExitCode)}
	case check.OutcomeTimeout:
		return Result{Verdict: Failure, ExitCode: -1, Err: MiscTimedOut}
	}
	return Result{Verdict: Failure, ExitCode: -1, Err: r.Err}
}
