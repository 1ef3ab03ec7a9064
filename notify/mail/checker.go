package mail

import "fmt"

// CheckerChange is one result of a real server's health checker, as
// keepalived 2.2.7's checkers weigh it before mailing: the checker's state
// before and after, and its real server's alive state before and after
// (as the IPVS policy decides it, all checkers together).
type CheckerChange struct {
	// Kind is the checker's keepalived.conf block name: TCP_CHECK,
	// HTTP_GET, SSL_GET, MISC_CHECK, DNS_CHECK, SMTP_CHECK, UDP_CHECK,
	// PING_CHECK. FILE_CHECK and unknown kinds never mail.
	Kind    string
	First   bool // the checker's first result since start
	Changed bool // the checker's state changed with this result
	Up      bool // the checker's state after the result
	// Failed is the result's verdict: a failed attempt (which may only
	// count towards retry).
	Failed   bool
	TimedOut bool   // MISC_CHECK: the script was killed at its timeout
	Retry    int    // the checker's retry
	Err      string // why it failed (SMTP_CHECK's reason is in the body)

	RSWasAlive, RSAlive bool
}

// CheckerBody decides whether a checker result is mailed, as keepalived
// 2.2.7's checkers do, and returns the body. A checker mails when its own
// state changes (not merely its real server's: with two checkers, each
// one's change is mailed); with no_checker_emails only a change that also
// changed the real server's alive state is. A checker's first result
// mails only when it is a change (an alpha checker's first success, a
// non-alpha one's first failure once its retries are spent), except
// MISC_CHECK, which also mails a non-alpha checker's first success, and
// an alpha checker's first failure when it has no retry.
func CheckerBody(c CheckerChange, noCheckerEmails bool) (string, bool) {
	mail := c.Changed
	if c.Kind == "MISC_CHECK" && c.First && !c.Changed {
		// keepalived's MISC_CHECK reports the first final result of a
		// checker that has not run as a change: a success, or a failure
		// that is not going to be retried. A non-alpha checker that fails
		// is still up (retrying); an alpha one's failure is retried when
		// retry allows, and then never reported.
		mail = c.Up && !c.Failed || !c.Up && c.Retry == 0
	}
	if !mail || noCheckerEmails && c.RSWasAlive == c.RSAlive {
		return "", false
	}
	up := c.Up
	var body string
	switch c.Kind {
	case "TCP_CHECK":
		body = pick(up, "=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <=")
	case "HTTP_GET", "SSL_GET":
		body = pick(up, "=> CHECK succeed on service <=", "=> CHECK failed on service : HTTP request failed <=")
	case "UDP_CHECK":
		body = pick(up, "=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <=")
	case "PING_CHECK":
		body = pick(up, "=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <=")
	case "DNS_CHECK":
		body = pick(up, "=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <=")
	case "SMTP_CHECK":
		switch {
		case up:
			body = "=> CHECK succeed on service <="
		case c.Err != "":
			body = "=> CHECK failed on service : " + c.Err + " <="
		default:
			body = "=> CHECK failed on service <="
		}
	case "MISC_CHECK":
		word := "failed"
		switch {
		case up:
			word = "succeeded"
		case c.TimedOut:
			word = "timed out"
		}
		body = "=> MISC CHECK " + word + " on service <="
	default:
		return "", false
	}
	return body, true
}

func pick(up bool, yes, no string) string {
	if up {
		return yes
	}
	return no
}

// RealServer is keepalived's mail about a real server: subject
// "[router_id] Realserver [198.51.100.11]:tcp:80 of virtual server
// [192.0.2.10]:tcp:80 - UP" (the real server's alive state after the
// change), and the body a checker (CheckerBody) gave.
func RealServer(env Envelope, rs, vs string, alive bool, body string) Message {
	return Message{From: env.From, To: env.To,
		Subject: cut("["+env.RouterID+"] Realserver "+rs+" of virtual server "+vs+" - "+pick(alive, "UP", "DOWN"), MaxSubject),
		Body:    cut(body, MaxBody)}
}

// Quorum is a virtual server's quorum change as keepalived mails it.
type Quorum struct {
	Up    bool // the quorum state after the change
	Start bool // the evaluation at start (or reload), not a change
	Stop  bool // shutdown with omega
	// Quorum and Hysteresis as configured; Threshold the one the change
	// crossed; Weight the alive real servers' weight.
	Quorum, Hysteresis, Threshold, Weight int64
}

// VirtualServer is keepalived's mail about a virtual server's quorum:
// subject "[router_id] Virtualserver [192.0.2.10]:tcp:80 - UP|DOWN", body
// "=> Gained quorum 1+0=1 <= 2 <=" (Lost quorum, Starting with quorum
// up, Starting with quorum down; keepalived writes the quorum, a "+",
// the hysteresis and the threshold whichever way it went), or "=>
// Shutting down <=" at a stop.
func VirtualServer(env Envelope, vs string, q Quorum) Message {
	var body string
	switch {
	case q.Stop:
		body = "=> Shutting down <="
	default:
		what := "Lost quorum"
		switch {
		case q.Up && q.Start:
			what = "Starting with quorum up"
		case q.Up:
			what = "Gained quorum"
		case q.Start:
			what = "Starting with quorum down"
		}
		body = fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, q.Quorum, q.Hysteresis, q.Threshold, q.Weight)
	}
	up := q.Up && !q.Stop
	return Message{From: env.From, To: env.To,
		Subject: cut("["+env.RouterID+"] Virtualserver "+vs+" - "+pick(up, "UP", "DOWN"), MaxSubject),
		Body:    cut(body, MaxBody)}
}
