// Command bare is failover-bench's floor for the load table: the least a
// Go program does for the load lab's adverts, with vigil's own socket code
// (vrrp.ListenIPv4, WriteTo, ReadBatch) and nothing else: no
// configuration, no state machine, no checks, no loop goroutine. As the
// sender it writes one advert for each of n VRIDs every interval (a Go
// ticker); as the receiver it reads batches and counts them. Its CPU per
// advert and its resident size, beside vigild's and keepalived's in the
// same run, are what the Go runtime and the kernel cost this machine.
//
//	bare -role send -n 50 -interval 100ms -iface eth0
//	bare -role recv -iface eth0
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

func main() {
	role := flag.String("role", "", "send or recv")
	n := flag.Int("n", 50, "VRIDs to send adverts for (1..255)")
	interval := flag.Duration("interval", 100*time.Millisecond, "advert interval (10ms..40.95s)")
	iface := flag.String("iface", "eth0", "interface")
	flag.Parse()
	if err := run(*role, *n, *interval, *iface); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run(role string, n int, interval time.Duration, iface string) error {
	if n < 1 || n > 255 || interval < 10*time.Millisecond || interval > 40950*time.Millisecond {
		return fmt.Errorf("-n %d -interval %v: out of range", n, interval)
	}
	c, err := vrrp.ListenIPv4(iface, vrrp.ConnOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	switch role {
	case "send":
		pkts := make([]*vrrp.Packet, n)
		for i := range pkts {
			pkts[i] = &vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: uint8(i + 1), Priority: 200,
				MaxAdvertCentis: uint16(interval / (10 * time.Millisecond)),
				Addrs:           []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(150 + i%100)})}}
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for range t.C {
			for _, p := range pkts {
				if err := c.WriteTo(p, vrrp.GroupIPv4); err != nil {
					return err
				}
			}
		}
	case "recv":
		ms := make([]vrrp.Message, 8)
		for i := range ms {
			ms[i].Buf = make([]byte, vrrp.MaxMessageLen)
		}
		var count uint64
		for {
			k, err := vrrp.ReadBatch(c, ms)
			if err != nil {
				return err
			}
			for _, m := range ms[:k] {
				if _, ok := vrrp.PeekVRID(m.Buf[:m.N]); ok {
					count++
				}
			}
		}
	}
	return fmt.Errorf("-role %q: want send or recv", role)
}
