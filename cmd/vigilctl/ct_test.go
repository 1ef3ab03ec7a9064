package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/ctl"
)

// TestCT: vigilctl ct sends each conntrackd-like command and prints what
// comes back: the caches as conntrackd -i / -e lines (or the JSON with
// --json), the statistics, what commit, flush, resync and bulk did; a
// refusal exits 1 with the reason; a bad ct command line exits 2 before
// anything is sent.
func TestCT(t *testing.T) {
	tcp := conntracksync.Flow{Orig: conntracksync.Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.10"),
		Proto: conntracksync.ProtoTCP, SrcPort: 40000, DstPort: 22}, TCPState: conntracksync.TCPEstablished,
		Status: conntracksync.StatusSeenReply | conntracksync.StatusAssured, TimeoutSec: 300, Mark: 7}
	tcp.Reply = tcp.Orig.Invert()
	icmp := conntracksync.Flow{Orig: conntracksync.Tuple{Src: netip.MustParseAddr("192.0.2.2"), Dst: netip.MustParseAddr("198.51.100.10"),
		Proto: conntracksync.ProtoICMP, ICMPType: 8, ICMPID: 9}, TimeoutSec: 30}
	icmp.Reply = icmp.Orig.Invert()
	up := time.Now().Add(-5 * time.Second)
	d := &daemon{asked: make(chan ctl.Command, 1), ctDump: ctl.CTDump{Entries: []ctl.CTEntry{
		ctl.NewCTEntry(&conntracksync.Entry{Flow: tcp, Updated: up}), ctl.NewCTEntry(&conntracksync.Entry{Flow: icmp, Updated: up})}}}
	d.status.Conntrack = &ctl.CTStatus{TrackGroup: "FW", Master: true, Takeovers: 3, Stats: conntracksync.Stats{
		Internal: 1234, External: 56, Established: true, Retransmits: 78, Commits: 9, Drops: map[string]uint64{"stale_seq": 11},
		PathSwitches: 2, Paths: []conntracksync.PathStats{{Name: "eth2", In: 3, Out: 4}, {Name: "backup", Up: true, Active: true, In: 5, Out: 6,
			LastHeard: time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)}}}}
	sock := serve(t, d)
	ct := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"-s", sock, "ct"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	asked := func(want ctl.Command) {
		t.Helper()
		select {
		case got := <-d.asked:
			if got != want {
				t.Errorf("sent %q, want %q", got, want)
			}
		default:
			t.Errorf("nothing sent, want %q", want)
		}
	}

	code, out, errOut := ct("dump", "external")
	asked(ctl.CmdCTDumpExternal)
	wantLines := []string{
		"tcp      6 300 ESTABLISHED src=192.0.2.1 dst=198.51.100.10 sport=40000 dport=22 src=198.51.100.10 dst=192.0.2.1 sport=22 dport=40000 [ASSURED] mark=7 [updated 5s ago]",
		"icmp     1 30 src=192.0.2.2 dst=198.51.100.10 type=8 code=0 id=9 [UNREPLIED] src=198.51.100.10 dst=192.0.2.2 type=0 code=0 id=9 mark=0 [updated 5s ago]",
		"2 connections in the external cache",
	}
	// The age is 5 s plus however long the test took to get here.
	ages := regexp.MustCompile(`\[updated ([0-9]+)s ago\]`)
	for _, m := range ages.FindAllStringSubmatch(out, -1) {
		if n, _ := strconv.Atoi(m[1]); n < 5 || n > 60 {
			t.Errorf("age %ss, want 5s or a little more", m[1])
		}
	}
	out = ages.ReplaceAllString(out, "[updated 5s ago]")
	if code != 0 || out != strings.Join(wantLines, "\n")+"\n" {
		t.Errorf("ct dump external: exit %d\n%s\nwant\n%s\n%s", code, out, strings.Join(wantLines, "\n"), errOut)
	}
	code, out, _ = ct("dump", "internal", "--json")
	asked(ctl.CmdCTDumpInternal)
	var dump ctl.CTDump
	if err := json.Unmarshal([]byte(out), &dump); code != 0 || err != nil || dump.Cache != "internal" || len(dump.Entries) != 2 || dump.Entries[0].Orig.SrcPort != 40000 {
		t.Errorf("ct dump internal --json: exit %d, %v: %s", code, err, out)
	}

	code, out, _ = ct("stats")
	asked(ctl.CmdCTStats)
	for _, want := range []string{"track group FW (master), peer established", "1234", "56", "retransmits: 78", "commits: 9", "takeovers: 3", "stale_seq=11",
		"  paths (switches 2):\n    eth2 (down): datagrams in 3, out 4, peer last heard never\n    backup (up, active): datagrams in 5, out 6, peer last heard 2026-12-04T14:00:00Z\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("ct stats: exit %d, lacks %q:\n%s", code, want, out)
		}
	}

	for _, tc := range []struct {
		args []string
		cmd  ctl.Command
	}{
		{[]string{"commit"}, ctl.CmdCTCommit}, {[]string{"flush"}, ctl.CmdCTFlush}, {[]string{"flush", "external"}, ctl.CmdCTFlush},
		{[]string{"resync"}, ctl.CmdCTResync}, {[]string{"bulk"}, ctl.CmdCTBulk},
	} {
		code, out, errOut := ct(tc.args...)
		asked(tc.cmd)
		if code != 0 || out != string(tc.cmd)+": done\n" {
			t.Errorf("ct %s: exit %d: %q %s", tc.args, code, out, errOut)
		}
	}

	d.ctErr = errors.New("no conntrack_sync is configured")
	for _, args := range [][]string{{"dump", "external"}, {"stats"}, {"commit"}} {
		code, _, errOut := ct(args...)
		<-d.asked
		if code != 1 || !strings.Contains(errOut, "refused: no conntrack_sync is configured") {
			t.Errorf("ct %s without conntrack_sync: exit %d: %s", args, code, errOut)
		}
	}

	for _, args := range [][]string{{}, {"dump"}, {"dump", "peer"}, {"flush", "internal"}, {"commit", "now"}, {"kill"}} {
		code, _, errOut := ct(args...)
		if code != 2 || !strings.HasPrefix(errOut, "vigilctl: ") {
			t.Errorf("ct %q: exit %d, want 2: %s", args, code, errOut)
		}
		select {
		case got := <-d.asked:
			t.Errorf("ct %q sent %q", args, got)
		default:
		}
	}
}
