package mail

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// fakeServer answers one SMTP exchange over c with replies (by command
// verb; "" is the greeting) and records every line the client wrote.
type fakeServer struct {
	replies map[string]string
	lines   []string
	silent  string // a verb the server never answers
}

func (s *fakeServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func(verb string) bool {
		if s.silent != "" && verb == s.silent {
			r.ReadString(0) // hold the connection until the client gives up
			return false
		}
		_, err := c.Write([]byte(s.replies[verb] + "\r\n"))
		return err == nil
	}
	if !reply("") {
		return
	}
	data := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		s.lines = append(s.lines, line)
		if data {
			if line == ".\r\n" {
				data = false
				if !reply(".") {
					return
				}
			}
			continue
		}
		verb, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if len(verb) > 4 {
			verb = verb[:4]
		}
		if !reply(verb) {
			return
		}
		if verb == "DATA" && strings.HasPrefix(s.replies["DATA"], "354") {
			data = true
		}
		if verb == "QUIT" {
			return
		}
	}
}

func okReplies() map[string]string {
	return map[string]string{"": "220-mx.example.org hello\r\n220 ready", "HELO": "250 mx.example.org", "MAIL": "250 ok", "RCPT": "250 ok",
		"DATA": "354 go ahead", ".": "250 queued", "QUIT": "221 bye"}
}

func deliverPipe(t *testing.T, srv *fakeServer, timeout time.Duration) error {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() { srv.serve(server); close(done) }()
	s := &SMTP{Addr: "192.0.2.25:25", Helo: "r1.example.org", Timeout: timeout,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) { return client, nil }}
	m := Message{From: "root@r1", To: []string{"a@example.org", "b@example.org"}, Subject: "[r1] VRRP Instance VI_1 - Entering MASTER state",
		Body: "=> VRRP Instance is now owning VRRP VIPs <="}
	err := s.Deliver(context.Background(), m, time.Date(2026, 12, 4, 5, 6, 7, 0, time.UTC))
	client.Close()
	<-done
	return err
}

// keepalived's dialogue (smtp.c: HELO, MAIL FROM, RCPT TO per recipient,
// DATA, headers, body, ".", QUIT), line for line.
func TestSMTPDialogue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{replies: okReplies()}
		if err := deliverPipe(t, srv, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		want := []string{"HELO r1.example.org\r\n", "MAIL FROM:<root@r1>\r\n", "RCPT TO:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n", "DATA\r\n",
			"Date: Fri, 04 Dec 2026 05:06:07 +0000\r\n", "From: root@r1\r\n", "Subject: [r1] VRRP Instance VI_1 - Entering MASTER state\r\n",
			"X-Mailer: Keepalived\r\n", "To: a@example.org, b@example.org\r\n", "\r\n", "=> VRRP Instance is now owning VRRP VIPs <=\r\n", "\r\n", ".\r\n",
			"QUIT\r\n"}
		if strings.Join(srv.lines, "") != strings.Join(want, "") {
			t.Errorf("client wrote\n%q\nwant\n%q", srv.lines, want)
		}
	})
}

// Any code other than the one keepalived expects ends the exchange.
func TestSMTPRefusals(t *testing.T) {
	for verb, code := range map[string]string{"": "554 go away", "HELO": "501 no", "MAIL": "550 no", "RCPT": "550 no such user", "DATA": "451 later", ".": "552 too big"} {
		t.Run(verb, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &fakeServer{replies: okReplies()}
				srv.replies[verb] = code
				err := deliverPipe(t, srv, 30*time.Second)
				if !errors.Is(err, ErrReply) || !strings.Contains(err.Error(), code[:3]) {
					t.Errorf("refused %q: err = %v", verb, err)
				}
			})
		})
	}
}

// A server that stops answering costs one smtp_connect_timeout, not more.
func TestSMTPStepTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{replies: okReplies(), silent: "RCPT"}
		start := time.Now()
		err := deliverPipe(t, srv, 7*time.Second)
		if err == nil {
			t.Fatal("delivery to a silent server succeeded")
		}
		if took := time.Since(start); took != 7*time.Second {
			t.Errorf("gave up after %v, want the 7s step timeout", took)
		}
	})
}
