package vip_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/vip"
)

// TestValidIfName: names from a configuration file that would escape a
// /proc/sys path or that the kernel refuses are not interface names.
func TestValidIfName(t *testing.T) {
	for _, ok := range []string{"eth0", "vrrp.51", "vrrp6.255", "bond0.100", "a", "averyverylong.7", "br-lan_1@x"} {
		if !vip.ValidIfName(ok) {
			t.Errorf("ValidIfName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "eth0:1", "a b", "tab\t", "nl\n", "nul\x00", "é", "sixteen-bytes-xx", strings.Repeat("x", 300)} {
		if vip.ValidIfName(bad) {
			t.Errorf("ValidIfName(%q) = true", bad)
		}
	}
}

// TestCheckSysctlPath: only plain paths under net/ with safe elements
// reach /proc/sys; ProcSys refuses the others before touching a file.
func TestCheckSysctlPath(t *testing.T) {
	for _, ok := range []string{"net/ipv4/conf/all/rp_filter", "net/ipv4/conf/vrrp.51/arp_ignore",
		"net/ipv6/conf/vrrp6.51/disable_ipv6", "net/ipv4/conf", "net/ipv4/conf/eth0/promote_secondaries"} {
		if err := vip.CheckSysctlPath(ok); err != nil {
			t.Errorf("CheckSysctlPath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "net", "kernel/core_pattern", "/net/ipv4/conf/all/rp_filter", "net/ipv4/conf/../../kernel/core_pattern",
		"net/ipv4/conf/a b/rp_filter", "net//ipv4", "net/ipv4/conf/eth0/", "net/ipv4/conf/x\n/rp_filter", "net/ipv4/conf/eth0:1/rp_filter"} {
		if err := vip.CheckSysctlPath(bad); !errors.Is(err, vip.ErrInvalid) {
			t.Errorf("CheckSysctlPath(%q) = %v, want ErrInvalid", bad, err)
		}
		var sys vip.ProcSys
		if _, err := sys.ReadSysctl(bad); !errors.Is(err, vip.ErrInvalid) {
			t.Errorf("ProcSys.ReadSysctl(%q) = %v, want ErrInvalid", bad, err)
		}
		if err := sys.WriteSysctl(bad, "1"); !errors.Is(err, vip.ErrInvalid) {
			t.Errorf("ProcSys.WriteSysctl(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
