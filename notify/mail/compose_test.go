package mail

import (
	"strings"
	"testing"
	"time"
)

// keepalived 2.2.7's subjects and bodies (vrrp_notify.c: vrrp_smtp_notifier,
// vrrp_sync_smtp_notifier; smtp.c: smtp_alert's "[%s] VRRP Instance %s - %s"
// and "[%s] VRRP Group %s - %s").
func TestComposeKeepalivedShapes(t *testing.T) {
	env := Envelope{From: "vigil@example.org", To: []string{"ops@example.org"}, RouterID: "r1"}
	for _, tc := range []struct {
		a             Alert
		subject, body string
	}{
		{Alert{KindInstance, "VI_1", StateMaster}, "[r1] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		{Alert{KindInstance, "VI_1", StateBackup}, "[r1] VRRP Instance VI_1 - Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{Alert{KindInstance, "VI_1", StateFault}, "[r1] VRRP Instance VI_1 - Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{Alert{KindInstance, "VI_1", StateStop}, "[r1] VRRP Instance VI_1 - Stopping", "=> VRRP Instance stopping <="},
		{Alert{KindGroup, "G1", StateMaster}, "[r1] VRRP Group G1 - Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="},
		{Alert{KindGroup, "G1", StateBackup}, "[r1] VRRP Group G1 - Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="},
		{Alert{KindGroup, "G1", StateFault}, "[r1] VRRP Group G1 - Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="},
		{Alert{KindGroup, "G1", StateStop}, "[r1] VRRP Group G1 - Stopping", "=> All VRRP group instances are now stopping <="},
	} {
		m, ok := Compose(env, tc.a)
		if !ok || m.Subject != tc.subject || m.Body != tc.body || m.From != env.From || strings.Join(m.To, ",") != "ops@example.org" {
			t.Errorf("Compose(%+v) = %+v, %v; want subject %q body %q", tc.a, m, ok, tc.subject, tc.body)
		}
	}
	for _, st := range []string{"DELETED", "MASTER_RX_LOWER_PRI", "MASTER_PRIORITY", "BACKUP_PRIORITY", "INIT", ""} {
		if m, ok := Compose(env, Alert{KindInstance, "VI_1", st}); ok {
			t.Errorf("Compose(%s) = %+v, want no mail", st, m)
		}
	}
}

func TestComposeCutsAtKeepalivedLimits(t *testing.T) {
	long := strings.Repeat("n", 400)
	m, _ := Compose(Envelope{RouterID: "r"}, Alert{KindInstance, long, StateMaster})
	if len(m.Subject) != MaxSubject || !strings.HasPrefix(m.Subject, "[r] VRRP Instance nnn") {
		t.Errorf("subject of %d bytes: %q...", len(m.Subject), m.Subject[:30])
	}
}

func TestToHeader(t *testing.T) {
	if got := ToHeader([]string{"a@example.org", "b@example.org", "c@example.org"}); got != "a@example.org, b@example.org, c@example.org" {
		t.Errorf("ToHeader = %q", got)
	}
	// An address that would pass the limit is left out whole, with the rest.
	a := strings.Repeat("a", 600) + "@example.org"
	b := strings.Repeat("b", 400) + "@example.org"
	if got := ToHeader([]string{a, b, "c@example.org"}); got != a {
		t.Errorf("ToHeader kept %d bytes, want only the first address (%d)", len(got), len(a))
	}
	if got := ToHeader([]string{a, "c@example.org"}); got != a+", c@example.org" {
		t.Errorf("ToHeader = ...%q", got[len(got)-20:])
	}
}

// The DATA text byte for byte as keepalived's SMTP_HEADERS_CMD and
// SMTP_BODY_CMD lay it out (the "." line is the client's).
func TestDataBytes(t *testing.T) {
	m := Message{From: "root@r1", To: []string{"a@example.org", "b@example.org"}, Subject: "[r1] VRRP Instance VI_1 - Entering MASTER state",
		Body: "=> VRRP Instance is now owning VRRP VIPs <="}
	date := time.Date(2026, 12, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	want := "Date: Fri, 04 Dec 2026 05:06:07 +0100\r\n" +
		"From: root@r1\r\n" +
		"Subject: [r1] VRRP Instance VI_1 - Entering MASTER state\r\n" +
		"X-Mailer: Keepalived\r\n" +
		"To: a@example.org, b@example.org\r\n" +
		"\r\n" +
		"=> VRRP Instance is now owning VRRP VIPs <=\r\n" +
		"\r\n"
	if got := string(m.Data(date)); got != want {
		t.Errorf("Data =\n%q\nwant\n%q", got, want)
	}
}

// Values cannot add header lines.
func TestDataNoHeaderInjection(t *testing.T) {
	m := Message{From: "a@b\r\nBcc: x@example.org", To: []string{"c@d\nX: y"}, Subject: "s\r\nBcc: z", Body: "b\r\n.\r\nMAIL"}
	got := string(m.Data(time.Unix(0, 0).UTC()))
	for _, bad := range []string{"Bcc", "X: y", "MAIL"} {
		if strings.Contains(got, bad) {
			t.Errorf("Data carries %q:\n%q", bad, got)
		}
	}
}

func TestMemoryOncePerState(t *testing.T) {
	var mem Memory
	steps := []struct {
		a    Alert
		want bool
	}{
		{Alert{KindInstance, "VI_1", StateBackup}, true},
		{Alert{KindInstance, "VI_1", StateBackup}, false}, // keepalived's last_email_state
		{Alert{KindGroup, "VI_1", StateBackup}, true},     // a group of the same name is another subject
		{Alert{KindInstance, "VI_1", StateMaster}, true},
		{Alert{KindInstance, "VI_1", "MASTER_PRIORITY"}, false},
		{Alert{KindInstance, "VI_1", StateMaster}, false},
		{Alert{KindInstance, "VI_1", StateFault}, true},
		{Alert{KindInstance, "VI_1", StateStop}, true},
	}
	for i, s := range steps {
		if got := mem.Want(s.a); got != s.want {
			t.Errorf("step %d %+v: Want = %v, want %v", i, s.a, got, s.want)
		}
	}
	mem.Forget(func(Kind, string) bool { return false })
	if !mem.Want(Alert{KindInstance, "VI_1", StateStop}) {
		t.Error("after Forget the state is mailed again")
	}
}

// no_email_faults: FAULT sends nothing and is not remembered, so coming
// back to the state mailed before FAULT sends nothing either (keepalived).
func TestMemoryNoEmailFaults(t *testing.T) {
	mem := Memory{NoFaults: true}
	for i, s := range []struct {
		state string
		want  bool
	}{{StateMaster, true}, {StateFault, false}, {StateMaster, false}, {StateFault, false}, {StateBackup, true}} {
		if got := mem.Want(Alert{KindInstance, "VI_1", s.state}); got != s.want {
			t.Errorf("step %d %s: Want = %v, want %v", i, s.state, got, s.want)
		}
	}
}
