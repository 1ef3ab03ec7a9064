package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

const ahConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %PRIO%
    advert_int 1
    version 2
    authentication {
        auth_type AH
        auth_pass %PASS%
    }
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

func ahConfig(prio, pass string) string {
	return strings.ReplaceAll(strings.ReplaceAll(ahConf, "%PRIO%", prio), "%PASS%", pass)
}

func (n *node) instance(name string) (state string, transitions uint64, rx map[string]uint64) {
	for _, in := range n.d.Status().Instances {
		if in.Name == name {
			return in.State, in.Transitions, in.Received
		}
	}
	return "missing", 0, nil
}

// TestLoopAH: two daemons with auth_type AH elect a master over AH
// datagrams. A forged priority-0 advert (wrong key) would make the backup
// take over after Skew_Time: it is dropped, counted as ah_icv and logged
// with the forger's address, and nothing changes. A replay of the
// master's genuine advert is dropped as ah_replay. A backup with another
// key accepts nothing and takes over: keys must match.
func TestLoopAH(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		logs := &syncBuffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		a := startNode(t, wire, "192.0.2.1", "fe80::1", ahConfig("150", "k3y"))
		b := startNodeOn(t, wire, viptest.NewKernel("eth0", "eth1"), log, "192.0.2.2", "fe80::2", ahConfig("100", "k3y"))
		sniff := wire.ConnAH(netip.MustParseAddr("192.0.2.50"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || b.state("VI_1") != "BACKUP" || !a.has("192.0.2.254/24") {
			t.Fatalf("election over AH: a %s, b %s", a.state("VI_1"), b.state("VI_1"))
		}
		_, trans, rx := b.instance("VI_1")
		if rx["ok"] < 5 {
			t.Fatalf("backup accepted %d adverts: %v", rx["ok"], rx)
		}
		// A genuine advert of a's, kept for replaying.
		buf := make([]byte, vrrp.MaxMessageLen)
		sniff.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := sniff.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		genuine := buf[:n]
		if _, seq, ok := vrrp.SplitAH(genuine); !ok || seq == 0 {
			t.Fatalf("sniffed %x", genuine)
		}

		forger := netip.MustParseAddr("192.0.2.66")
		p := vrrp.Packet{Version: 2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 0, AuthType: vrrp.AuthAH,
			AdvertIntSeconds: 1, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.254")}}
		forged, err := vrrp.NewAH("wrong").Append(nil, &p, vrrp.AHParams{Src: forger, Dst: vrrp.GroupIPv4, ID: 1, Seq: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			wire.Inject(forged, vrrp.RecvMeta{Src: forger, Dst: vrrp.GroupIPv4, TTL: vrrp.TTL})
		}
		wire.Inject(genuine, vrrp.RecvMeta{Src: netip.MustParseAddr("192.0.2.1"), Dst: vrrp.GroupIPv4, TTL: vrrp.TTL})
		time.Sleep(2 * time.Second) // Skew_Time is 0.61 s
		synctest.Wait()
		state, trans2, rx2 := b.instance("VI_1")
		if state != "BACKUP" || trans2 != trans || b.has("192.0.2.254/24") {
			t.Fatalf("backup moved on a forged priority-0 advert: %s, transitions %d → %d", state, trans, trans2)
		}
		if rx2["ah_icv"] != 3 || rx2["ah_replay"] != 1 {
			t.Errorf("drops: %v, want ah_icv 3, ah_replay 1", rx2)
		}
		out := logs.String()
		if !strings.Contains(out, "(VI_1) IPSEC-AH: invalid HMAC-MD5 value in the advert from 192.0.2.66") {
			t.Errorf("no log line naming the forger:\n%s", out)
		}
		if strings.Count(out, "invalid HMAC-MD5") != 1 {
			t.Errorf("the ICV failure was logged %d times, want once (rate-limited):\n%s", strings.Count(out, "invalid HMAC-MD5"), out)
		}
		if !strings.Contains(out, "already processed") {
			t.Errorf("no log line for the replay:\n%s", out)
		}

		// A third router with another key hears nothing it accepts: its
		// down timer fires and it claims the VIP (a misconfiguration that
		// the counters show).
		c := startNode(t, wire, "192.0.2.3", "fe80::3", ahConfig("50", "other"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		state, _, rx3 := c.instance("VI_1")
		if state != "MASTER" || rx3["ok"] != 0 || rx3["ah_icv"] == 0 {
			t.Errorf("router with another key: %s, %v", state, rx3)
		}
	})
}

// TestLoopAHReloadKeepsCounter: a reload that restarts an AH instance
// (preempt_delay changed) and one that keeps it (priority changed) carry
// its sequence counter over, as keepalived does: the numbers it sends
// after the reload continue above those it sent before, so the peers'
// replay checks keep accepting them.
func TestLoopAHReloadKeepsCounter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first := ahConfig("150", "k3y")
		src := &reloadable{files: map[string]string{confPath: first}}
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", first, Options{Reload: src.load})
		sniff := wire.ConnAH(netip.MustParseAddr("192.0.2.50"))
		buf := make([]byte, vrrp.MaxMessageLen)
		lastSeq := func() uint32 {
			var last uint32
			for {
				sniff.SetReadDeadline(time.Now().Add(time.Millisecond))
				n, _, err := sniff.ReadFrom(buf)
				if err != nil {
					return last
				}
				_, seq, ok := vrrp.SplitAH(buf[:n])
				if !ok || seq <= last {
					t.Fatalf("datagram %x after seq %d", buf[:n], last)
				}
				last = seq
			}
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		before := lastSeq()
		if a.state("VI_1") != "MASTER" || before < 5 {
			t.Fatalf("setup: %s, last seq %d", a.state("VI_1"), before)
		}
		for _, change := range []struct{ what, text string }{
			{"restarting", strings.Replace(first, "advert_int 1", "advert_int 1\n    preempt_delay 1", 1)},
			{"keeping", strings.Replace(first, "priority 150", "priority 160", 1)},
		} {
			src.set(confPath, change.text)
			if err := a.d.Reload(context.Background()); err != nil {
				t.Fatalf("%s reload: %v", change.what, err)
			}
			time.Sleep(10 * time.Second)
			synctest.Wait()
			after := lastSeq()
			if a.state("VI_1") != "MASTER" || after <= before {
				t.Fatalf("%s reload: %s, seq %d after %d before", change.what, a.state("VI_1"), after, before)
			}
			before = after
		}
	})
}
