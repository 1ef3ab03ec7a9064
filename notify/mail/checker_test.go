package mail

import (
	"strings"
	"testing"
)

// Which checker results keepalived 2.2.7 mails, and with which body
// (check_tcp.c tcp_epilog, check_http.c http_handle_response, check_udp.c,
// check_ping.c, check_dns.c, check_smtp.c smtp_final, check_misc.c
// misc_check_child_thread: each mails when the checker's state flips, and
// with no_checker_emails only when its real server's alive state flipped
// too).
func TestCheckerBody(t *testing.T) {
	down := CheckerChange{Changed: true, Failed: true, RSWasAlive: true}
	up := CheckerChange{Changed: true, Up: true, RSAlive: true}
	with := func(c CheckerChange, f func(*CheckerChange)) CheckerChange { f(&c); return c }
	kind := func(k string, c CheckerChange) CheckerChange { c.Kind = k; return c }
	for _, tc := range []struct {
		name    string
		c       CheckerChange
		noEmail bool
		body    string // "" = no mail
	}{
		{"TCP down", kind("TCP_CHECK", down), false, "=> TCP CHECK failed on service <="},
		{"TCP up", kind("TCP_CHECK", up), false, "=> TCP CHECK succeed on service <="},
		{"HTTP down", kind("HTTP_GET", down), false, "=> CHECK failed on service : HTTP request failed <="},
		{"SSL up", kind("SSL_GET", up), false, "=> CHECK succeed on service <="},
		{"UDP down", kind("UDP_CHECK", down), false, "=> UDP CHECK failed on service <="},
		{"PING up", kind("PING_CHECK", up), false, "=> ICMP CHECK succeed on service <="},
		{"DNS down", kind("DNS_CHECK", down), false, "=> DNS_CHECK: failed on service <="},
		{"DNS up", kind("DNS_CHECK", up), false, "=> DNS_CHECK: succeed on service <="},
		{"SMTP down with a reason", with(kind("SMTP_CHECK", down), func(c *CheckerChange) { c.Err = "Connection timeout to server [198.51.100.1]:25" }), false,
			"=> CHECK failed on service : Connection timeout to server [198.51.100.1]:25 <="},
		{"SMTP down without a reason", kind("SMTP_CHECK", down), false, "=> CHECK failed on service <="},
		{"SMTP up", kind("SMTP_CHECK", up), false, "=> CHECK succeed on service <="},
		{"MISC down", kind("MISC_CHECK", down), false, "=> MISC CHECK failed on service <="},
		{"MISC timed out", with(kind("MISC_CHECK", down), func(c *CheckerChange) { c.TimedOut = true }), false, "=> MISC CHECK timed out on service <="},
		{"MISC up", kind("MISC_CHECK", up), false, "=> MISC CHECK succeeded on service <="},
		{"FILE_CHECK never mails", kind("FILE_CHECK", down), false, ""},
		{"unknown kind", kind("BFD_CHECK", down), false, ""},

		// No change, no mail: a success while up, a failure being retried.
		{"TCP success while up", kind("TCP_CHECK", CheckerChange{Up: true, RSWasAlive: true, RSAlive: true}), false, ""},
		{"TCP failure retried", kind("TCP_CHECK", CheckerChange{Up: true, Failed: true, RSWasAlive: true, RSAlive: true}), false, ""},
		{"MISC success while up", kind("MISC_CHECK", CheckerChange{Up: true, RSWasAlive: true, RSAlive: true}), false, ""},

		// First results: a non-alpha checker starts up, an alpha one down.
		{"TCP non-alpha first success", kind("TCP_CHECK", CheckerChange{First: true, Up: true, RSWasAlive: true, RSAlive: true}), false, ""},
		{"TCP non-alpha first failure, retries spent", kind("TCP_CHECK", CheckerChange{First: true, Changed: true, Failed: true, RSWasAlive: true}), false,
			"=> TCP CHECK failed on service <="},
		{"TCP alpha first success", kind("TCP_CHECK", CheckerChange{First: true, Changed: true, Up: true, RSAlive: true}), false,
			"=> TCP CHECK succeed on service <="},
		{"TCP alpha first failure", kind("TCP_CHECK", CheckerChange{First: true, Failed: true}), false, ""},
		{"MISC non-alpha first success", kind("MISC_CHECK", CheckerChange{First: true, Up: true, RSWasAlive: true, RSAlive: true}), false,
			"=> MISC CHECK succeeded on service <="},
		{"MISC non-alpha first failure, retrying", kind("MISC_CHECK", CheckerChange{First: true, Up: true, Failed: true, Retry: 1, RSWasAlive: true, RSAlive: true}), false, ""},
		{"MISC alpha first failure without retry", kind("MISC_CHECK", CheckerChange{First: true, Failed: true}), false, "=> MISC CHECK failed on service <="},
		{"MISC alpha first failure with retry", kind("MISC_CHECK", CheckerChange{First: true, Failed: true, Retry: 2}), false, ""},

		// no_checker_emails: only when the real server's state changed.
		{"no_checker_emails, RS changed", kind("TCP_CHECK", down), true, "=> TCP CHECK failed on service <="},
		{"no_checker_emails, second checker of a down RS", kind("TCP_CHECK", CheckerChange{Changed: true, Failed: true}), true, ""},
		{"second checker of a down RS", kind("TCP_CHECK", CheckerChange{Changed: true, Failed: true}), false, "=> TCP CHECK failed on service <="},
		{"no_checker_emails, MISC first success", kind("MISC_CHECK", CheckerChange{First: true, Up: true, RSWasAlive: true, RSAlive: true}), true, ""},
	} {
		body, ok := CheckerBody(tc.c, tc.noEmail)
		if ok != (tc.body != "") || body != tc.body {
			t.Errorf("%s: CheckerBody = %q, %v; want %q", tc.name, body, ok, tc.body)
		}
	}
}

// smtp.c smtp_alert: "[%s] Realserver %s of virtual server %s - %s" with
// the real server's alive state, and "[%s] Virtualserver %s - %s";
// ipwrapper.c do_vs_notifies' quorum bodies.
func TestCheckerMessages(t *testing.T) {
	env := Envelope{From: "lvs@example.org", To: []string{"ops@example.org", "noc@example.org"}, RouterID: "lvs1"}
	m := RealServer(env, "[198.51.100.11]:tcp:80", "[192.0.2.10]:tcp:80", false, "=> TCP CHECK failed on service <=")
	if m.Subject != "[lvs1] Realserver [198.51.100.11]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN" ||
		m.Body != "=> TCP CHECK failed on service <=" || m.From != env.From || strings.Join(m.To, ",") != "ops@example.org,noc@example.org" {
		t.Errorf("RealServer = %+v", m)
	}
	if m := RealServer(env, "[198.51.100.11]:tcp:80", "FWM 7", true, "b"); m.Subject != "[lvs1] Realserver [198.51.100.11]:tcp:80 of virtual server FWM 7 - UP" {
		t.Errorf("RealServer up: %q", m.Subject)
	}
	for _, tc := range []struct {
		q             Quorum
		subject, body string
	}{
		{Quorum{Up: true, Quorum: 2, Hysteresis: 1, Threshold: 3, Weight: 3}, "[lvs1] Virtualserver [192.0.2.10]:tcp:80 - UP", "=> Gained quorum 2+1=3 <= 3 <="},
		{Quorum{Quorum: 2, Hysteresis: 1, Threshold: 1, Weight: 0}, "[lvs1] Virtualserver [192.0.2.10]:tcp:80 - DOWN", "=> Lost quorum 2+1=1 <= 0 <="},
		{Quorum{Up: true, Start: true, Quorum: 1, Threshold: 1, Weight: 2}, "[lvs1] Virtualserver [192.0.2.10]:tcp:80 - UP", "=> Starting with quorum up 1+0=1 <= 2 <="},
		{Quorum{Start: true, Quorum: 3, Threshold: 3, Weight: 2}, "[lvs1] Virtualserver [192.0.2.10]:tcp:80 - DOWN", "=> Starting with quorum down 3+0=3 <= 2 <="},
		{Quorum{Up: true, Stop: true}, "[lvs1] Virtualserver [192.0.2.10]:tcp:80 - DOWN", "=> Shutting down <="},
	} {
		m := VirtualServer(env, "[192.0.2.10]:tcp:80", tc.q)
		if m.Subject != tc.subject || m.Body != tc.body {
			t.Errorf("VirtualServer(%+v) = %q / %q; want %q / %q", tc.q, m.Subject, m.Body, tc.subject, tc.body)
		}
	}
	long := strings.Repeat("x", 300)
	if m := RealServer(env, long, long, true, long+long); len(m.Subject) != MaxSubject || len(m.Body) != MaxBody {
		t.Errorf("RealServer cut to %d/%d bytes", len(m.Subject), len(m.Body))
	}
}
