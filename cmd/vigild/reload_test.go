package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestReload: SIGHUP with a broken file changes nothing; with a file whose
// only change is a VIP, the master swaps the address without leaving
// MASTER; a changed priority restarts just that instance.
func TestReload(t *testing.T) {
	l := newLab(t)
	good := conf("", 150, "")
	v := startVigild(t, l.r1, good, "-i", "r1")
	waitAddr(t, l.r1, "eth0", vip4, true, settle)
	waitAddr(t, l.r1, "eth0", vip6, true, settle)
	before := v.instance(t, "VI_1").Transitions

	// A configuration that cannot run (an instance without
	// virtual_router_id): vigild keeps everything as it is.
	broken := good + "\nvrrp_instance VI_X {\n    interface eth0\n    priority 100\n}\n"
	if err := os.WriteFile(v.conf, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	v.WaitOutput(t, "Reload failed, keeping the running configuration", settle)
	if !hasAddr(t, l.r1, "eth0", vip4) || !hasAddr(t, l.r1, "eth0", vip6) {
		t.Fatal("a failed reload removed a VIP")
	}
	s, err := v.status(t)
	if err != nil {
		t.Fatal(err)
	}
	if s.ReloadFailures == 0 {
		t.Error("failed reload not counted")
	}

	// Change one IPv4 VIP: 192.0.2.254 -> 192.0.2.250.
	changed := strings.Replace(good, vip4+"/24", "192.0.2.250/24", 1)
	if err := os.WriteFile(v.conf, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	waitAddr(t, l.r1, "eth0", "192.0.2.250", true, settle)
	waitAddr(t, l.r1, "eth0", vip4, false, settle)
	if !hasAddr(t, l.r1, "eth0", vip6) {
		t.Error("reload of VI_1 touched VI_6's address")
	}
	if st := v.instance(t, "VI_1"); st.State != "MASTER" || st.Transitions != before {
		t.Errorf("VI_1 after an address-only reload: %s, transitions %d -> %d", st.State, before, st.Transitions)
	}
	testnet.Eventually(t, settle, func() bool { return ping(t, l.client, "192.0.2.250") }, "client reaches the new VIP")

	// Removing VI_6 stops it (its address goes), VI_1 stays.
	noV6 := changed[:strings.Index(changed, "vrrp_instance VI_6")]
	if err := os.WriteFile(v.conf, []byte(noV6), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	waitAddr(t, l.r1, "eth0", vip6, false, settle)
	time.Sleep(300 * time.Millisecond)
	if !hasAddr(t, l.r1, "eth0", "192.0.2.250") {
		t.Error("removing VI_6 disturbed VI_1")
	}
	s, _ = v.status(t)
	if len(s.Instances) != 1 || s.Reloads < 2 {
		t.Errorf("after reloads: %d instances, %d reloads", len(s.Instances), s.Reloads)
	}

	// A new priority is taken in place: no restart, no flap.
	if err := os.WriteFile(v.conf, []byte(strings.Replace(noV6, "priority 150", "priority 200", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	testnet.Eventually(t, settle, func() bool { return v.instance(t, "VI_1").Priority == 200 }, "priority 200 after reload")
	if st := v.instance(t, "VI_1"); st.State != "MASTER" || st.Transitions != before {
		t.Errorf("VI_1 after a priority reload: %s, transitions %d -> %d", st.State, before, st.Transitions)
	}
}

// TestMetrics: --metrics serves the status as Prometheus metrics.
func TestMetrics(t *testing.T) {
	l := newLab(t)
	startVigild(t, l.r1, conf("", 150, ""), "-i", "r1", "--metrics", "127.0.0.1:9650")
	waitAddr(t, l.r1, "eth0", vip4, true, settle)
	var body string
	testnet.Eventually(t, settle, func() bool {
		err := l.r1.Do(func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:9650", time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprint(c, "GET /metrics HTTP/1.0\r\n\r\n")
			b, err := io.ReadAll(c)
			body = string(b)
			return err
		})
		return err == nil && strings.Contains(body, "vigil_vrrp_adverts_sent_total")
	}, "metrics endpoint answers")
	for _, want := range []string{
		`vigil_vrrp_state{family="inet",instance="VI_1",interface="eth0",vrid="51"} 2`,
		`vigil_vrrp_priority{family="inet6",instance="VI_6",interface="eth0",vrid="51"} 150`,
		`vigil_vrrp_adverts_received_total{family="inet",instance="VI_1",interface="eth0",vrid="51",verdict="ttl"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
