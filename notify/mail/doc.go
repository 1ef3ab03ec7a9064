// Package mail sends keepalived's e-mail alerts (smtp_alert): one short
// message per VRRP instance or sync group state change, per real server
// checker change and per virtual server quorum change, composed and
// delivered exactly as keepalived 2.2.7 does it.
//
// Owns:
//   - the composition (compose.go, pure): which states mail is sent for,
//     the subject ("[router_id] VRRP Instance VI_1 - Entering MASTER
//     state"), the body line, the headers (Date, From, Subject,
//     X-Mailer: Keepalived, To) and their length limits;
//   - the checkers' policy (checker.go, pure): which checker results
//     mail (CheckerBody: state changes, MISC_CHECK's first result,
//     no_checker_emails), with each checker kind's body, and the real
//     server ("[router_id] Realserver RS of virtual server VS - DOWN")
//     and virtual server quorum messages;
//   - the SMTP dialogue (client.go): keepalived's plain RFC 821 exchange,
//     HELO, MAIL FROM, one RCPT TO per recipient, DATA, QUIT, each step
//     bounded by smtp_connect_timeout. keepalived has no EHLO, STARTTLS
//     or AUTH, and neither has this client;
//   - the Sender (sender.go): a bounded queue drained by one goroutine, so
//     the daemon loop never waits for a mail server. When the queue is
//     full the oldest waiting message is dropped and counted. Sent,
//     failed and dropped messages are counted (Stats); failures are
//     logged through a ratelog.Limiter, so a dead server costs a few
//     lines, not one per transition.
//
// Must not: decide states, read configuration files, or block its caller.
//
// Concurrency: Sender is safe for concurrent use; its one goroutine is
// started by NewSender and stopped (after the queue drains or a deadline)
// by Close. Composition is pure: it takes the time and names as values.
package mail
