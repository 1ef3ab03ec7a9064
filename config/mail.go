package config

// resolveMail gives every instance and sync group its smtp_alert, as
// keepalived does: its own keyword, else smtp_alert_vrrp, else
// smtp_alert, else off.
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
