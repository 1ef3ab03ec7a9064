package main

import (
	"net"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vrrp"
)

// TestBadConfigChangesNothing: a malformed configuration makes vigild exit
// non-zero naming file:line, and the host keeps the address it had.
func TestBadConfigChangesNothing(t *testing.T) {
	l := newLab(t)
	// As if a previous vigild had left the VIP up.
	l.if1.AddAddr(t, vip4+"/24")
	bad := conf("", 150, "") + "\nvrrp_instance VI_BAD {\n    interface eth0\n    virtual_router_id 300\n    priority 100\n}\n"
	v := startVigild(t, l.r1, bad, "-i", "r1")
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
	if !hasAddr(t, l.r1, "eth0", vip4) {
		t.Error("a failed start removed an address that was up")
	}
	if hasAddr(t, l.r1, "eth0", vip6) {
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
	v := startVigild(t, l.r1, cfg, "-i", "r1")
	waitAddr(t, l.r1, "eth0", vip4, true, settle)
	waitAddr(t, l.r1, "eth0", "192.0.2.253", true, settle)

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
	err = l.client.Do(func() error {
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
		a, b := v.instance(t, "VI_1"), v.instance(t, "VI_2")
		return a.Received["ttl"] >= 3 && a.Received["checksum"] >= 3 && a.Received["version"] >= 3 &&
			b.Received["auth_mismatch"] >= 3
	}, "drops counted by reason: VI_1 %v, VI_2 %v", v.instance(t, "VI_1").Received, v.instance(t, "VI_2").Received)
	s, err := v.status(t)
	if err != nil {
		t.Fatal(err)
	}
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
		if st := v.instance(t, in); st.State != "MASTER" {
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
	v := startVigild(t, l.r1, cfg, "-i", "r1")
	waitAddr(t, l.r1, "eth0", vip4, true, settle)
	v.WaitOutput(t, "enable_script_security", settle)
	s, err := v.status(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tracking.Scripts) != 1 || s.Tracking.Scripts[0].Runs == 0 {
		t.Errorf("script not running: %+v", s.Tracking.Scripts)
	}
	strict := startVigild(t, l.r2, cfg, "-i", "r2", "--strict")
	if code, err := strict.Wait(settle); err != nil || code == 0 {
		t.Errorf("--strict with a script-security violation: exit %d, %v", code, err)
	}
}
