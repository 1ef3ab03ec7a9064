package main

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vrrp"
)

// confAH is conf's IPv4 instance as VRRPv2 (whole-second advert_int)
// with auth_type AH.
func confAH(prio int, pass string) string {
	c := conf("", prio, fmt.Sprintf("    authentication {\n        auth_type AH\n        auth_pass %s\n    }", pass))
	c = c[:strings.Index(c, "vrrp_instance VI_6")]
	return strings.Replace(c, "advert_int 0.1\n    version 3", "advert_int 1\n    version 2", 1)
}

// forger sends AH-wrapped VRRPv2 adverts for VRID 51 from h (the client,
// a third host on the segment) under a key of its choosing.
type forger struct {
	c  vrrp.Conn
	ah *vrrp.AH
	st vrrp.AHState
}

func newForger(t *testing.T, h *testnet.Host, pass string) *forger {
	t.Helper()
	var c vrrp.Conn
	if err := h.Do(func() (err error) { c, err = vrrp.ListenIPv4("eth0", vrrp.ConnOptions{AH: true}); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f := &forger{c: c, ah: vrrp.NewAH(pass)}
	f.st.HeardLower(1 << 30) // numbered far above anything genuine: only the ICV can stop it
	return f
}

// send sends n adverts of priority prio, 200 ms apart.
func (f *forger) send(t *testing.T, prio uint8, n int) {
	t.Helper()
	p := vrrp.Packet{Version: 2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: prio, AuthType: vrrp.AuthAH,
		AdvertIntSeconds: 1, Addrs: []netip.Addr{netip.MustParseAddr(vip4)}}
	for range n {
		seq, id := f.st.Next()
		d, err := f.ah.Append(nil, &p, vrrp.AHParams{Src: f.c.LocalAddr(), Dst: vrrp.GroupIPv4, ID: id, Seq: seq})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.c.(vrrp.DatagramWriter).WriteDatagram(d, vrrp.GroupIPv4); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestInteropAH: vigild and Debian's keepalived 2.2.7 in one VRRPv2 group
// with auth_type AH, in both roles, failing over both ways, while a third
// host forges adverts under a wrong key.
//
//  1. vigild (150) is master; keepalived (100) stays backup for longer
//     than its Master_Down_Interval, so it accepts vigild's AH adverts.
//     Forged priority-254 adverts make neither move: vigild counts them
//     (ah_icv), keepalived logs an invalid HMAC.
//  2. vigild stops: keepalived takes over.
//  3. vigild (150) comes back and preempts: keepalived accepts the
//     numbers vigild continues from its adverts and steps down.
//  4. vigild restarts at 50: keepalived is master, vigild a backup that
//     accepts keepalived's adverts and no forged priority-0 advert (which
//     would make it take over at once).
//  5. keepalived is killed: vigild takes over.
func TestInteropAH(t *testing.T) {
	const pass = "s3cr3t!"
	l := newLab(t)
	v1 := startVigild(t, l.R1, confAH(150, pass), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, 3*settle)
	k := l.R2.Keepalived(t, confAH(100, pass), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)

	forge := newForger(t, l.Client, "wr0ng")
	before := v1.Instance(t, "VI_1")
	forge.send(t, 254, 10)
	time.Sleep(3 * time.Second) // with the 2 s of forging: past keepalived's Master_Down_Interval (3.6 s)
	after := v1.Instance(t, "VI_1")
	if after.State != "MASTER" || after.Transitions != before.Transitions {
		t.Fatalf("vigild moved on forged adverts: %s, transitions %d → %d", after.State, before.Transitions, after.Transitions)
	}
	if after.Received["ah_icv"] < 10 || after.Received["ok"] != before.Received["ok"] {
		t.Errorf("vigild counters after 10 forged adverts: %v", after.Received)
	}
	k.WaitOutput(t, "IPSEC-AH : invalid IPSEC HMAC-MD5 value", settle)
	if out := k.Output(); strings.Contains(out, "Entering MASTER STATE") || hasAddr(t, l.R2, "eth0", vip4) {
		t.Fatalf("keepalived left BACKUP while vigild was master:\n%s", out)
	}
	if after.AdvertsSent < 5 || after.SendErrors != 0 {
		t.Errorf("vigild sent %d adverts, %d errors", after.AdvertsSent, after.SendErrors)
	}

	// 2. vigild stops (priority 0): keepalived takes over.
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	k.WaitOutput(t, "(VI_1) Entering MASTER STATE", settle)

	// 3. vigild returns at 150 and preempts.
	v1 = startVigild(t, l.R1, confAH(150, pass), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, 3*settle)
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	k.WaitOutput(t, "Master received advert from 192.0.2.1 with higher priority 150", settle)
	s := v1.Instance(t, "VI_1")
	if s.Received["ok"] == 0 {
		t.Errorf("vigild accepted none of keepalived's adverts before preempting: %v", s.Received)
	}
	time.Sleep(2 * time.Second)
	if s := v1.Instance(t, "VI_1"); s.State != "MASTER" {
		t.Fatalf("vigild lost MASTER after preempting: %s (%s)", s.State, s.Reason)
	}

	// 4. vigild at 50 is keepalived's backup.
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	v1 = startVigild(t, l.R1, confAH(50, pass), "-i", "r1")
	v1.WaitInstance(t, settle, "VI_1", "backup accepting keepalived's AH adverts", func(s ctl.InstanceStatus) bool {
		return s.State == "BACKUP" && s.Received["ok"] > 3
	})
	before = v1.Instance(t, "VI_1")
	forge.send(t, 0, 10)
	time.Sleep(time.Second)
	after = v1.Instance(t, "VI_1")
	if after.State != "BACKUP" || after.Transitions != before.Transitions || hasAddr(t, l.R1, "eth0", vip4) {
		t.Fatalf("vigild backup moved on forged priority-0 adverts: %s, transitions %d → %d", after.State, before.Transitions, after.Transitions)
	}
	if after.Received["ah_icv"] < 10 {
		t.Errorf("vigild backup counters after 10 forged adverts: %v", after.Received)
	}
	for _, r := range []string{"ah_spi", "ah_replay", "auth_type", "checksum", "interval", "ttl"} {
		if after.Received[r] != 0 {
			t.Errorf("keepalived's adverts dropped by vigild: %s=%d (%v)", r, after.Received[r], after.Received)
		}
	}
	if after.MasterPriority != 100 {
		t.Errorf("vigild sees master priority %d, want 100", after.MasterPriority)
	}

	// 5. keepalived dies: vigild takes over.
	k.Kill()
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip4) }, "client pings the VIP on vigild")
}

// TestInteropAHUnicast: the same group over unicast peers, where the TTL
// is left out of the ICV: keepalived stays the backup of vigild's AH
// adverts beyond its Master_Down_Interval, takes over when vigild stops,
// and vigild at a lower priority is the backup of keepalived's.
func TestInteropAHUnicast(t *testing.T) {
	const pass = "uni-AH"
	cfg := func(prio int, src, peer string) string {
		return strings.Replace(confAH(prio, pass), "    virtual_ipaddress {",
			fmt.Sprintf("    unicast_src_ip %s\n    unicast_peer {\n        %s\n    }\n    virtual_ipaddress {", src, peer), 1)
	}
	l := newLab(t)
	v1 := startVigild(t, l.R1, cfg(150, r1v4, r2v4), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, 3*settle)
	k := l.R2.Keepalived(t, cfg(100, r2v4, r1v4), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)
	time.Sleep(5 * time.Second) // past keepalived's Master_Down_Interval (3.6 s)
	if out := k.Output(); strings.Contains(out, "Entering MASTER STATE") || strings.Contains(out, "IPSEC-AH") || hasAddr(t, l.R2, "eth0", vip4) {
		t.Fatalf("keepalived did not accept vigild's unicast AH adverts:\n%s", out)
	}
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	v1 = startVigild(t, l.R1, cfg(50, r1v4, r2v4), "-i", "r1")
	s := v1.WaitInstance(t, settle, "VI_1", "unicast backup accepting keepalived's AH adverts", func(s ctl.InstanceStatus) bool {
		return s.State == "BACKUP" && s.Received["ok"] > 3
	})
	for r, n := range s.Received {
		if r != "ok" && n != 0 {
			t.Errorf("keepalived's unicast AH adverts dropped: %s=%d", r, n)
		}
	}
	k.Kill()
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
}
