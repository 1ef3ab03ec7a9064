package config

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	chk "github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/testnet"
)

// testNamespace creates a throwaway network namespace holding veth
// interfaces with the given names; it is removed in t.Cleanup.
func testNamespace(t *testing.T, ifaces ...string) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	ns := "cfg" + hex.EncodeToString(b)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for i, name := range ifaces {
		run("-n", ns, "link", "add", name, "type", "veth", "peer", "name", "cfgp"+itoa(i))
		run("-n", ns, "link", "set", name, "up")
	}
	return ns
}

// keepalivedExit runs Debian's keepalived -t on file inside ns.
func keepalivedExit(t *testing.T, ns, file, id string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "keepalived", "-t", "-f", file, "-n", "-l", "-D", "-G",
		"-i", id, "-p", filepath.Join(dir, "p.pid"), "-r", filepath.Join(dir, "r.pid"), "-c", filepath.Join(dir, "c.pid"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee) && ctx.Err() == nil:
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("keepalived -t %s: %v\n%s", file, err, out)
	return -1, ""
}

// hostOptions are the options vigild -t uses, with interfaces looked up in ns.
func hostOptions(t *testing.T, ns, id string) Options {
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	ifs := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			ifs[name] = true
		}
	}
	return Options{
		ConfigID:        id,
		InterfaceExists: func(n string) bool { return ifs[n] },
		CheckScript:     chk.CheckScriptAs,
		UserExists:      func(n string) bool { _, err := user.Lookup(n); return err == nil },
	}
}

// deviations are the files where vigild -t deliberately answers
// differently from keepalived 2.2.7 -t, with the reason.
var deviations = map[string]struct {
	keepalived, vigil int
	why               string
}{
	"conntrack.conf": {5, 0, "conntrack_sync is vigil's own block; keepalived reports it as an unknown keyword"},
	"broken.conf": {5, 4, "an instance without virtual_router_id stops keepalived's VRRP process, yet its -t status " +
		"keeps the numerically highest error class (5); vigild says 4 because it will not run"},
}

func TestDifferentialKeepalived(t *testing.T) {
	testnet.NeedRoot(t, "ip", "keepalived")
	ns := testNamespace(t, "eth0", "eth1", "eth2", "eth3", "eth0.1")
	type fileCase struct{ path, id, key string }
	var cases []fileCase
	samples, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(samples) == 0 {
		t.Log("Debian's keepalived samples are not installed; only vigil's samples are compared")
	}
	for _, s := range samples {
		cases = append(cases, fileCase{s, "node1", filepath.Base(s)})
	}
	dir, _ := filepath.Abs("testdata/golden")
	for _, g := range goldenCases {
		cases = append(cases, fileCase{filepath.Join(dir, g.file), g.id, g.file})
	}
	for _, c := range cases {
		t.Run(c.key+"@"+c.id, func(t *testing.T) {
			want, out := keepalivedExit(t, ns, c.path, c.id)
			cfg, errs, err := Load(c.path, hostOptions(t, ns, c.id))
			got := ExitCode(cfg, errs, err)
			t.Logf("keepalived -t: %d, vigil: %d", want, got)
			if got == 0 && cfg.ConntrackSync == nil {
				// The effective configuration vigild prints is itself a clean
				// keepalived configuration.
				dump := filepath.Join(t.TempDir(), "dump.conf")
				if err := os.WriteFile(dump, Dump(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
				if code, out := keepalivedExit(t, ns, dump, c.id); code != 0 {
					t.Errorf("keepalived -t on vigil's dump: %d\n%s\n%s", code, out, Dump(cfg))
				}
			}
			if d, ok := deviations[c.key]; ok {
				if want != d.keepalived || got != d.vigil {
					t.Errorf("documented deviation changed: keepalived %d (documented %d), vigil %d (documented %d): %s",
						want, d.keepalived, got, d.vigil, d.why)
				}
				return
			}
			if got != want {
				t.Errorf("exit code: vigil %d, keepalived %d\nkeepalived said:\n%s\nvigil said:\n%s", got, want, out, complaintsText(errs))
			}
		})
	}
}

// keywordDeviations are the keyword-table cases where vigild -t
// deliberately exits differently from keepalived -t.
var keywordDeviations = map[string]string{
	"virtual_router_id is required":              cannotRun,
	"virtual_router_id range":                    cannotRun,
	"interface lo refused":                       cannotRun,
	"interface must exist":                       cannotRun,
	"duplicate VRID on one interface and family": cannotRun,
	"no VIP with v3 is fatal":                    cannotRun,
	"conntrack_sync needs its keywords":          "conntrack_sync is vigil's own block (keepalived: unknown keyword, 5); without its keywords vigild cannot run (4)",
	"conntrack_sync block":                       "conntrack_sync is vigil's own block; keepalived reports an unknown keyword (5)",
	"missing parameter":                          "keepalived aborts parsing with exit 2 (KEEPALIVED_EXIT_CONFIG), not a -t code; vigild reports the position and 4",
	"includem of a missing file":                 includeMissing,
	"includew with an unmatched wildcard":        includeMissing,
	"includeb with an unmatched brace":           includeMissing,
	"vmac_prefix unusable":                       "keepalived 2.2.7 takes any vmac_prefix and fails later, creating the interface; vigild refuses one that cannot be part of an interface name or a /proc/sys path (warning, 5)",
	"notify scripts with user":                   "keepalived 2.2.7 -t terminates itself (SIGTERM) while checking a script to run as another user; vigild answers 0",
	"unicast peers ignored in strict mode": "keepalived 2.2.7 checks strict mode's unicast rule before it marks the instance unicast, so the check never fires " +
		"and it runs unicast (0); vigild warns and runs the RFC's multicast (5)",
	"nftables table name must be an identifier": "keepalived takes any name under 256 bytes; vigild writes the name into nft scripts and " +
		"takes only an identifier, using its own table otherwise (5)",
}

const includeMissing = "keepalived 2.2.7 -t exits 6 (its script-security code) when a mandatory include " +
	"(includem/includew/includeb) finds no file; vigild says 4 because it will not run"

const cannotRun = "keepalived's VRRP process would not start, yet its -t status keeps the numerically highest " +
	"error class (5); vigild says 4 because it will not run"

// TestDifferentialKeywordTable runs keepalived -t on every snippet of the
// per-keyword table and compares exit codes.
func TestDifferentialKeywordTable(t *testing.T) {
	testnet.NeedRoot(t, "ip", "keepalived")
	ns := testNamespace(t, "eth0", "eth1", "eth2")
	dir := t.TempDir()
	for i, c := range keywordCases() {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "case"+itoa(i)+".conf")
			if err := os.WriteFile(path, []byte(c.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			want, out := keepalivedExit(t, ns, path, "node1")
			cfg, errs, err := Load(path, hostOptions(t, ns, "node1"))
			got := ExitCode(cfg, errs, err)
			_, deviant := keywordDeviations[c.name]
			if got == 0 && cfg.ConntrackSync == nil && !deviant {
				dump := filepath.Join(dir, "dump"+itoa(i)+".conf")
				if err := os.WriteFile(dump, Dump(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
				if code, out := keepalivedExit(t, ns, dump, "node1"); code != 0 {
					t.Errorf("keepalived -t on vigil's dump: %d\n%s\n%s", code, out, Dump(cfg))
				}
			}
			if why, ok := keywordDeviations[c.name]; ok {
				t.Logf("documented deviation (keepalived %d, vigil %d): %s", want, got, why)
				if got == want {
					t.Errorf("documented deviation no longer differs: %s", why)
				}
				return
			}
			if got != want {
				t.Errorf("exit code: vigil %d, keepalived %d\nkeepalived said:\n%s\nvigil said:\n%s", got, want, out, complaintsText(errs))
			}
		})
	}
}

// complaintsText is vigil's complaints, one "severity file:line:col: ..." a line.
func complaintsText(errs []*Error) string {
	var es []string
	for _, e := range errs {
		es = append(es, e.Severity.String()+" "+e.Error())
	}
	return strings.Join(es, "\n")
}
