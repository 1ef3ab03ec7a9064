package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// ctdSkeleton is a conntrackd.conf with a slot in each section; a case
// puts its option in one slot (the others are emptied), so that its line
// is fixed: FTFW 3, UDP 8, OPT 11, SYNC 13, GEN 16, TOP 18.
const ctdSkeleton = `Sync {
 Mode FTFW {
  %FTFW%
 }
 UDP {
  IPv4_address 198.51.100.1
  IPv4_Destination_Address 198.51.100.2
  %UDP%
 }
 Options {
  %OPT%
 }
 %SYNC%
}
General {
 %GEN%
}
%TOP%
`

func ctdWith(slot, text string) string {
	s := ctdSkeleton
	if slot == "MCAST" {
		// A Multicast channel in the UDP one's place: its slot is line 8 too.
		s = strings.Replace(s, " UDP {\n  IPv4_address 198.51.100.1\n  IPv4_Destination_Address 198.51.100.2\n  %UDP%",
			" Multicast {\n  IPv4_address 225.0.0.50\n  Interface eth2\n  %MCAST%", 1)
	}
	s = strings.Replace(s, "%"+slot+"%", text, 1)
	for _, o := range []string{"FTFW", "UDP", "MCAST", "OPT", "SYNC", "GEN", "TOP"} {
		s = strings.Replace(s, "%"+o+"%", "", 1)
	}
	return s
}

// ctdOptionCases are the options of conntrackd 1.4.7 with what vigil says
// of each: nothing (honoured), a warning (the running behaviour is the
// same) or a fatal error, at the option's (or its value's) file:line:col.
var ctdOptionCases = []struct {
	slot, text string
	want       string // "" = no complaint
}{
	// Mode FTFW.
	{"FTFW", "PurgeTimeout 30", ""},
	{"FTFW", "PurgeTimeout 0", ""},
	{"FTFW", "PurgeTimeout soon", `fatal c.conf:3:16: PurgeTimeout: "soon" is not a number in 0..2147483648 (vigild does not start)`},
	{"FTFW", "StartupResync on", ""},
	{"FTFW", "StartupResync Yes", ""},
	{"FTFW", "StartupResync off", `warning c.conf:3:17: StartupResync: vigil asks the peer for its whole table whenever a peer session starts (ignored)`},
	{"FTFW", "StartupResync maybe", `fatal c.conf:3:17: StartupResync: want on or off, not "maybe" (vigild does not start)`},
	{"FTFW", "StartupResync", `fatal c.conf:3:3: StartupResync: want on or off (vigild does not start)`},
	{"FTFW", "DisableInternalCache on", `warning c.conf:3:3: DisableInternalCache: vigil always keeps an internal cache; the peer gets the same updates and bulks (conntrackd itself takes this option in Mode NOTRACK only) (ignored)`},
	{"FTFW", "DisableInternalCache off", `warning c.conf:3:3: DisableInternalCache: vigil always keeps an internal cache; the peer gets the same updates and bulks (conntrackd itself takes this option in Mode NOTRACK only) (ignored)`},
	{"FTFW", "DisableExternalCache off", ""},
	{"FTFW", "DisableExternalCache yes", `warning c.conf:3:24: DisableExternalCache: the peer's connections are written into this node's kernel as they arrive, as conntrackd does; unlike conntrackd, vigil keeps them in its external cache too (vigilctl ct dump external shows them) and writes none while this node is MASTER (read as conntrack_sync's warm_standby)`},
	{"FTFW", "DisableExternalCache maybe", `fatal c.conf:3:24: DisableExternalCache: want on or off, not "maybe" (vigild does not start)`},
	{"FTFW", "ResendBufferSize 5", `fatal c.conf:3:3: ResendBufferSize: unknown FTFW option (vigild does not start)`},
	// UDP.
	{"UDP", "Checksum on", ""},
	{"UDP", "Checksum off", `warning c.conf:8:12: Checksum: vigil leaves the UDP checksum on; a peer accepts either (ignored)`},
	{"UDP", "IPv4_interface 198.51.100.1", `fatal c.conf:8:3: IPv4_interface: unknown UDP option (vigild does not start)`},
	// Multicast.
	{"MCAST", "Checksum on", ""},
	{"MCAST", "Checksum off", `warning c.conf:8:12: Checksum: vigil leaves the UDP checksum on; a peer accepts either (ignored)`},
	{"MCAST", "Group 3790", ""},
	{"MCAST", "IPv4_interface 198.51.100.1", ""},
	{"MCAST", "IPv6_interface 2001:db8::1", `warning c.conf:8:3: IPv6_interface: not needed: the group is joined on Interface (conntrackd ignores it too) (ignored)`},
	{"MCAST", "Backlog 20", `warning c.conf:8:3: Backlog: obsolete; conntrackd ignores it too (ignored)`},
	{"MCAST", "IPv4_Destination_Address 198.51.100.2", `fatal c.conf:8:3: IPv4_Destination_Address: unknown Multicast option (vigild does not start)`},
	// Options.
	{"OPT", "ExpectationSync off", ""},
	{"OPT", "ExpectationSync on", ""},
	{"OPT", "ExpectationSync { ftp sip }", ""},
	{"OPT", "ExpectationSync maybe", `fatal c.conf:11:19: ExpectationSync: want on or off, not "maybe" (vigild does not start)`},
	{"OPT", "TCPWindowTracking off", ""},
	{"OPT", "TCPWindowTracking on", `fatal c.conf:11:21: TCPWindowTracking: not supported by vigil: its commits let the kernel track TCP windows liberally (vigild does not start)`},
	{"OPT", "Fancy on", `fatal c.conf:11:3: Fancy: unknown Sync option (vigild does not start)`},
	// Straight under Sync.
	{"SYNC", "CommitTimeout 30", ""},
	{"SYNC", "PurgeTimeout 20", ""},
	{"SYNC", "Checksum on", `fatal c.conf:13:2: Checksum: unknown Sync section (vigild does not start)`},
	// General.
	{"GEN", "Filter From Userspace {\n }", ""},
	{"GEN", "Filter {\n }", ""},
	{"GEN", "Filter From Kernelspace {\n }", `warning c.conf:16:14: Filter: vigil filters the kernel's events in user space, not with a socket filter in the kernel; the same connections are replicated (filtered in user space)`},
	{"GEN", "Filter From Nowhere {\n }", `fatal c.conf:16:14: Filter: want Filter From Userspace or Filter From Kernelspace, not "Filter From Nowhere" (vigild does not start)`},
	{"GEN", "HashSize 32768", `warning c.conf:16:2: HashSize: vigil's caches size themselves (ignored)`},
	{"GEN", "HashLimit 131072", `warning c.conf:16:2: HashLimit: vigil's caches have no limit of their own: the kernel's nf_conntrack_max bounds the table they copy (ignored)`},
	{"GEN", "LogFile on", `warning c.conf:16:10: LogFile: vigild logs the replication in its own log (ignored)`},
	{"GEN", "LogFile /var/log/conntrackd.log", `warning c.conf:16:10: LogFile: vigild logs the replication in its own log (ignored)`},
	{"GEN", "LogFile off", ""},
	{"GEN", "Syslog local0", `warning c.conf:16:9: Syslog: vigild logs the replication in its own log (ignored)`},
	{"GEN", "Syslog no", ""},
	{"GEN", "LockFile /var/lock/conntrack.lock", `warning c.conf:16:2: LockFile: vigild takes no lock file of conntrackd's; do not run conntrackd beside it (ignored)`},
	{"GEN", "UNIX {\n  Path /var/run/conntrackd.ctl\n }", `warning c.conf:16:2: UNIX: vigild opens no conntrackd control socket: vigilctl ct (dump, stats, commit, flush, resync, bulk) speaks over vigild's (ignored)`},
	{"GEN", "NetlinkBufferSize 2097152", `warning c.conf:16:2: NetlinkBufferSize: vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun (ignored)`},
	{"GEN", "NetlinkBufferSizeMaxGrowth 8388608", `warning c.conf:16:2: NetlinkBufferSizeMaxGrowth: vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun (ignored)`},
	{"GEN", "SocketBufferSize 2097152", `warning c.conf:16:2: SocketBufferSize: vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun (ignored)`},
	{"GEN", "SocketBufferSizeMaxGrowth 8388608", `warning c.conf:16:2: SocketBufferSizeMaxGrowth: vigil's event socket has a 64 MiB buffer and re-reads the table after an overrun (ignored)`},
	{"GEN", "NetlinkOverrunResync on", `warning c.conf:16:2: NetlinkOverrunResync: vigil re-reads the table at once after an event socket overrun (ignored)`},
	{"GEN", "NetlinkEventsReliable on", `warning c.conf:16:24: NetlinkEventsReliable: vigil does not ask for reliable events: it re-reads the table after a loss (ignored)`},
	{"GEN", "NetlinkEventsReliable off", ""},
	{"GEN", "PollSecs 15", `warning c.conf:16:2: PollSecs: vigil follows the kernel's events, it does not poll: short-lived connections are replicated too (ignored)`},
	{"GEN", "EventIterationLimit 100", `warning c.conf:16:2: EventIterationLimit: vigil batches the kernel's events its own way (ignored)`},
	{"GEN", "Nice -1", `warning c.conf:16:2: Nice: deprecated; conntrackd ignores it too (ignored)`},
	{"GEN", "Scheduler {\n  Type FIFO\n  Priority 99\n }", `warning c.conf:16:2: Scheduler: vigild runs with the normal scheduler, not conntrackd's real-time one (ignored)`},
	{"GEN", "Systemd on", `warning c.conf:16:10: Systemd: vigild's own service unit decides (ignored)`},
	{"GEN", "Systemd off", ""},
	{"GEN", "IgnoreProtocol {\n  TCP\n }", `fatal c.conf:16:2: IgnoreProtocol: unknown General option (vigild does not start)`},
	// Top level.
	{"TOP", "Stats {\n}", `fatal c.conf:18:1: Stats: a Stats section makes conntrackd a statistics collector, and conntrackd refuses it beside Sync; vigil replicates (vigild does not start)`},
	{"TOP", "Helper {\n}", `fatal c.conf:18:1: Helper: vigil runs no user-space conntrack helpers: connections that need them would not be tracked (vigild does not start)`},
	{"TOP", "Fancy {\n}", `fatal c.conf:18:1: Fancy: unknown section (vigild does not start)`},
}

// TestConntrackdOptions: every option of conntrackd 1.4.7 is honoured
// (no complaint), warned (exit 5, vigild runs) or refused (exit 4) with
// its exact complaint and position, never accepted silently.
func TestConntrackdOptions(t *testing.T) {
	for _, tc := range ctdOptionCases {
		t.Run(tc.slot+" "+strings.Fields(tc.text)[0]+" "+strings.Join(strings.Fields(tc.text)[1:], " "), func(t *testing.T) {
			cfg, got, errs := load(t, ctBlock(" conntrackd_config c.conf\n track_group VI_1\n"), ctOpts(map[string]string{"c.conf": ctdWith(tc.slot, tc.text)}))
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			code := ExitCode(cfg, errs, nil)
			switch {
			case tc.want == "" && code != ExitOK,
				strings.HasPrefix(tc.want, "warning ") && code != ExitWarnings,
				strings.HasPrefix(tc.want, "fatal ") && code != ExitCannot:
				t.Errorf("exit code %d", code)
			}
		})
	}
}

// TestConntrackdOptionsCovered: each option of ctdOptions has a case above,
// with each value of a boolean one, and a row in docs/conntrack-sync.md.
func TestConntrackdOptionsCovered(t *testing.T) {
	doc, err := os.ReadFile("../docs/conntrack-sync.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ctdOptions {
		var on, off bool
		for _, tc := range ctdOptionCases {
			f := strings.Fields(tc.text)
			if !strings.EqualFold(f[0], o.name) {
				continue
			}
			if len(f) > 1 && isOff(f[1]) {
				off = true
			} else {
				on = true
			}
		}
		if !on || (o.boolean && !off) {
			t.Errorf("%s %s: no case (on %v, off %v)", o.section, o.name, on, off)
		}
		row := func(line string) bool {
			return strings.HasPrefix(line, "| ") &&
				(strings.Contains(line, "`"+o.name+"`") || strings.Contains(line, "`"+o.name+" ") || strings.Contains(line, " "+o.name+" {") || strings.Contains(line, " "+o.name+" }"))
		}
		if !slices.ContainsFunc(strings.Split(string(doc), "\n"), row) {
			t.Errorf("%s %s: no row in docs/conntrack-sync.md", o.section, o.name)
		}
	}
}

// TestExpectationSync: conntrackd's ExpectationSync and the block's
// expectation_sync (which wins) give the effective helper list; an empty
// list is all helpers, as conntrackd's "on".
func TestExpectationSync(t *testing.T) {
	for _, tc := range []struct {
		name, opt, block string
		want             []string // nil: off
		all              bool
		complaint        string
	}{
		{name: "none"},
		{name: "file on", opt: "ExpectationSync on", all: true},
		{name: "file off", opt: "ExpectationSync off"},
		{name: "file list", opt: "ExpectationSync {\n   FTP sip\n  }", want: []string{"ftp", "sip"}},
		{name: "file empty list", opt: "ExpectationSync { }", all: true},
		{name: "block list", block: " expectation_sync ftp sip ftp\n", want: []string{"ftp", "sip"}},
		{name: "block all", block: " expectation_sync all\n", all: true},
		{name: "block beats file", opt: "ExpectationSync on", block: " expectation_sync off\n"},
		{name: "block list beats file", opt: "ExpectationSync on", block: " expectation_sync sip\n", want: []string{"sip"}},
		{name: "block bad", block: " expectation_sync ftp all\n", want: []string{"ftp"},
			complaint: `fatal t.conf:11:23: expectation_sync: "all" is not a conntrack helper name (1 to 15 letters, digits, '-' or '_'; all or off alone) (vigild does not start)`},
		{name: "block empty", block: " expectation_sync\n",
			complaint: `fatal t.conf:11:2: expectation_sync: want all, off or helper names (1 to 15 letters, digits, '-' or '_') (vigild does not start)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, got, _ := load(t, ctBlock(" conntrackd_config c.conf\n track_group VI_1\n"+tc.block), ctOpts(map[string]string{"c.conf": ctdWith("OPT", tc.opt)}))
			var want []string
			if tc.complaint != "" {
				want = []string{tc.complaint}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("complaints %q, want %q", got, want)
			}
			x := cfg.ConntrackSync.ExpectSync
			switch {
			case tc.want == nil && !tc.all:
				if x != nil {
					t.Fatalf("ExpectSync %+v, want off", x)
				}
			case x == nil:
				t.Fatal("ExpectSync off")
			case !slices.Equal(x.Helpers, tc.want):
				t.Fatalf("helpers %q, want %q", x.Helpers, tc.want)
			}
		})
	}
}

// TestConntrackdTimeouts: PurgeTimeout and CommitTimeout are read in Mode
// FTFW and straight under Sync, as conntrackd does; PurgeTimeout 0 is
// conntrackd's default, 60 s; without PurgeTimeout nothing is purged.
func TestConntrackdTimeouts(t *testing.T) {
	for _, tc := range []struct {
		slot, text    string
		purge, commit time.Duration
	}{
		{"FTFW", "PurgeTimeout 30", 30 * time.Second, 0},
		{"FTFW", "PurgeTimeout 0", 60 * time.Second, 0},
		{"SYNC", "PurgeTimeout 20", 20 * time.Second, 0},
		{"SYNC", "CommitTimeout 30", 0, 30 * time.Second},
		{"FTFW", "CommitTimeout 40", 0, 40 * time.Second},
		{"FTFW", "", 0, 0},
	} {
		cfg, got, _ := load(t, ctBlock(" conntrackd_config c.conf\n track_group VI_1\n"), ctOpts(map[string]string{"c.conf": ctdWith(tc.slot, tc.text)}))
		if len(got) != 0 {
			t.Fatalf("%s: complaints %q", tc.text, got)
		}
		s := cfg.ConntrackSync
		if s.Conntrackd.PurgeTimeout != tc.purge || s.CommitTimeout != tc.commit {
			t.Errorf("%s: PurgeTimeout %v CommitTimeout %v, want %v %v", tc.text, s.Conntrackd.PurgeTimeout, s.CommitTimeout, tc.purge, tc.commit)
		}
	}
}
