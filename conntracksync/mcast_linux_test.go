package conntracksync_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
	"golang.org/x/net/ipv4"
)

// debianFTFW is the sample FTFW configuration Debian ships with conntrackd:
// Multicast on eth2, group 225.0.0.50, port 3780.
const debianFTFW = "/usr/share/doc/conntrackd/examples/sync/ftfw/conntrackd.conf"

// adjustSample is what an operator changes in Debian's sample for a node:
// the sync interface, the node's address on it, and (for this lab, which
// uses documentation addresses only) the group, 233.252.0.50 of
// MCAST-TEST-NET.
func adjustSample(t *testing.T, addr string) string {
	t.Helper()
	b, err := os.ReadFile(debianFTFW)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v", err)
		}
		t.Skipf("SKIPPING: %v (apt-get install conntrackd)", err)
	}
	r := strings.NewReplacer("eth2", "sync0", "192.168.100.100", addr, "225.0.0.50", "233.252.0.50")
	return r.Replace(string(b))
}

// TestInteropMulticastDebianSample: Debian's sample conntrackd.conf, with
// only its interface and addresses adjusted, loads through
// conntrackd_config, and vigil and conntrackd (running the same sample)
// replicate both ways over multicast. The sample replicates TCP, SCTP and
// DCCP only, so the UDP and ICMP flows of each side stay home.
func TestInteropMulticastDebianSample(t *testing.T) {
	cttest.NeedRoot(t, "conntrack", "conntrackd")
	vconf := adjustSample(t, "198.51.100.1")
	cconf := adjustSample(t, "198.51.100.2")
	v, c, _, b := wiredPair(t, testnet.New(t), "v", "c", "198.51.100.1/24", "198.51.100.2/24")

	// vigil: keepalived.conf naming the adjusted sample.
	dir := t.TempDir()
	sample := filepath.Join(dir, "conntrackd.conf")
	if err := os.WriteFile(sample, []byte(vconf), 0o644); err != nil {
		t.Fatal(err)
	}
	kconf := "vrrp_instance VI_1 {\n interface sync0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n  192.0.2.100/24\n }\n}\n" +
		"conntrack_sync {\n conntrackd_config " + sample + "\n track_group VI_1\n}\n"
	cfg, errs := config.Parse("keepalived.conf", []byte(kconf), config.Options{})
	if code := config.ExitCode(cfg, errs, nil); code == config.ExitCannot {
		t.Fatalf("the sample does not load: %v", errs)
	}
	rc := cfg.ConntrackSync.ReplicatorConfig()
	if !rc.Group.IsValid() || rc.PeerAddr.IsValid() || rc.Interface != "sync0" {
		t.Fatalf("replicator config from the sample: %+v", rc)
	}
	rc.Netns = "/run/netns/" + v.Name()

	// Each side's own flows before the start: the initial dumps.
	flows := ct.SampleFlows(4000)
	vFlows, cFlows := flows[:2000], flows[2000:]
	commitInto(t, "/run/netns/"+v.Name(), vFlows)
	commitInto(t, "/run/netns/"+c.Name(), cFlows)

	ctd := c.ConntrackdText(t, func(dir string) string {
		// Test isolation, not the operator's part: this conntrackd's
		// log, lock and socket in its directory, and no real-time
		// scheduler (see ConntrackdConfig.Render).
		r := strings.NewReplacer("LogFile on", "LogFile "+filepath.Join(dir, "conntrackd.log"),
			"LockFile /var/lock/conntrack.lock", "LockFile "+filepath.Join(dir, "lock"),
			"Path /var/run/conntrackd.ctl", "Path "+filepath.Join(dir, "ctl"),
			"General {", "General {\n\tSystemd off\n\tScheduler {\n\t\tType RR\n\t\tPriority 0\n\t}")
		return r.Replace(cconf)
	})
	log := cttest.Logger(t).With("node", v.Name())
	r, err := newReplicator(log, rc)
	if err != nil {
		t.Fatal(err)
	}
	runReplicator(t, r)

	replicated := func(fs []ct.Flow) []ct.Flow {
		var out []ct.Flow
		for _, f := range fs {
			if p := f.Orig.Proto; p == 6 || p == 132 || p == 33 {
				out = append(out, f)
			}
		}
		return out
	}
	// More of each side's flows after the start: events.
	more := ct.SampleFlows(6000)[4000:]
	commitInto(t, "/run/netns/"+v.Name(), more[:1000])
	commitInto(t, "/run/netns/"+c.Name(), more[1000:])
	vWant := replicated(append(append([]ct.Flow(nil), vFlows...), more[:1000]...))
	cWant := replicated(append(append([]ct.Flow(nil), cFlows...), more[1000:]...))

	// vigil → conntrackd.
	want := flowKeys(vWant, false)
	var got []string
	testnet.Eventually(t, 30*time.Second, func() bool {
		out, err := ctd.Client(t.Context(), "-e")
		if err != nil {
			return false
		}
		got = ctdKeys(string(out))
		return len(got) >= len(want)
	}, "conntrackd's external cache has %v of %d entries (vigil: %v)\n%v",
		cttest.Lazy(func() string { return fmt.Sprint(len(got)) }), len(want),
		cttest.Lazy(func() string { return fmt.Sprintf("%+v", r.Stats()) }), cttest.Lazy(ctd.Log))
	if missing, extra := diffKeys(got, want); len(missing)+len(extra) > 0 {
		t.Fatalf("conntrackd's external cache differs from vigil's table: %d missing (%q), %d extra (%q)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}

	// conntrackd → vigil.
	testnet.Eventually(t, 30*time.Second, func() bool { return r.Stats().External >= len(cWant) },
		"vigil's external cache has %v of %d entries (%v)", cttest.Lazy(func() string { return fmt.Sprint(r.Stats().External) }), len(cWant),
		cttest.Lazy(func() string { return fmt.Sprintf("%+v", r.Stats()) }))
	_, ext := r.Dump()
	var gotFlows []ct.Flow
	for _, e := range ext {
		gotFlows = append(gotFlows, e.Flow)
	}
	if missing, extra := diffKeys(flowKeys(gotFlows, true), flowKeys(cWant, true)); len(missing)+len(extra) > 0 {
		t.Fatalf("vigil's external cache differs from conntrackd's table: %d missing (%q), %d extra (%q)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}
	st := r.Stats()
	if len(st.Paths) != 1 || st.Paths[0].Group != "233.252.0.50" || st.Paths[0].Peer != "198.51.100.2" || st.Paths[0].In == 0 {
		t.Errorf("path: %+v (the peer is pinned to conntrackd's address)", st.Paths)
	}

	// A third source on the group, once conntrackd is pinned as the
	// peer: dropped and counted, not taken.
	b.AddAddr(t, "198.51.100.3/24")
	err = c.Do(func() error {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 51, 100, 3)})
		if err != nil {
			return err
		}
		defer u.Close()
		ifi, err := net.InterfaceByName("sync0")
		if err != nil {
			return err
		}
		if err := ipv4.NewPacketConn(u).SetMulticastInterface(ifi); err != nil {
			return err
		}
		for range 20 {
			if _, err := u.WriteToUDP([]byte{0x1a, 0x10, 0, 8, 1, 2, 3, 4}, &net.UDPAddr{IP: net.IPv4(233, 252, 0, 50), Port: ct.DefaultPort}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return r.Stats().Drops["foreign_source"] >= 20 },
		"a third source on the group is not counted: %v", cttest.Lazy(func() string { return fmt.Sprintf("%+v", r.Stats().Drops) }))
	t.Logf("vigil stats: %+v", st)
}
