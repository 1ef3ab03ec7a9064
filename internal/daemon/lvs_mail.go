package daemon

import (
	"github.com/vigil-ha/vigil/healthcheck"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify/mail"
)

// mailChecker queues keepalived's mail for a checker's result, when its
// real server's smtp_alert is on and mail.CheckerBody says the result is
// mailed. wasAlive is the real server's alive state before the result.
// A suspended virtual server's (ha_suspend) checkers do not run in
// keepalived, so their results send nothing. On the loop.
func (l *lvs) mailChecker(ev healthcheck.Event, ref ipvs.RealRef, wasAlive bool) {
	m := l.d.mail
	if m == nil || l.pol.Suspended(ref.VS) {
		return
	}
	vs := l.cfg.VirtualServers[ev.Checker.VS]
	if !vs.RealServers[ev.Checker.RS].SMTPAlert {
		return
	}
	c := mail.CheckerChange{Kind: ev.Kind.String(), First: ev.First, Changed: ev.CheckerChanged, Up: ev.CheckerUp,
		Failed: ev.Verdict == healthcheck.Failure, TimedOut: ev.Err == healthcheck.MiscTimedOut,
		Retry: l.retries[ev.Checker], Err: ev.Err, RSWasAlive: wasAlive, RSAlive: l.pol.Alive(ref)}
	body, ok := mail.CheckerBody(c, l.cfg.Global.NoCheckerEmails)
	if !ok {
		return
	}
	rs, vsName, _ := l.names(ev.Checker.RSID)
	l.d.queueMail(aboutRealServer, mail.RealServer(m.env, rs, vsName, c.RSAlive, body))
}

// mailQuorum queues keepalived's mail for a quorum action of the policy,
// when its virtual server's smtp_alert is on: gained or lost, at start
// (and reload) or later. The stop's mail is not sent, as keepalived 2.2.7
// exits before it leaves (and as the VRRP "Stopping" mails). On the loop.
func (l *lvs) mailQuorum(a ipvs.Action) {
	m := l.d.mail
	if m == nil || a.Kind != ipvs.QuorumGained && a.Kind != ipvs.QuorumLost || a.Cause == ipvs.CauseStop && m.shutdown {
		return
	}
	vs, ok := l.vsConf[a.VS]
	if !ok || !vs.SMTPAlert || a.VS < 0 || a.VS >= len(l.spec.VirtualServers) {
		return
	}
	v := l.spec.VirtualServers[a.VS]
	q := mail.Quorum{Up: a.Kind == ipvs.QuorumGained, Start: a.Cause == ipvs.CauseStart, Stop: a.Cause == ipvs.CauseStop,
		Quorum: int64(v.Quorum), Hysteresis: int64(v.Hysteresis), Threshold: a.Threshold, Weight: a.Weight}
	l.d.queueMail(aboutVirtualServer, mail.VirtualServer(m.env, v.Name, q))
}
