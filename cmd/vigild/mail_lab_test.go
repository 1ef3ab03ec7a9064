package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/notify/mail"
	"github.com/vigil-ha/vigil/testnet"
)

// smtpSink runs testdata/smtpsink.py (aiosmtpd) on h at addr:2525 and
// returns the file it records the messages in.
func smtpSink(t *testing.T, h *testnet.Host, addr string) string {
	t.Helper()
	testnet.NeedRoot(t, "/usr/bin/python3")
	if err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-aiosmtpd is needed: %v", err)
		}
		t.Skipf("SKIP: python3-aiosmtpd is needed (scripts/deps installs it): %v", err)
	}
	script, err := filepath.Abs("testdata/smtpsink.py")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "mails.jsonl")
	p := h.Start(t, "/usr/bin/python3", script, addr, "2525", out)
	p.WaitOutput(t, "smtpsink ready", settle)
	return out
}

// received is one message as the SMTP server saw it, normalised: the Date
// header's value (checked to be keepalived's format) and the host name
// are replaced by placeholders.
type received struct {
	Helo    string
	From    string
	To      string
	Subject string
	Data    string
}

func readMails(t *testing.T, path, host string) []received {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dateRe := regexp.MustCompile(`(?m)^Date: (.*)\r?$`)
	var out []received
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Helo, From string
			To         []string
			Data       string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		m := dateRe.FindStringSubmatch(r.Data)
		if m == nil {
			t.Errorf("no Date header in %q", r.Data)
		} else if _, err := time.Parse(mail.DateLayout, strings.TrimSuffix(m[1], "\r")); err != nil {
			t.Errorf("Date %q: %v", m[1], err)
		}
		data := dateRe.ReplaceAllString(r.Data, "Date: DATE\r")
		norm := func(s string) string { return strings.ReplaceAll(s, host, "HOST") }
		sub := regexp.MustCompile(`(?m)^Subject: (.*?)\r?$`).FindStringSubmatch(data)
		rec := received{Helo: norm(r.Helo), From: norm(r.From), To: strings.Join(r.To, " "), Data: norm(data)}
		if sub != nil {
			rec.Subject = sub[1]
		}
		out = append(out, rec)
	}
	return out
}

// mailConf is conf with mail alerts to the client's SMTP server; the HELO
// name, the sender and the router_id are keepalived's defaults.
func mailConf() string {
	c := conf(`    notification_email {
        ops@example.org
        noc@example.org
    }
    smtp_server 192.0.2.100 2525
    smtp_connect_timeout 5
    smtp_alert`, 150, "")
	return strings.Replace(c, "    router_id test\n", "", 1)
}

// TestMailAlertsLikeKeepalived: keepalived 2.2.7 and vigild, each alone on
// r1 with the same configuration, go BACKUP, MASTER and stop; aiosmtpd on
// the client receives their alerts. Subject, sender, recipients, HELO name
// and the message text (dates and host names normalised) are the same.
// The second run puts both instances in a sync group that mails too, with
// smtp_helo_name and notification_email_from set. The mails are compared
// as sets: the two daemons' instances run in parallel.
func TestMailAlertsLikeKeepalived(t *testing.T) {
	t.Run("instances", func(t *testing.T) { mailLikeKeepalived(t, mailConf(), 4) })
	group := "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_6\n    }\n    smtp_alert\n}\n" +
		strings.Replace(mailConf(), "    smtp_alert\n", "    smtp_alert_vrrp\n    smtp_helo_name mx-client.example.org\n    notification_email_from vrrp@example.org\n", 1)
	t.Run("sync group", func(t *testing.T) { mailLikeKeepalived(t, group, 4) })
}

func mailLikeKeepalived(t *testing.T, cfg string, atLeast int) {
	l := newLab(t)
	sink := smtpSink(t, l.Client, clientv4)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	run := func(start func() (stop func())) []received {
		os.Remove(sink)
		stop := start()
		var got []received
		testnet.Eventually(t, 3*settle, func() bool { got = readMails(t, sink, host); return len(got) >= atLeast },
			"%d mails", atLeast)
		stop()
		time.Sleep(2 * time.Second) // the stop mails, if any
		return readMails(t, sink, host)
	}
	kept := run(func() func() {
		k := l.R1.Keepalived(t, cfg, "-P")
		k.WaitOutput(t, "(VI_1) Entering MASTER STATE", settle)
		return func() { k.Signal(syscall.SIGTERM); k.Wait(settle) }
	})
	vig := run(func() func() {
		v := startVigild(t, l.R1, cfg, "-i", "r1")
		v.WaitState(t, "VI_1", "MASTER")
		return func() { v.Signal(syscall.SIGTERM); v.Wait(settle) }
	})
	key := func(r received) string { return r.Subject }
	sortBy := func(rs []received) []received {
		slices.SortStableFunc(rs, func(a, b received) int { return strings.Compare(key(a), key(b)) })
		return rs
	}
	kept, vig = sortBy(kept), sortBy(vig)
	t.Logf("keepalived sent %d mails, vigild %d", len(kept), len(vig))
	if len(vig) > 0 {
		t.Logf("vigild's first, normalised: %+q", vig[0])
	}
	for i := range max(len(kept), len(vig)) {
		var k, v received
		if i < len(kept) {
			k = kept[i]
		}
		if i < len(vig) {
			v = vig[i]
		}
		if k != v {
			t.Errorf("mail %d differs:\nkeepalived %+q\nvigild     %+q", i, k, v)
		}
	}
}
