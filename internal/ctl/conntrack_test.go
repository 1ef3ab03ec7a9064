package ctl_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/ctl"
)

// TestConntrackCommands: each ct command reaches the handler; the dumps and
// ct stats come back as their documents, the others as what was done; a
// refusal (no conntrack_sync) is a FailedError with the reason; a ct
// command vigild does not know never reaches the handler; every command is
// audited with the client's credentials.
func TestConntrackCommands(t *testing.T) {
	up := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	flows := conntracksync.SampleFlows(3)
	var entries []ctl.CTEntry
	for i := range flows {
		entries = append(entries, ctl.NewCTEntry(&conntracksync.Entry{Flow: flows[i], Updated: up}))
	}
	h := &handler{ctDump: ctl.CTDump{Entries: entries}}
	h.status.Conntrack = &ctl.CTStatus{TrackGroup: "FW", Takeovers: 2, Stats: conntracksync.Stats{Internal: 5, External: 3}}
	path, _ := start(t, h)
	c := &ctl.Client{Path: path}

	for _, ext := range []bool{false, true} {
		d, raw, err := c.CTDump(t.Context(), ext)
		want := ctl.CTDump{Cache: "internal", Entries: entries}
		if ext {
			want.Cache = "external"
		}
		if err != nil || !json.Valid(raw) {
			t.Fatalf("dump (external %v): %v", ext, err)
		}
		if diff := cmp.Diff(want, d, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("dump changed on the way (-sent +got):\n%s", diff)
		}
	}
	st, _, err := c.CTStats(t.Context())
	if err != nil || st.TrackGroup != "FW" || st.Takeovers != 2 || st.Internal != 5 || st.External != 3 {
		t.Errorf("stats: %+v, %v", st, err)
	}
	acts := []ctl.Command{ctl.CmdCTCommit, ctl.CmdCTFlush, ctl.CmdCTResync, ctl.CmdCTBulk}
	for _, cmd := range acts {
		done, err := c.Operate(t.Context(), ctl.Request{Cmd: cmd})
		if err != nil || !slices.Equal(done, []string{string(cmd) + ": done"}) {
			t.Errorf("%s: %q, %v", cmd, done, err)
		}
	}
	var failed *ctl.FailedError
	for _, bad := range []string{"ct flush internal", "ct kill", "ct"} {
		if _, err := c.Do(t.Context(), ctl.Command(bad)); !errors.As(err, &failed) {
			t.Errorf("%q: %v, want a refusal", bad, err)
		}
	}
	h.ctErr = errors.New("no conntrack_sync is configured")
	for _, cmd := range []ctl.Command{ctl.CmdCTDumpExternal, ctl.CmdCTCommit} {
		_, err := c.Do(t.Context(), cmd)
		if !errors.As(err, &failed) || failed.Command != cmd || failed.Reason != "no conntrack_sync is configured" {
			t.Errorf("%s without conntrack_sync: %v", cmd, err)
		}
	}
	if _, _, err := c.CTDump(t.Context(), true); !errors.As(err, &failed) {
		t.Errorf("CTDump without conntrack_sync: %v", err)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	var want []ctl.Request
	for _, cmd := range append([]ctl.Command{ctl.CmdCTDumpInternal, ctl.CmdCTDumpExternal, ctl.CmdCTStats}, append(acts, ctl.CmdCTDumpExternal, ctl.CmdCTCommit, ctl.CmdCTDumpExternal)...) {
		want = append(want, ctl.Request{Cmd: cmd})
	}
	if !slices.Equal(h.ops, want) {
		t.Errorf("handler ran %v, want %v", h.ops, want)
	}
	me := fmt.Sprintf("%d %d: ", os.Geteuid(), os.Getpid())
	wantAudit := []string{me + "ct dump internal: <nil>", me + "ct dump external: <nil>", me + "ct stats: <nil>",
		me + "ct commit: <nil>", me + "ct flush: <nil>", me + "ct resync: <nil>", me + "ct bulk: <nil>"}
	if len(h.audits) != len(wantAudit)+6 || !slices.Equal(h.audits[:len(wantAudit)], wantAudit) {
		t.Fatalf("audit:\n%s", strings.Join(h.audits, "\n"))
	}
	// The refused requests are audited with their reason.
	for i, w := range []string{"ct flush internal: the internal cache follows the kernel table", "ct kill: ct wants", "ct: ct wants",
		"ct dump external: no conntrack_sync is configured", "ct commit: no conntrack_sync is configured",
		"ct dump external: no conntrack_sync is configured"} {
		if got := h.audits[len(wantAudit)+i]; !strings.HasPrefix(got, me+w) {
			t.Errorf("audit %q, want %q...", got, me+w)
		}
	}
}

// TestCTEntry: a cache entry as the dumps describe it: protocol and state
// by name, ports or ICMP fields by protocol, the master of a related
// connection.
func TestCTEntry(t *testing.T) {
	up := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	tcp := conntracksync.Flow{Orig: conntracksync.Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.10"),
		Proto: conntracksync.ProtoTCP, SrcPort: 40000, DstPort: 21}, TCPState: conntracksync.TCPEstablished, Status: 0xe, TimeoutSec: 300, Mark: 7}
	tcp.Reply = tcp.Orig.Invert()
	data := tcp
	data.Orig.SrcPort, data.Orig.DstPort = 40001, 20
	data.Reply = data.Orig.Invert()
	data.Master = tcp.Orig
	icmp := conntracksync.Flow{Orig: conntracksync.Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.10"),
		Proto: conntracksync.ProtoICMP, ICMPType: 8, ICMPID: 0x1234}, TimeoutSec: 30}
	icmp.Reply = icmp.Orig.Invert()
	for _, tc := range []struct {
		f    conntracksync.Flow
		want string
	}{
		{tcp, `{"proto":"TCP","proto_num":6,"orig":{"src":"192.0.2.1","dst":"198.51.100.10","sport":40000,"dport":21},"reply":{"src":"198.51.100.10","dst":"192.0.2.1","sport":21,"dport":40000},"state":"ESTABLISHED","status":14,"timeout":300,"mark":7,"updated":"2026-12-04T10:00:00Z"}`},
		{data, `{"proto":"TCP","proto_num":6,"orig":{"src":"192.0.2.1","dst":"198.51.100.10","sport":40001,"dport":20},"reply":{"src":"198.51.100.10","dst":"192.0.2.1","sport":20,"dport":40001},"master":{"src":"192.0.2.1","dst":"198.51.100.10","sport":40000,"dport":21},"state":"ESTABLISHED","status":14,"timeout":300,"mark":7,"updated":"2026-12-04T10:00:00Z"}`},
		{icmp, `{"proto":"ICMP","proto_num":1,"orig":{"src":"192.0.2.1","dst":"198.51.100.10","type":8,"code":0,"id":4660},"reply":{"src":"198.51.100.10","dst":"192.0.2.1","type":0,"code":0,"id":4660},"status":0,"timeout":30,"updated":"2026-12-04T10:00:00Z"}`},
	} {
		b, err := json.Marshal(ctl.NewCTEntry(&conntracksync.Entry{Flow: tc.f, Updated: up}))
		if err != nil || string(b) != tc.want {
			t.Errorf("entry:\n%s\nwant\n%s (%v)", b, tc.want, err)
		}
	}
}
