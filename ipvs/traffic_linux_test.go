package ipvs_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/testnet/vm"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serve runs a TCP server in n on port that answers every line with
// "name line".
func serve(t *testing.T, n *vm.NS, name string, port int) {
	t.Helper()
	var ln net.Listener
	n.Do(t, func() {
		var err error
		ln, err = net.Listen("tcp4", ":"+strconv.Itoa(port))
		must(t, err)
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "%s %s", name, l)
				}
			}()
		}
	}()
}

// conn is a client connection through the virtual service.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, n *vm.NS, to string) *conn {
	t.Helper()
	var c net.Conn
	n.Do(t, func() {
		var err error
		c, err = net.DialTimeout("tcp4", to, 20*time.Second)
		must(t, err)
	})
	t.Cleanup(func() { c.Close() })
	return &conn{c: c, r: bufio.NewReader(c)}
}

// ask sends a line and returns the name of the real server that answered.
func (c *conn) ask(t *testing.T, line string) string {
	t.Helper()
	must(t, c.c.SetDeadline(time.Now().Add(20*time.Second)))
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(got), " ")
	if rest != line {
		t.Fatalf("answer %q to %q", got, line)
	}
	return name
}

// conns counts the connections per destination in the kernel's
// connection table as ipvsadm -Lnc lists it (closed ones linger in
// TIME_WAIT, so every connection made is counted). The per-destination
// counters of --stats are not used: the kernel sums them only every 2 s.
func conns(t *testing.T) map[string]int {
	t.Helper()
	raw, err := exec.Command("ipvsadm", "-Lnc").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Lnc: %v\n%s", err, raw)
	}
	out := map[string]int{}
	for _, l := range strings.Split(string(raw), "\n") {
		// pro expire state source virtual destination
		f := strings.Fields(l)
		if len(f) == 6 && f[0] == "TCP" {
			out[f[5]]++
		}
	}
	return out
}

// testTraffic: a client reaches two real servers through a NAT service
// that the reconciler programmed; a weight change and a scheduler change
// apply in place, so an established connection keeps working across them
// and new connections follow the new weights.
func testTraffic(t *testing.T, k *ipvs.Kernel) {
	must(t, os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644))
	root, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	must(t, err)
	t.Cleanup(root.Close)
	lo, err := root.LinkByName("lo")
	must(t, err)
	must(t, root.LinkSetUp(lo))
	must(t, root.AddrAdd(lo, &netlink.Addr{IPNet: vm.IPNet(netip.MustParsePrefix("192.0.2.1/32"))}))
	t.Cleanup(func() { _ = root.AddrDel(lo, &netlink.Addr{IPNet: vm.IPNet(netip.MustParsePrefix("192.0.2.1/32"))}) })

	client, rs1, rs2 := vm.NewNS(t), vm.NewNS(t), vm.NewNS(t)
	vm.Wire(t, root, client, "vcli", netip.MustParsePrefix("203.0.113.1/24"), netip.MustParsePrefix("203.0.113.2/24"))
	vm.Wire(t, root, rs1, "vrs1", netip.MustParsePrefix("198.51.100.1/30"), netip.MustParsePrefix("198.51.100.2/30"))
	vm.Wire(t, root, rs2, "vrs2", netip.MustParsePrefix("198.51.100.5/30"), netip.MustParsePrefix("198.51.100.6/30"))
	serve(t, rs1, "rs1", 8080)
	serve(t, rs2, "rs2", 8080)

	key := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 80}
	d1 := ipvs.Dest{Addr: netip.MustParseAddr("198.51.100.2"), Port: 8080, Method: ipvs.NAT, Weight: 1}
	d2 := ipvs.Dest{Addr: netip.MustParseAddr("198.51.100.6"), Port: 8080, Method: ipvs.NAT, Weight: 1}
	desired := table(svc(key, "rr", 0, 0, 0, d1, d2))
	r := ipvs.NewReconciler(k)
	if _, err := r.Apply(desired); err != nil {
		t.Fatal(err)
	}

	// Round robin over two equal servers: four connections, two each.
	seen := map[string]int{}
	var long *conn
	for i := range 4 {
		c := dial(t, client, "192.0.2.1:80")
		seen[c.ask(t, "hello"+strconv.Itoa(i))]++
		if long == nil {
			long = c
		} else {
			c.c.Close()
		}
	}
	if seen["rs1"] != 2 || seen["rs2"] != 2 {
		t.Errorf("answers per real server %v, want 2 each", seen)
	}
	if got := conns(t); got["198.51.100.2:8080"] != 2 || got["198.51.100.6:8080"] != 2 {
		t.Errorf("ipvsadm -Lnc connections %v, want 2 each", got)
	}
	first := long.ask(t, "still there")

	// rs2 to weight 0, and wrr instead of rr: both are edits in place.
	d2.Weight = 0
	desired[key].Dests[d2.Key()] = d2
	desired[key].Scheduler = "wrr"
	res, err := r.Apply(desired)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Ops {
		if o.Kind != ipvs.OpEditDest && o.Kind != ipvs.OpEditService {
			t.Errorf("unexpected op %s", o)
		}
	}
	if got := long.ask(t, "after the edit"); got != first {
		t.Errorf("the established connection moved from %s to %s", first, got)
	}
	for i := range 3 {
		c := dial(t, client, "192.0.2.1:80")
		if got := c.ask(t, "new"+strconv.Itoa(i)); got != "rs1" {
			t.Errorf("new connection %d went to %s with rs2 at weight 0", i, got)
		}
		c.c.Close()
	}
	if got := conns(t); got["198.51.100.2:8080"] != 5 || got["198.51.100.6:8080"] != 2 {
		t.Errorf("ipvsadm -Lnc connections %v, want 5 and 2", got)
	}
}
