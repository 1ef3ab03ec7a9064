package config

// resolveMail gives every instance, sync group, virtual server and real
// server its smtp_alert, as keepalived 2.2.7 does: its own keyword, else
// smtp_alert_vrrp (instances and groups) or smtp_alert_checker (virtual
// and real servers), else smtp_alert, else off, except for real servers,
// which default to on. A real server does not take its virtual server's
// smtp_alert.
func (p *parser) resolveMail() {
	def := p.cfg.Global.vrrpMailDefault()
	for _, x := range p.cfg.Instances {
		if !x.isSet("smtp_alert") {
			x.SMTPAlert = def
		}
	}
	for _, s := range p.cfg.SyncGroups {
		if !s.smtpAlertSet {
			s.SMTPAlert = def
		}
	}
	g := &p.cfg.Global
	vsDef, vsSet := g.checkerMailDefault()
	for _, v := range p.cfg.VirtualServers {
		if !v.set["smtp_alert"] {
			v.SMTPAlert = vsDef
		}
		for _, r := range v.RealServers {
			if !r.set["smtp_alert"] {
				r.SMTPAlert = vsDef || !vsSet
			}
		}
	}
}

// checkerMailDefault is smtp_alert for virtual and real servers that do
// not say: smtp_alert_checker, else smtp_alert; set is false when
// neither keyword was given (real servers then mail, virtual servers do
// not).
func (g *Global) checkerMailDefault() (on, set bool) {
	if _, ok := g.set["smtp_alert_checker"]; ok {
		return g.SMTPAlertChecker, true
	}
	if _, ok := g.set["smtp_alert"]; ok {
		return g.SMTPAlert, true
	}
	return false, false
}

// MailEnabled reports whether alerts can be mailed at all: keepalived
// sends none without a notification_email list and an smtp_server.
func (g *Global) MailEnabled() bool {
	return len(g.NotificationEmail) > 0 && g.SMTPServer != ""
}

// vrrpMailDefault is smtp_alert for instances and groups that do not say.
func (g *Global) vrrpMailDefault() bool {
	if _, ok := g.set["smtp_alert_vrrp"]; ok {
		return g.SMTPAlertVRRP
	}
	return g.SMTPAlert
}
