package daemon

import (
	"context"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/notify/mail"
)

// mailFlushTimeout bounds how long shutdown waits for queued alerts (the
// STOP mails) to reach the server.
const mailFlushTimeout = 5 * time.Second

// mailer sends keepalived's e-mail alerts for instance and group state
// changes (smtp_alert). The loop owns it; its Sender delivers on its own
// goroutine, so a slow or dead mail server never delays the loop.
type mailer struct {
	// shutdown is set when vigild stops: keepalived 2.2.7 exits before
	// its "Stopping" mails go out, so vigild does not send them either
	// (an instance a reload removes is still mailed).
	shutdown bool
	env      mail.Envelope
	mem      mail.Memory
	send     *mail.Sender
	server   mail.SMTP // the settings the sender's transport was made from
}

// newMailer builds the mailer, or returns nil when the configuration has
// no notification_email or no smtp_server (keepalived then sends nothing
// either). The Sender is started when alerts are first possible.
func (d *Daemon) newMailer(cfg *config.Config) *mailer {
	if !cfg.Global.MailEnabled() {
		return nil
	}
	m := &mailer{}
	m.configure(d, cfg)
	return m
}

// configure takes cfg's envelope and server, with keepalived's defaults
// (mailDefaults): router_id, smtp_helo_name and notification_email_from
// from the local name d.localName, the port 25, the timeout 30s (set by
// config).
func (m *mailer) configure(d *Daemon, cfg *config.Config) {
	g := &cfg.Global
	m.env = mail.Envelope{From: g.NotificationEmailFrom, To: g.NotificationEmail, RouterID: g.RouterID}
	var helo string
	m.env.RouterID, m.env.From, helo = mailDefaults(g, d.localName, nodeName(), userName())
	m.mem.NoFaults = g.NoEmailFaults
	port := g.SMTPServerPort
	if port == 0 {
		port = 25
	}
	srv := mail.SMTP{Addr: net.JoinHostPort(g.SMTPServer, strconv.Itoa(port)), Helo: helo, Timeout: g.SMTPConnectTimeout}
	if m.send != nil && srv.Addr == m.server.Addr && srv.Helo == m.server.Helo && srv.Timeout == m.server.Timeout {
		return
	}
	m.server = srv
	var tr mail.Transport = &srv
	if d.host.Mail != nil {
		tr = d.host.Mail
	}
	if m.send == nil {
		m.send = mail.NewSender(d.log.With("component", "smtp"), tr, 0)
	} else {
		m.send.SetTransport(tr)
	}
}

// unknownName is keepalived's local name when the node name does not
// resolve.
const unknownName = "[unknown]"

// localNameTimeout bounds the resolver's answer for the local name.
const localNameTimeout = 5 * time.Second

// needsLocalName reports whether cfg's mail alerts take a default from the
// local name, as keepalived asks the resolver only then.
func needsLocalName(cfg *config.Config) bool {
	if cfg == nil {
		return false
	}
	g := &cfg.Global
	return g.MailEnabled() && (g.RouterID == "" || g.SMTPHeloName == "" || g.NotificationEmailFrom == "")
}

// lookupLocalName is keepalived's local name: the canonical name the
// resolver gives for the node name (getaddrinfo's AI_CANONNAME: the hosts
// file, then DNS; the final dot of a DNS name dropped), or unknownName
// when it does not resolve. It waits for the resolver (at most
// localNameTimeout): never on the loop. Host.LocalName replaces it.
func (d *Daemon) lookupLocalName() string {
	if d.host.LocalName != nil {
		return d.host.LocalName()
	}
	node := nodeName()
	if node == "" {
		return unknownName
	}
	ctx, cancel := context.WithTimeout(context.Background(), localNameTimeout)
	defer cancel()
	c, err := net.DefaultResolver.LookupCNAME(ctx, node)
	if c = strings.TrimSuffix(c, "."); err != nil || c == "" {
		return unknownName
	}
	return c
}

// nodeName is the kernel's node name (uname), "" when unknown.
func nodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// mailDefaults fills what g leaves unset as keepalived 2.2.7 does, from
// the local name (lookupLocalName; "" when it was not looked up counts as
// unknown): router_id is the local name (unknownName included);
// smtp_helo_name the local name, or "localhost" when it is unknown;
// notification_email_from USER@LOCALNAME. keepalived leaves the sender
// empty when the local name is unknown (its mails then carry "(null)");
// vigil uses USER@NODENAME instead.
func mailDefaults(g *config.Global, local, node, user string) (routerID, from, helo string) {
	known := local != "" && local != unknownName
	if local == "" {
		local = unknownName
	}
	routerID, from, helo = g.RouterID, g.NotificationEmailFrom, g.SMTPHeloName
	if routerID == "" {
		routerID = local
	}
	if helo == "" {
		helo = "localhost"
		if known {
			helo = local
		}
	}
	if from == "" {
		host := local
		if !known {
			host = node
			if host == "" {
				host = "localhost"
			}
		}
		from = user + "@" + host
	}
	return routerID, from, helo
}

// userName is the name of the user vigild runs as, for the default
// sender address.
func userName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// mailAlert queues the mail for a state change of an instance or group
// whose smtp_alert is on, once per state (keepalived's last_email_state).
func (d *Daemon) mailAlert(kind mail.Kind, name string, enabled bool, state string) {
	m := d.mail
	if m == nil || !enabled || m.shutdown && state == mail.StateStop {
		return
	}
	a := mail.Alert{Kind: kind, Name: name, State: state}
	if !m.mem.Want(a) {
		return
	}
	msg, _ := mail.Compose(m.env, a)
	d.queueMail(aboutVRRP, msg)
}

// mailAbout is what an alert reports, for the counters.
type mailAbout int

const (
	aboutVRRP mailAbout = iota
	aboutRealServer
	aboutVirtualServer
)

// queueMail hands msg to the sender (which never blocks) and counts it.
func (d *Daemon) queueMail(about mailAbout, msg mail.Message) {
	d.mail.send.Send(msg)
	switch about {
	case aboutVRRP:
		d.mailQueued.VRRP++
	case aboutRealServer:
		d.mailQueued.RealServer++
	case aboutVirtualServer:
		d.mailQueued.VirtualServer++
	}
}

// reloadMail takes a reloaded configuration's mail settings; a mailer is
// made or stopped as the configuration now asks.
func (d *Daemon) reloadMail(cfg *config.Config) {
	switch {
	case !cfg.Global.MailEnabled():
		d.closeMail(0) // the loop does not wait: what still waits is dropped, counted
	case d.mail == nil:
		d.mail = d.newMailer(cfg)
	default:
		d.mail.configure(d, cfg)
	}
	if d.mail == nil {
		return
	}
	keep := map[string]bool{}
	for _, x := range cfg.Instances {
		keep["i"+x.Name] = true
	}
	for _, g := range cfg.SyncGroups {
		keep["g"+g.Name] = true
	}
	d.mail.mem.Forget(func(k mail.Kind, name string) bool {
		if k == mail.KindGroup {
			return keep["g"+name]
		}
		return keep["i"+name]
	})
}

// mailStats is the status's mail counters.
func (d *Daemon) mailStats() mail.Stats {
	if d.mail == nil {
		return d.mailClosed
	}
	st := d.mail.send.Stats()
	st.Sent += d.mailClosed.Sent
	st.Failed += d.mailClosed.Failed
	st.Dropped += d.mailClosed.Dropped
	return st
}

// closeMail lets queued alerts go out (within flush) and stops the
// sender; its counters stay in the status.
func (d *Daemon) closeMail(flush time.Duration) {
	if d.mail == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flush)
	defer cancel()
	d.mail.send.Close(ctx)
	st := d.mail.send.Stats()
	d.mailClosed.Sent += st.Sent
	d.mailClosed.Failed += st.Failed
	d.mailClosed.Dropped += st.Dropped
	d.mail = nil
}

// mailState is the state word keepalived mails about, "" for the others.
func mailState(state string) string {
	switch state {
	case mail.StateMaster, mail.StateBackup, mail.StateFault, mail.StateStop:
		return state
	}
	return ""
}
