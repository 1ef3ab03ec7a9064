package vrrp_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vrrp"
)

// kaConf is one keepalived vrrp_instance for interop tests and golden
// captures.
type kaConf struct {
	Name       string // instance name; "" means VI_1
	Version    int    // 2 or 3
	State      string // MASTER or BACKUP
	VRID       int
	Priority   int
	AdvertInt  string // keepalived's advert_int, e.g. "1" or "0.5"
	AuthPass   string // v2: the password, "" for none
	AuthType   string // v2 with AuthPass: PASS (when "") or AH
	UnicastSrc string
	Peers      []string
	VIPs       []string // "192.0.2.100/24"
	Nopreempt  bool
}

// text renders a keepalived.conf for this one instance on eth0.
func (k kaConf) text() string { return kaConfText(k) }

// kaConfText renders a keepalived.conf with these instances on eth0.
func kaConfText(instances ...kaConf) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id vigil_test\n}\n")
	for _, k := range instances {
		k.write(&b)
	}
	return b.String()
}

func (k kaConf) write(b *strings.Builder) {
	name := k.Name
	if name == "" {
		name = "VI_1"
	}
	fmt.Fprintf(b, "\nvrrp_instance %s {\n", name)
	fmt.Fprintf(b, "    state %s\n    interface eth0\n    version %d\n", k.State, k.Version)
	fmt.Fprintf(b, "    virtual_router_id %d\n    priority %d\n    advert_int %s\n", k.VRID, k.Priority, k.AdvertInt)
	if k.Nopreempt {
		fmt.Fprintf(b, "    nopreempt\n")
	}
	if k.AuthPass != "" {
		typ := k.AuthType
		if typ == "" {
			typ = "PASS"
		}
		fmt.Fprintf(b, "    authentication {\n        auth_type %s\n        auth_pass %s\n    }\n", typ, k.AuthPass)
	}
	if k.UnicastSrc != "" {
		fmt.Fprintf(b, "    unicast_src_ip %s\n", k.UnicastSrc)
	}
	if len(k.Peers) > 0 {
		fmt.Fprintf(b, "    unicast_peer {\n")
		for _, p := range k.Peers {
			fmt.Fprintf(b, "        %s\n", p)
		}
		fmt.Fprintf(b, "    }\n")
	}
	fmt.Fprintf(b, "    virtual_ipaddress {\n")
	for _, v := range k.VIPs {
		fmt.Fprintf(b, "        %s\n", v)
	}
	fmt.Fprintf(b, "    }\n}\n")
}

// needKeepalived skips (or fails under CI=true) when keepalived is missing.
func needKeepalived(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		skipOrFail(t, "keepalived not installed (Debian package keepalived 2.2.7): %v", err)
	}
}

// startKeepalived runs Debian's keepalived for VRRP only (-P) with conf in
// h through testnet.Host.Keepalived (own pid files, killed by t.Cleanup).
func startKeepalived(t *testing.T, h *testnet.Host, conf string) *testnet.Proc {
	t.Helper()
	return h.Keepalived(t, conf, "-P")
}

// interopCase is one keepalived instance of TestKeepalivedInterop and what
// we expect of it. VRID, priorities and names are filled in by the test.
type interopCase struct {
	conf   kaConf
	is6    bool
	ucast  bool        // unicast instance: we send from our unicast source to keepalived's
	advert vrrp.Packet // what we send (priority 200)
	check  vrrp.CheckConfig
	// reject, when set, is keepalived's complaint about our adverts: it
	// must log it and stay MASTER (a negative control).
	reject string
}

// TestKeepalivedInterop runs one Debian keepalived 2.2.7 in b with seven
// instances, all MASTER at priority 100 (v3 IPv4 with two VIPs, v3 IPv6,
// v2 with and without a password, v3 IPv4 and IPv6 unicast, and v2 with a
// password we get wrong), and our Conns in a: one per family, shared by
// all instances as the daemon does, plus one per family with the unicast
// source.
//
// keepalived → us: every instance's adverts pass Accept with that
// instance's CheckConfig (checksums, TTL, auth, addresses agree).
// us → keepalived: our priority-200 adverts make each instance leave
// MASTER for BACKUP and stay there while we keep sending; the instance
// whose password we get wrong logs "invalid passwd" and stays MASTER.
func TestKeepalivedInterop(t *testing.T) {
	needKeepalived(t)
	pass := [8]byte{'s', '3', 'c', 'r', 'e', 't'}
	cases := []interopCase{
		{conf: kaConf{Version: 3, AdvertInt: "0.5", VIPs: []string{"192.0.2.100/24", "192.0.2.101/24"}},
			advert: vrrp.Packet{Version: 3, MaxAdvertCentis: 50, Addrs: addrs("192.0.2.100", "192.0.2.101")},
			check:  vrrp.CheckConfig{Version: 3, Addrs: addrs("192.0.2.100", "192.0.2.101")}},
		{conf: kaConf{Version: 3, AdvertInt: "0.5", VIPs: []string{"2001:db8::100/64"}}, is6: true,
			advert: vrrp.Packet{Version: 3, MaxAdvertCentis: 50, Addrs: addrs("2001:db8::100")},
			check:  vrrp.CheckConfig{Version: 3, Addrs: addrs("2001:db8::100")}},
		{conf: kaConf{Version: 2, AdvertInt: "1", AuthPass: "s3cret", VIPs: []string{"192.0.2.110/24"}},
			advert: vrrp.Packet{Version: 2, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword, AuthData: pass, Addrs: addrs("192.0.2.110")},
			check:  vrrp.CheckConfig{Version: 2, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword, AuthData: pass, Addrs: addrs("192.0.2.110")}},
		{conf: kaConf{Version: 2, AdvertInt: "1", VIPs: []string{"192.0.2.120/24"}},
			advert: vrrp.Packet{Version: 2, AdvertIntSeconds: 1, Addrs: addrs("192.0.2.120")},
			check:  vrrp.CheckConfig{Version: 2, AdvertIntSeconds: 1, Addrs: addrs("192.0.2.120")}},
		{conf: kaConf{Version: 3, AdvertInt: "0.5", UnicastSrc: "192.0.2.2", Peers: []string{"192.0.2.1"},
			VIPs: []string{"192.0.2.130/24"}}, ucast: true,
			advert: vrrp.Packet{Version: 3, MaxAdvertCentis: 50, Addrs: addrs("192.0.2.130")},
			check:  vrrp.CheckConfig{Version: 3, Addrs: addrs("192.0.2.130"), Peers: addrs("192.0.2.2")}},
		{conf: kaConf{Version: 3, AdvertInt: "0.5", UnicastSrc: "2001:db8::2", Peers: []string{"2001:db8::1"},
			VIPs: []string{"2001:db8::130/64"}}, is6: true, ucast: true,
			advert: vrrp.Packet{Version: 3, MaxAdvertCentis: 50, Addrs: addrs("2001:db8::130")},
			check:  vrrp.CheckConfig{Version: 3, Addrs: addrs("2001:db8::130"), Peers: addrs("2001:db8::2")}},
		{conf: kaConf{Version: 2, AdvertInt: "1", AuthPass: "s3cret", VIPs: []string{"192.0.2.140/24"}},
			advert: vrrp.Packet{Version: 2, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword,
				AuthData: [8]byte{'S', '3', 'c', 'r', 'e', 't'}, Addrs: addrs("192.0.2.140")},
			check:  vrrp.CheckConfig{Version: 2, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword, AuthData: pass, Addrs: addrs("192.0.2.140")},
			reject: "received an invalid passwd"},
	}
	byVRID := map[uint8]*interopCase{}
	var confs []kaConf
	for i := range cases {
		c := &cases[i]
		vrid := uint8(61 + i)
		c.conf.Name, c.conf.VRID, c.conf.State, c.conf.Priority = fmt.Sprintf("VI_%d", vrid), int(vrid), "MASTER", 100
		c.advert.Type, c.advert.VRID, c.advert.Priority = vrrp.TypeAdvertisement, vrid, 200
		c.check.VRID = vrid
		byVRID[vrid] = c
		confs = append(confs, c.conf)
	}

	p := newPair(t)
	c4 := listenIn(t, p.a, false, vrrp.ConnOptions{})
	c6 := listenIn(t, p.a, true, vrrp.ConnOptions{})
	u4 := listenIn(t, p.a, false, vrrp.ConnOptions{Src: netip.MustParseAddr("192.0.2.1"), NoJoin: true})
	u6 := listenIn(t, p.a, true, vrrp.ConnOptions{Src: netip.MustParseAddr("2001:db8::1"), NoJoin: true})
	ka := startKeepalived(t, p.b, kaConfText(confs...))

	// keepalived → us. c4 and c6 see every advert of their family on eth0,
	// unicast ones included (raw sockets get every protocol-112 packet
	// delivered on the interface).
	type verdict struct {
		vrid uint8
		r    vrrp.DropReason
		prio uint8
		src  netip.Addr
	}
	verdicts := make(chan verdict, 64)
	var readers sync.WaitGroup
	stopRead := make(chan struct{})
	var stopOnce sync.Once
	stopReaders := func() {
		stopOnce.Do(func() {
			close(stopRead)
			c4.SetReadDeadline(time.Now())
			c6.SetReadDeadline(time.Now())
		})
		readers.Wait()
	}
	t.Cleanup(stopReaders)
	post := func(v verdict) bool {
		select {
		case verdicts <- v:
			return true
		case <-stopRead:
			return false
		}
	}
	for _, c := range []vrrp.Conn{c4, c6} {
		self := c.LocalAddr()
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, vrrp.MaxMessageLen+60)
			var q vrrp.Packet
			for {
				n, m, err := c.ReadFrom(buf)
				if err != nil {
					return // deadline or Close: the test is done reading
				}
				if err := q.UnmarshalFamily(buf[:n], m.Src.Is6()); err != nil {
					if !post(verdict{r: vrrp.DropLength, src: m.Src}) {
						return
					}
					continue
				}
				tc := byVRID[q.VRID]
				if tc == nil {
					if !post(verdict{vrid: q.VRID, r: vrrp.DropUnknownVRID, src: m.Src}) {
						return
					}
					continue
				}
				want := tc.check
				want.Self = self
				if tc.ucast {
					want.Self = netip.Addr{}
				}
				r := vrrp.Accept(&q, buf[:n], m, want)
				if !post(verdict{vrid: q.VRID, r: r, prio: q.Priority, src: m.Src}) {
					return
				}
			}
		}()
	}
	seen := map[uint8]bool{}
	timeout := time.After(30 * time.Second)
	for len(seen) < len(cases) {
		select {
		case v := <-verdicts:
			if v.r != vrrp.DropNone {
				t.Fatalf("keepalived's advert for VRID %d from %v dropped: %v", v.vrid, v.src, v.r)
			}
			if v.prio == 100 {
				seen[v.vrid] = true
			}
		case <-timeout:
			t.Fatalf("after 30s, adverts accepted only for VRIDs %v of %d instances", seen, len(cases))
		}
	}
	stopReaders()
	for _, c := range cases {
		ka.WaitOutput(t, "("+c.conf.Name+") Entering MASTER STATE", 30*time.Second)
	}

	// us → keepalived: priority 200 from every instance, every 200 ms.
	stop := make(chan struct{})
	sendErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			for i := range cases {
				c := &cases[i]
				conn, dst := c4, vrrp.GroupIPv4
				switch {
				case c.is6 && c.ucast:
					conn, dst = u6, netip.MustParseAddr(c.conf.UnicastSrc)
				case c.ucast:
					conn, dst = u4, netip.MustParseAddr(c.conf.UnicastSrc)
				case c.is6:
					conn, dst = c6, vrrp.GroupIPv6
				}
				if err := conn.WriteTo(&c.advert, dst); err != nil {
					sendErr <- fmt.Errorf("VRID %d: %w", c.advert.VRID, err)
					return
				}
			}
			select {
			case <-stop:
				sendErr <- nil
				return
			case <-tick.C:
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-sendErr; err != nil {
			t.Errorf("WriteTo: %v", err)
		}
	}()
	backup := func(c *interopCase) bool {
		return afterLast(ka.Output(), "("+c.conf.Name+") Entering MASTER STATE", "("+c.conf.Name+") Entering BACKUP STATE")
	}
	for i := range cases {
		c := &cases[i]
		if c.reject != "" {
			ka.WaitOutput(t, "("+c.conf.Name+") "+c.reject, 20*time.Second)
			continue
		}
		testnet.Eventually(t, 20*time.Second, func() bool { return backup(c) },
			"keepalived %s (%+v) did not go BACKUP on our priority-200 adverts", c.conf.Name, c.conf)
	}
	// keepalived's Master_Down_Interval is under 4 s for every instance:
	// well after that, each must still be BACKUP (or, the rejecting one,
	// MASTER), and no instance that accepts us complains about our adverts.
	time.Sleep(5 * time.Second)
	out := ka.Output()
	for i := range cases {
		c := &cases[i]
		if got := backup(c); got != (c.reject == "") {
			t.Errorf("%s: BACKUP = %v after 5 s of our adverts, want %v", c.conf.Name, got, c.reject == "")
		}
		if c.reject != "" {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.Contains(line, "("+c.conf.Name+")") {
				continue
			}
			for _, bad := range []string{"checksum", "invalid", "TTL", "wrong", "mismatch", "not present", "expected"} {
				if strings.Contains(line, bad) {
					t.Errorf("keepalived complains about our adverts: %s", line)
				}
			}
		}
	}
}
