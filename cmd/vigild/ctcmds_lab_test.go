package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// ctDumpKeys asks v for a cache (as vigilctl ct dump does) and returns its
// connections' original tuples, sorted.
func ctDumpKeys(t *testing.T, v *vigild, external bool) []string {
	t.Helper()
	d, _, err := (&ctl.Client{Path: v.Control}).CTDump(t.Context(), external)
	if err != nil {
		t.Fatalf("ct dump: %v", err)
	}
	var out []string
	for _, e := range d.Entries {
		out = append(out, fmt.Sprintf("%s %s:%d > %s:%d", strings.ToLower(e.Proto), e.Orig.Src, e.Orig.SrcPort, e.Orig.Dst, e.Orig.DstPort))
	}
	slices.Sort(out)
	return out
}

// kernelKeys returns the TCP connections to the server's port 443 in h's
// kernel table, read with conntrack -L, in ctDumpKeys' form.
func kernelKeys(t *testing.T, h *testnet.Host) []string {
	t.Helper()
	return conntrackKeys(h.Exec(t, "conntrack", "-L", "-p", "tcp", "--dport", "443"))
}

// conntrackKeys reads the original tuples of text in conntrack -L's form
// (which vigilctl ct dump prints too), in ctDumpKeys' form.
func conntrackKeys(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		kv := map[string]string{}
		for _, w := range strings.Fields(line) {
			if k, v, ok := strings.Cut(w, "="); ok {
				if _, seen := kv[k]; !seen { // the original direction comes first
					kv[k] = v
				}
			}
		}
		if kv["src"] != "" {
			out = append(out, fmt.Sprintf("tcp %s:%s > %s:%s", kv["src"], kv["sport"], kv["dst"], kv["dport"]))
		}
	}
	slices.Sort(out)
	return out
}

// vigilctlBinary builds cmd/vigilctl for the test.
func vigilctlBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vigilctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../vigilctl").CombinedOutput(); err != nil {
		t.Fatalf("building vigilctl: %v\n%s", err, out)
	}
	return bin
}

// TestCtlConntrackLab: vigilctl ct against two real vigild on the firewall
// pair. fw2's ct dump external (also through the vigilctl binary) is what
// fw1 has (its ct dump internal and
// its kernel table read with conntrack -L); ct stats counts it; ct flush
// empties it and ct resync fills it again from fw1; ct bulk on fw1 sends
// a bulk; ct commit on fw2 puts fw1's connections into fw2's kernel.
func TestCtlConntrackLab(t *testing.T) {
	const flows = 300
	l := newFWLab(t)
	v1, v2 := startFWPair(t, l, true)
	testnet.Eventually(t, fwSettle, func() bool { return v1.Conntrack(t).Established && v2.Conntrack(t).Established },
		"sync link established both ways")
	ctLoadFlows(t, l.FW1, flows, 0)
	c1, c2 := &ctl.Client{Path: v1.Control}, &ctl.Client{Path: v2.Control}

	kernel := kernelKeys(t, l.FW1)
	if len(kernel) != flows {
		t.Fatalf("fw1's kernel holds %d of the %d loaded connections", len(kernel), flows)
	}
	var ext []string
	testnet.Eventually(t, fwSettle, func() bool { ext = ctDumpKeys(t, v2, true); return slices.Equal(ext, kernel) },
		"fw2's ct dump external is fw1's kernel table: %v", harness.Lazy(func() string {
			return fmt.Sprintf("%d entries, want %d; first %q", len(ext), len(kernel), ext[:min(3, len(ext))])
		}))
	// The command as an operator types it, against the same daemon.
	cmd := exec.Command(vigilctlBinary(t), "ct", "dump", "external")
	cmd.Env = append(os.Environ(), "VIGIL_SOCKET="+v2.Control)
	if out, err := cmd.CombinedOutput(); err != nil || !slices.Equal(conntrackKeys(string(out)), kernel) {
		t.Errorf("vigilctl ct dump external on fw2: %v, %d connections, want fw1's %d:\n%.600s", err, len(conntrackKeys(string(out))), len(kernel), out)
	}
	if in := ctDumpKeys(t, v1, false); !slices.Equal(in, kernel) {
		t.Errorf("fw1's ct dump internal (%d) is not its kernel table (%d)", len(in), len(kernel))
	}
	st, _, err := c2.CTStats(t.Context())
	if err != nil || st.External != flows || st.TrackGroup != "FW" {
		t.Errorf("fw2's ct stats: %+v, %v", st, err)
	}

	done, err := c2.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdCTFlush})
	if err != nil || !slices.Equal(done, []string{fmt.Sprintf("flushed %d connections from the external cache", flows)}) {
		t.Fatalf("ct flush: %q, %v", done, err)
	}
	if n := len(ctDumpKeys(t, v2, true)); n != 0 {
		t.Fatalf("fw2's external cache after ct flush: %d entries", n)
	}
	if _, err := c2.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdCTResync}); err != nil {
		t.Fatalf("ct resync: %v", err)
	}
	testnet.Eventually(t, fwSettle, func() bool { return slices.Equal(ctDumpKeys(t, v2, true), kernel) },
		"fw2's external cache after ct resync: %s", fwCounts(t, v1, v2))

	bulks := v1.Conntrack(t).Bulks
	if _, err := c1.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdCTBulk}); err != nil {
		t.Fatalf("ct bulk: %v", err)
	}
	testnet.Eventually(t, fwSettle, func() bool { return v1.Conntrack(t).Bulks > bulks }, "fw1 sends a bulk after ct bulk")

	if got := kernelKeys(t, l.FW2); len(got) != 0 {
		t.Fatalf("fw2's kernel holds %d connections before ct commit", len(got))
	}
	// Counted from here: fw2 may have been master for a moment at start
	// (a commit and a takeover of its own), when its VRRP started before
	// fw1's.
	before := v2.Conntrack(t)
	done, err = c2.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdCTCommit})
	if err != nil || len(done) != 1 || !strings.HasPrefix(done[0], fmt.Sprintf("committed %d connections", flows)) {
		t.Fatalf("ct commit: %q, %v", done, err)
	}
	if got := kernelKeys(t, l.FW2); !slices.Equal(got, kernel) {
		t.Errorf("fw2's kernel after ct commit: %d connections, want fw1's %d", len(got), len(kernel))
	}
	if st := v2.Conntrack(t); st.Commits-before.Commits != 1 || st.Takeovers != before.Takeovers {
		t.Errorf("fw2 after ct commit: commits %d, takeovers %d (before it: %d and %d); want one more commit and no takeover",
			st.Commits, st.Takeovers, before.Commits, before.Takeovers)
	}
}
