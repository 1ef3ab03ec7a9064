package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/healthcheck"
	"github.com/vigil-ha/vigil/internal/buildinfo"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/ctl/ctltest"
)

// daemon is vigild as the control server sees it: a fixed status, and
// reloads that answer reloadErr; the commands it was asked are sent on
// asked.
type daemon struct {
	status    ctl.Status
	reloadErr error
	opErr     error
	ctErr     error
	ctDump    ctl.CTDump
	hub       *ctl.Hub
	asked     chan ctl.Command
}

func (d *daemon) Conntrack(_ context.Context, req ctl.Request) (any, []string, error) {
	d.ask(req.Cmd)
	if d.ctErr != nil {
		return nil, nil, d.ctErr
	}
	doc, done := ctltest.Conntrack(req, d.ctDump, d.status.Conntrack)
	return doc, done, nil
}

func (d *daemon) Status() ctl.Status {
	d.ask(ctl.CmdStatus)
	return d.status
}

func (d *daemon) Reload(_ context.Context, force bool) error {
	if force {
		d.ask(ctl.CmdForceReload)
	} else {
		d.ask(ctl.CmdReload)
	}
	return d.reloadErr
}

func (d *daemon) Refused(uint32, error) {}

func (d *daemon) Operate(_ context.Context, req ctl.Request) ([]string, error) {
	d.ask(ctl.Command(req.String()))
	if d.opErr != nil {
		return nil, d.opErr
	}
	return []string{req.Target + ": done"}, nil
}

func (d *daemon) Subscribe() (<-chan ctl.Event, func()) {
	d.ask(ctl.CmdEvents)
	return d.hub.Subscribe()
}

func (d *daemon) Audit(ctl.Peer, ctl.Request, error) {}

func (d *daemon) ask(c ctl.Command) {
	if d.asked != nil {
		d.asked <- c
	}
}

// serve runs the control server for d on a socket in a fresh directory
// and returns the socket's path; the server is closed at the test's end.
func serve(t *testing.T, d *daemon) string {
	t.Helper()
	srv, err := ctl.Listen(filepath.Join(t.TempDir(), "ctl.sock"), d)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("control server: %v", err)
		}
	})
	return srv.Path()
}

// answer returns a ctltest.Server answering doc.
func answer(doc string) func(io.Writer) {
	return func(w io.Writer) { io.WriteString(w, doc) }
}

func TestStatusTable(t *testing.T) {
	st := ctl.Status{RouterID: "fw1", Instances: []ctl.InstanceStatus{{
		Name: "VI_1", Interface: "eth0", VRID: 51, Family: "inet", State: "MASTER", Priority: 90, BasePriority: 150,
		Master: "192.0.2.1", Since: time.Now().Add(-3 * time.Second), Reason: "master_down", AdvertsSent: 7,
		Received: map[string]uint64{"ok": 4, "ttl": 2},
	}}}
	d := &daemon{status: st, asked: make(chan ctl.Command, 1)}
	sock := serve(t, d)
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := <-d.asked; got != ctl.CmdStatus {
		t.Errorf("sent %q", got)
	}
	for _, want := range []string{"router_id fw1", "VI_1", "MASTER", "90 (150)", "192.0.2.1", "master_down", "ok=4 ttl=2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusTableShowsCounters: the table shows every counter of the
// instances and the VRRP sockets, the daemon's own counters and the
// conntrack replication's main ones (each given a value of its own), and
// an instance's fault reason and last error.
func TestStatusTableShowsCounters(t *testing.T) {
	st, counters := ctltest.FilledStatus(1_000_000, "ttl")
	st.Instances[0].Faulted, st.Instances[0].TrackReason = true, "chk_gw failed"
	st.Instances[0].LastError = "add 192.0.2.10/24: file exists"
	sock := serve(t, &daemon{status: st})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	shown := 0
	for _, c := range counters {
		top := !strings.ContainsAny(c.Path, ".[")
		ct := slices.Contains([]string{"conntrack.takeovers", "conntrack.late_commits", "conntrack.commits", "conntrack.retransmits", "conntrack.auth_drops"}, c.Path)
		if !top && !ct && !strings.HasPrefix(c.Path, "instances[") && !strings.HasPrefix(c.Path, "sockets[") {
			continue
		}
		shown++
		if !strings.Contains(out.String(), strconv.FormatUint(c.Value, 10)) {
			t.Errorf("the table lacks %s (%d)", c.Path, c.Value)
		}
	}
	if shown < 25 {
		t.Errorf("only %d counters checked", shown)
	}
	for _, want := range []string{"VI_1: fault: chk_gw failed", "VI_1: last error: add 192.0.2.10/24: file exists", "conntrack sync (group G, backup, peer not established)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("table:\n%s", out.String())
	}
}

// TestStatusBadAnswer: an answer that is not a status document is an
// error on stderr, exit status 1, and no table.
func TestStatusBadAnswer(t *testing.T) {
	sock := ctltest.Server(t, answer("not json\n"))
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 1 || out.Len() != 0 ||
		!strings.HasPrefix(errOut.String(), "vigilctl: bad answer from vigild: ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// TestStatusShowsRefusedReload: the reason of the last refused reload is
// printed under the table.
func TestStatusShowsRefusedReload(t *testing.T) {
	st := ctl.Status{RouterID: "fw1", ReloadFailures: 2, ReloadError: "reload refused: k.conf:1:1: binary data"}
	sock := serve(t, &daemon{status: st})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "last reload failed (2 failures so far): reload refused: k.conf:1:1: binary data") {
		t.Errorf("output lacks the refused reload:\n%s", out.String())
	}
}

func TestReloadFailureExitCode(t *testing.T) {
	sock := serve(t, &daemon{reloadErr: errors.New("bad file")})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "reload"}, &out, &errOut); code != 1 {
		t.Errorf("failed reload: exit %d, want 1 (%s)", code, out.String())
	}
	if !strings.Contains(errOut.String(), "reload failed: bad file") {
		t.Errorf("the reason is not on stderr: %q", errOut.String())
	}
}

// TestReloadForce: --force asks vigild for "reload --force".
func TestReloadForce(t *testing.T) {
	sent := make(chan ctl.Command, 2)
	sock := serve(t, &daemon{asked: sent})
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{"reload"}, {"reload", "--force"}} {
		if code := run(append([]string{"-s", sock}, args...), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
	}
	if a, b := <-sent, <-sent; a != "reload" || b != "reload --force" {
		t.Errorf("sent %q, %q; want reload then reload --force", a, b)
	}
}

func TestNoDaemon(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", filepath.Join(t.TempDir(), "none.sock")}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "is vigild running") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestStatusRefused: vigild refusing the client (not root) must show as an
// error with the reason, not as an empty status table.
func TestStatusRefused(t *testing.T) {
	sock := ctltest.Server(t, answer(`{"error":"control socket: uid 65534 refused","result":"failed"}`+"\n"))
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 1 {
		t.Errorf("refused status: exit %d, want 1 (%s)", code, out.String())
	}
	if !strings.Contains(errOut.String(), "status failed: control socket: uid 65534 refused") {
		t.Errorf("the reason is not on stderr: %q", errOut.String())
	}
}

// TestFlagErrors: every bad command line gets one line naming what is
// wrong, then the usage, on stderr, and exit status 2; nothing is sent.
func TestFlagErrors(t *testing.T) {
	sent := make(chan ctl.Command, 10)
	sock := serve(t, &daemon{asked: sent})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "vigilctl: unknown flag: --bogus"},
		{[]string{"-x", "status"}, "vigilctl: unknown shorthand flag: 'x' in -x"},
		{[]string{"-s"}, "vigilctl: flag needs an argument: 's' in -s"},
		{[]string{"restart"}, `vigilctl: unknown command "restart"`},
		{[]string{"reload", "now"}, `vigilctl: unexpected argument "now" after reload`},
		{[]string{"status", "--force"}, "vigilctl: --force is an option of reload, not of status"},
		{[]string{"--json=yes"}, `vigilctl: invalid argument "yes" for "--json"`},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"-s", sock}, tc.args...), &out, &errOut)
		first, rest, _ := strings.Cut(errOut.String(), "\n")
		if code != 2 || !strings.HasPrefix(first, tc.want) || !strings.HasPrefix(rest, "Usage: vigilctl") || out.Len() != 0 {
			t.Errorf("vigilctl %v: exit %d, stdout %q, stderr:\n%s\nwant exit 2, %q then the usage", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
	select {
	case cmd := <-sent:
		t.Errorf("a bad command line sent %q to vigild", cmd)
	default:
	}
}

// TestHelp: --help and -h print the usage, with the commands and options,
// to stdout and exit 0 without asking vigild anything.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var out, errOut bytes.Buffer
		code := run([]string{"-s", filepath.Join(t.TempDir(), "none.sock"), arg}, &out, &errOut)
		if code != 0 || errOut.Len() != 0 {
			t.Errorf("vigilctl %s: exit %d, stderr %q", arg, code, errOut.String())
		}
		for _, want := range []string{"Usage: vigilctl", "\n  status ", "\n  reload ", "reload --force", "-s, --socket", "VIGIL_SOCKET", "--json", "--version"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("vigilctl %s: usage lacks %q:\n%s", arg, want, out.String())
			}
		}
	}
}

// TestVersion: --version prints the build's version line and exits 0
// without asking vigild.
func TestVersion(t *testing.T) {
	want := buildinfo.String("vigilctl") + "\n"
	for _, args := range [][]string{{"--version"}, {"-v"}, {"-v", "reload"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 || out.String() != want || errOut.Len() != 0 {
			t.Errorf("vigilctl %v: exit %d, stdout %q, stderr %q; want 0, %q", args, code, out.String(), errOut.String(), want)
		}
	}
}

// TestSocketFromEnv: without -s, vigilctl asks the socket $VIGIL_SOCKET
// names; -s wins over it.
func TestSocketFromEnv(t *testing.T) {
	sock := serve(t, &daemon{status: ctl.Status{RouterID: "from-env"}})
	t.Setenv("VIGIL_SOCKET", sock)
	var out, errOut bytes.Buffer
	if code := run([]string{"status"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "router_id from-env") {
		t.Errorf("with $VIGIL_SOCKET: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	other := filepath.Join(t.TempDir(), "none.sock")
	if code := run([]string{"-s", other, "status"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), other) {
		t.Errorf("-s %s did not win over $VIGIL_SOCKET: exit %d, stderr %q", other, code, errOut.String())
	}
}

// TestStatusTableShowsVirtualServers: the virtual servers' quorum and
// sorry server, each real server's state, weight and checkers.
func TestStatusTableShowsVirtualServers(t *testing.T) {
	st := ctl.Status{RouterID: "lb1", LVS: &ctl.LVSStatus{Applies: 12, Foreign: []string{"[203.0.113.5]:udp:53"},
		VirtualServers: []ctl.VirtualServer{{Name: "[192.0.2.10]:tcp:80", SorryActive: true, Real: []ctl.RealServer{
			{Address: "198.51.100.2:8080", Weight: 3, Checkers: []healthcheck.CheckerStats{{Kind: healthcheck.KindTCP,
				LastVerdict: healthcheck.Failure, LastError: "connection refused", Attempts: 9, Successes: 4, Failures: 5}}},
			{Address: "198.51.100.6:8080", Up: true, Weight: 1, InTable: true},
		}}}}}
	sock := serve(t, &daemon{status: st})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"[192.0.2.10]:tcp:80", "quorum down, sorry server active", "198.51.100.2:8080", "DOWN",
		"TCP_CHECK", "failure: connection refused", "9/4/5", "198.51.100.6:8080", "UP", "ipvs applies 12",
		"left alone): [203.0.113.5]:udp:53"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestOperateCommands: demote, promote and maintenance reach vigild as
// the protocol's requests (maintenance without a name: all), print what
// it did, and a refusal exits 1 with its reason; bad command lines exit 2.
func TestOperateCommands(t *testing.T) {
	d := &daemon{asked: make(chan ctl.Command, 1)}
	sock := serve(t, d)
	for _, tc := range []struct {
		args []string
		want ctl.Command
	}{
		{[]string{"demote", "VI_1"}, "demote VI_1"},
		{[]string{"promote", "G1"}, "promote G1"},
		{[]string{"maintenance", "on"}, "maintenance on all"},
		{[]string{"maintenance", "off", "VI_2"}, "maintenance off VI_2"},
	} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"-s", sock}, tc.args...), &out, &errOut); code != 0 {
			t.Errorf("%q: exit %d: %s", tc.args, code, errOut.String())
		}
		if got := <-d.asked; got != tc.want {
			t.Errorf("%q sent %q, want %q", tc.args, got, tc.want)
		}
		if !strings.HasSuffix(out.String(), ": done\n") {
			t.Errorf("%q printed %q", tc.args, out.String())
		}
	}
	d.opErr = errors.New("VI_1: not master (BACKUP)")
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "demote", "VI_1"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "demote VI_1 refused: VI_1: not master (BACKUP)") {
		t.Errorf("refused demote: exit %d, %q", code, errOut.String())
	}
	<-d.asked
	for _, args := range [][]string{{"demote"}, {"promote"}, {"maintenance"}, {"maintenance", "maybe"},
		{"demote", "a", "b"}, {"maintenance", "on", "a", "b"}, {"events", "x"}, {"--force", "demote", "VI_1"}} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"-s", sock}, args...), &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}

// TestEventsCommand: events prints vigild's lines as they come; when
// vigild drops the client, it says so and exits 1.
func TestEventsCommand(t *testing.T) {
	d := &daemon{asked: make(chan ctl.Command, 1), hub: ctl.NewHub(1)}
	sock := serve(t, d)
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	var errOut bytes.Buffer
	go func() { code <- run([]string{"-s", sock, "events"}, pw, &errOut); pw.Close() }()
	<-d.asked
	for n, _ := d.hub.Stats(); n != 1; n, _ = d.hub.Stats() {
		time.Sleep(time.Millisecond)
	}
	d.hub.Publish(ctl.Event{Instance: "VI_1", From: "MASTER", To: "BACKUP", Reason: "demote", Priority: 1})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.Contains(line, `"instance":"VI_1"`) || !strings.Contains(line, `"reason":"demote"`) {
		t.Fatalf("events printed %q, %v", line, err)
	}
	// The pipe is not read any more: the next events fill the client's
	// buffer at vigild and it is dropped.
	for n, _ := d.hub.Stats(); n > 0; n, _ = d.hub.Stats() {
		d.hub.Publish(ctl.Event{Instance: "VI_1"})
	}
	go io.Copy(io.Discard, pr)
	if c := <-code; c != 1 || !strings.Contains(errOut.String(), "fell behind") {
		t.Errorf("dropped events client: exit %d, %q", c, errOut.String())
	}
}

// TestStatusShowsHolds: an instance in maintenance, one demoted, the
// events clients and a maintenance file that failed are in the table.
func TestStatusShowsHolds(t *testing.T) {
	st := ctl.Status{RouterID: "fw1", EventSubscribers: 2, EventsDropped: 3, MaintenanceError: "not a regular file",
		Instances: []ctl.InstanceStatus{
			{Name: "VI_1", State: "BACKUP", Priority: 1, BasePriority: 150, Maintenance: true},
			{Name: "VI_2", State: "BACKUP", Priority: 1, BasePriority: 100, Demoted: true},
		}}
	sock := serve(t, &daemon{status: st})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"1 (150)", "VI_1: in maintenance (held at priority 1; vigilctl maintenance off VI_1 ends it)",
		"VI_2: demoted (held at priority 1 until master again or vigilctl promote VI_2)", "events clients 2 (dropped 3)",
		"maintenance file: not a regular file"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusShowsSplit: the arbitration's split is in the text status (and
// the JSON one, as the daemon's document).
func TestStatusShowsSplit(t *testing.T) {
	st := ctl.Status{RouterID: "fw2", Arbiter: &ctl.ArbiterStatus{
		Mode: "split", Split: true, Rule: "incumbent", Held: true, PeerAge: 40 * time.Millisecond, Splits: 1,
		Local:     []ctl.ArbiterMember{{Name: "VI_IN", State: "BACKUP", Priority: 100, Starved: true, Monitored: 2}},
		Peer:      []ctl.ArbiterMember{{Name: "VI_IN", State: "MASTER", Priority: 150, Monitored: 2}},
		Witnesses: []ctl.WitnessStatus{{Instance: "VI_IN", Address: "192.0.2.100", Up: true, Probes: 7}},
	}}
	sock := serve(t, &daemon{status: st})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"arbiter: SPLIT (rule incumbent: peer is to be master, takeovers held), peer heard 40ms ago; splits 1,",
		"arbiter: local VI_IN BACKUP priority 100, 0 of 2 segments down, hears no master",
		"arbiter: peer  VI_IN MASTER priority 150, 0 of 2 segments down",
		"arbiter: witness 192.0.2.100 of VI_IN up (7 probes, 0 unanswered)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"-s", sock, "--json", "status"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), `"split": true`) {
		t.Errorf("JSON status (exit %d) lacks the split:\n%s", code, out.String())
	}
}
