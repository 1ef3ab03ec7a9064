package main

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/testnet/vm"
)

// vmVirtualServer is a NAT virtual server with two real servers under
// TCP_CHECK, each in a namespace of its own behind a veth pair.
const vmVirtualServer = `
virtual_server 192.0.2.10 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.2 8080 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 198.51.100.6 8080 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`

// listener is a real server's TCP listener that the test can stop and
// start again.
type listener struct {
	mu sync.Mutex
	ns *vm.NS
	ln net.Listener
}

func (l *listener) start(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ns.Do(t, func() {
		ln, err := net.Listen("tcp4", ":8080")
		if err != nil {
			t.Fatal(err)
		}
		l.ln = ln
	})
	go func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}(l.ln)
}

func (l *listener) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
}

// TestVMIPVS runs vigild in the IPVS VM: the virtual server is in the
// kernel's table after start (as /sbin/ipvsadm sees it), a real server
// whose listener goes away is removed on keepalived's schedule and comes
// back with it, and SIGTERM leaves no service behind.
func TestVMIPVS(t *testing.T) {
	if !vm.Inside() {
		vm.Run(t, "^TestVMIPVS$", vm.Options{})
		return
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.Close)
	lo, err := root.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := root.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	rs1, rs2 := vm.NewNS(t), vm.NewNS(t)
	vm.Wire(t, root, rs1, "vrs1", netip.MustParsePrefix("198.51.100.1/30"), netip.MustParsePrefix("198.51.100.2/30"))
	vm.Wire(t, root, rs2, "vrs2", netip.MustParsePrefix("198.51.100.5/30"), netip.MustParsePrefix("198.51.100.6/30"))
	l1, l2 := &listener{ns: rs1}, &listener{ns: rs2}
	l1.start(t)
	l2.start(t)
	t.Cleanup(l1.stop)
	t.Cleanup(l2.stop)

	v := vm.StartVigild(t, []string{"env", "VIGILD_AS_MAIN=1", os.Args[0]}, vmVirtualServer)
	const svc = "TCP  192.0.2.10:80 rr"
	both := func(out string) bool {
		return strings.Contains(out, svc) && vm.HasDest(out, "198.51.100.2:8080") && vm.HasDest(out, "198.51.100.6:8080")
	}
	vm.WaitIPVS(t, 60*time.Second, "the service with both real servers", both)

	l1.stop()
	vm.WaitIPVS(t, 60*time.Second, "198.51.100.2:8080 removed", func(out string) bool {
		return strings.Contains(out, svc) && !vm.HasDest(out, "198.51.100.2:8080") && vm.HasDest(out, "198.51.100.6:8080")
	})
	s, err := v.Status()
	if err != nil {
		t.Fatal(err)
	}
	if s.LVS == nil || len(s.LVS.VirtualServers) != 1 || s.LVS.VirtualServers[0].Real[0].Up {
		t.Fatalf("status after the failure: %+v", s.LVS)
	}
	if !strings.Contains(v.Output(), "Removing service [198.51.100.2]:tcp:8080 from VS [192.0.2.10]:tcp:80") {
		t.Errorf("keepalived's removal line is missing")
	}

	l1.start(t)
	vm.WaitIPVS(t, 60*time.Second, "198.51.100.2:8080 back", both)

	if err := v.Stop(30 * time.Second); err != nil {
		t.Fatalf("vigild did not stop cleanly: %v", err)
	}
	if out := vm.IPVSADM(t); strings.Contains(out, "192.0.2.10:80") {
		t.Fatalf("the service survived SIGTERM:\n%s", out)
	}
}
