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
	maxRegexBody = 1 << 20  // a regex sees at most this much of the body
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

// HTTPProbe is HTTP_GET, or SSL_GET when TLS is set: for each url in turn
// one GET (see AppendHTTPRequest), then the status, the body's MD5
// (truncated to Content-Length when given) and the regex are checked; the
// first url that fails fails the attempt. The connect timeout bounds the
// connect (with the TLS handshake), the write, and each read (for SSL_GET
// all body reads together); MaxDuration, when set, bounds the whole
// attempt.
type HTTPProbe struct {
	Conn        Conn
	TLS         *tls.Config // nil: plain HTTP
	Proto       string      // http_protocol
	URLs        []URLCheck
	MaxDuration time.Duration
}

// Probe checks every url.
func (p *HTTPProbe) Probe(ctx context.Context) Result {
	if p.MaxDuration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.MaxDuration)
		defer cancel()
	}
	for i := range p.URLs {
		if r := p.probeURL(ctx, &p.URLs[i]); r.Verdict != Success {
			if len(p.URLs) > 1 {
				r.Err = fmt.Sprintf("url %s: %s", p.URLs[i].Path, r.Err)
			}
			return r
		}
	}
	return Result{Verdict: Success}
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
