package healthcheck

import (
	"bufio"
	"context"
	"net"
	"time"
)

// DefaultHeloName is keepalived's SMTP_CHECK helo_name.
const DefaultHeloName = "smtpchecker.keepalived.org"

// maxSMTPLine bounds one reply line; a longer one fails the check.
const maxSMTPLine = 4096

// SMTPProbe is SMTP_CHECK: read the banner (must be 220), send HELO
// (reply must be 250), send QUIT and read one more line. A status needs
// exactly three digits followed by the end of the line or a space, so a
// multi-line "220-" banner fails, as in keepalived. Each connect, read and
// write has the connect timeout.
type SMTPProbe struct {
	Conn     Conn
	HeloName string // "" = DefaultHeloName
}

// Probe runs one dialogue.
func (p *SMTPProbe) Probe(ctx context.Context) Result {
	c, fail := p.Conn.dial(ctx, "tcp")
	if fail != nil {
		return *fail
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, maxSMTPLine)
	helo := p.HeloName
	if helo == "" {
		helo = DefaultHeloName
	}
	steps := []struct {
		send string
		want int
		what string
	}{
		{"", 220, "bad greeting banner"},
		{"HELO " + helo + "\r\n", 250, "bad HELO reply"},
		{"QUIT\r\n", -1, "no QUIT reply"},
	}
	for _, s := range steps {
		if s.send != "" {
			c.SetWriteDeadline(time.Now().Add(p.Conn.Timeout))
			if _, err := c.Write([]byte(s.send)); err != nil {
				return ioError("write", err)
			}
		}
		line, err := readLine(c, r, p.Conn.Timeout)
		if err != nil {
			return ioError("read", err)
		}
		if s.want >= 0 && smtpStatus(line) != s.want {
			return Result{Verdict: Failure, Err: s.what + ": " + quoteLine(line)}
		}
	}
	return Result{Verdict: Success}
}

func readLine(c net.Conn, r *bufio.Reader, timeout time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errLineTooLong
	}
	return line, err
}

// smtpStatus is the reply code of a line: three digits followed by the
// end of the line or a space; anything else is 0.
func smtpStatus(line []byte) int {
	if len(line) > 3 && line[3] != ' ' && line[3] != '\r' && line[3] != '\n' {
		return 0
	}
	return threeDigits(line)
}
