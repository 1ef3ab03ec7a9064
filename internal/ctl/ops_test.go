package ctl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// TestOperate: demote, promote and maintenance reach the handler with
// their targets (maintenance without one: all), what it did comes back,
// a refusal comes back as a FailedError, and every command is audited
// with the client's credentials.
func TestOperate(t *testing.T) {
	h := &handler{}
	path, _ := start(t, h)
	c := &ctl.Client{Path: path}
	reqs := []ctl.Request{{Cmd: ctl.CmdDemote, Target: "VI_1"}, {Cmd: ctl.CmdPromote, Target: "G"},
		{Cmd: ctl.CmdMaintenanceOn, Target: "all"}, {Cmd: ctl.CmdMaintenanceOff, Target: "VI_2"}}
	for _, r := range reqs {
		done, err := c.Operate(t.Context(), r)
		if err != nil || !slices.Equal(done, []string{r.Target + ": " + string(r.Cmd)}) {
			t.Errorf("%s: %q, %v", r, done, err)
		}
	}
	if _, err := c.Do(t.Context(), "maintenance on"); err != nil {
		t.Errorf("maintenance on without a target: %v", err)
	}
	h.opErr = errors.New("VI_1 is not master (BACKUP)")
	_, err := c.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdDemote, Target: "VI_1"})
	var failed *ctl.FailedError
	if !errors.As(err, &failed) || failed.Reason != "VI_1 is not master (BACKUP)" {
		t.Errorf("refused demote: %v", err)
	}
	if _, err := c.Do(t.Context(), "demote"); !errors.As(err, &failed) {
		t.Errorf("demote without a target: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	want := append(slices.Clone(reqs), ctl.Request{Cmd: ctl.CmdMaintenanceOn, Target: "all"}, ctl.Request{Cmd: ctl.CmdDemote, Target: "VI_1"})
	if !slices.Equal(h.ops, want) {
		t.Errorf("handler ran %v, want %v", h.ops, want)
	}
	me := fmt.Sprintf("%d %d: ", os.Geteuid(), os.Getpid())
	wantAudit := []string{me + "demote VI_1: <nil>", me + "promote G: <nil>", me + "maintenance on all: <nil>",
		me + "maintenance off VI_2: <nil>", me + "maintenance on all: <nil>", me + "demote VI_1: VI_1 is not master (BACKUP)"}
	if len(h.audits) != len(wantAudit)+1 || !slices.Equal(h.audits[:len(wantAudit)], wantAudit) {
		t.Errorf("audit:\n%q\nwant\n%q and the refused bare demote", h.audits, wantAudit)
	}
}

// TestEvents: a client gets every event published after it subscribed,
// as JSON lines, until it goes; then it is unsubscribed.
func TestEvents(t *testing.T) {
	h := &handler{auditped: make(chan string, 4)}
	path, _ := start(t, h)
	c := &ctl.Client{Path: path}
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan ctl.Event, 8)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Events(ctx, func(_ []byte, ev ctl.Event) error { got <- ev; return nil })
	}()
	<-h.auditped // the stream has started: subscribed
	waitSubs(t, h.events(), 1)
	t0 := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	want := []ctl.Event{
		{Time: t0, Instance: "VI_1", Group: "G", From: "MASTER", To: "BACKUP", Reason: "demote", Priority: 1},
		{Time: t0.Add(time.Second), Instance: "VI_2", From: "BACKUP", To: "MASTER", Reason: "priority_zero", Priority: 100},
	}
	for _, ev := range want {
		h.events().Publish(ev)
	}
	for i := range want {
		select {
		case ev := <-got:
			if ev != want[i] {
				t.Errorf("event %d: %+v, want %+v", i, ev, want[i])
			}
		case <-time.After(time.Minute):
			t.Fatalf("event %d never came", i)
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Events after cancel: %v", err)
	}
	waitSubs(t, h.events(), 0)
}

// TestEventsSlowClient: a client that does not read is dropped once its
// buffer is full, counted, and never blocks Publish; it is told why.
func TestEventsSlowClient(t *testing.T) {
	h := &handler{hub: ctl.NewHub(4), auditped: make(chan string, 4)}
	path, _ := start(t, h)
	c := &ctl.Client{Path: path}
	release := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- c.Events(t.Context(), func([]byte, ctl.Event) error { <-release; return nil })
	}()
	<-h.auditped
	waitSubs(t, h.hub, 1)
	// Far more than the buffer and the socket hold: Publish must return
	// every time.
	big := ctl.Event{Instance: string(make([]byte, 1000)), To: "MASTER"}
	for range 20000 {
		h.hub.Publish(big)
		if n, d := h.hub.Stats(); n == 0 && d == 1 {
			break
		}
	}
	if n, d := h.hub.Stats(); n != 0 || d != 1 {
		t.Fatalf("after a flood to a stuck client: %d subscribers, %d dropped; want 0, 1", n, d)
	}
	close(release)
	var failed *ctl.FailedError
	if err := <-errc; !errors.As(err, &failed) {
		t.Errorf("the dropped client was told %v, want a failed Result", err)
	}
}

// TestHubUnsubscribe: cancel closes the channel once, Publish skips it.
func TestHubUnsubscribe(t *testing.T) {
	h := ctl.NewHub(1)
	ch, cancel := h.Subscribe()
	cancel()
	cancel()
	if _, ok := <-ch; ok {
		t.Error("channel open after cancel")
	}
	h.Publish(ctl.Event{})
	if n, d := h.Stats(); n != 0 || d != 0 {
		t.Errorf("%d subscribers, %d dropped", n, d)
	}
}

func waitSubs(t *testing.T, h *ctl.Hub, want int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if n, _ := h.Stats(); n == want {
			return
		}
		if time.Now().After(deadline) {
			n, _ := h.Stats()
			t.Fatalf("%d subscribers, want %d", n, want)
		}
	}
}
