package daemon

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/notify/mail"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// mailBox is the mail twin: it keeps what the daemon delivers, or fails.
type mailBox struct {
	mu   sync.Mutex
	got  []mail.Message
	fail error
}

func (b *mailBox) Deliver(ctx context.Context, m mail.Message, date time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.got = append(b.got, m)
	return nil
}

func (b *mailBox) subjects() []string {
	return b.each(func(m mail.Message) string { return m.Subject })
}

func (b *mailBox) bodies() []string { return b.each(func(m mail.Message) string { return m.Body }) }

// each is f of every message delivered so far.
func (b *mailBox) each(f func(mail.Message) string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s []string
	for _, m := range b.got {
		s = append(s, f(m))
	}
	return s
}

const mailGlobal = `
global_defs {
    router_id %ID%
    notification_email {
        ops@example.org
        noc@example.org
    }
    notification_email_from vigil@example.org
    smtp_server 192.0.2.25 2525
    smtp_alert
}
`

func mailNode(t *testing.T, wire *vrrptest.Wire, id, addr4, addr6, prio string, box *mailBox, extra string) *node {
	t.Helper()
	text := strings.ReplaceAll(mailGlobal, "%ID%", id) + strings.ReplaceAll(extra, "%PRIO%", prio)
	return startNodeWith(t, wire, addr4, addr6, text, Options{Host: Host{Mail: box, LocalName: func() string { return "lb1.example.org" }}})
}

func eqList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestLoopMailAlerts: each transition of an instance with smtp_alert is
// mailed once, in keepalived's words, to every notification_email from
// notification_email_from; vigild's own stop is not mailed (keepalived
// 2.2.7 exits before its "Stopping" mails leave).
func TestLoopMailAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		boxA, boxB := &mailBox{}, &mailBox{}
		a := mailNode(t, wire, "r1", "192.0.2.1", "fe80::1", "150", boxA, pairConf)
		b := mailNode(t, wire, "r2", "192.0.2.2", "fe80::2", "100", boxB, pairConf)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		eqList(t, "r1", boxA.subjects(), []string{"[r1] VRRP Instance VI_1 - Entering BACKUP state", "[r1] VRRP Instance VI_1 - Entering MASTER state"})
		eqList(t, "r2", boxB.subjects(), []string{"[r2] VRRP Instance VI_1 - Entering BACKUP state"})
		m := boxA.got[1]
		if m.From != "vigil@example.org" || strings.Join(m.To, " ") != "ops@example.org noc@example.org" || m.Body != "=> VRRP Instance is now owning VRRP VIPs <=" {
			t.Errorf("message %+v", m)
		}
		a.stop()
		eqList(t, "r1 after stop", boxA.subjects(), []string{"[r1] VRRP Instance VI_1 - Entering BACKUP state", "[r1] VRRP Instance VI_1 - Entering MASTER state"})
		if st := a.d.Status().Mail; st.Sent != 2 || st.Failed != 0 || st.Dropped != 0 {
			t.Errorf("r1 mail stats %+v", st)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		eqList(t, "r2 took over", boxB.subjects(), []string{"[r2] VRRP Instance VI_1 - Entering BACKUP state", "[r2] VRRP Instance VI_1 - Entering MASTER state"})
		_ = b
	})
}

// TestLoopMailGroup: a sync group with smtp_alert mails its own
// transitions, in the order its notify scripts run; an instance that says
// smtp_alert off sends nothing.
func TestLoopMailGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		conf := strings.Replace(groupConf, "    interface eth1\n", "    interface eth1\n    smtp_alert off\n", 1)
		box := &mailBox{}
		mailNode(t, wire, "r1", "192.0.2.1", "fe80::1", "150", box, conf)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		eqList(t, "mails", box.subjects(), []string{
			"[r1] VRRP Group G1 - Entering BACKUP state", "[r1] VRRP Instance IN - Entering BACKUP state",
			"[r1] VRRP Instance IN - Entering MASTER state", "[r1] VRRP Group G1 - Entering MASTER state"})
	})
}

// TestLoopMailFailureCounted: a mail server that refuses everything costs
// the loop nothing: the transitions happen on time, the failures are
// counted.
func TestLoopMailFailureCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		box := &mailBox{fail: errors.New("mail: 554 no")}
		start := time.Now()
		a := mailNode(t, wire, "r1", "192.0.2.1", "fe80::1", "150", box, pairConf)
		down := 3*time.Second + time.Duration(256-150)*time.Second/256
		sleepUntil(start, down+time.Millisecond)
		if a.state("VI_1") != "MASTER" {
			t.Fatalf("state %s", a.state("VI_1"))
		}
		if st := a.d.Status().Mail; st.Failed != 2 || st.Sent != 0 {
			t.Errorf("mail stats %+v", st)
		}
	})
}

// TestLoopMailReload: a reload takes the new router_id at once; an
// instance the reload removes is mailed as keepalived tells its scripts
// (FAULT, without notify_deleted), a new one from its first state, in the
// order the notify scripts see them; a
// reload without smtp_server stops the mail, and the counters stay.
func TestLoopMailReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		box := &mailBox{}
		src := &reloadable{files: map[string]string{}}
		vi2 := strings.ReplaceAll(strings.ReplaceAll(pairConf, "VI_1", "VI_2"), "virtual_router_id 51", "virtual_router_id 52")
		text := func(id, inst string) string { return strings.ReplaceAll(mailGlobal, "%ID%", id) + prio(inst, "150") }
		src.set(confPath, text("r1", pairConf))
		a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", text("r1", pairConf), Options{Reload: src.load, Host: Host{Mail: box, LocalName: func() string { return "lb1.example.org" }}})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		src.set(confPath, text("r1b", vi2))
		if err := a.d.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		eqList(t, "mails", box.subjects(), []string{
			"[r1] VRRP Instance VI_1 - Entering BACKUP state", "[r1] VRRP Instance VI_1 - Entering MASTER state",
			"[r1b] VRRP Instance VI_2 - Entering BACKUP state", "[r1b] VRRP Instance VI_1 - Entering FAULT state",
			"[r1b] VRRP Instance VI_2 - Entering MASTER state"})
		src.set(confPath, strings.Replace(text("r1b", pairConf), "    smtp_server 192.0.2.25 2525\n", "", 1))
		if err := a.d.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := len(box.subjects()); n != 5 {
			t.Errorf("mails after smtp_server was removed: %q", box.subjects()[5:])
		}
		if st := a.d.Status().Mail; st.Sent != 5 || st.Pending != 0 {
			t.Errorf("mail stats %+v", st)
		}
	})
}

// TestMailDefaults: keepalived's defaults (global_data.c init_global_data,
// smtp.c helo_cmd): router_id and smtp_helo_name are the local name (the
// node name's canonical name), the sender USER@LOCALNAME; a local name the
// resolver does not know is "[unknown]" for router_id and "localhost" for
// HELO.
func TestMailDefaults(t *testing.T) {
	for _, tc := range []struct {
		name            string
		g               config.Global
		local           string
		rid, from, helo string
	}{
		{"resolved", config.Global{}, "lb1.example.org", "lb1.example.org", "root@lb1.example.org", "lb1.example.org"},
		{"unresolved", config.Global{}, unknownName, "[unknown]", "root@lb1", "localhost"},
		{"not looked up", config.Global{}, "", "[unknown]", "root@lb1", "localhost"},
		{"all set", config.Global{RouterID: "r1", NotificationEmailFrom: "a@example.org", SMTPHeloName: "mx.example.org"}, unknownName,
			"r1", "a@example.org", "mx.example.org"},
	} {
		rid, from, helo := mailDefaults(&tc.g, tc.local, "lb1", "root")
		if rid != tc.rid || from != tc.from || helo != tc.helo {
			t.Errorf("%s: router_id %q from %q helo %q; want %q %q %q", tc.name, rid, from, helo, tc.rid, tc.from, tc.helo)
		}
	}
	if needsLocalName(nil) || needsLocalName(&config.Config{}) {
		t.Error("a configuration without mail asks the resolver")
	}
	if !needsLocalName(&config.Config{Global: config.Global{NotificationEmail: []string{"a@example.org"}, SMTPServer: "192.0.2.25", RouterID: "r1"}}) {
		t.Error("a configuration without smtp_helo_name does not ask the resolver")
	}
}
