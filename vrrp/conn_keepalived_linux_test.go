package vrrp_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// kaConf is one keepalived vrrp_instance for interop tests and golden
// captures.
type kaConf struct {
	Version    int    // 2 or 3
	State      string // MASTER or BACKUP
	VRID       int
	Priority   int
	AdvertInt  string // keepalived's advert_int, e.g. "1" or "0.5"
	AuthPass   string // v2: simple password, "" for none
	UnicastSrc string
	Peers      []string
	VIPs       []string // "192.0.2.100/24"
	Nopreempt  bool
}

// text renders a keepalived.conf for one instance VI_1 on eth0.
func (k kaConf) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id vigil_test\n}\n\n")
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n")
	fmt.Fprintf(&b, "    state %s\n    interface eth0\n    version %d\n", k.State, k.Version)
	fmt.Fprintf(&b, "    virtual_router_id %d\n    priority %d\n    advert_int %s\n", k.VRID, k.Priority, k.AdvertInt)
	if k.Nopreempt {
		fmt.Fprintf(&b, "    nopreempt\n")
	}
	if k.AuthPass != "" {
		fmt.Fprintf(&b, "    authentication {\n        auth_type PASS\n        auth_pass %s\n    }\n", k.AuthPass)
	}
	if k.UnicastSrc != "" {
		fmt.Fprintf(&b, "    unicast_src_ip %s\n", k.UnicastSrc)
	}
	if len(k.Peers) > 0 {
		fmt.Fprintf(&b, "    unicast_peer {\n")
		for _, p := range k.Peers {
			fmt.Fprintf(&b, "        %s\n", p)
		}
		fmt.Fprintf(&b, "    }\n")
	}
	fmt.Fprintf(&b, "    virtual_ipaddress {\n")
	for _, v := range k.VIPs {
		fmt.Fprintf(&b, "        %s\n", v)
	}
	fmt.Fprintf(&b, "    }\n}\n")
	return b.String()
}

// needKeepalived skips (or fails under CI=true) when keepalived is missing.
func needKeepalived(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		skipOrFail(t, "keepalived not installed (Debian package keepalived 2.2.7): %v", err)
	}
}

// startKeepalived runs Debian's keepalived (VRRP only, no fork, console
// log, no syslog) with conf in h, with pid files of its own under
// t.TempDir(). The process is killed by t.Cleanup.
func startKeepalived(t *testing.T, h *testnet.Host, conf string) *testnet.Proc {
	t.Helper()
	needKeepalived(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	writeFile(t, path, conf)
	return h.Start(t, "keepalived", "-n", "-l", "-D", "-G", "-P",
		"-f", path,
		"-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"),
		"-b", filepath.Join(dir, "bfd.pid"))
}
