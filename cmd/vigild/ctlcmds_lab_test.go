package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// TestCtlDemoteMaintenanceLab: two real vigild on the router pair.
// vigilctl demote on the master: it sends a priority-0 advert (captured
// on the peer's side of the wire) and the peer is master for priority_zero
// (its Skew_Time, not Master_Down_Interval); the peer's events stream
// reports the failover. maintenance on survives a restart of vigild: the
// restarted router comes up held at priority 1 and stays BACKUP.
func TestCtlDemoteMaintenanceLab(t *testing.T) {
	l := newLab(t)
	state := filepath.Join(t.TempDir(), "state")
	v1 := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1", "--state-dir", state)
	v2 := startVigild(t, l.R2, conf("", 100, ""), "-i", "r2", "--state-dir", filepath.Join(t.TempDir(), "state"))
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_1").State == "BACKUP" }, "r2 backup")
	c1, c2 := &ctl.Client{Path: v1.Control}, &ctl.Client{Path: v2.Control}

	events := make(chan ctl.Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	streamDone := make(chan error, 1)
	go func() {
		streamDone <- c2.Events(ctx, func(_ []byte, ev ctl.Event) error { events <- ev; return nil })
	}()
	t.Cleanup(func() { cancel(); <-streamDone })
	testnet.Eventually(t, settle, func() bool { return v2.MustStatus(t).EventSubscribers == 1 }, "r2's events stream")

	capture := l.R2.Capture(t, "eth0", "ip proto 112")
	if _, err := c2.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdDemote, Target: "VI_1"}); err == nil {
		t.Error("demote of a backup was not refused")
	}
	done, err := c1.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdDemote, Target: "VI_1"})
	if err != nil {
		t.Fatalf("demote: %v", err)
	}
	t.Logf("demote: %q", done)
	p := capture.WaitPacket(t, settle, func(p testnet.Packet) bool {
		f := harness.Classify(p)
		return f.Kind == harness.FrameAdvert && !f.V6 && f.VRID == 51 && f.Prio == 0 && f.From(l.If1.MAC())
	})
	s2 := v2.WaitState(t, "VI_1", "MASTER")
	if s2.Reason != "priority_zero" {
		t.Errorf("r2 took over for %q, want priority_zero (its Skew_Time after the priority-0 advert)", s2.Reason)
	}
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip4, false, settle)
	if s1 := v1.Instance(t, "VI_1"); s1.State != "BACKUP" || !s1.Demoted || s1.Priority != 1 {
		t.Errorf("r1 after demote: %s", harness.Describe(s1))
	}
	t.Logf("priority-0 advert from r1 captured on r2 at %v", p.Time)
	deadline := time.After(settle)
	for got := false; !got; {
		select {
		case ev := <-events:
			got = ev.Instance == "VI_1" && ev.From == "BACKUP" && ev.To == "MASTER" && ev.Reason == "priority_zero" && ev.Priority == 100
		case <-deadline:
			t.Fatal("r2's events stream did not report the failover of VI_1")
		}
	}
	// r1 stays BACKUP while r2 speaks.
	time.Sleep(time.Second)
	if s1 := v1.Instance(t, "VI_1"); s1.State != "BACKUP" {
		t.Errorf("demoted r1 took over again: %s", harness.Describe(s1))
	}

	// maintenance on VI_6, then a restart of r1's vigild.
	if _, err := c1.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdMaintenanceOn, Target: "VI_6"}); err != nil {
		t.Fatal(err)
	}
	v2.WaitState(t, "VI_6", "MASTER")
	if err := v1.Stop(); err != nil {
		t.Fatal(err)
	}
	if code, err := v1.Wait(settle); err != nil || code != 0 {
		t.Fatalf("vigild exit %d, %v\n%s", code, err, v1.Output())
	}
	v1 = startVigild(t, l.R1, conf("", 150, ""), "-i", "r1", "--state-dir", state)
	s1 := v1.WaitInstance(t, settle, "VI_6", "held in maintenance after the restart", func(s ctl.InstanceStatus) bool {
		return s.State == "BACKUP" && s.Maintenance && s.Priority == 1
	})
	// VI_1, not in maintenance, preempts again (the demotion did not
	// survive the restart); VI_6 stays with r2.
	v1.WaitState(t, "VI_1", "MASTER")
	time.Sleep(time.Second)
	if s1 = v1.Instance(t, "VI_6"); s1.State != "BACKUP" || v2.Instance(t, "VI_6").State != "MASTER" {
		t.Errorf("after the restart: r1 %s, r2 VI_6 %s", harness.Describe(s1), v2.Instance(t, "VI_6").State)
	}
	if _, err := (&ctl.Client{Path: v1.Control}).Operate(t.Context(), ctl.Request{Cmd: ctl.CmdMaintenanceOff, Target: "all"}); err != nil {
		t.Fatal(err)
	}
	v1.WaitState(t, "VI_6", "MASTER")
}
