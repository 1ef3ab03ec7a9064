package mail

import (
	"strings"
	"time"
)

// keepalived's limits: the subject is cut to MaxSubject bytes and the body
// to MaxBody bytes, and the To header (recipients joined by ", ") to
// MaxTo bytes, never cutting an address in two.
const (
	MaxSubject = 255
	MaxBody    = 511
	MaxTo      = 1023
)

// Kind is what an alert is about.
type Kind uint8

// Alert kinds.
const (
	KindInstance Kind = iota + 1 // a vrrp_instance
	KindGroup                    // a vrrp_sync_group
)

// States that send mail, in keepalived's words.
const (
	StateMaster = "MASTER"
	StateBackup = "BACKUP"
	StateFault  = "FAULT"
	StateStop   = "STOP"
)

// Alert is one state change to tell by mail.
type Alert struct {
	Kind  Kind
	Name  string // the instance's or group's name
	State string // one of the State constants; others send nothing
}

// Message is one composed mail: the envelope and the text keepalived
// writes after DATA (without the final dot line).
type Message struct {
	From string   // MAIL FROM and the From header
	To   []string // one RCPT TO each; joined for the To header
	// Subject and Body as keepalived words them, already cut to
	// MaxSubject and MaxBody.
	Subject string
	Body    string
}

// Envelope is what every message of a daemon shares: global_defs'
// notification_email_from, notification_email and router_id.
type Envelope struct {
	From     string
	To       []string
	RouterID string
}

// Compose turns an alert into keepalived's message, or reports false for a
// state keepalived does not mail about (INIT, DELETED, the FIFO-only
// notices).
func Compose(env Envelope, a Alert) (Message, bool) {
	var what, body string
	switch a.Kind {
	case KindInstance:
		what = "VRRP Instance"
		switch a.State {
		case StateMaster:
			body = "=> VRRP Instance is now owning VRRP VIPs <="
		case StateBackup, StateFault:
			body = "=> VRRP Instance is no longer owning VRRP VIPs <="
		case StateStop:
			body = "=> VRRP Instance stopping <="
		}
	case KindGroup:
		what = "VRRP Group"
		switch a.State {
		case StateMaster, StateBackup, StateFault:
			body = "=> All VRRP group instances are now in " + a.State + " state <="
		case StateStop:
			body = "=> All VRRP group instances are now stopping <="
		}
	}
	if body == "" {
		return Message{}, false
	}
	event := "Entering " + a.State + " state"
	if a.State == StateStop {
		event = "Stopping"
	}
	return Message{
		From:    env.From,
		To:      env.To,
		Subject: cut("["+env.RouterID+"] "+what+" "+a.Name+" - "+event, MaxSubject),
		Body:    cut(body, MaxBody),
	}, true
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ToHeader joins the recipients as keepalived's To header does: ", "
// between them, stopping before the address that would pass MaxTo bytes.
func ToHeader(to []string) string {
	var b strings.Builder
	for i, a := range to {
		n := len(a)
		if i > 0 {
			n += 2
		}
		if b.Len()+n > MaxTo {
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a)
	}
	return b.String()
}

// DateLayout is keepalived's Date header: strftime's
// "%a, %d %b %Y %H:%M:%S %z" in local time.
const DateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// Data is the text keepalived sends after DATA for m, at date (in the
// location the caller chose, keepalived uses local time): the headers, a
// blank line, the body and an empty line, CRLF line ends. The SMTP client
// adds the final "." line. Header values are written as given: every
// value comes from the configuration, whose reader has no CR or LF in
// words; unsafe ones are cut at the first CR or LF all the same, so no
// value can add a header.
func (m Message) Data(date time.Time) []byte {
	var b []byte
	b = append(b, "Date: "...)
	b = date.AppendFormat(b, DateLayout)
	b = append(b, "\r\nFrom: "...)
	b = append(b, oneLine(m.From)...)
	b = append(b, "\r\nSubject: "...)
	b = append(b, oneLine(m.Subject)...)
	b = append(b, "\r\nX-Mailer: Keepalived\r\nTo: "...)
	b = append(b, oneLine(ToHeader(m.To))...)
	b = append(b, "\r\n\r\n"...)
	b = append(b, oneLine(m.Body)...)
	b = append(b, "\r\n\r\n"...)
	return b
}

func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// Memory is keepalived's per-instance and per-group last_email_state: a
// state is mailed once, and not again until another state has been mailed
// (so a state change that sends nothing, such as FAULT under
// no_email_faults, leaves the last mailed state in place). The zero value
// is ready; not safe for concurrent use (the daemon loop owns it).
type Memory struct {
	NoFaults bool // global_defs no_email_faults: FAULT sends no mail
	last     map[memKey]string
}

type memKey struct {
	kind Kind
	name string
}

// Want reports whether a is to be mailed, and remembers it if so.
func (mem *Memory) Want(a Alert) bool {
	if a.State == StateFault && mem.NoFaults {
		return false
	}
	if _, ok := Compose(Envelope{}, a); !ok {
		return false
	}
	k := memKey{a.Kind, a.Name}
	if mem.last[k] == a.State {
		return false
	}
	if mem.last == nil {
		mem.last = map[memKey]string{}
	}
	mem.last[k] = a.State
	return true
}

// Forget drops what Memory holds about names not in keep (instances or
// groups a reload removed).
func (mem *Memory) Forget(keep func(Kind, string) bool) {
	for k := range mem.last {
		if !keep(k.kind, k.name) {
			delete(mem.last, k)
		}
	}
}
