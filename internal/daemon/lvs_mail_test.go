package daemon

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// The checkers' mail alerts on the twins: IPVS on ipvstest, the probes
// answered by the test, the mail server a mailBox.

const lvsMailGlobal = `
global_defs {
    router_id lvs1
    notification_email {
        ops@example.org
    }
    notification_email_from lvs@example.org
    smtp_server 192.0.2.25 2525
    %MAIL%
}
`

// startMailLVSNode is a director with lvsServer (vs and rs1 lines added)
// and the global mail lines given, mailing to box.
func startMailLVSNode(t *testing.T, global, vs, rs1 string, box *mailBox) *lvsNode {
	t.Helper()
	wire := vrrptest.NewWire(vrrptest.WireOptions{})
	text := strings.ReplaceAll(lvsMailGlobal, "%MAIL%", global) + lvsText("150", vs, rs1)
	return startLVSNode(t, wire, "192.0.2.1", text, Options{Host: Host{Mail: box, LocalName: func() string { return "lb1.example.org" }}}, nil)
}

// TestLVSMailRealServerDown: without any smtp_alert keyword a real server
// mails its checkers' changes (keepalived's default for real servers) and
// neither the virtual server nor the VRRP instance mails: a real server
// going down sends one mail with keepalived's subject and body, its
// return another; vigild's stop sends none.
func TestLVSMailRealServerDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		box := &mailBox{}
		n := startMailLVSNode(t, "", "", "", box)
		settle(10 * time.Second)
		eqList(t, "at start", box.subjects(), nil)
		n.probes.set("198.51.100.1:80", false)
		settle(30 * time.Second)
		eqList(t, "down", box.subjects(), []string{"[lvs1] Realserver [198.51.100.1]:tcp:80 of virtual server [192.0.2.254]:tcp:80 - DOWN"})
		eqList(t, "down body", box.bodies(), []string{"=> TCP CHECK failed on service <="})
		m := box.got[0]
		if m.From != "lvs@example.org" || strings.Join(m.To, ",") != "ops@example.org" {
			t.Errorf("envelope %+v", m)
		}
		n.probes.set("198.51.100.1:80", true)
		settle(30 * time.Second)
		eqList(t, "back", box.subjects(), []string{
			"[lvs1] Realserver [198.51.100.1]:tcp:80 of virtual server [192.0.2.254]:tcp:80 - DOWN",
			"[lvs1] Realserver [198.51.100.1]:tcp:80 of virtual server [192.0.2.254]:tcp:80 - UP"})
		eqList(t, "back body", box.bodies()[1:], []string{"=> TCP CHECK succeed on service <="})
		st := n.d.Status()
		if st.MailAlerts.RealServer != 2 || st.MailAlerts.VirtualServer != 0 || st.MailAlerts.VRRP != 0 || st.Mail.Sent != 2 {
			t.Errorf("counters: alerts %+v mail %+v", st.MailAlerts, st.Mail)
		}
		n.stop()
		if len(box.subjects()) != 2 {
			t.Errorf("stop mailed: %q", box.subjects())
		}
	})
}

// TestLVSMailQuorum: with smtp_alert (and smtp_alert_vrrp off) the
// virtual server mails its quorum at start and each change, before the
// mail of the checker that caused it, in keepalived's words.
func TestLVSMailQuorum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		box := &mailBox{}
		n := startMailLVSNode(t, "smtp_alert\n    smtp_alert_vrrp off", "quorum 5", "", box)
		settle(10 * time.Second)
		n.probes.set("198.51.100.2:80", false)
		settle(30 * time.Second)
		n.probes.set("198.51.100.2:80", true)
		settle(30 * time.Second)
		vs, rs := "[lvs1] Virtualserver [192.0.2.254]:tcp:80 - ", "[lvs1] Realserver [198.51.100.2]:tcp:80 of virtual server [192.0.2.254]:tcp:80 - "
		eqList(t, "subjects", box.subjects(), []string{vs + "UP", vs + "DOWN", rs + "DOWN", vs + "UP", rs + "UP"})
		eqList(t, "bodies", box.bodies(), []string{
			"=> Starting with quorum up 5+0=5 <= 5 <=",
			"=> Lost quorum 5+0=5 <= 2 <=", "=> TCP CHECK failed on service <=",
			"=> Gained quorum 5+0=5 <= 5 <=", "=> TCP CHECK succeed on service <="})
		if st := n.d.Status().MailAlerts; st.VirtualServer != 3 || st.RealServer != 2 || st.VRRP != 0 {
			t.Errorf("counters %+v", st)
		}
	})
}

// TestLVSMailSwitches: a real server's own smtp_alert decides whether its
// checkers mail, whatever smtp_alert_checker says; both real servers go
// down, and only the one whose smtp_alert is on mails.
func TestLVSMailSwitches(t *testing.T) {
	for _, tc := range []struct {
		global, rs1 string
		want        []string
	}{
		{"smtp_alert_checker off", "smtp_alert off", nil},
		{"smtp_alert_checker off", "smtp_alert on", []string{"[lvs1] Realserver [198.51.100.1]:tcp:80 of virtual server [192.0.2.254]:tcp:80 - DOWN"}},
		{"smtp_alert_checker on", "smtp_alert off", []string{"[lvs1] Realserver [198.51.100.2]:tcp:80 of virtual server [192.0.2.254]:tcp:80 - DOWN"}},
	} {
		synctest.Test(t, func(t *testing.T) {
			box := &mailBox{}
			n := startMailLVSNode(t, tc.global+"\n    smtp_alert_vrrp off", "smtp_alert off", tc.rs1, box)
			settle(10 * time.Second)
			n.probes.set("198.51.100.1:80", false)
			n.probes.set("198.51.100.2:80", false)
			settle(30 * time.Second)
			eqList(t, tc.global+", rs1 "+tc.rs1, box.subjects(), tc.want)
		})
	}
}
