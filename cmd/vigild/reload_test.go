package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
)

// TestReload: SIGHUP with a broken file changes nothing; with a file whose
// only change is a VIP, the master swaps the address without leaving
// MASTER; a changed priority restarts just that instance.
func TestReload(t *testing.T) {
	l := newLab(t)
	good := conf("", 150, "")
	v := startVigild(t, l.R1, good, "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	before := v.Instance(t, "VI_1").Transitions

	// A configuration that cannot run (an instance without
	// virtual_router_id): vigild keeps everything as it is.
	broken := good + "\nvrrp_instance VI_X {\n    interface eth0\n    priority 100\n}\n"
	if err := os.WriteFile(v.Conf, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	v.WaitOutput(t, "Reload failed, keeping the running configuration", settle)
	if !hasAddr(t, l.R1, "eth0", vip4) || !hasAddr(t, l.R1, "eth0", vip6) {
		t.Fatal("a failed reload removed a VIP")
	}
	s := v.MustStatus(t)
	if s.ReloadFailures == 0 {
		t.Error("failed reload not counted")
	}

	// Change one IPv4 VIP: 192.0.2.254 -> 192.0.2.250.
	changed := strings.Replace(good, vip4+"/24", "192.0.2.250/24", 1)
	if err := os.WriteFile(v.Conf, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	waitAddr(t, l.R1, "eth0", "192.0.2.250", true, settle)
	waitAddr(t, l.R1, "eth0", vip4, false, settle)
	if !hasAddr(t, l.R1, "eth0", vip6) {
		t.Error("reload of VI_1 touched VI_6's address")
	}
	if st := v.Instance(t, "VI_1"); st.State != "MASTER" || st.Transitions != before {
		t.Errorf("VI_1 after an address-only reload: %s, transitions %d -> %d", st.State, before, st.Transitions)
	}
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, "192.0.2.250") }, "client reaches the new VIP")

	// Removing VI_6 stops it (its address goes), VI_1 stays.
	noV6 := changed[:strings.Index(changed, "vrrp_instance VI_6")]
	if err := os.WriteFile(v.Conf, []byte(noV6), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	waitAddr(t, l.R1, "eth0", vip6, false, settle)
	time.Sleep(300 * time.Millisecond)
	if !hasAddr(t, l.R1, "eth0", "192.0.2.250") {
		t.Error("removing VI_6 disturbed VI_1")
	}
	s, _ = v.Status()
	if len(s.Instances) != 1 || s.Reloads < 2 {
		t.Errorf("after reloads: %d instances, %d reloads", len(s.Instances), s.Reloads)
	}

	// A new priority is taken in place: no restart, no flap.
	if err := os.WriteFile(v.Conf, []byte(strings.Replace(noV6, "priority 150", "priority 200", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	testnet.Eventually(t, settle, func() bool { return v.Instance(t, "VI_1").Priority == 200 }, "priority 200 after reload")
	if st := v.Instance(t, "VI_1"); st.State != "MASTER" || st.Transitions != before {
		t.Errorf("VI_1 after a priority reload: %s, transitions %d -> %d", st.State, before, st.Transitions)
	}
}

// TestMetrics: --metrics serves the status as Prometheus metrics, with
// --metrics-keepalived-names keepalived-exporter's names beside vigil's,
// the process's own families, and the probes: /healthz answers while the
// loop does, /readyz once the instances have left INIT.
func TestMetrics(t *testing.T) {
	l := newLab(t)
	startVigild(t, l.R1, conf("", 150, ""), "-i", "r1", "--metrics", "127.0.0.1:9650", "--metrics-keepalived-names")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	get := func(path string) string {
		var body string
		err := l.R1.Do(func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:9650", time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.0\r\n\r\n", path)
			b, err := io.ReadAll(c)
			body = string(b)
			return err
		})
		if err != nil {
			return ""
		}
		return body
	}
	var body string
	testnet.Eventually(t, settle, func() bool {
		body = get("/metrics")
		return strings.Contains(body, "vigil_vrrp_adverts_sent_total")
	}, "metrics endpoint answers")
	for _, want := range []string{
		`vigil_vrrp_state{family="inet",instance="VI_1",interface="eth0",vrid="51"} 2`,
		`vigil_vrrp_priority{family="inet6",instance="VI_6",interface="eth0",vrid="51"} 150`,
		`vigil_vrrp_adverts_received_total{family="inet",instance="VI_1",interface="eth0",vrid="51",verdict="ttl"} 0`,
		`vigil_vrrp_become_master_total{family="inet",instance="VI_1",interface="eth0",vrid="51"} 1`,
		`keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51",ip_address="` + vip4 + `/24"} 2`,
		`keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51"} 1`,
		"\nprocess_start_time_seconds ",
		"\ngo_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if b := get(path); !strings.HasPrefix(b, "HTTP/1.0 200 ") {
			t.Errorf("GET %s of a running master: %q", path, b)
		}
	}
}

// reload asks v to reload over its control socket, as vigilctl does, and
// returns vigild's refusal as a *ctl.FailedError; it fails the test when
// vigild cannot be asked.
func reload(t *testing.T, v *vigild, force bool) error {
	t.Helper()
	c := ctl.Client{Path: v.Control, Timeout: 60 * time.Second}
	err := c.Reload(t.Context(), force)
	if failed := (*ctl.FailedError)(nil); err != nil && !errors.As(err, &failed) {
		t.Fatalf("reload: %v", err)
	}
	return err
}

// randomBytes is n seeded random bytes: a configuration file overwritten
// by a binary.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// TestReloadRefusesEmptyingFile: a master (r1, 150) holding both VIPs and
// its backup (r2, 100). SIGHUP with a file of binary garbage, with a file
// holding only an include loop, or with a file without any vrrp_instance
// is refused: both instances keep running as MASTER without a transition,
// the VIPs stay, the peer stays BACKUP, and the refusal is counted with
// its reason; vigilctl reload reports the same refusal as a failure with
// the reason. vigilctl reload --force applies the empty file: r1 stops
// its instances and r2 takes over.
func TestReloadRefusesEmptyingFile(t *testing.T) {
	l := newLab(t)
	v := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	peer := startVigild(t, l.R2, conf("", 100, ""), "-i", "r2")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	testnet.Eventually(t, settle, func() bool {
		return peer.Instance(t, "VI_1").State == "BACKUP" && peer.Instance(t, "VI_6").State == "BACKUP"
	}, "r2 is backup")
	before := map[string]uint64{}
	for _, in := range []string{"VI_1", "VI_6"} {
		before[in] = v.Instance(t, in).Transitions
	}

	cases := []struct {
		name   string
		text   []byte
		reason string
	}{
		{"binary garbage", randomBytes(1, 8192), "binary data"},
		{"include loop", []byte("include keepalived.conf\n"), "include loop"},
		{"no vrrp_instance", []byte("global_defs {\n    router_id test\n}\n"), "no vrrp_instance"},
	}
	failures := uint64(0)
	for _, c := range cases {
		if err := os.WriteFile(v.Conf, c.text, 0o644); err != nil {
			t.Fatal(err)
		}
		v.Signal(syscall.SIGHUP)
		failures++
		testnet.Eventually(t, settle, func() bool {
			s, err := v.Status()
			return err == nil && s.ReloadFailures == failures
		}, "%s: SIGHUP refusal counted", c.name)
		if s, _ := v.Status(); !strings.Contains(s.ReloadError, c.reason) {
			t.Errorf("%s: status reload_error %q lacks %q", c.name, s.ReloadError, c.reason)
		}
		err := reload(t, v, false)
		failures++
		if err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: vigilctl reload answered %v, want a failure naming %q", c.name, err, c.reason)
		}
		if c.reason != "no vrrp_instance" && (err == nil || !strings.Contains(err.Error(), v.Conf+":")) {
			t.Errorf("%s: the reason does not name the file: %v", c.name, err)
		}
		time.Sleep(time.Second) // ten advert intervals
		for _, in := range []string{"VI_1", "VI_6"} {
			if st := v.Instance(t, in); st.State != "MASTER" || st.Transitions != before[in] {
				t.Errorf("%s: r1 %s %s after %d transitions, had %d", c.name, in, st.State, st.Transitions, before[in])
			}
			if st := peer.Instance(t, in); st.State != "BACKUP" {
				t.Errorf("%s: r2 %s is %s", c.name, in, st.State)
			}
		}
		if !hasAddr(t, l.R1, "eth0", vip4) || !hasAddr(t, l.R1, "eth0", vip6) {
			t.Fatalf("%s: a refused reload removed a VIP", c.name)
		}
		if s, _ := v.Status(); len(s.Instances) != 2 || s.Reloads != 0 || s.ReloadFailures != failures {
			t.Errorf("%s: %d instances, %d reloads, %d failures (want 2, 0, %d)", c.name, len(s.Instances), s.Reloads, s.ReloadFailures, failures)
		}
	}
	v.WaitOutput(t, "Reload failed, keeping the running configuration", settle)

	// Meant: forced, the instances stop and the peer takes the VIPs.
	if err := reload(t, v, true); err != nil {
		t.Fatalf("vigilctl reload --force: %v", err)
	}
	waitAddr(t, l.R1, "eth0", vip4, false, settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	waitAddr(t, l.R2, "eth0", vip6, true, settle)
}
