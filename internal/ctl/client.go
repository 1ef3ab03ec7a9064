package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"
)

// DefaultSocket is where vigild listens unless told otherwise (its
// --control default) and where vigilctl asks.
const DefaultSocket = "/run/vigild.sock"

// Client asks a vigild over its control socket. The zero value with Path
// set is ready to use; a Client holds no connection between calls and is
// safe for concurrent use.
type Client struct {
	Path string // the control socket
	// DialTimeout bounds connecting (default 5 s); Timeout bounds a
	// whole request, a reload included (default 60 s). A context
	// deadline that comes first wins.
	DialTimeout time.Duration
	Timeout     time.Duration
	// MaxAnswer bounds the answer read, in bytes (default 64 MiB, far
	// above the status of thousands of instances).
	MaxAnswer int64
}

// Do sends cmd and returns vigild's answer as it came. A failed Result
// is returned with a *FailedError; the answer is returned with it.
func (c *Client) Do(ctx context.Context, cmd Command) ([]byte, error) {
	rt := c.Timeout
	if rt <= 0 {
		rt = 60 * time.Second
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline := time.Now().Add(rt)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	// A context cancelled mid-request ends it at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// A server that refuses the client may answer and hang up before the
	// command is written: its answer is read even when the write failed.
	_, werr := io.WriteString(conn, string(cmd)+"\n")
	limit := c.MaxAnswer
	if limit <= 0 {
		limit = maxAnswer
	}
	raw, err := io.ReadAll(io.LimitReader(conn, limit+1))
	if werr != nil && len(raw) == 0 {
		return nil, fmt.Errorf("ctl: %s: %w", cmd, werr)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("ctl: %s: %w", cmd, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("ctl: %s: vigild hung up without an answer", cmd)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("ctl: %s: answer longer than %d bytes", cmd, limit)
	}
	if res, ok := asResult(raw); ok && res.Result == ResultFailed {
		return raw, &FailedError{Command: cmd, Reason: res.Error}
	}
	return raw, nil
}

// dial connects to the control socket within DialTimeout.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	dt := c.DialTimeout
	if dt <= 0 {
		dt = 5 * time.Second
	}
	d := net.Dialer{Timeout: dt}
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		return nil, fmt.Errorf("is vigild running? %w", err)
	}
	return conn, nil
}

// Operate sends a command that acts on instances (demote, promote,
// maintenance on/off with its target) and returns what vigild did, one
// line per instance. A refusal is a *FailedError.
func (c *Client) Operate(ctx context.Context, req Request) ([]string, error) {
	raw, err := c.Do(ctx, Command(req.String()))
	res, ok := asResult(raw)
	if err != nil {
		return res.Done, err
	}
	if !ok || res.Result != ResultOK {
		return nil, fmt.Errorf("ctl: %s: unexpected answer %.200q", req, raw)
	}
	return res.Done, nil
}

// maxEventLine bounds one line of the events stream.
const maxEventLine = 64 << 10

// Events asks for the events stream and calls f with each line (as sent,
// without its newline) and its decoding, until ctx ends (then it returns
// ctx's error), f returns an error (returned), or vigild ends the stream:
// a failed Result (dropped as too slow, stopping) is a *FailedError.
func (c *Client) Events(ctx context.Context, f func(raw []byte, ev Event) error) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, werr := io.WriteString(conn, string(CmdEvents)+"\n")
	conn.SetWriteDeadline(time.Time{})
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 4096), maxEventLine)
	for sc.Scan() {
		line := sc.Bytes()
		if res, ok := asResult(line); ok {
			if res.Result == ResultFailed {
				return &FailedError{Command: CmdEvents, Reason: res.Error}
			}
			continue
		}
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("ctl: events: bad line from vigild: %w", err)
		}
		if err := f(line, ev); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ctl: events: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("ctl: events: %w", werr)
	}
	return fmt.Errorf("ctl: events: vigild ended the stream")
}

// asResult decodes raw as a Result; ok is false when it is none (a status
// document, or not JSON).
func asResult(raw []byte) (Result, bool) {
	var res Result
	if json.Unmarshal(raw, &res) != nil || res.Result == "" {
		return Result{}, false
	}
	return res, true
}

// Status asks for vigild's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	raw, err := c.Do(ctx, CmdStatus)
	if err != nil {
		return Status{}, err
	}
	s, err := DecodeStatus(raw)
	if err != nil {
		return Status{}, fmt.Errorf("ctl: bad status document from vigild: %w", err)
	}
	return s, nil
}

// DecodeStatus decodes a status document as the status command answers
// it; a Result (the answer to another command) is an error.
func DecodeStatus(raw []byte) (Status, error) {
	if res, ok := asResult(raw); ok {
		return Status{}, fmt.Errorf("a result (%s), not a status", res.Result)
	}
	var s Status
	err := json.Unmarshal(raw, &s)
	return s, err
}

// Reload asks vigild to reload its configuration (force: also one without
// any vrrp_instance) and returns its refusal, if any, as a *FailedError.
func (c *Client) Reload(ctx context.Context, force bool) error {
	cmd := CmdReload
	if force {
		cmd = CmdForceReload
	}
	raw, err := c.Do(ctx, cmd)
	if err != nil {
		return err
	}
	if res, ok := asResult(raw); !ok || res.Result != ResultOK {
		return fmt.Errorf("ctl: %s: unexpected answer %.200q", cmd, raw)
	}
	return nil
}
