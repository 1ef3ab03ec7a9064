package check_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/notify/notifytest"
	"github.com/vigil-ha/vigil/testnet"
)

// seqScript exits according to the next letter of its first argument on
// each run (S success, F exit 1, K killed by SIGKILL), counting runs in the
// file named by its second argument, so the results do not depend on when
// it runs. Past the end it repeats the last letter.
const seqScript = `#!/bin/sh
n=$(cat "$2" 2>/dev/null || echo 0)
echo $((n+1)) > "$2"
len=${#1}
i=$((n+1)); [ $i -gt $len ] && i=$len
c=$(printf '%s' "$1" | cut -c$i)
case "$c" in
S) exit 0 ;;
F) exit 1 ;;
K) kill -KILL $$ ;;
esac
exit 2
`

type scriptCase struct {
	name     string // vrrp_script name
	instance string
	seq      string
	cfg      check.TrackerConfig
	weight   int
	reverse  bool
}

// model feeds c.seq through check.Tracker and check.Priority and returns
// the log lines keepalived writes for the same sequence.
func model(c scriptCase, base uint8) []string {
	now := time.Unix(0, 0)
	tr := check.NewTracker(c.cfg, now)
	res := map[byte]check.Result{
		'S': {Outcome: check.OutcomeSuccess},
		'F': {Outcome: check.OutcomeFailure, ExitCode: 1},
		'K': {Outcome: check.OutcomeFailure, Signal: 9},
	}
	ref := check.Ref{Kind: check.KindScript, Name: c.name, Weight: c.weight, Reverse: c.reverse, State: tr.State()}
	prio, _, _ := check.Priority(base, []check.Ref{ref})
	var lines []string
	for i := range len(c.seq) {
		tr.Start(now)
		ch, ok := tr.Handle(res[c.seq[i]], now)
		now = now.Add(time.Second)
		if !ok {
			continue
		}
		word := "succeeded"
		if ch.To == check.StateFailed {
			word = ch.Result.String()
		}
		lines = append(lines, fmt.Sprintf("VRRP_Script(%s) %s", c.name, word))
		ref.State = ch.To
		p, _, _ := check.Priority(base, []check.Ref{ref})
		if p != prio {
			lines = append(lines, fmt.Sprintf("(%s) Changing effective priority from %d to %d", c.instance, prio, p))
			prio = p
		}
	}
	return lines
}

// TestTrackerMatchesKeepalived runs Debian's keepalived 2.2.7 with two
// vrrp_scripts whose results follow a fixed sequence, and checks that its
// script state changes and effective-priority changes are exactly what
// check.Tracker and check.Priority compute for the same sequences: init
// (one result decides), rise and fall counting with resets, init_fail,
// a signal-killed run, and negative and reversed positive weights.
func TestTrackerMatchesKeepalived(t *testing.T) {
	cases := []scriptCase{
		{name: "chk_a", instance: "VI_1", seq: "SFFSSFSFKSS", cfg: check.TrackerConfig{Interval: time.Second, Rise: 2, Fall: 2}, weight: -30},
		{name: "chk_b", instance: "VI_2", seq: "SSSFSSKSSS", cfg: check.TrackerConfig{Interval: time.Second, Rise: 3, Fall: 1, InitFail: true}, weight: 20, reverse: true},
	}
	lab := testnet.New(t)
	k := lab.Host("k")
	p := lab.Host("p")
	ki, _ := lab.Wire(k, "eth0", p, "eth0")
	ki.AddAddr(t, "192.0.2.1/24")

	dir, err := os.MkdirTemp("", "vigil-seq-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	script := filepath.Join(dir, "seq")
	if err := os.WriteFile(script, []byte(seqScript), 0o755); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	conf.WriteString("global_defs {\n\trouter_id vigil_check_test\n\tscript_user root\n}\n")
	for i, c := range cases {
		initFail := ""
		if c.cfg.InitFail {
			initFail = "\n\tinit_fail"
		}
		fmt.Fprintf(&conf, "vrrp_script %s {\n\tscript \"%s %s %s\"\n\tinterval 1\n\ttimeout 5\n\trise %d\n\tfall %d%s\n}\n",
			c.name, script, c.seq, filepath.Join(dir, c.name+".count"), c.cfg.Rise, c.cfg.Fall, initFail)
		rev := ""
		if c.reverse {
			rev = " reverse"
		}
		fmt.Fprintf(&conf, "vrrp_instance %s {\n\tstate BACKUP\n\tinterface eth0\n\tvirtual_router_id %d\n\tpriority 100\n\tadvert_int 1\n\tvirtual_ipaddress {\n\t\t192.0.2.%d/24\n\t}\n\ttrack_script {\n\t\t%s weight %d%s\n\t}\n}\n",
			c.instance, 51+i, 100+i, c.name, c.weight, rev)
	}
	ka := k.Keepalived(t, conf.String(), "-P")

	want := map[string][]string{}
	for _, c := range cases {
		want[c.instance] = model(c, 100)
		if len(want[c.instance]) < 4 {
			t.Fatalf("model for %s produced too little to compare: %q", c.name, want[c.instance])
		}
	}
	got := func(c scriptCase) []string {
		var out []string
		for _, l := range strings.Split(ka.Output(), "\n") {
			_, msg, ok := strings.Cut(l, ": ")
			if !ok {
				continue
			}
			if strings.HasPrefix(msg, "VRRP_Script("+c.name+") ") || strings.HasPrefix(msg, "("+c.instance+") Changing effective priority") {
				out = append(out, msg)
			}
		}
		return out
	}
	for _, c := range cases {
		testnet.Eventually(t, 60*time.Second, func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, c.name+".count"))
			n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return n >= len(c.seq) && len(got(c)) >= len(want[c.instance])
		}, "keepalived ran %s %d times and logged %d of %d lines", c.name, len(c.seq), len(got(c)), len(want[c.instance]))
	}
	for _, c := range cases {
		t.Logf("%s: keepalived logged %q", c.name, got(c))
		if g := got(c); !slices.Equal(g, want[c.instance]) {
			t.Errorf("%s: keepalived logged\n\t%s\nvigil's model\n\t%s", c.name, strings.Join(g, "\n\t"), strings.Join(want[c.instance], "\n\t"))
		}
	}
}

// TestPriorityMatchesKeepalived drives Debian's keepalived 2.2.7 through
// track_file values (weight 2) and tracked interface cuts (weight -10, and
// weight 0) and, at each step, waits for the priority or state that
// check.Priority computes for the same inputs to appear on keepalived's
// notify FIFO (notify_priority_changes): the sum, both clamps, a file value
// at -254 (FAULT) and a weight-0 interface down (FAULT).
func TestPriorityMatchesKeepalived(t *testing.T) {
	lab := testnet.New(t)
	k := lab.Host("k")
	p := lab.Host("p")
	ki, _ := lab.Wire(k, "eth0", p, "eth0")
	ki.AddAddr(t, "192.0.2.1/24")
	eth1, _ := lab.Wire(k, "eth1", p, "eth1")
	eth2, _ := lab.Wire(k, "eth2", p, "eth2")

	dir := t.TempDir()
	fifo := notifytest.ReadFIFO(t, filepath.Join(dir, "fifo"))
	tf := filepath.Join(dir, "tf")
	write := func(v string) {
		t.Helper()
		if err := os.WriteFile(tf, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("0")
	k.Keepalived(t, fmt.Sprintf(`global_defs {
	router_id vigil_prio_test
	notify_fifo %s
}
track_file tf {
	file %s
	weight 2
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
	track_interface {
		eth1 weight -10
		eth2
	}
	notify_priority_changes
}
`, filepath.Join(dir, "fifo"), tf), "-P")

	const wait = 30 * time.Second
	refs := []check.Ref{
		{Kind: check.KindFile, Name: "tf", Weight: 2},
		{Kind: check.KindInterface, Name: "eth1", Weight: -10, State: check.StateOK},
		{Kind: check.KindInterface, Name: "eth2", Weight: 0, State: check.StateOK},
	}
	// expect waits for the FIFO line Priority predicts among the lines
	// after the first from.
	expect := func(step string, from int) {
		t.Helper()
		prio, fault, why := check.Priority(100, refs)
		var want string
		if fault {
			want = `INSTANCE "VI_1" FAULT `
		} else {
			want = fmt.Sprintf("INSTANCE \"VI_1\" MASTER_PRIORITY %d\n", prio)
		}
		testnet.Eventually(t, wait, func() bool {
			for _, l := range fifo.Lines()[from:] {
				if strings.HasPrefix(l, want) {
					return true
				}
			}
			return false
		}, "%s: Priority says %d fault=%v (%s); keepalived wrote no %q; lines %q", step, prio, fault, why, want, fifo.Lines())
	}
	fifo.WaitLine(t, "INSTANCE \"VI_1\" MASTER 100\n", wait)

	steps := []struct {
		name  string
		value string
	}{
		{"file 10 → +20", "10"},
		{"file -30 → -60", "-30"},
		{"file 200 → +253 cap, clamp 254", "200"},
		{"file -49 → 2", "-49"},
		{"file -60 → clamp 1", "-60"},
		{"file -127 → -254: FAULT", "-127"},
	}
	for _, s := range steps {
		refs[0].Value, _ = strconv.ParseInt(s.value, 10, 64)
		n := len(fifo.Lines())
		write(s.value)
		expect(s.name, n)
	}
	refs[0].Value = 0
	write("0")
	fifo.WaitLine(t, "INSTANCE \"VI_1\" BACKUP 100\n", wait)
	testnet.Eventually(t, wait, func() bool { return fifo.Lines()[len(fifo.Lines())-1] == "INSTANCE \"VI_1\" MASTER 100\n" }, "master again after the file fault cleared")

	n := len(fifo.Lines())
	eth1.Cut(t)
	refs[1].State = check.StateFailed
	expect("eth1 (weight -10) carrier lost", n)
	n = len(fifo.Lines())
	refs[0].Value = 10
	write("10")
	expect("file 10 with eth1 down", n)
	n = len(fifo.Lines())
	eth1.Restore(t)
	refs[1].State = check.StateOK
	expect("eth1 back", n)
	n = len(fifo.Lines())
	eth2.Cut(t)
	refs[2].State = check.StateFailed
	expect("eth2 (weight 0) down: FAULT", n)
}
