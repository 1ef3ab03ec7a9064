package ipvslab

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// Mail is one message an SMTP sink accepted: the HELO name, the envelope
// and the text after DATA (CRLF line ends, without the final dot line).
type Mail struct {
	Helo string
	From string
	To   []string
	Data string
}

// SMTPSink is a minimal SMTP server that accepts every message and keeps
// it: enough for keepalived's and vigild's plain exchange (HELO, MAIL
// FROM, RCPT TO, DATA, QUIT). It is lab equipment: lines and messages are
// bounded, each connection has a deadline, and anything unexpected ends
// the connection.
type SMTPSink struct {
	ln net.Listener
	wg sync.WaitGroup

	mu sync.Mutex
	// mu guards the following fields.
	mails []Mail
	conns map[net.Conn]bool
}

// Limits of the sink: a line, a message, a connection's life.
const (
	sinkMaxLine = 1024
	sinkMaxData = 64 << 10
	sinkTimeout = 30 * time.Second
)

// ServeSMTP starts a sink on h at addr:port; the test's cleanup stops it.
func ServeSMTP(t testing.TB, h *testnet.Host, addr string, port int) *SMTPSink {
	t.Helper()
	s := &SMTPSink{conns: map[net.Conn]bool{}}
	if err := h.Do(func() (err error) {
		s.ln, err = net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
		return err
	}); err != nil {
		t.Fatalf("ipvslab: smtp sink on %s: %v", h.Name(), err)
	}
	t.Cleanup(func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	return s
}

// Mails returns the messages accepted so far, in arrival order.
func (s *SMTPSink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Reset forgets the messages accepted so far.
func (s *SMTPSink) Reset() {
	s.mu.Lock()
	s.mails = nil
	s.mu.Unlock()
}

func (s *SMTPSink) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(sinkTimeout))
	r := bufio.NewReaderSize(c, sinkMaxLine)
	reply := func(line string) bool {
		_, err := c.Write([]byte(line + "\r\n"))
		return err == nil
	}
	readLine := func() (string, bool) {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return "", false
		}
		return strings.TrimRight(string(line), "\r\n"), true
	}
	if !reply("220 sink.example.org ESMTP lab sink") {
		return
	}
	var m Mail
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "HELO":
			m = Mail{Helo: arg}
			ok = reply("250 sink.example.org")
		case "MAIL":
			m.From, m.To = strings.TrimPrefix(arg, "FROM:"), nil
			ok = reply("250 ok")
		case "RCPT":
			m.To = append(m.To, strings.TrimPrefix(arg, "TO:"))
			ok = reply("250 ok")
		case "DATA":
			if !reply("354 end with a dot line") {
				return
			}
			var b strings.Builder
			for {
				l, err := r.ReadSlice('\n')
				if err != nil || b.Len()+len(l) > sinkMaxData {
					return
				}
				if string(l) == ".\r\n" {
					break
				}
				b.Write(l)
			}
			m.Data = b.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			ok = reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			ok = reply("500 what")
		}
		if !ok {
			return
		}
	}
}
