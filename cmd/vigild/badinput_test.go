package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vrrp"
)

// TestBadConfigChangesNothing: a malformed configuration makes vigild exit
// non-zero naming file:line, and the host keeps the address it had.
func TestBadConfigChangesNothing(t *testing.T) {
	l := newLab(t)
	// As if a previous vigild had left the VIP up.
	l.If1.AddAddr(t, vip4+"/24")
	bad := conf("", 150, "") + "\nvrrp_instance VI_BAD {\n    interface eth0\n    virtual_router_id 300\n    priority 100\n}\n"
	v := startVigild(t, l.R1, bad, "-i", "r1")
	code, err := v.Wait(settle)
	if err != nil {
		t.Fatalf("vigild did not exit on a bad configuration: %v\n%s", err, v.Output())
	}
	if code == 0 {
		t.Fatalf("vigild exit 0 on a bad configuration\n%s", v.Output())
	}
	if !regexp.MustCompile(`keepalived\.conf:\d+:\d+: virtual_router_id`).MatchString(v.Output()) {
		t.Errorf("error does not name file:line:col and the keyword:\n%s", v.Output())
	}
	if !hasAddr(t, l.R1, "eth0", vip4) {
		t.Error("a failed start removed an address that was up")
	}
	if hasAddr(t, l.R1, "eth0", vip6) {
		t.Error("a failed start added an address")
	}
}

// TestBadAdvertsDropped: adverts with a wrong TTL, a bad checksum, an
// unknown VRID, a wrong version or a wrong password are dropped and counted
// by reason, and do not disturb the master.
func TestBadAdvertsDropped(t *testing.T) {
	l := newLab(t)
	cfg := conf("", 150, "") + `
vrrp_instance VI_2 {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 150
    advert_int 1
    version 2
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.253/24
    }
}
`
	v := startVigild(t, l.R1, cfg, "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", "192.0.2.253", true, settle)

	src := netip.MustParseAddr(clientv4)
	group := netip.MustParseAddr("224.0.0.18")
	vipA := netip.MustParseAddr(vip4)
	v3 := func(vrid, prio uint8) []byte {
		p := vrrp.Packet{Version: 3, Type: 1, VRID: vrid, Priority: prio, MaxAdvertCentis: 10, Addrs: []netip.Addr{vipA}}
		b, err := p.AppendChecksummed(nil, src, group)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	badSum := v3(51, 250)
	badSum[6] ^= 0xff
	badVersion := v3(51, 250)
	badVersion[0] = 0x41
	v2 := vrrp.Packet{Version: 2, Type: 1, VRID: 52, Priority: 250, AdvertIntSeconds: 1,
		AuthType: vrrp.AuthPassword, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.253")}}
	copy(v2.AuthData[:], "wrong")
	badPass, err := v2.AppendChecksummed(nil, src, group)
	if err != nil {
		t.Fatal(err)
	}
	sends := []struct {
		ttl int
		b   []byte
	}{
		{64, v3(51, 250)}, // TTL not 255
		{255, badSum},
		{255, v3(99, 250)}, // no such VRID
		{255, badVersion},
		{255, badPass},
	}
	err = sendFromClient(l, func(pc *ipv4.PacketConn) error {
		for range 3 {
			for _, s := range sends {
				if err := pc.SetMulticastTTL(s.ttl); err != nil {
					return err
				}
				if _, err := pc.WriteTo(s.b, nil, &net.IPAddr{IP: net.IP(group.AsSlice())}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, settle, func() bool {
		a, b := v.Instance(t, "VI_1"), v.Instance(t, "VI_2")
		return a.Received["ttl"] >= 3 && a.Received["checksum"] >= 3 && a.Received["version"] >= 3 &&
			b.Received["auth_mismatch"] >= 3
	}, "drops counted by reason: VI_1 %v, VI_2 %v", v.Instance(t, "VI_1").Received, v.Instance(t, "VI_2").Received)
	s := v.MustStatus(t)
	var unknown uint64
	for _, sock := range s.Sockets {
		unknown += sock.UnknownVRID
	}
	if unknown < 3 {
		t.Errorf("unknown VRID adverts counted %d, want >= 3", unknown)
	}
	// None of them (all claimed priority 250) displaced the master.
	time.Sleep(500 * time.Millisecond)
	for _, in := range []string{"VI_1", "VI_2"} {
		if st := v.Instance(t, in); st.State != "MASTER" {
			t.Errorf("%s state %s after bad adverts", in, st.State)
		}
	}
}

// TestScriptSecurityViolationRuns: scripts configured without
// enable_script_security are a -t exit 6, but vigild, like keepalived,
// logs the violation and runs; --strict refuses.
func TestScriptSecurityViolationRuns(t *testing.T) {
	l := newLab(t)
	cfg := `vrrp_script chk {
    script "/bin/true"
    interval 1
}
` + conf("", 150, "track_script {\n        chk\n    }")
	v := startVigild(t, l.R1, cfg, "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v.WaitOutput(t, "enable_script_security", settle)
	s := v.MustStatus(t)
	if len(s.Tracking.Scripts) != 1 || s.Tracking.Scripts[0].Runs == 0 {
		t.Errorf("script not running: %+v", s.Tracking.Scripts)
	}
	strict := startVigild(t, l.R2, cfg, "-i", "r2", "--strict")
	if code, err := strict.Wait(settle); err != nil || code == 0 {
		t.Errorf("--strict with a script-security violation: exit %d, %v", code, err)
	}
}

// TestGarbageConfigDoesNotStart: a file that is not a keepalived.conf
// (binary garbage, another program's configuration) or that holds an
// include loop makes vigild exit 4 (keepalived's "configuration cannot
// run") naming file:line, and vigild -t exits 4 too; the host keeps the
// address it had.
func TestGarbageConfigDoesNotStart(t *testing.T) {
	l := newLab(t)
	l.If1.AddAddr(t, vip4+"/24") // as if a previous vigild had left it
	cases := []struct {
		name, text, reason string
	}{
		{"binary garbage", string(randomBytes(3, 4096)), "binary data"},
		{"another program's file", "server {\n    listen 80;\n}\nuser www-data;\nworker_processes auto;\n", "are not keepalived keywords"},
		{"include loop", conf("", 150, "") + "include keepalived.conf\n", "include loop"},
	}
	for _, c := range cases {
		v := startVigild(t, l.R1, c.text, "-i", "r1")
		code, err := v.Wait(settle)
		if err != nil {
			t.Fatalf("%s: vigild did not exit: %v\n%s", c.name, err, v.Output())
		}
		out := v.Output()
		if code != config.ExitCannot || !strings.Contains(out, c.reason) ||
			!regexp.MustCompile(regexp.QuoteMeta(v.Conf)+`:\d+:\d+: `).MatchString(out) {
			t.Errorf("%s: exit %d (want %d), output without %q at file:line:col:\n%s", c.name, code, config.ExitCannot, c.reason, out)
		}
		var stdout, stderr bytes.Buffer
		if code := run([]string{"-t", "-f", v.Conf}, &stdout, &stderr); code != config.ExitCannot || !strings.Contains(stderr.String(), c.reason) {
			t.Errorf("%s: vigild -t exit %d (want %d):\n%s", c.name, code, config.ExitCannot, stderr.String())
		}
	}
	if !hasAddr(t, l.R1, "eth0", vip4) {
		t.Error("a refused start removed an address that was up")
	}
}

// rawDrops sums the kernel's receive-queue drops of h's raw IPv4 sockets
// for IP protocol 112 (VRRP), from /proc/net/raw.
func rawDrops(t *testing.T, h *testnet.Host) uint64 {
	t.Helper()
	out, err := h.Command(t.Context(), "cat", "/proc/net/raw").Output()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 13 || !strings.HasSuffix(f[1], ":0070") {
			continue
		}
		d, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			t.Fatalf("/proc/net/raw: %q: %v", line, err)
		}
		n += d
	}
	return n
}

// TestDropFloodLogBounded: vigild -D, a master. An attacker on the segment
// sends 40,000 bad adverts in a few seconds (bad checksum, TTL 64, wrong
// version, an unknown VRID). The log grows by a few lines (one per reason,
// then a summary per ten seconds), not by a line per advert, and the
// counters account for every advert the socket received: the drop
// counters plus the kernel's receive-queue drops equal what was sent.
func TestDropFloodLogBounded(t *testing.T) {
	l := newLab(t)
	v := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v.WaitOutput(t, "(VI_1) Entering MASTER STATE", settle)
	v.WaitOutput(t, "(VI_6) Entering MASTER STATE", settle)
	time.Sleep(time.Second)
	logBefore := fileSize(t, v.LogPath())
	dropsBefore := rawDrops(t, l.R1)
	s0 := v.MustStatus(t)
	counted := func(s ctl.Status) uint64 {
		var n uint64
		for _, in := range s.Instances {
			if in.Family == "inet" {
				for _, c := range in.Received {
					n += c
				}
			}
		}
		for _, sock := range s.Sockets {
			if sock.Family == "inet" {
				n += sock.UnknownVRID + sock.Short
			}
		}
		return n
	}
	base := counted(s0)

	src := netip.MustParseAddr(clientv4)
	group := netip.MustParseAddr("224.0.0.18")
	advert := func(vrid uint8) []byte {
		p := vrrp.Packet{Version: 3, Type: 1, VRID: vrid, Priority: 250, MaxAdvertCentis: 10, Addrs: []netip.Addr{netip.MustParseAddr(vip4)}}
		b, err := p.AppendChecksummed(nil, src, group)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	badSum := advert(51)
	badSum[6] ^= 0xff
	badVersion := advert(51)
	badVersion[0] = 0x41
	kinds := []struct {
		ttl int
		b   []byte
	}{{255, badSum}, {64, advert(51)}, {255, badVersion}, {255, advert(99)}}
	const perKind = 10000
	sent := 0
	err := sendFromClient(l, func(pc *ipv4.PacketConn) error {
		dst := &net.IPAddr{IP: net.IP(group.AsSlice())}
		for i := range perKind / 50 {
			for _, k := range kinds {
				if err := pc.SetMulticastTTL(k.ttl); err != nil {
					return err
				}
				for range 50 {
					if _, err := pc.WriteTo(k.b, nil, dst); err != nil {
						return fmt.Errorf("after %d adverts: %w", sent, err)
					}
					sent++
				}
			}
			if i%4 == 3 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got, drops uint64
	testnet.Eventually(t, settle, func() bool {
		s, err := v.Status()
		if err != nil {
			return false
		}
		got, drops = counted(s)-base, rawDrops(t, l.R1)-dropsBefore
		return got+drops >= uint64(sent)
	}, "counters account for the %d adverts sent", sent)
	if got+drops != uint64(sent) {
		t.Errorf("counted %d + kernel drops %d = %d, sent %d", got, drops, got+drops, sent)
	}
	if got < uint64(sent)/2 {
		t.Errorf("only %d of %d adverts reached vigild (kernel drops %d): the flood did not test the log", got, sent, drops)
	}
	st := v.Instance(t, "VI_1")
	if st.State != "MASTER" {
		t.Errorf("the flood displaced the master: %s", st.State)
	}
	// Every advert is counted: whatever was to be logged for them is
	// written.
	if grown := fileSize(t, v.LogPath()) - logBefore; grown > 8<<10 {
		t.Fatalf("the log grew by %d bytes for %d dropped adverts, want at most 8 KiB", grown, got)
	}
	// The summaries come ten seconds after the first of each reason.
	v.WaitOutput(t, "more dropped adverts on VI_1 (checksum) in the last", 2*settle)
	grown := fileSize(t, v.LogPath()) - logBefore
	t.Logf("%d adverts sent, %d counted by reason %v, %d dropped by the kernel; the log grew by %d bytes", sent, got, st.Received, drops, grown)
	if grown > 8<<10 {
		t.Errorf("with the summaries the log grew by %d bytes for %d dropped adverts, want at most 8 KiB", grown, got)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// sendFromClient opens a raw IP protocol 112 socket on the lab client's
// eth0 (the attacker on the VRRP segment, sending from clientv4) and hands
// it to send.
func sendFromClient(l *lab, send func(pc *ipv4.PacketConn) error) error {
	return l.Client.Do(func() error {
		c, err := net.ListenPacket("ip4:112", clientv4)
		if err != nil {
			return err
		}
		defer c.Close()
		pc := ipv4.NewPacketConn(c)
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if err := pc.SetMulticastInterface(ifi); err != nil {
			return err
		}
		return send(pc)
	})
}
