package ctl

import (
	"fmt"
	"strings"
)

// Command is one request of the control protocol: a single line of text
// sent by the client. The server answers it with one JSON document and
// closes the connection.
type Command string

// The commands vigild answers.
const (
	// CmdStatus asks for the Status document.
	CmdStatus Command = "status"
	// CmdReload reloads the configuration (as SIGHUP does) and answers
	// with a Result.
	CmdReload Command = "reload"
	// CmdForceReload is CmdReload that also applies a configuration
	// without any vrrp_instance.
	CmdForceReload Command = "reload --force"
)

// maxRequest bounds the request line: the longest command is far shorter,
// and a client that sends more is refused before it is read further.
const maxRequest = 256

// maxAnswer is the default of Client.MaxAnswer.
const maxAnswer = 64 << 20

// Result is the answer to every command but status, and to any command
// the server refuses (an unknown command, a client refused for its uid).
// The fields are in this order so that the document is byte for byte the
// one vigild has always written.
type Result struct {
	Error  string `json:"error,omitempty"`
	Result string `json:"result"` // "ok" or "failed"
}

// Result values.
const (
	ResultOK     = "ok"
	ResultFailed = "failed"
)

// parseCommand returns the command of a request line (without its
// newline), or an error naming what was sent.
func parseCommand(line string) (Command, error) {
	switch c := Command(strings.TrimSpace(line)); c {
	case CmdStatus, CmdReload, CmdForceReload:
		return c, nil
	}
	return "", fmt.Errorf("unknown command %s", strings.TrimSpace(line))
}

// FailedError is a command that vigild answered with a failed Result.
type FailedError struct {
	Command Command
	Reason  string // the Result's error
}

func (e *FailedError) Error() string { return string(e.Command) + " failed: " + e.Reason }
