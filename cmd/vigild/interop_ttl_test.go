package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestInteropUnicastTTL: unicast_ttl between vigild and keepalived. Each
// side's unicast_peer line accepts only TTL 7 (min_ttl 7 max_ttl 7), so an
// advert sent with the default 255 would be dropped and the backup would
// take over: keepalived stays the backup of vigild's unicast_ttl 7
// master, and vigild counts keepalived's unicast_ttl 7 adverts as ok.
func TestInteropUnicastTTL(t *testing.T) {
	cfg := func(prio int, src, peer string) string {
		c := conf("", prio, fmt.Sprintf("unicast_src_ip %s\n    unicast_ttl 7\n    unicast_peer {\n        %s min_ttl 7 max_ttl 7\n    }", src, peer))
		return c[:strings.Index(c, "vrrp_instance VI_6")]
	}
	l := newLab(t)
	v1 := startVigild(t, l.R1, cfg(150, r1v4, r2v4), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	k := l.R2.Keepalived(t, cfg(100, r2v4, r1v4), "-P")
	k.WaitOutput(t, "(VI_1) Entering BACKUP STATE", settle)
	// 20 more adverts: several of keepalived's Master_Down_Intervals
	// (advert_int 0.1) pass, had it dropped them.
	n := v1.Instance(t, "VI_1").AdvertsSent
	testnet.Eventually(t, settle, func() bool { return v1.Instance(t, "VI_1").AdvertsSent > n+20 }, "vigild sends adverts")
	if hasAddr(t, l.R2, "eth0", vip4) || strings.Contains(k.Output(), "Entering MASTER STATE") {
		t.Fatalf("keepalived dropped vigild's TTL 7 adverts and took over:\n%s", k.Output())
	}
	if s := v1.Instance(t, "VI_1"); s.State != "MASTER" {
		t.Fatalf("vigild state %s", s.State)
	}
	// vigild as the backup of keepalived's unicast_ttl 7 master.
	v1.Signal(syscall.SIGTERM)
	v1.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	v1 = startVigild(t, l.R1, cfg(50, r1v4, r2v4), "-i", "r1")
	testnet.Eventually(t, settle, func() bool {
		s := v1.Instance(t, "VI_1")
		return s.State == "BACKUP" && s.Received["ok"] > 3
	}, "vigild backup accepting keepalived's TTL 7 adverts")
	if s := v1.Instance(t, "VI_1"); s.Received["ttl"] != 0 {
		t.Errorf("vigild dropped %d of keepalived's adverts for their TTL", s.Received["ttl"])
	}
}
