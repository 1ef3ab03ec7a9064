package notify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/notify/notifytest"
	"github.com/vigil-ha/vigil/testnet"
)

// keepalivedConf is one router with two instances in a sync group; VI_1
// tracks a file with weight 0 (non-zero ⇒ FAULT), which pulls the group.
func keepalivedConf(fifo, trackFile string, rec *notifytest.Recorder) string {
	return fmt.Sprintf(`global_defs {
	router_id vigil_notify_test
	notify_fifo %s
	script_user root
}
track_file tf {
	file %s
	weight 0
}
vrrp_sync_group G1 {
	group {
		VI_1
		VI_2
	}
	notify_master "%s"
	notify_backup "%s"
	notify_fault "%s"
	notify_stop "%s"
	notify "%s"
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 100
	version 3
	advert_int 0.1
	virtual_ipaddress {
		192.0.2.100/24
	}
	track_file {
		tf
	}
	notify_master "%s"
	notify_backup "%s"
	notify_fault "%s"
	notify_stop "%s"
	notify "%s"
}
vrrp_instance VI_2 {
	state BACKUP
	interface eth0
	virtual_router_id 52
	priority 90
	version 3
	advert_int 0.1
	virtual_ipaddress {
		192.0.2.101/24
	}
	notify "%s"
}
`, fifo, trackFile,
		rec.Command("gmaster"), rec.Command("gbackup"), rec.Command("gfault"), rec.Command("gstop"), rec.Command("gany"),
		rec.Command("master"), rec.Command("backup"), rec.Command("fault"), rec.Command("stop"), rec.Command("any"),
		rec.Command("any2"))
}

// scriptsFor mirrors keepalivedConf's notify scripts for vigil.
func scriptsFor(rec *notifytest.Recorder, ev notify.Event) notify.Scripts {
	c := func(tag string) *notify.Command { return &notify.Command{Argv: rec.Argv(tag)} }
	switch {
	case ev.Kind == notify.KindGroup && ev.Name == "G1":
		return notify.Scripts{Master: c("gmaster"), Backup: c("gbackup"), Fault: c("gfault"), Stop: c("gstop"), Generic: c("gany")}
	case ev.Name == "VI_1":
		return notify.Scripts{Master: c("master"), Backup: c("backup"), Fault: c("fault"), Stop: c("stop"), Generic: c("any")}
	case ev.Name == "VI_2":
		return notify.Scripts{Generic: c("any2")}
	}
	return notify.Scripts{}
}

var recorderTags = []string{"gmaster", "gbackup", "gfault", "gstop", "gany", "master", "backup", "fault", "stop", "any", "any2"}

// TestKeepalivedCompatibility runs Debian's keepalived 2.2.7 in a namespace
// through MASTER → FAULT → BACKUP → MASTER → STOP of a sync group, records
// its notify FIFO lines and every notify script's argv, then replays the
// same transitions through vigil's Notifier and FIFO and asserts that the
// FIFO bytes and each script's argv sequence are identical. It also checks
// a few lines against hand-written expectations, so a keepalived that wrote
// nothing useful could not pass.
func TestKeepalivedCompatibility(t *testing.T) {
	lab := testnet.New(t)
	k := lab.Host("k")
	p := lab.Host("p")
	ki, _ := lab.Wire(k, "eth0", p, "eth0")
	ki.AddAddr(t, "192.0.2.1/24")

	// keepalived's run.
	krec := notifytest.NewRecorder(t)
	dir := t.TempDir()
	kfifo := notifytest.ReadFIFO(t, filepath.Join(dir, "keepalived.fifo"))
	tf := filepath.Join(dir, "tf")
	if err := os.WriteFile(tf, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ka := k.Keepalived(t, keepalivedConf(filepath.Join(dir, "keepalived.fifo"), tf, krec), "-P")
	const wait = 30 * time.Second
	line := func(kind notify.Kind, name, state string, prio int) string {
		return notify.FIFOLine(notify.Event{Kind: kind, Name: name, State: state, Priority: prio})
	}
	// keepalived forks each notify script and does not wait for it, so two
	// scripts of consecutive steps may run in either order. Before each
	// step, wait until every generic script of the previous one has run,
	// so that the recorded order is the order of the transitions.
	ran := func(n int) {
		for _, tag := range []string{"gany", "any", "any2"} {
			krec.WaitCalls(t, tag, n, wait)
		}
	}
	kfifo.WaitLine(t, line(notify.KindGroup, "G1", notify.StateMaster, 0), wait)
	ran(2) // BACKUP, MASTER
	if err := os.WriteFile(tf, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kfifo.WaitLine(t, line(notify.KindGroup, "G1", notify.StateFault, 0), wait)
	ran(3) // FAULT
	if err := os.WriteFile(tf, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, wait, func() bool {
		n := 0
		for _, l := range kfifo.Lines() {
			if l == line(notify.KindGroup, "G1", notify.StateMaster, 0) {
				n++
			}
		}
		return n == 2
	}, "keepalived: second GROUP G1 MASTER line")
	ran(5) // BACKUP, MASTER
	if err := ka.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	kfifo.WaitLine(t, line(notify.KindGroup, "G1", notify.StateStop, 0), wait)
	for _, tag := range []string{"gstop", "stop"} {
		krec.WaitCalls(t, tag, 1, wait)
	}
	krec.WaitCalls(t, "gany", 6, wait)
	krec.WaitCalls(t, "any", 6, wait)
	krec.WaitCalls(t, "any2", 6, wait)
	klines := kfifo.Lines()
	t.Logf("keepalived FIFO:\n%s", strings.Join(klines, ""))

	// Hand-written expectations: the formats, independent of vigil's code.
	for _, want := range []string{
		"INSTANCE \"VI_1\" MASTER 100\n", "INSTANCE \"VI_1\" FAULT 100\n", "INSTANCE \"VI_1\" BACKUP 100\n",
		"INSTANCE \"VI_2\" FAULT 90\n", "GROUP \"G1\" BACKUP 0\n", "INSTANCE \"VI_1\" STOP 100\n",
	} {
		if !slices.Contains(klines, want) {
			t.Errorf("keepalived wrote no line %q", want)
		}
	}
	if got := krec.Calls("any"); len(got) == 0 || !slices.Equal(got[0], []string{"any", "INSTANCE", "VI_1", "BACKUP", "100"}) {
		t.Errorf("keepalived's first generic notify call %q", got)
	}
	if got := krec.Calls("master"); len(got) == 0 || !slices.Equal(got[0], []string{"master"}) {
		t.Errorf("keepalived's notify_master calls %q", got)
	}

	// vigil's run: the same transitions, in keepalived's order.
	vrec := notifytest.NewRecorder(t)
	vpath := filepath.Join(dir, "vigil.fifo")
	vfifo := notifytest.ReadFIFO(t, vpath)
	f, err := notify.OpenFIFO(notify.FIFOConfig{Path: vpath})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := notify.New(notify.Config{Log: quiet, FIFOs: []notify.LineWriter{f}, Timeout: wait})
	defer n.Close()
	for _, l := range klines {
		ev, err := notify.ParseFIFOLine(l)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == notify.KindGroup {
			ev.Priority = 77 // the daemon may know one; keepalived always says 0
		}
		ev.Reason = "replay"
		n.Notify(ev, scriptsFor(vrec, ev))
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, wait, func() bool { return len(vfifo.Lines()) >= len(klines) }, "vigil FIFO lines")
	if vl := vfifo.Lines(); !slices.Equal(vl, klines) {
		t.Errorf("FIFO lines differ:\nvigil:\n%s\nkeepalived:\n%s", strings.Join(vl, ""), strings.Join(klines, ""))
	}
	for _, tag := range recorderTags {
		kc, vc := krec.Calls(tag), vrec.Calls(tag)
		if !slices.EqualFunc(kc, vc, slices.Equal) {
			t.Errorf("script %s: vigil called %q, keepalived %q", tag, vc, kc)
		}
	}
	if st := n.Stats(); st.Failed+st.TimedOut+st.Errors+st.Dropped+st.FIFOErrors != 0 {
		t.Errorf("vigil notifier stats %+v", st)
	}
}
