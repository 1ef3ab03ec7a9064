package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// Unit tests of the conntrack_sync binding with a recording replicator.
// The namespace tests in cmd/vigild (firewall_test.go) prove the same on
// real kernels: a TCP stream surviving a firewall failover.

// ctEvents is the ordered record shared by the fakes, with the (bubble's)
// time of each entry.
type ctEvents struct {
	mu  sync.Mutex
	log []string
	at  []time.Time
}

func (e *ctEvents) add(format string, args ...any) { e.addAt(time.Now(), format, args...) }

// addAt is add for an event that happened at t.
func (e *ctEvents) addAt(t time.Time, format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
	e.at = append(e.at, t)
}

// first returns the position and time of the first entry that starts with
// prefix; -1 when there is none.
func (e *ctEvents) first(prefix string) (int, time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, l := range e.log {
		if strings.HasPrefix(l, prefix) {
			return i, e.at[i]
		}
	}
	return -1, time.Time{}
}

func (e *ctEvents) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// fakeRep records the daemon's calls. A commit takes commitTook (fake time
// inside a synctest bubble) and fails with commitErr.
type fakeRep struct {
	ev         *ctEvents
	external   int
	commitTook time.Duration
	commitErr  error
	runErr     error
}

func (f *fakeRep) Run(ctx context.Context) error {
	f.ev.add("run")
	if f.runErr != nil {
		return f.runErr
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *fakeRep) Commit(ctx context.Context) (conntracksync.CommitStats, error) {
	f.ev.add("commit")
	select {
	case <-time.After(f.commitTook):
	case <-ctx.Done():
		return conntracksync.CommitStats{}, ctx.Err()
	}
	f.ev.add("commit done")
	return conntracksync.CommitStats{Entries: f.external, Created: f.external, Duration: f.commitTook}, f.commitErr
}

func (f *fakeRep) FlushExternal() int { f.ev.add("flush"); return f.external }

func (f *fakeRep) DumpExpect() (internal, external []conntracksync.ExpectEntry) { return nil, nil }

func (f *fakeRep) Dump() (internal, external []conntracksync.Entry) {
	f.ev.add("dump")
	return nil, nil
}

// Purge does nothing, as the Replicator without PurgeTimeout.
func (f *fakeRep) Purge(context.Context, func() bool) (conntracksync.PurgeStats, error) {
	return conntracksync.PurgeStats{}, nil
}
func (f *fakeRep) RequestResync() { f.ev.add("resync") }
func (f *fakeRep) SendBulk()      { f.ev.add("bulk") }
func (f *fakeRep) Stats() conntracksync.Stats {
	return conntracksync.Stats{External: f.external}
}

// recVIPs records address changes into the same log.
type recVIPs struct{ ev *ctEvents }

func (r recVIPs) AddAddresses(_ context.Context, a []vip.Address) error {
	r.ev.add("vips %s", a[0].Dev)
	return nil
}
func (recVIPs) RemoveAddresses(context.Context, []vip.Address) error { return nil }
func (recVIPs) Present(context.Context, []vip.Address) ([]vip.Address, error) {
	return nil, nil
}
func (recVIPs) AddRoutes(context.Context, []vip.Route) error    { return nil }
func (recVIPs) RemoveRoutes(context.Context, []vip.Route) error { return nil }
func (recVIPs) PresentRoutes(context.Context, []vip.Route) ([]vip.Route, error) {
	return nil, nil
}
func (recVIPs) AddRules(context.Context, []vip.Rule) error    { return nil }
func (recVIPs) RemoveRules(context.Context, []vip.Rule) error { return nil }
func (recVIPs) PresentRules(context.Context, []vip.Rule) ([]vip.Rule, error) {
	return nil, nil
}

var _ vip.Reconciler = recVIPs{}

// ctTestConf is a firewall pair's configuration: inside and outside in
// sync group FW, a third instance outside it, and conntrack_sync.
func ctTestConf(trackGroup, ctExtra string) string {
	inst := func(name, iface string, vrid int, addr string) string {
		return fmt.Sprintf(`vrrp_instance %s {
    state BACKUP
    interface %s
    virtual_router_id %d
    priority 100
    advert_int 1
    virtual_ipaddress {
        %s
    }
}
`, name, iface, vrid, addr)
	}
	return `vrrp_sync_group FW {
    group {
        VI_IN
        VI_OUT
    }
}
` + inst("VI_IN", "eth0", 51, "192.0.2.254/24") + inst("VI_OUT", "eth1", 52, "203.0.113.254/24") +
		inst("VI_MGMT", "eth2", 53, "198.51.100.254/24") + `
conntrack_sync {
    interface eth3
    local_address 198.51.100.1
    peer_address 198.51.100.2
    port 3780
    track_group ` + trackGroup + `
` + ctExtra + `
}
`
}

// ctRig is a daemon reduced to what exec's AddVIPs path touches.
type ctRig struct {
	d    *Daemon
	c    *ctSync
	rep  *fakeRep
	ev   *ctEvents
	inst map[string]*instance
}

func newCTRig(t *testing.T, cfg *config.Config) *ctRig {
	t.Helper()
	ev := &ctEvents{}
	rep := &fakeRep{ev: ev, external: 7}
	log := slog.New(slog.DiscardHandler)
	c, err := newCTSyncWith(log, cfg, rep, "")
	if err != nil {
		t.Fatal(err)
	}
	r := &ctRig{c: c, rep: rep, ev: ev, inst: map[string]*instance{},
		d: &Daemon{log: log, cfg: cfg, ct: c, host: Host{VIPs: recVIPs{ev}}}}
	for _, ic := range cfg.Instances {
		inst := &instance{cfg: ic, log: log}
		inst.buildAddrs()
		r.inst[ic.Name] = inst
	}
	return r
}

// addVIPs runs the machine's AddVIPs action for the named instance
// through the daemon's exec, as on a takeover.
func (r *ctRig) addVIPs(name string) {
	r.d.exec(r.inst[name], []vrrp.Action{vrrp.AddVIPs{Reason: vrrp.ReasonMasterDown}}, time.Now())
}

func (r *ctRig) leave(name string, to vrrp.State) {
	r.c.transition(r.inst[name], vrrp.Transition{From: vrrp.StateMaster, To: to}, time.Now())
}

// TestCTTakeoverOrder: on a takeover of sync group FW the external cache
// is committed before the first member's VIPs, then flushed, once for the
// whole group; an instance outside the group commits nothing. Leaving
// MASTER asks the peer for a resync once per group change; the next
// takeover commits again.
func TestCTTakeoverOrder(t *testing.T) {
	r := newCTRig(t, loadConf(t, ctTestConf("FW", "")))
	r.addVIPs("VI_OUT")
	r.addVIPs("VI_IN")
	r.addVIPs("VI_MGMT")
	want := []string{"commit", "commit done", "flush", "bulk", "vips eth1", "vips eth0", "vips eth2"}
	if got := r.ev.get(); !slices.Equal(got, want) {
		t.Fatalf("takeover: %q, want %q", got, want)
	}
	select {
	case <-r.d.TakeoverDone():
	default:
		t.Error("TakeoverDone did not receive after the takeover")
	}
	st := r.c.status()
	if !st.Master || st.Takeovers != 1 || st.LastTakeover.Entries != 7 || st.LastTakeover.Flushed != 7 ||
		st.LastTakeover.Instance != "VI_OUT" || st.LateCommits != 0 || st.TrackGroup != "FW" {
		t.Errorf("status after the takeover: %+v", st)
	}

	r.ev.log = nil
	r.c.transition(r.inst["VI_MGMT"], vrrp.Transition{From: vrrp.StateMaster, To: vrrp.StateBackup}, time.Now())
	r.leave("VI_IN", vrrp.StateBackup)
	r.leave("VI_OUT", vrrp.StateBackup) // pulled by the group
	if got := r.ev.get(); !slices.Equal(got, []string{"resync"}) {
		t.Fatalf("leaving MASTER: %q, want one resync", got)
	}
	select {
	case <-r.d.TakeoverDone():
		t.Error("TakeoverDone received again without a takeover")
	default:
	}
	if st := r.c.status(); st.Master || st.ResyncRequests != 1 {
		t.Errorf("status after leaving: %+v", st)
	}

	r.ev.log = nil
	r.addVIPs("VI_IN")
	r.addVIPs("VI_OUT")
	if got := r.ev.get(); !slices.Equal(got, []string{"commit", "commit done", "flush", "bulk", "vips eth0", "vips eth1"}) {
		t.Fatalf("second takeover: %q", got)
	}
	// Shutdown (MASTER → INIT) asks the peer for nothing.
	r.ev.log = nil
	r.leave("VI_IN", vrrp.StateInit)
	if got := r.ev.get(); len(got) != 0 {
		t.Errorf("shutdown: %q, want nothing", got)
	}
	if st := r.c.status(); st.Master || st.Takeovers != 2 {
		t.Errorf("status after shutdown: %+v", st)
	}
}

// TestCTTrackInstance: track_group naming a vrrp_instance binds to that
// instance only; FAULT counts as leaving MASTER.
func TestCTTrackInstance(t *testing.T) {
	r := newCTRig(t, loadConf(t, ctTestConf("VI_MGMT", "")))
	r.addVIPs("VI_IN")
	r.addVIPs("VI_MGMT")
	if got, want := r.ev.get(), []string{"vips eth0", "commit", "commit done", "flush", "bulk", "vips eth2"}; !slices.Equal(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
	r.ev.log = nil
	r.leave("VI_IN", vrrp.StateFault)
	r.leave("VI_MGMT", vrrp.StateFault)
	if got := r.ev.get(); !slices.Equal(got, []string{"resync"}) {
		t.Fatalf("MASTER → FAULT: %q, want one resync", got)
	}
}

// TestCTCommitBound: a commit longer than the in-loop bound (two advert
// intervals, 2 s here) lets the VIPs go up at the bound and finishes in
// the background, then flushes; a late commit of a takeover that has been
// left since does not flush (the peer's newer entries belong to the next
// one).
func TestCTCommitBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newCTRig(t, loadConf(t, ctTestConf("FW", "")))
		if r.c.fo.Bound() != 2*time.Second {
			t.Fatalf("commit bound %s, want 2s (two advert intervals)", r.c.fo.Bound())
		}
		r.rep.commitTook = 5 * time.Second
		start := time.Now()
		r.addVIPs("VI_IN")
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("the VIPs waited %s for the commit, want exactly the 2s bound", waited)
		}
		if got, want := r.ev.get(), []string{"commit", "vips eth0"}; !slices.Equal(got, want) {
			t.Fatalf("at the bound: %q, want %q", got, want)
		}
		if st := r.c.status(); st.LateCommits != 1 || st.LastTakeover.InLoop != 2*time.Second {
			t.Errorf("status at the bound: %+v", st)
		}
		time.Sleep(3*time.Second - time.Nanosecond)
		synctest.Wait()
		if got := r.ev.get(); slices.Contains(got, "flush") {
			t.Fatalf("flushed 1 ns before the commit ended: %q", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got, want := r.ev.get(), []string{"commit", "vips eth0", "commit done", "flush", "bulk"}; !slices.Equal(got, want) {
			t.Fatalf("after the late commit: %q, want %q", got, want)
		}
		if st := r.c.status(); st.LastTakeover.Duration != 5*time.Second || st.LastTakeover.Flushed != 7 {
			t.Errorf("status after the late commit: %+v", st.LastTakeover)
		}

		// Left before the late commit ends: no flush.
		r.leave("VI_IN", vrrp.StateBackup)
		r.ev.log = nil
		r.addVIPs("VI_IN")
		r.leave("VI_IN", vrrp.StateBackup)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got, want := r.ev.get(), []string{"commit", "vips eth0", "resync", "commit done"}; !slices.Equal(got, want) {
			t.Fatalf("stale late commit: %q, want %q", got, want)
		}
		r.c.fo.Close()
	})
}

// TestCTCommitError: a failed commit keeps the external cache (no flush)
// and shows the error; the VIPs still go up.
func TestCTCommitError(t *testing.T) {
	r := newCTRig(t, loadConf(t, ctTestConf("FW", "")))
	r.rep.commitErr = errors.New("netlink: boom")
	r.addVIPs("VI_IN")
	if got, want := r.ev.get(), []string{"commit", "commit done", "vips eth0"}; !slices.Equal(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
	if st := r.c.status(); !strings.Contains(st.LastTakeover.Error, "boom") || st.LastTakeover.Flushed != 0 {
		t.Errorf("status: %+v", st.LastTakeover)
	}
}

// TestCTRunRetries: a replicator that cannot start is started again with
// a growing pause and its error shown, until the daemon stops it.
func TestCTRunRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newCTRig(t, loadConf(t, ctTestConf("FW", "")))
		r.rep.runErr = errors.New("bind: cannot assign requested address")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.c.run(ctx); close(done) }()
		// Attempts at 0, 0.25, 0.75, 1.75, 3.75, 7.75 (pauses doubling to 5 s), 12.75 s.
		time.Sleep(13 * time.Second)
		synctest.Wait()
		if got := len(r.ev.get()); got != 7 {
			t.Errorf("%d attempts in 13 s, want 7: %q", got, r.ev.get())
		}
		if st := r.c.status(); !strings.Contains(st.RunError, "cannot assign") {
			t.Errorf("status run error %q", st.RunError)
		}
		cancel()
		<-done
	})
}

// TestCTConfig maps conntrack_sync, alone and over a conntrackd.conf.
func TestCTConfig(t *testing.T) {
	ip := netip.MustParseAddr
	pfx := netip.MustParsePrefix
	t.Run("block", func(t *testing.T) {
		cfg := loadConf(t, ctTestConf("FW", `    ack_window 50
    resend_queue 1000
    commit_timeout 120
    auth_key_file /etc/vigil/sync.key
    filter {
        protocol TCP udp 132
        ignore_address 192.0.2.1 192.0.2.2 10.0.0.0/8
        tcp_state ESTABLISHED syn_recv CLOSED
    }`))
		rc := ctConfig(cfg.ConntrackSync)
		want := conntracksync.Config{
			Interface: "eth3", LocalAddr: ip("198.51.100.1"), PeerAddr: ip("198.51.100.2"), Port: 3780,
			AckWindow: 50, ResendQueue: 1000, CommitTimeout: 120 * time.Second, AuthKeyFile: "/etc/vigil/sync.key",
			Filter: conntracksync.Filter{
				ProtocolPolicy: conntracksync.Accept, Protocols: []uint8{6, 17, 132},
				AddressPolicy: conntracksync.Ignore,
				Addresses:     []netip.Prefix{pfx("192.0.2.1/32"), pfx("192.0.2.2/32"), pfx("10.0.0.0/8"), pfx("198.51.100.1/32"), pfx("198.51.100.2/32")},
				StatePolicy:   conntracksync.Accept, TCPStates: []uint8{conntracksync.TCPEstablished, conntracksync.TCPSynRecv, conntracksync.TCPClose},
			},
		}
		if fmt.Sprintf("%+v", rc) != fmt.Sprintf("%+v", want) {
			t.Errorf("got  %+v\nwant %+v", rc, want)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		rc := ctConfig(loadConf(t, ctTestConf("FW", "")).ConntrackSync)
		if rc.Port != 3780 || rc.AckWindow != 300 || rc.ResendQueue != 131072 || rc.CommitTimeout != 0 ||
			len(rc.Filter.Protocols) != 0 || len(rc.Filter.TCPStates) != 0 ||
			!slices.Equal(rc.Filter.Addresses, []netip.Prefix{pfx("198.51.100.1/32"), pfx("198.51.100.2/32")}) {
			t.Errorf("defaults: %+v", rc)
		}
	})
	t.Run("conntrackd_config", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "conntrackd.conf")
		conf := `Sync {
	Mode FTFW {
		ResendQueueSize 5000
		ACKWindowSize 20
		CommitTimeout 30
	}
	UDP {
		IPv4_address 192.0.2.10
		IPv4_Destination_Address 192.0.2.11
		Port 3781
		Interface eth9
		Checksum on
	}
}
General {
	Filter From Userspace {
		Protocol Accept {
			TCP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
		}
	}
}
`
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		// The block's keywords win where given, even at their default
		// value (port 3780); the file gives the rest.
		text := `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.254/24
    }
}
conntrack_sync {
    conntrackd_config ` + path + `
    interface eth3
    port 3780
    track_group VI_1
}
`
		rc := ctConfig(loadConf(t, text).ConntrackSync)
		if rc.Interface != "eth3" || rc.Port != 3780 || rc.LocalAddr != ip("192.0.2.10") || rc.PeerAddr != ip("192.0.2.11") ||
			rc.AckWindow != 20 || rc.ResendQueue != 5000 || rc.CommitTimeout != 30*time.Second ||
			!slices.Equal(rc.Filter.Protocols, []uint8{6}) ||
			!slices.Equal(rc.Filter.Addresses, []netip.Prefix{pfx("127.0.0.1/32"), pfx("192.0.2.10/32"), pfx("192.0.2.11/32")}) {
			t.Errorf("merged: %+v", rc)
		}
	})
	// config's name tables give the numbers the kernel (and so the
	// replicator's filter) uses.
	t.Run("names", func(t *testing.T) {
		rc := ctConfig(loadConf(t, ctTestConf("FW", `    filter {
        protocol TCP UDP ICMP ICMPv6 IPv6-ICMP SCTP DCCP UDPlite
        tcp_state SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE CLOSED LISTEN SYN_SENT2
    }`)).ConntrackSync)
		c := uint8(conntracksync.ProtoICMPv6)
		if want := []uint8{conntracksync.ProtoTCP, conntracksync.ProtoUDP, conntracksync.ProtoICMP, c, c,
			conntracksync.ProtoSCTP, conntracksync.ProtoDCCP, conntracksync.ProtoUDPLite}; !slices.Equal(rc.Filter.Protocols, want) {
			t.Errorf("protocols %v, want %v", rc.Filter.Protocols, want)
		}
		if want := []uint8{conntracksync.TCPSynSent, conntracksync.TCPSynRecv, conntracksync.TCPEstablished,
			conntracksync.TCPFinWait, conntracksync.TCPCloseWait, conntracksync.TCPLastAck, conntracksync.TCPTimeWait,
			conntracksync.TCPClose, conntracksync.TCPClose, conntracksync.TCPSynSent2, conntracksync.TCPSynSent2}; !slices.Equal(rc.Filter.TCPStates, want) {
			t.Errorf("states %v, want %v", rc.Filter.TCPStates, want)
		}
	})
}

// TestCTTrackGroup: track_group binds to a sync group or an instance
// (config.Load refuses any other name; a model built by hand without
// instances is an error, not a panic).
func TestCTTrackGroup(t *testing.T) {
	cfg := loadConf(t, ctTestConf("FW", ""))
	for _, tc := range []struct {
		group, err string
	}{
		{"FW", ""}, {"VI_MGMT", ""}, {"", "has no instances"}, {"NOPE", "has no instances"},
	} {
		cfg.ConntrackSync.TrackGroup = tc.group
		c, err := newCTSyncWith(slog.New(slog.DiscardHandler), cfg, &fakeRep{ev: &ctEvents{}}, "")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.group, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err %v, want %q", tc.group, err, tc.err)
		case err == nil && c.isGroup != (tc.group == "FW"):
			t.Errorf("%q: isGroup %v", tc.group, c.isGroup)
		}
	}
}

// TestCTSampleConf: etc/firewall-pair.conf loads for both firewalls, binds
// to sync group FW, and the two nodes point at each other.
func TestCTSampleConf(t *testing.T) {
	var locals []netip.Addr
	for _, id := range []string{"fw1", "fw2"} {
		cfg, complaints, err := config.Load("../../etc/firewall-pair.conf", config.Options{ConfigID: id})
		if err != nil || config.ExitCode(cfg, complaints, err) >= 4 {
			t.Fatalf("%s: %v %v", id, err, complaints)
		}
		for _, c := range complaints {
			t.Logf("%s: %v", id, c)
		}
		c, err := newCTSyncWith(slog.New(slog.DiscardHandler), cfg, &fakeRep{ev: &ctEvents{}}, "")
		if err != nil || !c.isGroup || c.group != "FW" {
			t.Fatalf("%s: %v %+v", id, err, c)
		}
		rc := ctConfig(cfg.ConntrackSync)
		if rc.Interface != "eth2" || rc.Port != 3780 || len(rc.Filter.Protocols) != 5 || rc.Filter.AddressPolicy != conntracksync.Ignore {
			t.Errorf("%s: %+v", id, rc)
		}
		locals = append(locals, rc.LocalAddr, rc.PeerAddr)
	}
	if locals[0] != locals[3] || locals[1] != locals[2] || locals[0] == locals[1] {
		t.Errorf("local/peer addresses of fw1, fw2: %v", locals)
	}
}

// TestCTBackFromFault: the group coming back from FAULT to BACKUP asks the
// peer for its table again (once per group change): the request made on
// faulting reached the peer before it took over.
func TestCTBackFromFault(t *testing.T) {
	r := newCTRig(t, loadConf(t, ctTestConf("FW", "")))
	r.addVIPs("VI_IN")
	r.addVIPs("VI_OUT")
	r.ev.log = nil
	r.leave("VI_OUT", vrrp.StateFault)
	r.leave("VI_IN", vrrp.StateFault)
	back := func(name string) {
		r.c.transition(r.inst[name], vrrp.Transition{From: vrrp.StateFault, To: vrrp.StateBackup}, time.Now())
	}
	back("VI_OUT")
	back("VI_IN")
	back("VI_MGMT") // not tracked
	if got := r.ev.get(); !slices.Equal(got, []string{"resync", "resync"}) {
		t.Fatalf("fault and back: %q, want two resyncs", got)
	}
	// BACKUP → FAULT → BACKUP without having been master: asks once, on return.
	r.ev.log = nil
	r.c.transition(r.inst["VI_IN"], vrrp.Transition{From: vrrp.StateBackup, To: vrrp.StateFault}, time.Now())
	back("VI_IN")
	if got := r.ev.get(); !slices.Equal(got, []string{"resync"}) {
		t.Fatalf("backup fault and back: %q, want one resync", got)
	}
	if st := r.c.status(); st.ResyncRequests != 3 {
		t.Errorf("resync requests %d, want 3", st.ResyncRequests)
	}
}

// TestCTReload: a reload whose conntrack_sync would stop vigild at start
// (an unknown filter name, a missing conntrackd_config) is refused with the
// position, as any Fatal complaint; one that only moves the block's lines
// is not a change of the replication, one that changes its filter is.
func TestCTReload(t *testing.T) {
	for _, extra := range []string{
		"    filter {\n        protocol TCP FOO\n    }",
		"    filter {\n        tcp_state OPENISH\n    }",
		"    conntrackd_config /nonexistent/conntrackd.conf",
	} {
		cfg, complaints := config.Parse("keepalived.conf", []byte(ctTestConf("FW", extra)), config.Options{ConfigID: "test"})
		err := checkReload(3, cfg, complaints, nil, false)
		if !errors.Is(err, ErrReloadRefused) || !strings.Contains(err.Error(), "keepalived.conf:") {
			t.Errorf("%q: reload %v, want refused at its position", extra, err)
		}
	}
	a := loadConf(t, ctTestConf("FW", "    filter {\n        protocol TCP\n    }"))
	b := loadConf(t, "\n\n"+ctTestConf("FW", "    filter {\n        protocol  tcp\n    }"))
	c := loadConf(t, ctTestConf("FW", "    filter {\n        protocol UDP\n    }"))
	if !sameConntrackSync(a.ConntrackSync, b.ConntrackSync) {
		t.Error("moved lines count as a change of conntrack_sync")
	}
	if sameConntrackSync(a.ConntrackSync, c.ConntrackSync) || sameConntrackSync(a.ConntrackSync, nil) {
		t.Error("a changed filter or a removed block does not count as a change")
	}
	w1 := loadConf(t, ctTestConf("FW", "    auth_key_file /k\n    witness VI_IN 192.0.2.9"))
	w2 := loadConf(t, ctTestConf("FW", "    auth_key_file /k\n    witness VI_IN 192.0.2.8"))
	k := loadConf(t, ctTestConf("FW", "    auth_key_file /k"))
	h := loadConf(t, ctTestConf("FW", "    auth_key_file /k\n    heartbeat_port 4000"))
	if sameConntrackSync(w1.ConntrackSync, w2.ConntrackSync) || sameConntrackSync(k.ConntrackSync, h.ConntrackSync) {
		t.Error("a changed witness or heartbeat_port does not count as a change")
	}
}

// TestControlConntrack: vigilctl ct reaches the replicator (commit, flush,
// resync, bulk, the dumps) and says what it did; ct stats is the
// replication's status; without conntrack_sync every ct command is refused
// and nothing runs.
func TestControlConntrack(t *testing.T) {
	r := newCTRig(t, loadConf(t, ctTestConf("FW", "")))
	r.d.stop = make(chan struct{})
	close(r.d.stop) // no loop: Status returns the last snapshot
	h := controlHandler{r.d}
	for _, tc := range []struct {
		cmd  ctl.Command
		done string
		ev   string
	}{
		{ctl.CmdCTCommit, "committed 7 connections of the external cache in 0s: 7 created, 0 updated, 0 replaced, 0 failed", "commit done"},
		{ctl.CmdCTFlush, "flushed 7 connections from the external cache", "flush"},
		{ctl.CmdCTResync, "asked the peer for its whole connection table", "resync"},
		{ctl.CmdCTBulk, "sending the internal cache (0 connections) to the peer", "bulk"},
	} {
		doc, done, err := h.Conntrack(t.Context(), ctl.Request{Cmd: tc.cmd})
		if err != nil || doc != nil || !slices.Equal(done, []string{tc.done}) {
			t.Errorf("%s: %v %q %v", tc.cmd, doc, done, err)
		}
		if ev := r.ev.get(); len(ev) == 0 || ev[len(ev)-1] != tc.ev {
			t.Errorf("%s: replicator calls %q, want %s last", tc.cmd, ev, tc.ev)
		}
	}
	for _, cmd := range []ctl.Command{ctl.CmdCTDumpInternal, ctl.CmdCTDumpExternal} {
		doc, _, err := h.Conntrack(t.Context(), ctl.Request{Cmd: cmd})
		d, ok := doc.(ctl.CTDump)
		if err != nil || !ok || "ct dump "+d.Cache != string(cmd) || d.Entries == nil {
			t.Errorf("%s: %#v %v", cmd, doc, err)
		}
	}
	doc, _, err := h.Conntrack(t.Context(), ctl.Request{Cmd: ctl.CmdCTStats})
	if st, ok := doc.(*ctl.CTStatus); err != nil || !ok || st.TrackGroup != "FW" || st.External != 7 {
		t.Errorf("ct stats: %#v %v", doc, err)
	}

	r.d.ct = nil
	calls := len(r.ev.get())
	for _, cmd := range []ctl.Command{ctl.CmdCTDumpExternal, ctl.CmdCTStats, ctl.CmdCTCommit, ctl.CmdCTFlush, ctl.CmdCTResync, ctl.CmdCTBulk} {
		doc, done, err := h.Conntrack(t.Context(), ctl.Request{Cmd: cmd})
		if !errors.Is(err, errNoConntrackSync) || doc != nil || done != nil {
			t.Errorf("%s without conntrack_sync: %v %q %v", cmd, doc, done, err)
		}
	}
	if n := len(r.ev.get()); n != calls {
		t.Errorf("without conntrack_sync the replicator was called: %q", r.ev.get()[calls:])
	}
}
