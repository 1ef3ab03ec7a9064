package conntracksync

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "conntrackd.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConntrackdConf(t *testing.T) {
	p := writeConf(t, `
Sync {
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
`)
	cfg, err := ParseConntrackdConf(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Interface: "eth2", LocalAddr: netip.MustParseAddr("198.51.100.1"), PeerAddr: netip.MustParseAddr("198.51.100.2"),
		Port: 3781, AckWindow: 200, ResendQueue: 65536, CommitTimeout: 180 * time.Second, SocketBuffer: 1249280,
		Filter: Filter{
			ProtocolPolicy: Accept, Protocols: []uint8{ProtoTCP, ProtoSCTP, ProtoDCCP},
			AddressPolicy: Ignore, Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"),
				netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("::1/128")},
			StatePolicy: Accept, TCPStates: []uint8{TCPEstablished, TCPClose, TCPTimeWait, TCPCloseWait},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestParseConntrackdConfRejectsWhatVigilCannotDo(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"alarm", "Sync {\n Mode ALARM {\n }\n UDP {\n IPv4_address 198.51.100.1\n IPv4_Destination_Address 198.51.100.2\n }\n}\n", ":2: Mode: vigil speaks FTFW only"},
		{"multicast", "Sync {\n Mode FTFW { }\n Multicast {\n IPv4_address 225.0.0.50\n }\n}\n", ":3: Multicast: vigil syncs over UDP unicast only"},
		{"bad number", "Sync {\n Mode FTFW {\n ACKWindowSize lots\n }\n}\n", ":3: ACKWindowSize: \"lots\" is not a number"},
		{"bad state", "General {\n Filter {\n State Accept {\n ESTABLISHED OPENISH for TCP\n }\n }\n}\n", ":4: ESTABLISHED: unknown TCP state \"OPENISH\""},
		{"no channel", "Sync {\n Mode FTFW { }\n}\n", "no UDP channel"},
		{"unbalanced", "Sync {\n Mode FTFW { }\n", "missing '}'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConntrackdConf(writeConf(t, tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The example shipped with Debian's conntrackd uses Multicast: it must be
// refused with its line, not half-read.
func TestParseConntrackdConfDebianExample(t *testing.T) {
	const p = "/usr/share/doc/conntrackd/examples/sync/ftfw/conntrackd.conf"
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed", p)
		}
		t.Skipf("SKIPPING: %s not installed (apt-get install conntrackd)", p)
	}
	_, err := ParseConntrackdConf(p)
	if err == nil || !strings.Contains(err.Error(), "Multicast: vigil syncs over UDP unicast only") {
		t.Fatalf("error %v", err)
	}
}
