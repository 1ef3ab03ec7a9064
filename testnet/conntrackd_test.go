package testnet_test

import (
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestConntrackdConfigRender: the template's defaults, overrides and
// optional parts land where conntrackd reads them. (That conntrackd
// accepts the result is proved by the tests that run it: the conntracksync
// interop tests and cmd/vigild's firewall benchmark.)
func TestConntrackdConfigRender(t *testing.T) {
	def := testnet.ConntrackdConfig{Local: "198.51.100.1", Peer: "198.51.100.2", Interface: "sync0"}.Render("/d")
	for _, want := range []string{
		"\t\tResendQueueSize 131072\n\t\tACKWindowSize 300\n\t}\n",
		"\t\tIPv4_address 198.51.100.1\n\t\tIPv4_Destination_Address 198.51.100.2\n\t\tPort 3780\n\t\tInterface sync0\n",
		"\t\tSndSocketBuffer 8388608\n\t\tRcvSocketBuffer 8388608\n",
		"\tHashSize 32768\n\tHashLimit 524288\n",
		"\tLogFile /d/conntrackd.log\n", "\tLockFile /d/lock\n", "\t\tPath /d/ctl\n",
		"\tNetlinkBufferSize 8388608\n\tNetlinkBufferSizeMaxGrowth 16777216\n",
		"\t\tType RR\n\t\tPriority 0\n",
		"\t\t\tIPv4_address 127.0.0.1\n\t\t\tIPv4_address 198.51.100.1\n\t\t\tIPv4_address 198.51.100.2\n",
	} {
		if !strings.Contains(def, want) {
			t.Errorf("default rendering lacks %q:\n%s", want, def)
		}
	}
	if strings.Contains(def, "Protocol Accept") {
		t.Errorf("default rendering filters protocols:\n%s", def)
	}
	if strings.Count(def, "{") != strings.Count(def, "}") {
		t.Errorf("unbalanced braces:\n%s", def)
	}

	set := testnet.ConntrackdConfig{Local: "198.51.100.1", Peer: "198.51.100.2", Interface: "eth0", Port: 3781,
		SocketBuffer: 1249280, HashSize: 16384, HashLimit: 262144, NetlinkBuffer: 1 << 25,
		ModeExtra: "  DisableExternalCache Off\n\n", TCPOnly: true}.Render("/d")
	for _, want := range []string{
		"\t\tACKWindowSize 300\n\t\tDisableExternalCache Off\n\t}\n",
		"\t\tPort 3781\n\t\tInterface eth0\n",
		"\t\tSndSocketBuffer 1249280\n",
		"\tHashSize 16384\n\tHashLimit 262144\n",
		"\tNetlinkBufferSize 33554432\n\tNetlinkBufferSizeMaxGrowth 67108864\n",
		"\t\tProtocol Accept {\n\t\t\tTCP\n\t\t}\n",
	} {
		if !strings.Contains(set, want) {
			t.Errorf("rendering lacks %q:\n%s", want, set)
		}
	}
	if strings.Count(set, "{") != strings.Count(set, "}") {
		t.Errorf("unbalanced braces:\n%s", set)
	}
}
