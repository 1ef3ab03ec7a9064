package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// Script security end to end: the local attacker is the user nobody, who
// can write a folder that holds scripts vigild would run as root.

// secLab is one router on a switch, for the script-security tests.
func secLab(t *testing.T) *testnet.Host {
	t.Helper()
	l := testnet.New(t)
	r := l.Host("r1")
	l.Switch("sw").Attach(r, "eth0").AddAddr(t, r1v4+"/24")
	return r
}

// secDir makes a directory with mode (past the umask) under parent.
func secDir(t *testing.T, parent, name string, mode os.FileMode) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil {
		t.Fatal(err)
	}
	return d
}

// secBase is a fresh root-owned 0755 directory for a test's scripts.
func secBase(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "vigil-scriptsec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}

// plantAsNobody has nobody write script (mode 0755) with body, replacing
// whatever is there.
func plantAsNobody(t *testing.T, script, body string) {
	t.Helper()
	sh := "rm -f '" + script + "' && printf '%s\\n' '#!/bin/sh' '" + body + "' > '" + script + "' && chmod 755 '" + script + "'"
	if out, err := testnet.AsNobody(t, "sh", "-c", sh); err != nil {
		t.Fatalf("nobody replaces %s: %v\n%s", script, err, out)
	}
}

// uidLog returns the lines scripts appended to log ("" when none ran).
func uidLog(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestScriptSecurityUnsafeFolder is the attack on a running firewall: with
// enable_script_security and script_user root, the vrrp_script and the
// notify scripts sit in a world-writable folder, and nobody replaces them
// with scripts that record `id -u`. vigild must report both as disabled,
// remove the vrrp_script from tracking (as keepalived: the weight-0 script
// cannot fault the instance, which becomes MASTER) and never run either of
// them, not at start and not after nobody rewrites them again while vigild
// runs.
func TestScriptSecurityUnsafeFolder(t *testing.T) {
	testnet.Nobody(t)
	r := secLab(t)
	base := secBase(t)
	evil := secDir(t, base, "evil", 0o777)
	out := secDir(t, base, "out", 0o777)
	uids := filepath.Join(out, "uids")
	chk, ntf := filepath.Join(evil, "chk.sh"), filepath.Join(evil, "notify.sh")
	for _, s := range []string{chk, ntf} {
		if err := os.WriteFile(s, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		plantAsNobody(t, s, "id -u >> "+uids)
	}
	conf := trkGlobal("") + trkScript("chk", chk, 1, 1, 0) +
		trkInst{Name: "VI_1", Iface: "eth0", VRID: 51, Prio: 100, VIP: vip4 + "/24",
			Extra: "    track_script {\n        chk\n    }\n    notify_master " + ntf + "\n    notify \"" + ntf + " any\"\n"}.String()
	v := startVigild(t, r, conf)
	s := v.WaitState(t, "VI_1", "MASTER")
	if s.Faulted || s.TrackReason != "" {
		t.Errorf("the disabled weight-0 script still tracks: %s", harness.Describe(s))
	}
	for _, want := range []string{
		`vrrp_script chk: check: script ` + chk + `: ` + evil + `: unsafe permissions: writable by others (script disabled and removed from tracking)`,
		`notify script of VI_1: check: script ` + ntf + `: ` + evil + `: unsafe permissions: writable by others (script disabled)`,
	} {
		if !strings.Contains(v.Output(), want) {
			t.Errorf("vigild does not log %q:\n%s", want, v.Output())
		}
	}
	// nobody rewrites both again while vigild runs; a reload later re-reads
	// the configuration.
	time.Sleep(2 * time.Second)
	plantAsNobody(t, chk, "id -u >> "+uids)
	plantAsNobody(t, ntf, "id -u >> "+uids)
	time.Sleep(3 * time.Second)
	st := v.MustStatus(t)
	if len(st.Tracking.Scripts) != 0 || st.Tracking.Runner.Started != 0 || st.Notify.Runs != 0 {
		t.Errorf("vigild tracks %+v, started %d track runs and %d notify runs", st.Tracking.Scripts, st.Tracking.Runner.Started, st.Notify.Runs)
	}
	if got := uidLog(t, uids); got != "" {
		t.Fatalf("nobody's scripts ran, as uid(s) %q", got)
	}
}

// TestScriptSecurityMadeUnsafeAfterLoad: the scripts were safe when vigild
// loaded its configuration and ran as root; then the folder that holds them
// is swapped for one nobody can write, and nobody plants scripts under the
// same names. vigild re-checks right before every run: the vrrp_script's
// next run is refused and counted (it counts as a failure, so the weight-0
// script faults the instance), the notify script for that FAULT is refused
// and counted too, and nothing nobody planted ever runs.
func TestScriptSecurityMadeUnsafeAfterLoad(t *testing.T) {
	testnet.Nobody(t)
	r := secLab(t)
	base := secBase(t)
	bin := secDir(t, base, "bin", 0o755)
	out := secDir(t, base, "out", 0o777)
	good, planted := filepath.Join(out, "good"), filepath.Join(out, "planted")
	chk, ntf := filepath.Join(bin, "chk.sh"), filepath.Join(bin, "notify.sh")
	for _, s := range []string{chk, ntf} {
		if err := os.WriteFile(s, []byte("#!/bin/sh\nid -u >> "+good+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := trkGlobal("") + trkScript("chk", chk, 1, 1, 0) +
		trkInst{Name: "VI_1", Iface: "eth0", VRID: 51, Prio: 100, VIP: vip4 + "/24",
			Extra: "    track_script {\n        chk\n    }\n    notify \"" + ntf + " any\"\n"}.String()
	v := startVigild(t, r, conf)
	v.WaitState(t, "VI_1", "MASTER")
	testnet.Eventually(t, settle, func() bool { return strings.Count(uidLog(t, good), "0") >= 2 },
		"the safe scripts did not run as root: %q", harness.Lazy(func() string { return uidLog(t, good) }))

	// The swap: the safe folder moves away, a world-writable one takes its
	// name, and nobody fills it.
	if err := os.Rename(bin, bin+".old"); err != nil {
		t.Fatal(err)
	}
	secDir(t, base, "bin", 0o777)
	plantAsNobody(t, chk, "id -u >> "+planted+"; exit 0")
	plantAsNobody(t, ntf, "id -u >> "+planted)

	s := v.WaitState(t, "VI_1", "FAULT")
	if !strings.Contains(s.TrackReason, "chk") {
		t.Errorf("FAULT without a reason naming chk: %s", harness.Describe(s))
	}
	var st ctl.Status
	testnet.Eventually(t, settle, func() bool {
		var err error
		st, err = v.Status()
		return err == nil && st.Tracking.Runner.Refused >= 2 && st.Notify.Refused >= 1
	}, "refusals not counted: %s", harness.Lazy(func() string { return fmt.Sprintf("runner %+v, notify %+v", st.Tracking.Runner, st.Notify) }))
	if got := uidLog(t, planted); got != "" {
		t.Fatalf("nobody's planted scripts ran, as uid(s) %q", got)
	}
	t.Logf("runner %+v, notify %+v", st.Tracking.Runner, st.Notify)
}
