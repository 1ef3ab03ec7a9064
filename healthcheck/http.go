package healthcheck

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"time"
)

// Limits on what vigil keeps of a response (keepalived streams the body
// and keeps nothing; vigil needs the headers and, for a regex, the body).
const (
	maxHTTPHead  = 64 << 10 // headers beyond this fail the check
	maxRegexBody = 1 << 20  // a regex sees at most this much of the response
)

// URLCheck is one url block.
type URLCheck struct {
	Path    string
	Host    string   // Host header; "" = the connect address and port
	SNI     string   // SSL_GET server name sent (enable_sni); "" = none
	Digest  []byte   // MD5 of the body; nil = not checked
	Codes   [][2]int // accepted status ranges; empty = 200-299
	Regex   *regexp.Regexp
	NoMatch bool // regex_no_match: the regex must not match
}

// HTTPProbe is HTTP_GET, or SSL_GET when TLS is set: one GET (see
// AppendHTTPRequest) of one url per attempt, whose status, body MD5
// (truncated to Content-Length when given) and regex are checked. As in
// keepalived, the urls are walked one per attempt (Partial until the last
// passes: a down checker comes up only after a whole pass), a failed url
// is retried, and once the checker is down only the failed url is probed;
// its success restarts the walk from the first url. The connect timeout
// bounds the connect (with the TLS handshake), the write, and each read
// (for SSL_GET all reads together); MaxDuration, when set, bounds the
// whole attempt.
//
// The walk's position lives in the probe: the Scheduler runs one attempt
// of a checker at a time.
type HTTPProbe struct {
	Conn        Conn
	TLS         *tls.Config // nil: plain HTTP
	Proto       string      // http_protocol
	URLs        []URLCheck
	MaxDuration time.Duration
	// FastRecovery: before the first whole pass, and while the checker is
	// down, the next url follows at once instead of after delay_loop.
	FastRecovery bool

	next       int  // the url the next attempt checks
	lastFailed bool // the last attempt failed
	passed     bool // a whole pass has succeeded once
}

// Probe checks the next url as for a checker that is up.
func (p *HTTPProbe) Probe(ctx context.Context) Result { return p.ProbeAttempt(ctx, true) }

// ProbeAttempt checks the next url; up is the checker's state.
func (p *HTTPProbe) ProbeAttempt(ctx context.Context, up bool) Result {
	if p.MaxDuration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.MaxDuration)
		defer cancel()
	}
	failedURL := !up && p.lastFailed // down because this url failed
	u := &p.URLs[p.next]
	r := p.probeURL(ctx, u)
	switch {
	case r.Verdict == Failure:
		p.lastFailed = true
	case r.Verdict != Success:
	case failedURL:
		p.next, p.lastFailed = 0, false
		r.Verdict = Partial
	default:
		p.lastFailed = false
		p.next++
		if p.next < len(p.URLs) {
			r.Verdict = Partial
		} else {
			p.next, p.passed = 0, true
		}
	}
	r.Again = r.Verdict == Partial && p.FastRecovery && (!p.passed || !up)
	if len(p.URLs) > 1 && r.Err != "" {
		r.Err = fmt.Sprintf("url %s: %s", u.Path, r.Err)
	}
	return r
}

func (p *HTTPProbe) probeURL(ctx context.Context, u *URLCheck) Result {
	c, fail := p.Conn.dial(ctx, "tcp")
	if fail != nil {
		return *fail
	}
	defer c.Close()
	host := u.Host
	if host == "" {
		host = hostPort(p.Conn.Addr)
	}
	var rw net.Conn = c
	if p.TLS != nil {
		cfg := p.TLS.Clone()
		cfg.ServerName = u.SNI
		tc := tls.Client(c, cfg)
		c.SetDeadline(time.Now().Add(p.Conn.Timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			return Result{Verdict: Failure, Err: "TLS handshake: " + err.Error()}
		}
		rw = tc
	}
	rw.SetWriteDeadline(time.Now().Add(p.Conn.Timeout))
	if _, err := rw.Write(AppendHTTPRequest(nil, u.Path, host, p.Proto)); err != nil {
		return ioError("write", err)
	}
	if p.TLS != nil {
		rw.SetReadDeadline(time.Now().Add(p.Conn.Timeout))
	}
	var head []byte
	buf := make([]byte, 4096)
	sum := md5.New()
	var regexBody []byte
	body := int64(0)
	limit, haveLimit := int64(0), false
	inBody := false
	for {
		if p.TLS == nil {
			rw.SetReadDeadline(time.Now().Add(p.Conn.Timeout))
		}
		n, err := rw.Read(buf)
		chunk := buf[:n]
		if !inBody && n > 0 {
			head = append(head, chunk...)
			i := bytes.Index(head, []byte("\r\n\r\n"))
			if i < 0 {
				if len(head) > maxHTTPHead {
					return Result{Verdict: Failure, Err: "headers too long"}
				}
				chunk = nil
			} else {
				chunk = head[i+4:]
				head = head[:i+2]
				if u.Regex != nil {
					// keepalived hands the regex its first buffer whole,
					// status line and headers included, then the body.
					regexBody = append(regexBody, head[:min(len(head), maxRegexBody)]...)
					regexBody = append(regexBody, "\r\n"...)
				}
				inBody = true
				limit, haveLimit = HTTPContentLength(head)
			}
		}
		if inBody && len(chunk) > 0 {
			h := chunk
			if haveLimit {
				h = h[:max(0, min(int64(len(h)), limit-body))]
			}
			sum.Write(h)
			body += int64(len(chunk))
			if u.Regex != nil && len(regexBody) < maxRegexBody {
				regexBody = append(regexBody, chunk[:min(len(chunk), maxRegexBody-len(regexBody))]...)
			}
		}
		if err == io.EOF || (err != nil && inBody && isTLSCloseError(err)) {
			break
		}
		if err != nil {
			return ioError("read", err)
		}
	}
	if !inBody {
		return Result{Verdict: Failure, Err: "no data received"}
	}
	if code := HTTPStatus(head); !statusIn(code, u.Codes) {
		return Result{Verdict: Failure, Err: fmt.Sprintf("HTTP status code %d", code)}
	}
	if u.Digest != nil {
		if got := sum.Sum(nil); !bytes.Equal(got, u.Digest) {
			return Result{Verdict: Failure, Err: "MD5 digest " + hex.EncodeToString(got)}
		}
	}
	if u.Regex != nil && u.Regex.Match(regexBody) == u.NoMatch {
		return Result{Verdict: Failure, Err: "regex match failed"}
	}
	return Result{Verdict: Success}
}

// isTLSCloseError: a server that closes the TCP connection without a TLS
// close_notify ends the body, as it does for keepalived.
func isTLSCloseError(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF)
}
