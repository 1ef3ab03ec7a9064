package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"time"
)

// Transport delivers one composed message. SMTP is the real one; tests
// use an in-memory twin.
type Transport interface {
	// Deliver sends m, with date in its Date header. It returns when the
	// server accepted the message or the exchange failed; ctx ends it
	// early.
	Deliver(ctx context.Context, m Message, date time.Time) error
}

// SMTP speaks keepalived's dialogue to one server: wait for 220, HELO,
// MAIL FROM:<from>, RCPT TO:<addr> for each recipient, DATA, the text,
// ".", QUIT. Every reply must carry exactly the code keepalived expects
// (220, 250, 250, 250, 354, 250); anything else ends the exchange. Each
// step (the connect, every read and write) gets Timeout, as keepalived
// gives each its smtp_connect_timeout.
//
// The standard library's net/smtp is not used: it opens with EHLO (and
// may offer STARTTLS or AUTH), where keepalived's peers expect HELO and a
// plain exchange.
type SMTP struct {
	Addr    string        // host:port
	Helo    string        // the HELO name
	Timeout time.Duration // per step; 0: DefaultTimeout
	// Dial opens the connection; nil: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultTimeout is keepalived's smtp_connect_timeout default.
const DefaultTimeout = 30 * time.Second

// ErrReply is wrapped by Deliver's errors when the server answered with
// an unexpected code.
var ErrReply = errors.New("mail: unexpected SMTP reply")

// Deliver implements Transport.
func (s *SMTP) Deliver(ctx context.Context, m Message, date time.Time) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dial := s.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := dial(dctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("mail: connecting to SMTP server %s: %w", s.Addr, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	c := textproto.NewConn(nc)
	step := func() { nc.SetDeadline(time.Now().Add(timeout)) }
	expect := func(what string, code int) error {
		step()
		if _, msg, err := c.ReadResponse(code); err != nil {
			var te *textproto.Error
			if errors.As(err, &te) {
				return fmt.Errorf("%w: %s %s: %d %s", ErrReply, s.Addr, what, te.Code, te.Msg)
			}
			return fmt.Errorf("mail: SMTP server %s: %s: %w (%s)", s.Addr, what, err, msg)
		}
		return nil
	}
	cmd := func(what string, code int, format string, args ...any) error {
		step()
		if _, err := c.Cmd(format, args...); err != nil {
			return fmt.Errorf("mail: SMTP server %s: %s: %w", s.Addr, what, err)
		}
		return expect(what, code)
	}
	if err := expect("greeting", 220); err != nil {
		return err
	}
	if err := cmd("HELO", 250, "HELO %s", oneLine(s.Helo)); err != nil {
		return err
	}
	if err := cmd("MAIL", 250, "MAIL FROM:<%s>", oneLine(m.From)); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := cmd("RCPT", 250, "RCPT TO:<%s>", oneLine(to)); err != nil {
			return err
		}
	}
	if err := cmd("DATA", 354, "DATA"); err != nil {
		return err
	}
	step()
	w := c.DotWriter()
	if _, err := w.Write(m.Data(date)); err != nil {
		return fmt.Errorf("mail: SMTP server %s: message: %w", s.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: SMTP server %s: message: %w", s.Addr, err)
	}
	if err := expect("message", 250); err != nil {
		return err
	}
	// keepalived sends QUIT and does not care what follows.
	step()
	if _, err := c.Cmd("QUIT"); err == nil {
		c.ReadResponse(221)
	}
	return nil
}
