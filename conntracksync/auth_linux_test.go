package conntracksync_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/testnet"
)

// writeKeyFile writes a fresh random key, root-owned 0600, under a private
// temporary directory.
func writeKeyFile(t testing.TB) string {
	t.Helper()
	var k [ct.AuthKeySize]byte
	for i := range k {
		k[i] = byte(rand.Uint32())
	}
	p := filepath.Join(t.TempDir(), "sync.key")
	if err := os.WriteFile(p, []byte(hex.EncodeToString(k[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// forgedFlow is the attacker's connection: an ESTABLISHED TCP session from
// outside to the ssh port of a protected server, the kind of entry a
// stateful ruleset lets through without looking at its policy.
var forgedFlow = ftfw.Flow{
	Src: netip.MustParseAddr("203.0.113.66"), Dst: netip.MustParseAddr("192.0.2.80"),
	Proto: ftfw.ProtoTCP, SrcPort: 40404, DstPort: 22,
	TCPState: ct.TCPEstablished, Status: ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed,
	HasTimeout: true, TimeoutSecs: 432000,
}

// forgedDatagram is what a blind attacker sends: an FTFW HELLO (as a
// restarted peer would) followed by the forged entry, built with the ftfw
// codec.
func forgedDatagram(t testing.TB, seq uint32) []byte {
	t.Helper()
	hello := ftfw.Message{Type: ftfw.TypeCtl, Flags: ftfw.FlagHello | ftfw.FlagAlive, Seq: seq}
	data := ftfw.Message{Type: ftfw.TypeNew, Seq: seq + 1, Flow: forgedFlow}
	b, err := hello.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err = data.AppendBinary(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func hasForged(entries []ct.Entry) bool {
	k := ct.FromWire(&forgedFlow)
	for _, e := range entries {
		if e.Flow.Key() == k.Key() {
			return true
		}
	}
	return false
}

// TestSyncForgedStateRefused is the attack on the sync link: a third host on
// the sync segment sends forged FTFW datagrams with the peer's source
// address, planting an ESTABLISHED TCP entry. Without auth_key_file (the
// unauthenticated baseline, what conntrackd interop needs) the entry reaches
// the external cache and is committed into the kernel at takeover. With the
// same key on both nodes it is refused and counted, never reaches the
// external cache nor the kernel, while real replication between the two
// keyed nodes still works end to end; datagrams the attacker captured from
// the real peer and replays are refused too.
//
// With warm_standby, fw1 writes what it receives into its kernel as it
// arrives: unauthenticated, the forged entry is in fw1's kernel before any
// takeover; keyed, it never is, while the real flows are.
func TestSyncForgedStateRefused(t *testing.T) {
	t.Run("unauthenticated", func(t *testing.T) { forgedStateLab(t, false, false) })
	t.Run("auth_key_file", func(t *testing.T) { forgedStateLab(t, true, false) })
	t.Run("unauthenticated+warm_standby", func(t *testing.T) { forgedStateLab(t, false, true) })
	t.Run("auth_key_file+warm_standby", func(t *testing.T) { forgedStateLab(t, true, true) })
}

// forgeLab is the sync segment of the forgery tests: fw1 and fw2 on a
// switch, and an attacker's host, evil, on it too. The bridge floods every
// frame, like a hub or a mirror port: the attacker sees the sync traffic
// (it needs it only for a replay).
func forgeLab(t *testing.T) (fw1, fw2, evil *testnet.Host, fw2if *testnet.Iface, ip1, ip2 netip.Addr) {
	t.Helper()
	lab := testnet.New(t)
	sw := lab.Switch("sw")
	fw1, fw2, evil = lab.Host("fw1"), lab.Host("fw2"), lab.Host("evil")
	sw.Attach(fw1, "sync0").AddAddr(t, "198.51.100.1/24")
	fw2if = sw.Attach(fw2, "sync0")
	fw2if.AddAddr(t, "198.51.100.2/24")
	sw.Attach(evil, "sync0").AddAddr(t, "198.51.100.66/24")
	sw.Host().Exec(t, "ip", "link", "set", "br0", "type", "bridge", "ageing_time", "0")
	return fw1, fw2, evil, fw2if, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
}

// forgePair puts real into fw2's kernel and starts the two nodes, with a
// fresh key on both when keyed, fw1 a warm standby when warm.
func forgePair(t *testing.T, fw1, fw2 *testnet.Host, ip1, ip2 netip.Addr, real []ct.Flow, keyed, warm bool) (n1, n2 *vigilNode) {
	t.Helper()
	commitInto(t, "/run/netns/"+fw2.Name(), real)
	keyFile := ""
	if keyed {
		keyFile = writeKeyFile(t)
	}
	n1 = startSyncNodeWith(t, fw1, ip1, ip2, ct.Config{AuthKeyFile: keyFile, WarmStandby: warm})
	n2 = startSyncNode(t, fw2, ip2, ip1, keyFile)
	return n1, n2
}

func forgedStateLab(t *testing.T, keyed, warm bool) {
	cttest.NeedRoot(t, "conntrack", "tcpdump")
	fw1, fw2, evil, fw2if, ip1, ip2 := forgeLab(t)
	var capture *testnet.Capture
	if keyed {
		// fw2's frames only (not the attacker's own spoofed ones).
		capture = evil.Capture(t, "sync0", "udp and dst port 3780 and ether src "+fw2if.MAC().String())
	}

	real := ct.SampleFlows(300)
	n1, n2 := forgePair(t, fw1, fw2, ip1, ip2, real, keyed, warm)
	stats := func(n *vigilNode) fmt.Stringer {
		return cttest.Lazy(func() string { return fmt.Sprintf("%+v", n.r.Stats()) })
	}
	testnet.Eventually(t, 30*time.Second, func() bool { return n1.r.Stats().External == len(real) }, "fw1 external cache: %v", stats(n1))
	if s := n1.r.Stats(); s.Authenticated != keyed {
		t.Fatalf("Authenticated %v, want %v", s.Authenticated, keyed)
	}

	// The attack: forged datagrams from "198.51.100.2", every 20 ms, a
	// new HELLO sequence number each time, until the test has its answer.
	sp := newSpoofer(t, evil)
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if err := sp.sendRaw(ip2, ip1, ct.DefaultPort, forgedDatagram(t, rand.Uint32())); err != nil {
				t.Errorf("spoofed send: %v", err)
				return
			}
			sent.Add(1)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	stopAttack := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopAttack)

	inExternal := func() bool { _, ext := n1.r.Dump(); return hasForged(ext) }
	if keyed {
		// Proof that the forgeries arrive: each is refused and counted.
		testnet.Eventually(t, 30*time.Second, func() bool { return n1.r.Stats().AuthDrops >= 50 }, "forged datagrams not counted: %v", stats(n1))
		stopAttack()
		if inExternal() {
			t.Fatalf("the forged entry reached the external cache of a keyed node: %v", stats(n1))
		}
		s := n1.r.Stats()
		if s.Drops["auth_malformed"] < 50 || s.External != len(real) {
			t.Fatalf("after %d forged datagrams: %v", sent.Load(), stats(n1))
		}
		t.Logf("%d forged datagrams sent, %d refused: %v", sent.Load(), s.AuthDrops, s.Drops)
	} else {
		testnet.Eventually(t, 30*time.Second, inExternal, "forged entry not in fw1's external cache (baseline): %v", stats(n1))
		stopAttack()
	}

	if keyed {
		// The replay: everything the attacker captured from fw2, sent again
		// from fw2's address once the channel is idle.
		testnet.Eventually(t, 30*time.Second, func() bool {
			return n1.r.Stats().Backlog == 0 && n2.r.Stats().Backlog == 0
		}, "channels idle: %v %v", stats(n1), stats(n2))
		pkts := capture.Stop(t)
		before := n1.r.Stats()
		replayed := 0
		for _, p := range pkts {
			d := p.Data
			if len(d) < 14+20+8 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
				continue
			}
			ihl := int(d[14]&0x0f) * 4
			payload := d[14+ihl+8:]
			if err := sp.sendRaw(ip2, ip1, ct.DefaultPort, payload); err != nil {
				t.Fatal(err)
			}
			replayed++
		}
		if replayed < 10 {
			t.Fatalf("only %d datagrams captured from fw2", replayed)
		}
		refusedBy := func(s ct.Stats) uint64 {
			return s.Drops["auth_replayed"] + s.Drops["auth_unconfirmed"] + s.Drops["auth_stale_session"]
		}
		testnet.Eventually(t, 30*time.Second, func() bool { return refusedBy(n1.r.Stats())-refusedBy(before) >= uint64(replayed) },
			"%d replayed datagrams not all refused: before %v, now %v", replayed, before.Drops, stats(n1))
		after := n1.r.Stats()
		if after.Drops["auth_replayed"] == before.Drops["auth_replayed"] {
			t.Errorf("no replay refused as auth_replayed: %v", after.Drops)
		}
		if after.Channel.DataReceived != before.Channel.DataReceived || after.External != len(real) {
			t.Errorf("replayed data reached the channel: data received %d -> %d, external %d",
				before.Channel.DataReceived, after.Channel.DataReceived, after.External)
		}
		t.Logf("%d captured datagrams replayed, all refused: %v", replayed, after.Drops)
	}

	fk := ct.FromWire(&forgedFlow)
	inKernel := func() (forged bool, real int) {
		kernel := cttest.KernelFlows(t, cttest.NS{Name: fw1.Name()})
		_, forged = kernel[fk.Key()]
		return forged, len(kernel)
	}
	if warm {
		// Before any takeover: the warm standby's kernel holds the real
		// flows, and the forged one only without a key.
		testnet.Eventually(t, 30*time.Second, func() bool {
			forged, n := inKernel()
			return n >= len(real) && forged == !keyed
		}, "fw1's kernel as a warm standby (want %d flows, forged entry %v): %v", len(real), !keyed, stats(n1))
		if forged, _ := inKernel(); forged && keyed {
			t.Fatalf("the forged entry is in a keyed warm standby's kernel: %v", stats(n1))
		}
	}

	// Takeover: fw1 commits its external cache.
	st, err := n1.r.Commit(context.Background())
	if err != nil {
		t.Fatalf("commit: %+v %v", st, err)
	}
	committed, _ := inKernel()
	if keyed {
		if committed {
			t.Fatalf("the forged entry is in fw1's kernel after the commit")
		}
		cttest.CheckKernel(t, cttest.NS{Name: fw1.Name()}, real, func(f *ct.Flow) uint32 { return f.TimeoutSec }, 120)
	} else if !committed {
		t.Fatalf("baseline: the forged entry is not in fw1's kernel after the commit (commit %+v)", st)
	}
}

// TestSyncForgedFlowKeepsOwn is the attack on a warm standby's rule that a
// flow the peer sends is the peer's (it leaves the internal cache): forged
// datagrams from the peer's address name one of fw1's own connections.
// Without auth_key_file (the baseline) fw1 takes it for the peer's and
// stops announcing it; with the same key on both nodes every forgery is
// refused and the connection stays fw1's own.
func TestSyncForgedFlowKeepsOwn(t *testing.T) {
	t.Run("unauthenticated", func(t *testing.T) { forgedOwnLab(t, false) })
	t.Run("auth_key_file", func(t *testing.T) { forgedOwnLab(t, true) })
}

func forgedOwnLab(t *testing.T, keyed bool) {
	cttest.NeedRoot(t, "conntrack")
	fw1, fw2, evil, _, ip1, ip2 := forgeLab(t)
	own := ct.FromWire(&forgedFlow) // the forgery names fw1's own connection
	own.TimeoutSec = 1200
	commitInto(t, "/run/netns/"+fw1.Name(), []ct.Flow{own})
	real := ct.SampleFlows(100)
	n1, _ := forgePair(t, fw1, fw2, ip1, ip2, real, keyed, true)
	hasOwn := func() bool { in, _ := n1.r.Dump(); return hasForged(in) }
	testnet.Eventually(t, 30*time.Second, func() bool {
		s := n1.r.Stats()
		return !s.Warm.Holding && s.External == len(real) && hasOwn()
	}, "fw1 with the peer's table and its own connection: %v", statsOf(n1))

	sp := newSpoofer(t, evil)
	for i := 0; ; i++ {
		if err := sp.sendRaw(ip2, ip1, ct.DefaultPort, forgedDatagram(t, rand.Uint32())); err != nil {
			t.Fatal(err)
		}
		s := n1.r.Stats()
		if keyed && s.Drops["auth_malformed"] >= 20 || !keyed && !hasOwn() {
			break
		}
		if i == 1500 {
			t.Fatalf("after %d forged datagrams: own connection in the internal cache %v: %v", i+1, hasOwn(), statsOf(n1))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := n1.r.Stats()
	switch {
	case keyed && (!hasOwn() || s.Warm.Retracted != 0):
		t.Fatalf("a keyed warm standby took its own connection for the peer's: %v", statsOf(n1))
	case !keyed && s.Warm.Retracted == 0:
		t.Fatalf("baseline: the connection left the internal cache without a retraction counted: %v", statsOf(n1))
	}
}

// ReadAuthKeyFile follows symbolic links to a safe file, and refuses a
// relative path and anything but a regular file.
func TestReadAuthKeyFile(t *testing.T) {
	cttest.NeedRoot(t)
	key := writeKeyFile(t)
	if _, err := ct.ReadAuthKeyFile(key); err != nil {
		t.Fatalf("safe key file: %v", err)
	}
	link := filepath.Join(t.TempDir(), "link.key")
	if err := os.Symlink(key, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.ReadAuthKeyFile(link); err != nil {
		t.Errorf("symbolic link to a safe key file: %v", err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sync.key", fifo, filepath.Dir(key)} {
		if _, err := ct.ReadAuthKeyFile(p); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
}

// New warns once that an unauthenticated channel can be injected into, and
// not at all with a key.
func TestNewWarnsWithoutKey(t *testing.T) {
	cttest.NeedRoot(t)
	for _, keyFile := range []string{"", writeKeyFile(t)} {
		for _, warm := range []bool{false, true} {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			if _, err := newReplicator(log, ct.Config{LocalAddr: ct.AuthA, PeerAddr: ct.AuthB, AuthKeyFile: keyFile, WarmStandby: warm}); err != nil {
				t.Fatal(err)
			}
			n := strings.Count(buf.String(), "level=WARN msg=\"conntrack sync: the sync channel is unauthenticated: anyone who can send datagrams from 198.51.100.2 can inject connection state")
			if want := map[bool]int{true: 1, false: 0}[keyFile == ""]; n != want {
				t.Errorf("key file %q, warm standby %v: %d warnings, want %d:\n%s", keyFile, warm, n, want, buf.String())
			}
			// A warm standby's warning says the state reaches the kernel at once.
			if keyFile == "" && strings.Contains(buf.String(), "writes into its kernel as it arrives") != warm {
				t.Errorf("warm standby %v: the warning does not say when injected state reaches the kernel:\n%s", warm, buf.String())
			}
		}
	}
	if _, err := newReplicator(slog.New(slog.DiscardHandler), ct.Config{LocalAddr: ct.AuthA, PeerAddr: ct.AuthB, AuthKeyFile: "/nonexistent/sync.key"}); !errors.Is(err, ct.ErrAuthKey) {
		t.Errorf("missing key file: %v", err)
	}
}

// Two keyed nodes over IPv6: replication converges, and again after each
// node restarts (a new session that must be accepted, while the old one
// is refused from then on), with lossy links for the handshakes.
func TestSyncAuthIPv6Restarts(t *testing.T) {
	cttest.NeedRoot(t, "conntrack", "nft")
	lab := testnet.New(t)
	h1, h2 := lab.Host("k1"), lab.Host("k2")
	a, b := lab.Wire(h1, "sync0", h2, "sync0")
	a.AddAddr(t, "2001:db8:5::1/64")
	b.AddAddr(t, "2001:db8:5::2/64")
	ip1, ip2 := netip.MustParseAddr("2001:db8:5::1"), netip.MustParseAddr("2001:db8:5::2")
	h1.DropRandomMatch(t, "sync0", 10, testnet.Both, "udp dport 3780")
	key := writeKeyFile(t)
	flows1, flows2 := ct.SampleFlows(400)[:200], ct.SampleFlows(400)[200:]
	commitInto(t, "/run/netns/"+h1.Name(), flows1)
	commitInto(t, "/run/netns/"+h2.Name(), flows2)
	n1 := startSyncNode(t, h1, ip1, ip2, key)
	n2 := startSyncNode(t, h2, ip2, ip1, key)
	stats := func(n *vigilNode) fmt.Stringer {
		return cttest.Lazy(func() string { return fmt.Sprintf("%+v", n.r.Stats()) })
	}
	converged := func(what string) {
		t.Helper()
		testnet.Eventually(t, 60*time.Second, func() bool {
			return n1.r.Stats().External == len(flows2) && n2.r.Stats().External == len(flows1)
		}, "%s: k1 %v\nk2 %v", what, stats(n1), stats(n2))
	}
	converged("start")
	n1.stop()
	n1 = startSyncNode(t, h1, ip1, ip2, key)
	converged("k1 restarted")
	n2.stop()
	n2 = startSyncNode(t, h2, ip2, ip1, key)
	converged("k2 restarted")
	for _, n := range []*vigilNode{n1, n2} {
		if s := n.r.Stats(); !s.Authenticated || s.Drops["auth_failed"]+s.Drops["auth_malformed"] != 0 {
			t.Errorf("%s: %+v", n.host.Name(), s)
		}
	}
}
