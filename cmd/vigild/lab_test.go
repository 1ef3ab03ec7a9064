package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
)

// The test binary doubles as vigild: started with VIGILD_AS_MAIN=1 it runs
// main's run instead of the tests, so the integration tests exercise the
// real command (flags, signals, pid file) under the race detector.
func TestMain(m *testing.M) {
	if os.Getenv("VIGILD_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Addresses of the standard lab: one segment 192.0.2.0/24 and
// 2001:db8:1::/64, two routers and a client on a switch.
const (
	r1v4, r2v4, clientv4 = "192.0.2.1", "192.0.2.2", "192.0.2.100"
	r1v6, r2v6, clientv6 = "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::100"
	vip4, vip6           = "192.0.2.254", "2001:db8:1::254"
)

// lab is two routers and a client on one switch.
type lab struct {
	*testnet.Lab
	sw             *testnet.Switch
	r1, r2, client *testnet.Host
	if1, if2, ifc  *testnet.Iface
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{Lab: testnet.New(t)}
	l.sw = l.Switch("sw")
	l.r1, l.r2, l.client = l.Host("r1"), l.Host("r2"), l.Host("cl")
	l.if1 = l.sw.Attach(l.r1, "eth0")
	l.if2 = l.sw.Attach(l.r2, "eth0")
	l.ifc = l.sw.Attach(l.client, "eth0")
	l.if1.AddAddr(t, r1v4+"/24")
	l.if1.AddAddr(t, r1v6+"/64")
	l.if2.AddAddr(t, r2v4+"/24")
	l.if2.AddAddr(t, r2v6+"/64")
	l.ifc.AddAddr(t, clientv4+"/24")
	l.ifc.AddAddr(t, clientv6+"/64")
	// The client learns the new owner of a VIP from gratuitous ARP.
	l.client.Sysctl(t, "net.ipv4.conf.all.arp_accept", "1")
	l.client.Sysctl(t, "net.ipv4.conf.eth0.arp_accept", "1")
	return l
}

// vigild is one running vigild.
type vigild struct {
	*testnet.Proc
	host    *testnet.Host
	dir     string
	conf    string
	control string
}

// startVigild writes conf and starts vigild on h in the foreground.
func startVigild(t testing.TB, h *testnet.Host, conf string, extra ...string) *vigild {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	v := &vigild{host: h, dir: dir, conf: path, control: filepath.Join(dir, "ctl.sock")}
	args := append([]string{"VIGILD_AS_MAIN=1", os.Args[0], "-n", "-l", "-D", "-f", path,
		"-p", filepath.Join(dir, "vigild.pid"), "--control", v.control}, extra...)
	v.Proc = h.Start(t, "env", args...)
	return v
}

// status asks vigild for its status over the control socket, from inside
// its namespace's view of the file system (the socket is a file).
func (v *vigild) status(t *testing.T) (ctl.Status, error) {
	t.Helper()
	return v.client().Status(t.Context())
}

// client is a control-socket client of v with the short timeouts of a
// test that retries.
func (v *vigild) client() *ctl.Client {
	return &ctl.Client{Path: v.control, DialTimeout: 2 * time.Second, Timeout: 5 * time.Second}
}

// instance returns the named instance's status, failing the test when
// vigild does not answer.
func (v *vigild) instance(t *testing.T, name string) ctl.InstanceStatus {
	t.Helper()
	var s ctl.Status
	var err error
	for range 50 {
		if s, err = v.status(t); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("vigild status: %v\n%s", err, v.Output())
	}
	for _, in := range s.Instances {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("vigild status has no instance %s: %+v", name, s)
	return ctl.InstanceStatus{}
}

// hasAddr reports whether h has addr on dev.
func hasAddr(t *testing.T, h *testnet.Host, dev, addr string) bool {
	t.Helper()
	out, err := h.Command(t.Context(), "ip", "-o", "addr", "show", "dev", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr show in %s: %v\n%s", h.Name(), err, out)
	}
	return regexp.MustCompile(`\s` + regexp.QuoteMeta(addr) + `/`).Match(out)
}

// waitAddr waits until addr is present (want) or absent on h's dev.
func waitAddr(t *testing.T, h *testnet.Host, dev, addr string, want bool, timeout time.Duration) {
	t.Helper()
	testnet.Eventually(t, timeout, func() bool { return hasAddr(t, h, dev, addr) == want },
		"%s on %s: want present=%v", addr, h.Name(), want)
}

// ping reports whether one echo to addr from h gets an answer.
func ping(t *testing.T, h *testnet.Host, addr string) bool {
	t.Helper()
	return h.Command(t.Context(), "ping", "-c", "1", "-W", "1", addr).Run() == nil
}

// neighMAC returns the link-layer address h's neighbour table holds for addr.
func neighMAC(t *testing.T, h *testnet.Host, addr string) string {
	t.Helper()
	out, _ := h.Command(t.Context(), "ip", "neigh", "show", addr).CombinedOutput()
	m := regexp.MustCompile(`lladdr ([0-9a-f:]{17})`).FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// conf renders a two-instance (IPv4 + IPv6) configuration.
func conf(global string, prio int, instanceExtra string) string {
	return fmt.Sprintf(`global_defs {
    router_id test
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 1
%s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    version 3
%s
    virtual_ipaddress {
        %s/24
    }
}
vrrp_instance VI_6 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
%s
    virtual_ipaddress {
        %s/64
    }
}
`, global, prio, instanceExtra, vip4, prio, instanceExtra, vip6)
}

func macString(i *testnet.Iface) string { return strings.ToLower(i.MAC().String()) }
