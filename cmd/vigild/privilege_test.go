package main

import (
	"bufio"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// unitSetting returns the values of key in etc/vigild.service, one per
// line that sets it.
func unitSetting(t *testing.T, key string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "etc", "vigild.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vals []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), key+"="); ok {
			vals = append(vals, v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vals
}

// unitCaps reads CapabilityBoundingSet from etc/vigild.service and
// returns it in setpriv's spelling (net_admin, net_raw...).
func unitCaps(t *testing.T) []string {
	t.Helper()
	var caps []string
	for _, v := range unitSetting(t, "CapabilityBoundingSet") {
		for _, c := range strings.Fields(v) {
			caps = append(caps, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
		}
	}
	if len(caps) == 0 {
		t.Fatal("etc/vigild.service sets no CapabilityBoundingSet")
	}
	return caps
}

// procStatus returns a field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return ""
}

// capMask returns the hexadecimal value of a Cap* line of /proc/PID/status.
func capMask(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	m, err := strconv.ParseUint(procStatus(t, pid, field), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLeastPrivilegeUnit holds etc/vigild.service to its word: vigild
// started with exactly the unit's capability bounding set (as uid 0, as
// systemd starts it) elects, installs its VIPs, announces them to the
// client, runs a track script and a notify script as nobody, creates its
// notify FIFO for nobody, and hands over on SIGTERM.
func TestLeastPrivilegeUnit(t *testing.T) {
	testnet.NeedRoot(t, "setpriv")
	nobody, _ := testnet.Nobody(t)
	caps := unitCaps(t)
	// no_new_privs as the unit sets it (and its seccomp settings imply).
	setpriv := []string{"--bounding-set=-all,+" + strings.Join(caps, ",+"), "--inh-caps=-all"}
	if nnp := unitSetting(t, "NoNewPrivileges"); len(nnp) > 0 && nnp[len(nnp)-1] == "yes" {
		setpriv = append(setpriv, "--no-new-privs")
	}
	l := newLab(t)

	// Scripts in a root-owned folder nobody can read, output in one nobody
	// can write.
	dir, err := os.MkdirTemp("", "vigil-lp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	track := testnet.WriteScript(t, dir, "track.sh", "id -u > "+out+"/track; exit 0")
	master := testnet.WriteScript(t, dir, "master.sh", "id -u > "+out+"/master")
	fifo := filepath.Join(dir, "notify.fifo")

	global := "    notify_fifo " + fifo + " nobody\n"
	extra := "    track_script {\n        chk\n    }\n    notify_master \"" + master + "\" nobody\n"
	c1 := strings.Replace(conf(global, 150, extra), "vrrp_instance VI_1", "vrrp_script chk {\n    script \""+track+"\"\n    interval 1\n    user nobody\n}\nvrrp_instance VI_1", 1)
	c2 := conf("", 100, "")

	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(c1), 0o644); err != nil {
		t.Fatal(err)
	}
	ctl := filepath.Join(filepath.Dir(path), "ctl.sock")
	v1 := &vigild{Host: l.R1, Dir: filepath.Dir(path), Conf: path, Control: ctl}
	v1.Proc = l.R1.Start(t, "setpriv", append(setpriv,
		"env", "VIGILD_AS_MAIN=1", os.Args[0], "-n", "-l", "-D", "-f", path, "-i", "r1",
		"-p", filepath.Join(filepath.Dir(path), "vigild.pid"), "--control", ctl)...)
	v2 := startVigild(t, l.R2, c2, "-i", "r2")

	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_1").State == "BACKUP" }, "r2 backup")

	// The process really runs with the unit's set and nothing more.
	bnd := capMask(t, v1.Pid(), "CapBnd")
	eff := capMask(t, v1.Pid(), "CapEff")
	if bnd != eff || bnd == 0 || bnd&(1<<21) != 0 { // 21: CAP_SYS_ADMIN
		t.Fatalf("vigild capabilities: bounding %#x effective %#x", bnd, eff)
	}
	if n := len(caps); bits.OnesCount64(bnd) != n {
		t.Fatalf("vigild bounding set %#x has %d capabilities, the unit names %d", bnd, bits.OnesCount64(bnd), n)
	}
	if slices.Contains(setpriv, "--no-new-privs") && procStatus(t, v1.Pid(), "NoNewPrivs") != "1" {
		t.Fatalf("vigild runs without no_new_privs, which the unit sets")
	}

	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip4) }, "client pings %s", vip4)
	if got, want := neighMAC(t, l.Client, vip4), macString(l.If1); got != want {
		t.Errorf("client neighbour %s = %q, want r1's %s (gratuitous ARP)", vip4, got, want)
	}
	for _, f := range []string{"track", "master"} {
		var b []byte
		testnet.Eventually(t, settle, func() bool {
			b, _ = os.ReadFile(filepath.Join(out, f))
			return len(b) > 0
		}, "%s script ran", f)
		if got := strings.TrimSpace(string(b)); got != strconv.FormatUint(uint64(nobody), 10) {
			t.Errorf("%s script ran as uid %s, want nobody (%d)", f, got, nobody)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(fifo, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO || st.Uid != nobody {
		t.Errorf("notify FIFO %s: %v, mode %o uid %d; want a FIFO owned by nobody", fifo, err, st.Mode, st.Uid)
	}

	// SIGTERM: priority 0, r2 takes over, r1 removes its addresses.
	if err := v1.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitAddr(t, l.R2, "eth0", vip4, true, 5*time.Second)
	waitAddr(t, l.R1, "eth0", vip4, false, 5*time.Second)
}
