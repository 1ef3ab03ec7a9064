package conntracksync_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// Expectation interop with conntrackd 1.4.7 (ExpectationSync on both
// sides): what one side's kernel expects, the other side's external cache
// gets, and its commit writes into its kernel, linked to the master.

const interopExpects = 20

// startExpectSync starts conntrackd and a replicator, both with
// expectation sync for the ftp helper.
func (p *syncPair) startExpectSync(t *testing.T) *ct.Replicator {
	p.startConntrackdWith(t, func(c *testnet.ConntrackdConfig) { c.ExpectationSync = "{\n\t\t\tftp\n\t\t}" })
	return p.startVigilWith(t, func(c *ct.Config) { c.Expectations = ct.ExpectSync{On: true, Helpers: []string{"ftp"}} })
}

// expectInto creates exps in h's kernel (their masters must be there)
// from a kernel side the replicator does not know.
func expectInto(t testing.TB, netns string, exps []ct.Expect) {
	t.Helper()
	k := ctnetlink.New(cttest.Logger(t), ctnetlink.Config{Netns: netns, Workers: 1})
	defer k.Release()
	now := time.Now()
	es := make([]ct.ExpectEntry, len(exps))
	for i := range exps {
		es[i] = ct.ExpectEntry{Expect: exps[i], Updated: now}
	}
	if st, _, err := k.CommitExpect(context.Background(), es, now, 0); err != nil || st.Committed != len(exps) {
		t.Fatalf("create %d expectations: %+v %v", len(exps), st, err)
	}
}

// eventsForAll sets net.netfilter.nf_conntrack_events=1 in h's network
// namespace. With the default, 2, the kernel reports the events of a
// connection, and of the expectations later made for it, only if some
// socket listened for conntrack events when the connection was created;
// these tests create the masters before either daemon starts, and expect
// the expectations made after the start to arrive as events.
func eventsForAll(t testing.TB, h *testnet.Host) {
	t.Helper()
	if out, err := h.Command(t.Context(), "sysctl", "-qw", "net.netfilter.nf_conntrack_events=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl nf_conntrack_events: %v\n%s", err, out)
	}
}

// kernelExpectPorts returns the expected destination ports of the
// expectations in h's kernel (conntrack -L expect).
func kernelExpectPorts(t testing.TB, h *testnet.Host) map[string]bool {
	t.Helper()
	out, err := h.Command(t.Context(), "conntrack", "-L", "expect").Output() // the count line goes to stderr
	if err != nil {
		t.Fatalf("conntrack -L expect: %v\n%s", err, out)
	}
	ports := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, "helper=ftp") {
			continue
		}
		// The first dport= is the expected tuple's.
		if i := strings.Index(line, " dport="); i >= 0 {
			ports[strings.Fields(line[i+7:])[0]] = true
		}
	}
	return ports
}

func wantPorts(exps []ct.Expect) map[string]bool {
	m := map[string]bool{}
	for _, x := range exps {
		m[fmt.Sprint(x.Tuple.DstPort)] = true
	}
	return m
}

// vigil → conntrackd: conntrackd -e expect shows vigil's expectations;
// conntrackd -c (flows) then -c expect writes them into its kernel.
func TestInteropExpectVigilToConntrackd(t *testing.T) {
	testnet.NeedConntrackHelper(t, "ftp")
	p := newSyncPair(t)
	masters, exps := ct.SampleFTP(interopExpects)
	eventsForAll(t, p.vigil)
	commitInto(t, p.netns(p.vigil), masters)
	expectInto(t, p.netns(p.vigil), exps[:interopExpects/2]) // before start: the dump
	r := p.startExpectSync(t)
	testnet.Eventually(t, 20*time.Second, func() bool { return r.Stats().Established }, "sync link established")
	expectInto(t, p.netns(p.vigil), exps[interopExpects/2:]) // after start: events
	testnet.Eventually(t, 30*time.Second, func() bool {
		return strings.Count(p.ctdClient(t, "-e", "expect"), "helper=ftp") >= interopExpects
	}, "conntrackd's external cache has the %d expectations (vigil: %v)", interopExpects,
		cttest.Lazy(func() string { return fmt.Sprintf("%+v", r.Stats().Expect) }))
	p.ctdClient(t, "-c", "ct")
	p.ctdClient(t, "-c", "expect")
	if got, want := kernelExpectPorts(t, p.ctd), wantPorts(exps); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("conntrackd committed expectations for ports %v, want %v\n%s", got, want, p.ctdClient(t, "-e", "expect"))
	}
}

// conntrackd → vigil: vigil's external cache gets conntrackd's
// expectations field for field, and its Commit writes masters and then
// expectations into its kernel.
func TestInteropExpectConntrackdToVigil(t *testing.T) {
	testnet.NeedConntrackHelper(t, "ftp")
	p := newSyncPair(t)
	masters, exps := ct.SampleFTP(interopExpects)
	eventsForAll(t, p.ctd)
	commitInto(t, p.netns(p.ctd), masters)
	expectInto(t, p.netns(p.ctd), exps[:interopExpects/2])
	r := p.startExpectSync(t)
	testnet.Eventually(t, 20*time.Second, func() bool { return r.Stats().Established }, "sync link established")
	expectInto(t, p.netns(p.ctd), exps[interopExpects/2:])
	p.ctdClient(t, "-B") // the dump's expectations (conntrackd sends them in a bulk)
	testnet.Eventually(t, 30*time.Second, func() bool {
		s := r.Stats()
		return s.Expect.External >= interopExpects && s.External >= interopExpects
	}, "vigil's external caches have the masters and expectations (%v)", cttest.Lazy(func() string { return fmt.Sprintf("%+v", r.Stats().Expect) }))
	_, ext := r.DumpExpect()
	byPort := map[uint16]ct.Expect{}
	for _, e := range ext {
		byPort[e.Expect.Tuple.DstPort] = e.Expect
	}
	for _, want := range exps {
		got, ok := byPort[want.Tuple.DstPort]
		if !ok {
			t.Fatalf("expectation for port %d missing", want.Tuple.DstPort)
		}
		// The kernel gives the helper's own timeout and a class; the rest
		// must be as created.
		got.TimeoutSecs, got.HasClass, got.Class = want.TimeoutSecs, want.HasClass, want.Class
		if got != want {
			t.Fatalf("received\n%+v\nwant\n%+v", got, want)
		}
	}
	st, err := r.Commit(context.Background())
	if err != nil || st.Failed != 0 {
		t.Fatalf("commit: %+v %v", st, err)
	}
	if xc := r.Stats().Expect.LastCommit; xc.Committed != interopExpects {
		t.Fatalf("expectation commit %+v", xc)
	}
	if got, want := kernelExpectPorts(t, p.vigil), wantPorts(exps); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("vigil committed expectations for ports %v, want %v", got, want)
	}
}
