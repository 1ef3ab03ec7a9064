package ipvslab

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/notify/mail"
	"github.com/vigil-ha/vigil/testnet"
)

// sinkPort is the SMTP sink's port on the client.
const sinkPort = 2525

// mailConf mails every checker change and quorum change (smtp_alert) to
// the sink on the client: TCP 80, a NAT service over two real servers of
// weight 1 with quorum 2, so one dead listener also loses the quorum; and
// TCP 83 over rs1 alone with smtp_alert off: its real server, which says
// nothing, still mails (keepalived's real servers do not take their
// virtual server's smtp_alert).
func mailConf() string {
	return fmt.Sprintf("global_defs {\n router_id lvs-lab\n notification_email {\n  ops@example.org\n  noc@example.org\n }\n"+
		" notification_email_from lvs@example.org\n smtp_server %s %d\n smtp_connect_timeout 5\n smtp_alert\n}\n", ClientAddr, sinkPort) +
		natService(VIP, 80, portNAT, []string{RealAddr(0), RealAddr(1)}, " quorum 2\n") +
		natService(VIP, 83, portInhibit, []string{RealAddr(0)}, " smtp_alert off\n")
}

// testMail runs the mail scenario against keepalived and then vigild, and
// compares what the SMTP sink received in each phase: the same messages
// (HELO name, envelope, headers and body; the date and the host name
// normalised), as sorted lists, since keepalived sends each alert on a
// connection of its own. The record's tables hold those lists.
func testMail(t *testing.T) { differential(t, runMail, nil) }

// dateLine is the Date header keepalived and vigild write.
var dateLine = regexp.MustCompile(`(?m)^Date: ([^\r\n]*)\r$`)

// normalise checks m's Date header against keepalived's layout and
// returns m as one comparable text: the HELO name, the envelope and the
// message with the date and the host name replaced. With no
// smtp_helo_name both daemons HELO with the local name, the node name's
// canonical name; in the VM the node name does not resolve, and both say
// "localhost".
func normalise(t *testing.T, m Mail, host string) string {
	t.Helper()
	d := dateLine.FindStringSubmatch(m.Data)
	if d == nil {
		t.Errorf("no Date header in %q", m.Data)
	} else if _, err := time.Parse(mail.DateLayout, d[1]); err != nil {
		t.Errorf("Date %q: %v", d[1], err)
	}
	text := fmt.Sprintf("HELO %s | MAIL FROM:%s | RCPT TO:%s | %q", m.Helo, m.From, strings.Join(m.To, ","), dateLine.ReplaceAllString(m.Data, "Date: DATE\r"))
	if host != "" {
		text = strings.ReplaceAll(text, host, "HOST")
	}
	return text
}

func runMail(t *testing.T, k Kind, r *record) {
	l := New(t, Options{Directors: 1, Reals: 2})
	dir := l.Directors[0]
	for j := range 2 {
		l.Reals[j].ServeTCP(t, portNAT)
	}
	l.Reals[0].ServeTCP(t, portInhibit)
	sink := ServeSMTP(t, l.Client, ClientAddr, sinkPort)
	host, _ := os.Hostname()
	// phase waits until the sink holds n messages in all (and, for a
	// phase that expects none more, a few checker rounds), then records
	// the phase's new ones, sorted.
	seen := 0
	phase := func(name string, n int, quiet time.Duration) {
		t.Helper()
		testnet.Eventually(t, settle, func() bool { return len(sink.Mails()) >= n }, "%s: %s: %d mails", k, name, n)
		time.Sleep(quiet)
		all := sink.Mails()
		var texts []string
		for _, m := range all[seen:] {
			texts = append(texts, normalise(t, m, host))
		}
		slices.Sort(texts)
		seen = len(all)
		if len(all) != n {
			t.Errorf("%s: %s: %d mails, want %d:\n%s", k, name, len(all), n, strings.Join(texts, "\n"))
		}
		r.add(name, Table(texts))
		t.Logf("%s: %s:\n%s", k, name, strings.Join(texts, "\n"))
	}
	d := Start(t, dir, k, mailConf())
	// up is the table with the real servers ups up (rs1 in both services).
	up := func(ups ...int) Table {
		var dests, dests83 []string
		for _, j := range ups {
			dests = append(dests, Dest(fmt.Sprintf("%s:%d", RealAddr(j), portNAT), "Masq", 1))
			if j == 0 {
				dests83 = append(dests83, Dest(fmt.Sprintf("%s:%d", RealAddr(j), portInhibit), "Masq", 1))
			}
		}
		return Expect(Service{Line: fmt.Sprintf("TCP %s:80 rr", VIP), Dests: dests}, Service{Line: fmt.Sprintf("TCP %s:83 rr", VIP), Dests: dests83})
	}
	WaitTable(t, dir, settle, up(0, 1), string(k)+": start")
	// Starting with quorum up (the virtual server).
	phase("start", 1, 3*time.Second)
	l.Reals[0].StopTCP(t, portNAT)
	l.Reals[0].StopTCP(t, portInhibit)
	WaitTable(t, dir, settle, up(1), string(k)+": rs1 down")
	// TCP 80 lost its quorum, and rs1's TCP_CHECKs failed in both.
	phase("rs1 down", 4, 3*time.Second)
	l.Reals[0].ServeTCP(t, portNAT)
	l.Reals[0].ServeTCP(t, portInhibit)
	WaitTable(t, dir, settle, up(0, 1), string(k)+": rs1 back")
	// TCP 80 gained its quorum, and rs1's TCP_CHECKs succeeded.
	phase("rs1 back", 7, 3*time.Second)
	d.Stop(t)
	// Without omega the stop mails nothing.
	phase("stopped", 7, 3*time.Second)
}
