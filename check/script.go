package check

import (
	"errors"
	"log/slog"
	"time"
)

// Runner errors.
var (
	ErrBusy   = errors.New("check: script still running")
	ErrClosed = errors.New("check: runner closed")
)

// DefaultKillGrace is how long a timed-out script has between SIGTERM and
// SIGKILL of its process group (keepalived waits 2 s).
const DefaultKillGrace = 2 * time.Second

// Script is one command to run.
type Script struct {
	Name string   // the tracker's name; carried into the RunResult
	Argv []string // Argv[0] is an absolute path or is looked up in PATH; no shell is involved

	// Credential, when set, runs the script as UID:GID with GID as its only
	// supplementary group; otherwise it inherits ours.
	Credential bool
	UID, GID   uint32

	Timeout   time.Duration // 0: no timeout
	KillGrace time.Duration // SIGTERM → SIGKILL delay after a timeout; 0 means DefaultKillGrace
	Env       []string      // nil: our environment

	// AllowUnsafe runs a script that the script-security check refuses,
	// as keepalived does without enable_script_security. The zero value
	// refuses it at every run (see Command).
	AllowUnsafe bool
}

// RunResult is the outcome of one run, as posted by Runner.
type RunResult struct {
	Name   string
	Result Result
	PID    int // 0 if it never started
	Start  time.Time
	End    time.Time
}

// RunnerStats are the Runner's counters since NewRunner.
type RunnerStats struct {
	Started   uint64 `json:"started"` // processes started
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`    // non-zero exit or foreign signal
	TimedOut  uint64 `json:"timed_out"` // killed at their timeout
	Errors    uint64 `json:"errors"`    // could not start (Refused included)
	Refused   uint64 `json:"refused"`   // not started: the script-security check refused it right before the run (a missing script is only an error)
	Busy      uint64 `json:"busy"`      // Run refused because the same name was still running
	Running   int    `json:"running"`   // in flight now
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Log     *slog.Logger     // nil: slog.Default()
	Results chan<- RunResult // where results are posted; required
}
