package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// Helpers for the firewall-pair tests (firewall_test.go) on
// harness.FirewallPair. Names start with fw so that they do not collide
// with the rest of the package's lab.
const (
	fwInVIP, fwOutVIP    = harness.FWInVIP, harness.FWOutVIP
	fwClient, fwServer   = harness.FWClient, harness.FWServer
	fwSync1, fwSync2     = harness.FWSync1, harness.FWSync2
	fwServerPort         = 5001
	fwSyncPort           = 3780
	fwAdvert             = "0.2" // advert_int: master down about 0.7 s
	fwSettle             = harness.Settle
	fwCounterChunk       = 64 // counters (8 bytes each) per write
	fwCounterWriteEvery  = 5 * time.Millisecond
	fwProgressAfterCut   = 64 << 10 // bytes each way after the takeover that prove the stream lives
	fwUnreplicatedWindow = 6 * time.Second
)

type fwLab = harness.FirewallPair

func newFWLab(t testing.TB) *fwLab { return harness.NewFirewallPair(t) }

// fwConf renders a firewall's configuration: inside and outside instances
// in sync group FW, and (with sync) conntrack_sync on the sync link.
func fwConf(name string, prio int, local, peer string, sync bool) string {
	ct := ""
	if sync {
		ct = fmt.Sprintf(`
conntrack_sync {
    interface sync0
    local_address %s
    peer_address %s
    port %d
    track_group FW
    filter {
        protocol TCP
    }
}
`, local, peer, fwSyncPort)
	}
	inst := func(iname, iface string, vrid int, vip string) string {
		return trkInst{Name: iname, Iface: iface, VRID: vrid, Prio: prio, Adv: fwAdvert, VIP: vip + "/24"}.String()
	}
	return fmt.Sprintf(`global_defs {
    router_id %s
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 2
}
vrrp_sync_group FW {
    group {
        VI_IN
        VI_OUT
    }
}
`, name) + inst("VI_IN", "eth0", 51, fwInVIP) + inst("VI_OUT", "eth1", 52, fwOutVIP) + ct
}

// startFWPair starts vigild on both firewalls (fw1 150, fw2 100) and waits
// until fw1 is master of both instances and fw2 backup.
func startFWPair(t testing.TB, l *fwLab, sync bool) (v1, v2 *vigild) {
	t.Helper()
	return startFWPairConf(t, l, fwConf("fw1", 150, fwSync1, fwSync2, sync), fwConf("fw2", 100, fwSync2, fwSync1, sync))
}

// startFWPairConf is startFWPair with each firewall's keepalived.conf.
func startFWPairConf(t testing.TB, l *fwLab, conf1, conf2 string) (v1, v2 *vigild) {
	t.Helper()
	return startFWPairCmd(t, l, vigildCommand, conf1, conf2)
}

// startFWPairCmd is startFWPairConf with vigild run by cmd.
func startFWPairCmd(t testing.TB, l *fwLab, cmd harness.Command, conf1, conf2 string) (v1, v2 *vigild) {
	t.Helper()
	v1 = harness.StartVigild(t, l.FW1, cmd, conf1, "-D", "-i", "fw1")
	v2 = harness.StartVigild(t, l.FW2, cmd, conf2, "-D", "-i", "fw2")
	for _, in := range []string{"VI_IN", "VI_OUT"} {
		v1.WaitState(t, in, "MASTER")
		v2.WaitState(t, in, "BACKUP")
	}
	l.SettleNeighbours(t, l.FW1)
	return v1, v2
}

// ctLoadFlows loads n established TCP entries (192.0.2.x → the server's
// port 443, as if forwarded) into h's conntrack table with conntrack -R,
// a command each line, in one process.
func ctLoadFlows(t testing.TB, h *testnet.Host, n, first int) {
	t.Helper()
	var sb strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&sb, "-I -p tcp -s 192.0.2.%d -d %s --sport %d --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED\n",
			10+i%200, fwServer, 1024+i/200)
	}
	file := filepath.Join(t.TempDir(), "flows")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Exec(t, "conntrack", "-R", file)
}

// fwStream is one long-lived TCP connection from the client to the server
// through the firewalls' VIPs. Each side writes a stream of consecutive
// big-endian uint64 counters and checks every counter it reads, so a lost,
// duplicated or corrupted byte, a reset or a reconnect is an error.
type fwStream struct {
	up   atomic.Uint64 // bytes verified at the server (client → server)
	down atomic.Uint64 // bytes verified at the client (server → client)

	closing atomic.Bool
	mu      sync.Mutex
	errs    []string // guarded by mu
	conns   []net.Conn
	wg      sync.WaitGroup
}

// startFWStream listens on the server, dials from the client, and runs
// the four pumps until t's cleanup.
func startFWStream(t testing.TB, l *fwLab) *fwStream {
	t.Helper()
	s := &fwStream{}
	var ln net.Listener
	if err := l.Server.Do(func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf("%s:%d", fwServer, fwServerPort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			s.fail("server accept: %v", err)
			close(accepted)
			return
		}
		accepted <- c
	}()
	var cc net.Conn
	if err := l.Client.Do(func() (err error) {
		cc, err = net.DialTimeout("tcp4", fmt.Sprintf("%s:%d", fwServer, fwServerPort), 5*time.Second)
		return err
	}); err != nil {
		ln.Close()
		t.Fatalf("client dial through the firewall: %v", err)
	}
	sc, ok := <-accepted
	if !ok {
		cc.Close()
		t.Fatalf("server did not accept: %v", s.errors())
	}
	if got := sc.RemoteAddr().(*net.TCPAddr).IP.String(); got != fwOutVIP {
		t.Errorf("server sees the client as %s, want the outside VIP %s (SNAT)", got, fwOutVIP)
	}
	s.conns = []net.Conn{cc, sc}
	s.wg.Go(func() { s.write(cc, "client") })
	s.wg.Go(func() { s.write(sc, "server") })
	s.wg.Go(func() { s.read(sc, "server", &s.up) })
	s.wg.Go(func() { s.read(cc, "client", &s.down) })
	t.Cleanup(s.stop)
	return s
}

func (s *fwStream) fail(format string, args ...any) {
	if s.closing.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *fwStream) errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

// stop closes both ends and waits for the pumps; errors after this point
// are not the stream's.
func (s *fwStream) stop() {
	if s.closing.Swap(true) {
		return
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
}

func (s *fwStream) write(c net.Conn, side string) {
	buf := make([]byte, 8*fwCounterChunk)
	var n uint64
	tick := time.NewTicker(fwCounterWriteEvery)
	defer tick.Stop()
	for range tick.C {
		if s.closing.Load() {
			return
		}
		for i := range fwCounterChunk {
			binary.BigEndian.PutUint64(buf[8*i:], n)
			n++
		}
		if _, err := c.Write(buf); err != nil {
			s.fail("%s write after %d counters: %v", side, n-fwCounterChunk, err)
			return
		}
	}
}

func (s *fwStream) read(c net.Conn, side string, verified *atomic.Uint64) {
	r := bufio.NewReaderSize(c, 64<<10)
	var want uint64
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			if errors.Is(err, io.EOF) {
				s.fail("%s read: the peer closed the connection after %d counters", side, want)
			} else {
				s.fail("%s read after %d counters: %v", side, want, err)
			}
			return
		}
		if got := binary.BigEndian.Uint64(b[:]); got != want {
			s.fail("%s read counter %d, want %d: the byte stream is corrupt", side, got, want)
			return
		}
		want++
		verified.Add(8)
	}
}

// progress waits until each direction has verified at least n more bytes
// than at the call, or the stream fails, or timeout.
func (s *fwStream) progress(n uint64, timeout time.Duration) error {
	up0, down0 := s.up.Load(), s.down.Load()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if errs := s.errors(); len(errs) > 0 {
			return fmt.Errorf("stream failed: %s", strings.Join(errs, "; "))
		}
		if s.up.Load()-up0 >= n && s.down.Load()-down0 >= n {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("stream stalled: %d bytes up and %d down in %s, want %d each way",
		s.up.Load()-up0, s.down.Load()-down0, timeout, n)
}

// ctFlows counts the TCP entries for the test server's port in h's
// conntrack table.
func ctFlows(t testing.TB, h *testnet.Host) int {
	t.Helper()
	out, _ := h.Command(t.Context(), "conntrack", "-L", "-p", "tcp", "--dport", fmt.Sprint(fwServerPort)).CombinedOutput()
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "tcp ") {
			n++
		}
	}
	return n
}

// fwLegacy is the reference the benchmark compares against: Debian's
// keepalived with conntrackd on each firewall, wired by a notify script
// that does what conntrack-tools' primary-backup.sh does (on MASTER:
// commit the external cache, flush, resync the internal cache from the
// kernel, send a bulk; on BACKUP: request a resync; on FAULT: shorten the
// kernel timers).
type fwLegacy struct {
	ctd    *testnet.Conntrackd
	ka     *testnet.Proc
	events string // the notify script's log: one "state unix-nanos" line per call
}

func startFWLegacy(t testing.TB, h *testnet.Host, name string, prio int, local, peer string) *fwLegacy {
	return startFWLegacyWith(t, h, name, prio, local, peer, "")
}

// startFWLegacyWith is startFWLegacy with conntrackd's Options {
// ExpectationSync } set to expect ("" = not set).
func startFWLegacyWith(t testing.TB, h *testnet.Host, name string, prio int, local, peer, expect string) *fwLegacy {
	t.Helper()
	testnet.NeedRoot(t, "keepalived", "conntrackd")
	g := &fwLegacy{ctd: h.Conntrackd(t, testnet.ConntrackdConfig{
		Local: local, Peer: peer, Interface: "sync0", Port: fwSyncPort, TCPOnly: true,
		ModeExtra: "DisableExternalCache Off", ExpectationSync: expect,
	})}
	g.events = filepath.Join(g.ctd.Dir, "events")
	script := fmt.Sprintf(`C="conntrackd -C %s"
case "$1" in
primary) $C -c; echo "committed $(date +%%s%%N)" >> %[2]s; $C -f; $C -R; $C -B ;;
backup) $C -n ;;
fault) $C -t ;;
esac
echo "$1 $(date +%%s%%N)" >> %[2]s`, g.ctd.Conf, g.events)
	scriptPath := testnet.WriteScript(t, g.ctd.Dir, "ctd.sh", script)
	conf := strings.Replace(fwConf(name, prio, "", "", false), "vrrp_garp_master_delay 1",
		"script_user root\n    enable_script_security\n    vrrp_garp_master_delay 1", 1)
	conf = strings.Replace(conf, "        VI_OUT\n    }\n", fmt.Sprintf(`        VI_OUT
    }
    notify_master "%[1]s primary"
    notify_backup "%[1]s backup"
    notify_fault "%[1]s fault"
`, scriptPath), 1)
	g.ka = h.Keepalived(t, conf, "-P")
	return g
}

// externalCount is the number of entries in conntrackd's external cache.
func (g *fwLegacy) externalCount(t testing.TB) int {
	out, _ := g.ctd.Client(t.Context(), "-e")
	return strings.Count(string(out), "\n")
}
