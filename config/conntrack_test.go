package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// ctOpts is testOpts whose ReadFile serves files (keepalived.conf's own text
// is given to Parse directly).
func ctOpts(files map[string]string) Options {
	o := testOpts()
	o.ReadFile = func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return o
}

// ctBlock is instConf plus a conntrack_sync block with body.
func ctBlock(body string) string {
	return instConf("") + "conntrack_sync {\n" + body + "}\n"
}

const ctComplete = " interface eth2\n local_address 198.51.100.1\n peer_address 198.51.100.2\n track_group VI_1\n"

// TestConntrackFilterErrors: a name or address the filter does not know is
// Fatal at its own word (vigild -t exits 4, the start and a reload are
// refused), never skipped; the other words of the line still count.
func TestConntrackFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		name, filter string
		want         []string
	}{
		{"protocol", "  protocol TCP FOO\n",
			[]string{`fatal t.conf:14:16: protocol: "FOO" is not a protocol: want TCP, UDP, ICMP, ICMPv6, SCTP, DCCP, UDPlite, GRE or a number 0..255 (vigild does not start)`}},
		{"protocol number out of range", "  protocol 256\n",
			[]string{`fatal t.conf:14:12: protocol: "256" is not a protocol: want TCP, UDP, ICMP, ICMPv6, SCTP, DCCP, UDPlite, GRE or a number 0..255 (vigild does not start)`}},
		{"state", "  tcp_state ESTABLISHED OPENISH\n",
			[]string{`fatal t.conf:14:25: tcp_state: "OPENISH" is not a TCP state: want SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE or LISTEN (vigild does not start)`}},
		{"address", "  ignore_address 192.0.2.1 192.0.2.300\n",
			[]string{`fatal t.conf:14:28: ignore_address: "192.0.2.300" is not an IP address or prefix (vigild does not start)`}},
		{"prefix length", "  ignore_address 192.0.2.0/33\n",
			[]string{`fatal t.conf:14:18: ignore_address: "192.0.2.0/33" is not an IP address or prefix (vigild does not start)`}},
		{"zone", "  ignore_address fe80::1%eth0\n",
			[]string{`fatal t.conf:14:18: ignore_address: "fe80::1%eth0" is not an IP address or prefix (vigild does not start)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, got, errs := load(t, ctBlock(ctComplete+" filter {\n"+tc.filter+" }\n"), testOpts())
			if !slices.Equal(got, tc.want) {
				t.Errorf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if code := ExitCode(cfg, errs, nil); code != ExitCannot {
				t.Errorf("exit code %d, want %d", code, ExitCannot)
			}
		})
	}
}

// TestConntrackFilterModel: names and addresses keep their positions; the
// effective rules hold the numbers, with the sync link's addresses ignored.
func TestConntrackFilterModel(t *testing.T) {
	cfg, got, _ := load(t, ctBlock(ctComplete+" filter {\n  protocol tcp Udp 132 gre\n  ignore_address 192.0.2.1 10.1.2.3/8 2001:db8::1\n  tcp_state established closed listen\n }\n"), testOpts())
	if len(got) != 0 {
		t.Fatalf("complaints: %q", got)
	}
	s := cfg.ConntrackSync
	f := s.Filter
	if want := (CTName{Pos: Pos{"t.conf", 14, 16}, Name: "UDP", Num: 17}); f.Protocols[1] != want {
		t.Errorf("protocol UDP: %+v, want %+v", f.Protocols[1], want)
	}
	if want := (CTPrefix{Pos: Pos{"t.conf", 15, 28}, Prefix: netip.MustParsePrefix("10.0.0.0/8")}); f.IgnoreAddrs[1] != want {
		t.Errorf("ignore_address: %+v, want %+v", f.IgnoreAddrs[1], want)
	}
	if want := (CTName{Pos: Pos{"t.conf", 16, 25}, Name: "CLOSED", Num: 8}); f.TCPStates[1] != want {
		t.Errorf("tcp_state CLOSED: %+v, want %+v", f.TCPStates[1], want)
	}
	if f.Pos != (Pos{"t.conf", 13, 2}) {
		t.Errorf("filter at %s", f.Pos)
	}
	pfx := netip.MustParsePrefix
	want := CTRules{
		ProtocolPolicy: CTAccept, Protocols: []uint8{6, 17, 132, 47},
		AddressPolicy: CTIgnore, Addresses: []netip.Prefix{pfx("192.0.2.1/32"), pfx("10.0.0.0/8"), pfx("2001:db8::1/128"),
			pfx("198.51.100.1/32"), pfx("198.51.100.2/32")},
		StatePolicy: CTAccept, TCPStates: []uint8{3, 8, 9},
	}
	if !reflect.DeepEqual(s.Rules, want) {
		t.Errorf("rules %+v\nwant  %+v", s.Rules, want)
	}
}

// TestConntrackSyncChecks: what the replicator needs is checked at load.
func TestConntrackSyncChecks(t *testing.T) {
	sg := "vrrp_sync_group EMPTY {\n group {\n  NOPE\n }\n}\n"
	for _, tc := range []struct {
		name, text string
		want       string
	}{
		{"families", ctBlock(" interface eth2\n local_address 198.51.100.1\n peer_address 2001:db8::2\n track_group VI_1\n"),
			`fatal t.conf:8:1: peer_address: local_address 198.51.100.1 and peer_address 2001:db8::2 must be of one family (vigild does not start)`},
		{"unknown track_group", ctBlock(" interface eth2\n local_address 198.51.100.1\n peer_address 198.51.100.2\n track_group VI_9\n"),
			`fatal t.conf:12:2: track_group: track_group VI_9 is neither a vrrp_sync_group nor a vrrp_instance (vigild does not start)`},
		{"sync group without instances (removed)", sg + ctBlock(" interface eth2\n local_address 198.51.100.1\n peer_address 198.51.100.2\n track_group EMPTY\n"),
			`fatal t.conf:17:2: track_group: track_group EMPTY is neither a vrrp_sync_group nor a vrrp_instance (vigild does not start)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, got, errs := load(t, tc.text, testOpts())
			if !slices.Contains(got, tc.want) {
				t.Errorf("complaints:\n%s\nwant among them:\n%s", strings.Join(got, "\n"), tc.want)
			}
			if code := ExitCode(cfg, errs, nil); code != ExitCannot {
				t.Errorf("exit code %d, want %d", code, ExitCannot)
			}
		})
	}
}

const ctdConf = `Sync {
	Mode FTFW {
		ResendQueueSize 65536
		ACKWindowSize 200   # smaller window
		CommitTimeout 180
		PurgeTimeout 60
	}
	UDP Default {
		IPv4_address 198.51.100.1
		IPv4_Destination_Address 198.51.100.2
		Port 3781
		Interface eth2
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}
General {
	HashSize 32768
	LogFile on
	UNIX { Path /var/run/conntrackd.ctl }
	Filter From Userspace {
		Protocol Accept {
			TCP
			SCTP
			DCCP
		}
		Address Ignore {
			IPv4_address 127.0.0.1 # loopback
			IPv4_address 192.0.2.0/24
			IPv6_address ::1
		}
		State Accept {
			ESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT for TCP
		}
	}
}
`

// TestConntrackdConfig: conntrackd_config's Sync and Filter settings become
// the effective ones, with their positions in the conntrackd.conf.
func TestConntrackdConfig(t *testing.T) {
	opts := ctOpts(map[string]string{"/etc/conntrackd/conntrackd.conf": ctdConf})
	cfg, got, _ := load(t, ctBlock(" conntrackd_config /etc/conntrackd/conntrackd.conf\n track_group VI_1\n"), opts)
	// The options vigil runs the same without are warnings, not silence.
	wantWarn := []string{
		"warning /etc/conntrackd/conntrackd.conf:19:2: HashSize: vigil's caches size themselves (ignored)",
		"warning /etc/conntrackd/conntrackd.conf:20:10: LogFile: vigild logs the replication in its own log (ignored)",
		"warning /etc/conntrackd/conntrackd.conf:21:2: UNIX: vigild opens no conntrackd control socket: vigilctl ct (dump, stats, commit, flush, resync, bulk) speaks over vigild's (ignored)",
	}
	if !slices.Equal(got, wantWarn) {
		t.Fatalf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantWarn, "\n"))
	}
	s := cfg.ConntrackSync
	ip, pfx := netip.MustParseAddr, netip.MustParsePrefix
	if s.Interface != "eth2" || s.LocalAddr != ip("198.51.100.1") || s.PeerAddr != ip("198.51.100.2") || s.Port != 3781 ||
		s.AckWindow != 200 || s.ResendQueue != 65536 || s.CommitTimeout != 180*time.Second || s.SocketBuffer != 1249280 {
		t.Errorf("settings: %+v", s)
	}
	want := CTRules{
		ProtocolPolicy: CTAccept, Protocols: []uint8{6, 132, 33},
		AddressPolicy: CTIgnore, Addresses: []netip.Prefix{pfx("127.0.0.1/32"), pfx("192.0.2.0/24"), pfx("::1/128"),
			pfx("198.51.100.1/32"), pfx("198.51.100.2/32")},
		StatePolicy: CTAccept, TCPStates: []uint8{3, 8, 7, 5},
	}
	if !reflect.DeepEqual(s.Rules, want) {
		t.Errorf("rules %+v\nwant  %+v", s.Rules, want)
	}
	f := s.Conntrackd
	const file = "/etc/conntrackd/conntrackd.conf"
	if pos, ok := f.At("Port"); !ok || pos != (Pos{file, 11, 3}) {
		t.Errorf("Port read at %s (%v)", pos, ok)
	}
	if f.State.Pos != (Pos{file, 33, 3}) || f.State.Names[1] != (CTName{Pos: Pos{file, 34, 16}, Name: "CLOSED", Num: 8}) {
		t.Errorf("State list %+v", f.State)
	}
	if f.Address.Prefixes[1] != (CTPrefix{Pos: Pos{file, 30, 17}, Prefix: pfx("192.0.2.0/24")}) {
		t.Errorf("Address list %+v", f.Address)
	}
	roundTrip(t, cfg, opts)
}

// TestConntrackdConfigPrecedence: the block's keywords win where they are
// given, also at their default value; the file gives the rest. Each list
// of the block's filter replaces the file's.
func TestConntrackdConfigPrecedence(t *testing.T) {
	opts := ctOpts(map[string]string{"c.conf": ctdConf})
	cfg, got, errs := load(t, ctBlock(" conntrackd_config c.conf\n interface eth1\n port 3780\n ack_window 300\n commit_timeout 0\n track_group VI_1\n filter {\n  protocol UDP\n  ignore_address 203.0.113.7\n }\n"), opts)
	if len(got) != 3 || ExitCode(cfg, errs, nil) != ExitWarnings { // the warnings of TestConntrackdConfig
		t.Fatalf("complaints: %q", got)
	}
	s := cfg.ConntrackSync
	if s.Interface != "eth1" || s.Port != DefaultSyncPort || s.AckWindow != DefaultSyncAckWindow || s.CommitTimeout != 0 ||
		s.ResendQueue != 65536 || s.LocalAddr != netip.MustParseAddr("198.51.100.1") {
		t.Errorf("settings: %+v", s)
	}
	if !slices.Equal(s.Rules.Protocols, []uint8{17}) || s.Rules.ProtocolPolicy != CTAccept ||
		!slices.Equal(s.Rules.Addresses, []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"),
			netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("198.51.100.2/32")}) ||
		!slices.Equal(s.Rules.TCPStates, []uint8{3, 8, 7, 5}) {
		t.Errorf("rules: %+v", s.Rules)
	}
	out := string(Dump(cfg))
	for _, line := range []string{"port 3780", "ack_window 300", "commit_timeout 0", "conntrackd_config c.conf"} {
		if !strings.Contains(out, "    "+line+"\n") {
			t.Errorf("dump without %q:\n%s", line, out)
		}
	}
	if strings.Contains(out, "resend_queue") || strings.Contains(out, "local_address") {
		t.Errorf("dump prints what conntrackd_config gives:\n%s", out)
	}
	roundTrip(t, cfg, opts)
}

// TestConntrackWarmStandby: warm_standby in the block, or conntrackd.conf's
// DisableExternalCache On (with a warning that tells how vigil differs),
// turns on the replicator's warm standby; the block's keyword wins, also
// when it says off; the dump keeps it.
func TestConntrackWarmStandby(t *testing.T) {
	withDEC := strings.Replace(ctdConf, "\t\tPurgeTimeout 60\n", "\t\tPurgeTimeout 60\n\t\tDisableExternalCache On\n", 1)
	opts := ctOpts(map[string]string{"c.conf": ctdConf, "d.conf": withDEC})
	for _, tc := range []struct {
		name, body string
		want       bool
		warn       string
	}{
		{"default off", " conntrackd_config c.conf\n track_group VI_1\n", false, ""},
		{"keyword", " conntrackd_config c.conf\n warm_standby\n track_group VI_1\n", true, ""},
		{"keyword on", " interface eth2\n local_address 198.51.100.1\n peer_address 198.51.100.2\n warm_standby on\n track_group VI_1\n", true, ""},
		{"DisableExternalCache", " conntrackd_config d.conf\n track_group VI_1\n", true,
			"warning d.conf:7:24: DisableExternalCache: the peer's connections are written into this node's kernel as they arrive, as conntrackd does; unlike conntrackd, vigil keeps them in its external cache too (vigilctl ct dump external shows them) and writes none while this node is MASTER (read as conntrack_sync's warm_standby)"},
		{"keyword off wins", " conntrackd_config d.conf\n warm_standby off\n track_group VI_1\n", false, ""},
		{"bad value", " conntrackd_config c.conf\n warm_standby maybe\n track_group VI_1\n", false,
			`warning t.conf:10:15: warm_standby: "maybe" is not one of on/off/true/false/yes/no (keyword ignored)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, got, _ := load(t, ctBlock(tc.body), opts)
			s := cfg.ConntrackSync
			if s == nil {
				t.Fatalf("no conntrack_sync: %q", got)
			}
			if s.WarmStandby != tc.want || s.ReplicatorConfig().WarmStandby != tc.want {
				t.Errorf("WarmStandby %v, want %v", s.WarmStandby, tc.want)
			}
			if tc.warn != "" && !slices.Contains(got, tc.warn) {
				t.Errorf("complaints:\n%s\nwant among them:\n%s", strings.Join(got, "\n"), tc.warn)
			}
			if out := string(Dump(cfg)); strings.Contains(out, "    warm_standby\n") != (tc.want && tc.name != "DisableExternalCache") {
				t.Errorf("dump:\n%s", out)
			}
			roundTrip(t, cfg, opts)
		})
	}
}

// TestConntrackdConfigErrors: every conntrackd.conf that vigil cannot honour
// is Fatal at its file:line:col (in the conntrackd.conf) with the keyword
// there, and so is one that cannot be read (at conntrackd_config's
// argument in keepalived.conf).
func TestConntrackdConfigErrors(t *testing.T) {
	const ftfw = "Sync {\n Mode FTFW {\n }\n UDP {\n  IPv4_address 198.51.100.1\n  IPv4_Destination_Address 198.51.100.2\n }\n}\n"
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"alarm", strings.Replace(ftfw, "Mode FTFW", "Mode ALARM", 1),
			[]string{`c.conf:2:7: Mode: vigil speaks FTFW only, not "ALARM"`}},
		{"notrack", strings.Replace(ftfw, "Mode FTFW", "Mode NOTRACK", 1),
			[]string{`c.conf:2:7: Mode: vigil speaks FTFW only, not "NOTRACK"`}},
		{"multicast without interface", "Sync {\n Mode FTFW { }\n Multicast {\n  IPv4_address 225.0.0.50\n }\n}\n",
			[]string{`c.conf:3:2: Multicast: no Interface (conntrackd needs it to join the group)`}},
		{"multicast without group", "Sync {\n Mode FTFW { }\n Multicast {\n  Interface eth2\n }\n}\n",
			[]string{`c.conf:3:2: Multicast: no IPv4_address or IPv6_address (the multicast group)`}},
		{"multicast group not multicast", "Sync {\n Mode FTFW { }\n Multicast {\n  IPv4_address 192.0.2.50\n  Interface eth2\n }\n}\n",
			[]string{`c.conf:3:2: Multicast: no IPv4_address or IPv6_address (the multicast group)`, `c.conf:4:16: IPv4_address: 192.0.2.50 is not a multicast group`}},
		{"multicast families", "Sync {\n Mode FTFW { }\n Multicast {\n  IPv4_address 225.0.0.50\n  IPv4_interface 2001:db8::1\n  Interface eth2\n }\n}\n",
			[]string{`c.conf:3:2: Multicast: IPv4_interface 2001:db8::1 and the group 225.0.0.50 are of different families`}},
		{"backup channel without interface", strings.Replace(ftfw, " UDP {", " UDP {\n }\n UDP {", 1),
			[]string{`c.conf:6:2: Interface: a backup channel needs Interface`}},
		{"mixed channels", ftfw[:len(ftfw)-2] + " Multicast {\n  IPv4_address 225.0.0.50\n  Interface eth2\n }\n}\n",
			[]string{`c.conf:8:2: Multicast: conntrackd cannot mix UDP and Multicast channels (the first is at c.conf:4:2)`}},
		{"five channels", ftfw[:len(ftfw)-2] + strings.Repeat(" UDP {\n  Interface eth1\n }\n", 4) + "}\n",
			[]string{`c.conf:8:2: local_address: a backup channel needs local_address`, `c.conf:8:2: peer_address: a backup channel needs peer_address`,
				`c.conf:11:2: local_address: a backup channel needs local_address`,
				`c.conf:11:2: path: a backup channel: a second path named eth1 (the first path is named after its interface)`,
				`c.conf:11:2: peer_address: a backup channel needs peer_address`,
				`c.conf:14:2: local_address: a backup channel needs local_address`,
				`c.conf:14:2: path: a backup channel: a second path named eth1 (the first path is named after its interface)`,
				`c.conf:14:2: peer_address: a backup channel needs peer_address`,
				`c.conf:17:2: UDP: conntrackd takes at most 4 channels`}},
		{"tcp", ftfw[:len(ftfw)-2] + " TCP {\n }\n}\n",
			[]string{`c.conf:8:2: TCP: vigil syncs over UDP, unicast or multicast, not TCP`}},
		{"bad number", strings.Replace(ftfw, " Mode FTFW {\n", " Mode FTFW {\n  ACKWindowSize lots\n", 1),
			[]string{`c.conf:3:17: ACKWindowSize: "lots" is not a number in 1..1048576`}},
		{"zero ack window", strings.Replace(ftfw, " Mode FTFW {\n", " Mode FTFW {\n  ACKWindowSize 0\n", 1),
			[]string{`c.conf:3:17: ACKWindowSize: "0" is not a number in 1..1048576`}},
		{"bad port", strings.Replace(ftfw, "  IPv4_address", "  Port 70000\n  IPv4_address", 1),
			[]string{`c.conf:5:8: Port: "70000" is not a number in 1..65535`}},
		{"bad address", strings.Replace(ftfw, "198.51.100.2", "198.51.100.256", 1),
			[]string{`c.conf:6:28: IPv4_Destination_Address: "198.51.100.256" is not an IP address`}},
		{"unknown option", strings.Replace(ftfw, "  IPv4_address", "  Fancy on\n  IPv4_address", 1),
			[]string{`c.conf:5:3: Fancy: unknown UDP option`}},
		{"expectation sync helper", strings.Replace(ftfw, " Mode FTFW", " Options {\n  ExpectationSync {\n   ftp s!p\n  }\n }\n Mode FTFW", 1),
			[]string{`c.conf:4:8: ExpectationSync: "s!p" is not a conntrack helper name (1 to 15 letters, digits, '-' or '_')`}},
		{"bad protocol", ftfw + "General {\n Filter {\n  Protocol Accept {\n   TCP QUIC\n  }\n }\n}\n",
			[]string{`c.conf:12:8: TCP: "QUIC" is not a protocol: want TCP, UDP, ICMP, ICMPv6, SCTP, DCCP, UDPlite, GRE`}},
		{"bad state", ftfw + "General {\n Filter {\n  State Accept {\n   ESTABLISHED OPENISH for TCP\n  }\n }\n}\n",
			[]string{`c.conf:12:16: ESTABLISHED: "OPENISH" is not a TCP state: want SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE or LISTEN`}},
		{"states for UDP", ftfw + "General {\n Filter {\n  State Accept {\n   ESTABLISHED for UDP\n  }\n }\n}\n",
			[]string{`c.conf:12:20: ESTABLISHED: states are supported for TCP only`}},
		{"bad filter address", ftfw + "General {\n Filter {\n  Address Ignore {\n   IPv4_address 192.0.2.0/40\n  }\n }\n}\n",
			[]string{`c.conf:12:17: IPv4_address: "192.0.2.0/40" is not an IP address or prefix`}},
		{"bad policy", ftfw + "General {\n Filter {\n  Protocol Maybe {\n   TCP\n  }\n }\n}\n",
			[]string{`c.conf:11:12: Protocol: want Accept or Ignore, not "Maybe"`}},
		{"no channel", "Sync {\n Mode FTFW { }\n}\n",
			[]string{`c.conf:1:1: Sync: no UDP or Multicast channel`}},
		{"no Sync", "General {\n}\n",
			[]string{`c.conf:1:1: no UDP or Multicast channel`}},
		{"missing brace", "Sync {\n Mode FTFW {\n }\n",
			[]string{`c.conf:1:1: missing '}' at the end of the block`}},
		{"unbalanced", ftfw + "}\n",
			[]string{`c.conf:9:1: }: unbalanced '}'`}},
		{"brace without keyword", "{\n}\n",
			[]string{`c.conf:1:1: {: '{' without a keyword`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, got, errs := load(t, ctBlock(" conntrackd_config c.conf\n"+ctComplete), ctOpts(map[string]string{"c.conf": tc.text}))
			var want []string
			for _, w := range tc.want {
				want = append(want, "fatal "+w+" (vigild does not start)")
			}
			if !slices.Equal(got, want) {
				t.Errorf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if code := ExitCode(cfg, errs, nil); code != ExitCannot {
				t.Errorf("exit code %d, want %d", code, ExitCannot)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		cfg, got, errs := load(t, ctBlock(" conntrackd_config /nonexistent/conntrackd.conf\n track_group VI_1\n"), ctOpts(nil))
		want := []string{`fatal t.conf:9:20: conntrackd_config: open /nonexistent/conntrackd.conf: file does not exist (vigild does not start)`}
		if !slices.Equal(got, want) {
			t.Errorf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if code := ExitCode(cfg, errs, nil); code != ExitCannot || !errors.Is(errs[0], fs.ErrNotExist) {
			t.Errorf("exit code %d, want %d; %v", code, ExitCannot, errs[0])
		}
	})
	t.Run("ignore_address over Address Accept", func(t *testing.T) {
		conf := ftfw + "General {\n Filter {\n  Address Accept {\n   IPv4_address 192.0.2.0/24\n  }\n }\n}\n"
		_, got, _ := load(t, ctBlock(" conntrackd_config c.conf\n track_group VI_1\n filter {\n  ignore_address 192.0.2.9\n }\n"), ctOpts(map[string]string{"c.conf": conf}))
		want := []string{`fatal t.conf:12:18: ignore_address: cannot be combined with the Address Accept list of conntrackd_config at c.conf:11:3 (vigild does not start)`}
		if !slices.Equal(got, want) {
			t.Errorf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("interface missing", func(t *testing.T) {
		conf := strings.Replace(ftfw, "  IPv4_address", "  Interface eth9\n  IPv4_address", 1)
		_, got, _ := load(t, ctBlock(" conntrackd_config c.conf\n track_group VI_1\n"), ctOpts(map[string]string{"c.conf": conf}))
		want := []string{`fatal c.conf:5:3: Interface: conntrack_sync interface eth9 does not exist (vigild does not start)`}
		if !slices.Equal(got, want) {
			t.Errorf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The block's interface replaces the file's, which is not checked.
		_, got, _ = load(t, ctBlock(" conntrackd_config c.conf\n interface eth1\n track_group VI_1\n"), ctOpts(map[string]string{"c.conf": conf}))
		if len(got) != 0 {
			t.Errorf("complaints: %q", got)
		}
	})
	t.Run("addresses in neither", func(t *testing.T) {
		conf := "Sync {\n Mode FTFW { }\n UDP {\n  IPv4_address 198.51.100.1\n }\n}\n"
		_, got, _ := load(t, ctBlock(" conntrackd_config c.conf\n track_group VI_1\n"), ctOpts(map[string]string{"c.conf": conf}))
		want := []string{`fatal t.conf:8:1: peer_address: conntrack_sync needs peer_address (neither the block nor c.conf gives it) (vigild does not start)`}
		if !slices.Equal(got, want) {
			t.Errorf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The block may give what the file does not.
		_, got, _ = load(t, ctBlock(" conntrackd_config c.conf\n peer_address 198.51.100.2\n track_group VI_1\n"), ctOpts(map[string]string{"c.conf": conf}))
		if len(got) != 0 {
			t.Errorf("complaints: %q", got)
		}
	})
}

// The example shipped with Debian's conntrackd syncs over Multicast: it
// loads, its group, port, address and interface become the first path,
// and what vigil runs without draws warnings.
func TestConntrackdConfigDebianExample(t *testing.T) {
	const p = "/usr/share/doc/conntrackd/examples/sync/ftfw/conntrackd.conf"
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed", p)
		}
		t.Skipf("SKIPPING: %s not installed (apt-get install conntrackd)", p)
	}
	cfg, got, errs := load(t, ctBlock(" conntrackd_config "+p+"\n track_group VI_1\n"), testOpts())
	if ExitCode(cfg, errs, nil) != ExitWarnings || len(got) != 7 || slices.ContainsFunc(got, func(s string) bool { return !strings.HasPrefix(s, "warning "+p+":") }) {
		t.Fatalf("complaints: %q", got)
	}
	s := cfg.ConntrackSync
	ip := netip.MustParseAddr
	if s.Group != ip("225.0.0.50") || s.Port != 3780 || s.LocalAddr != ip("192.168.100.100") || s.PeerAddr.IsValid() ||
		s.Interface != "eth2" || len(s.Paths) != 0 || s.SocketBuffer != 1249280 {
		t.Fatalf("settings: %+v", s)
	}
}

// TestConntrackSyncPaths: multicast_group and path blocks in
// keepalived.conf, their checks with exact complaints, and a
// conntrackd_config whose several channels become the backup paths (the
// one marked Default first).
func TestConntrackSyncPaths(t *testing.T) {
	ip := netip.MustParseAddr
	t.Run("block", func(t *testing.T) {
		cfg, got, _ := load(t, ctBlock(ctComplete+" path backup {\n  interface eth1\n  local_address 203.0.113.1\n  peer_address 203.0.113.2\n  port 3790\n }\n path mc {\n  interface eth0\n  multicast_group 225.0.0.50\n }\n"), ctOpts(nil))
		if len(got) != 0 {
			t.Fatalf("complaints: %q", got)
		}
		s := cfg.ConntrackSync
		if len(s.Paths) != 2 || s.Paths[0].Name != "backup" || s.Paths[0].Interface != "eth1" || s.Paths[0].PeerAddr != ip("203.0.113.2") || s.Paths[0].Port != 3790 ||
			s.Paths[1].Group != ip("225.0.0.50") || s.Paths[1].PeerAddr.IsValid() {
			t.Fatalf("paths: %+v", s.Paths)
		}
		rc := s.ReplicatorConfig()
		if ps := rc.SyncPaths(); len(ps) != 3 || ps[0].Name != "eth2" || ps[0].PeerAddr != ip("198.51.100.2") || ps[1].Name != "backup" ||
			ps[1].Port != 3790 || ps[2].Port != DefaultSyncPort || ps[2].Group != ip("225.0.0.50") {
			t.Errorf("replicator paths: %+v", ps)
		}
		if !slices.Contains(s.Rules.Addresses, netip.MustParsePrefix("203.0.113.2/32")) {
			t.Errorf("the backup path's peer is replicated: %v", s.Rules.Addresses)
		}
		out := string(Dump(cfg))
		if !strings.Contains(out, "    path backup {\n        interface eth1\n") || !strings.Contains(out, "        multicast_group 225.0.0.50\n") {
			t.Errorf("dump:\n%s", out)
		}
		roundTrip(t, cfg, ctOpts(nil))
	})
	t.Run("multicast first path", func(t *testing.T) {
		cfg, got, _ := load(t, ctBlock(" interface eth2\n multicast_group 225.0.0.50\n local_address 198.51.100.1\n track_group VI_1\n"), ctOpts(nil))
		if len(got) != 0 || cfg.ConntrackSync.Group != ip("225.0.0.50") {
			t.Fatalf("complaints %q, %+v", got, cfg.ConntrackSync)
		}
		roundTrip(t, cfg, ctOpts(nil))
	})
	bad := []struct{ name, body, want string }{
		{"not a group", ctComplete + " multicast_group 192.0.2.5\n", `fatal t.conf:13:18: multicast_group: 192.0.2.5 is not a multicast group (vigild does not start)`},
		{"group family", ctComplete + " multicast_group ff02::1:2\n", `fatal t.conf:8:1: multicast_group: local_address 198.51.100.1 and multicast_group ff02::1:2 must be of one family (vigild does not start)`},
		{"auth with multicast", " interface eth2\n multicast_group 225.0.0.50\n local_address 198.51.100.1\n track_group VI_1\n auth_key_file /k\n",
			`fatal t.conf:13:2: auth_key_file: with multicast_group, auth_key_file needs local_address and peer_address: the envelope's keys name both nodes (vigild does not start)`},
		{"path without interface", ctComplete + " path b {\n  local_address 203.0.113.1\n  peer_address 203.0.113.2\n }\n", `fatal t.conf:13:2: interface: path b needs interface (vigild does not start)`},
		{"path without peer", ctComplete + " path b {\n  interface eth1\n  local_address 203.0.113.1\n }\n", `fatal t.conf:13:2: peer_address: path b needs peer_address (vigild does not start)`},
		{"path named like the first", ctComplete + " path eth2 {\n  interface eth1\n  local_address 203.0.113.1\n  peer_address 203.0.113.2\n }\n",
			`fatal t.conf:13:2: path: path eth2: a second path named eth2 (the first path is named after its interface) (vigild does not start)`},
		{"path twice", ctComplete + " path b {\n  interface eth1\n  local_address 203.0.113.1\n  peer_address 203.0.113.2\n }\n path b {\n  interface eth0\n  local_address 203.0.113.1\n  peer_address 203.0.113.2\n }\n",
			`fatal t.conf:18:7: path: path b already defined at t.conf:13:2 (vigild does not start)`},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			keyOpts := ctOpts(nil)
			keyOpts.KeyFile = func(string) error { return nil }
			_, got, _ := load(t, ctBlock(b.body), keyOpts)
			if !slices.Contains(got, b.want) {
				t.Fatalf("complaints:\n%s\nwant:\n%s", strings.Join(got, "\n"), b.want)
			}
		})
	}
	t.Run("conntrackd channels", func(t *testing.T) {
		const conf = "Sync {\n Mode FTFW { }\n UDP {\n  IPv4_address 203.0.113.1\n  IPv4_Destination_Address 203.0.113.2\n  Interface eth1\n }\n UDP Default {\n  IPv4_address 198.51.100.1\n  IPv4_Destination_Address 198.51.100.2\n  Interface eth2\n }\n}\n"
		cfg, got, _ := load(t, ctBlock(" conntrackd_config c.conf\n track_group VI_1\n"), ctOpts(map[string]string{"c.conf": conf}))
		if len(got) != 0 {
			t.Fatalf("complaints: %q", got)
		}
		s := cfg.ConntrackSync
		if s.Interface != "eth2" || s.PeerAddr != ip("198.51.100.2") || len(s.Paths) != 1 || s.Paths[0].Name != "eth1" || s.Paths[0].PeerAddr != ip("203.0.113.2") {
			t.Fatalf("paths: %+v / %+v", s, s.Paths)
		}
		roundTrip(t, cfg, ctOpts(map[string]string{"c.conf": conf}))
	})
}

// FuzzConntrackdConfig feeds arbitrary text as conntrackd_config's file: no
// panic, every complaint has a position, and a file that loads cleanly gives
// a block that round-trips through Dump.
func FuzzConntrackdConfig(f *testing.F) {
	f.Add(ctdConf)
	f.Add("Sync {\n Mode FTFW { }\n UDP {\n  IPv4_address 198.51.100.1\n  IPv4_Destination_Address 198.51.100.2\n }\n}\n")
	f.Add("{\n}}{ # x\nSync\n{\nUDP {{\n")
	f.Add("General { Filter { State Ignore { for TCP\n } Protocol Accept { \n } } }\n")
	f.Fuzz(func(t *testing.T, text string) {
		opts := ctOpts(map[string]string{"c.conf": text})
		cfg, errs := Parse("t.conf", []byte(ctBlock(" conntrackd_config c.conf\n track_group VI_1\n")), opts)
		for _, e := range errs {
			if !e.Pos.IsValid() || e.Pos.File == "" || e.Err == nil {
				t.Fatalf("complaint without position or error: %#v", e)
			}
		}
		if len(errs) == 0 {
			roundTrip(t, cfg, opts)
		}
	})
}
