package healthcheck

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/testnet"
)

const testTimeout = 3 * time.Second

func loopConn(t *testing.T, addr string) Conn {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return Conn{Addr: ap, Timeout: testTimeout}
}

// closedPort returns a loopback TCP/UDP port nobody listens on.
func closedPort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	if network == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	} else {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr().String()
		c.Close()
	}
	return addr
}

func want(t *testing.T, name string, r Result, v Verdict, errHas string) {
	t.Helper()
	if r.Verdict != v || !strings.Contains(r.Err, errHas) {
		t.Errorf("%s: %v %q, want %v containing %q", name, r.Verdict, r.Err, v, errHas)
	}
}

func TestTCPProbe(t *testing.T) {
	ctx := context.Background()
	c := loopConn(t, serveTCP(t, "127.0.0.1:0", func(net.Conn) {}))
	want(t, "listening", (&TCPProbe{Conn: c}).Probe(ctx), Success, "")
	want(t, "refused", (&TCPProbe{Conn: loopConn(t, closedPort(t, "tcp"))}).Probe(ctx), Failure, "connection failed")
	// A bind to an address that is not ours is a local error: skipped.
	b := c
	b.BindTo = netip.MustParseAddr("192.0.2.1")
	want(t, "foreign bindto", (&TCPProbe{Conn: b}).Probe(ctx), Skip, "local error")
	b = c
	b.BindTo, b.BindPort = netip.MustParseAddr("127.0.0.1"), 0
	want(t, "bindto loopback", (&TCPProbe{Conn: b}).Probe(ctx), Success, "")
	// bind_port: the server sees the connection come from that port.
	from := make(chan int, 1)
	srcAddr := serveTCP(t, "127.0.0.1:0", func(c net.Conn) { from <- c.RemoteAddr().(*net.TCPAddr).Port })
	free, _ := strings.CutPrefix(closedPort(t, "tcp"), "127.0.0.1:")
	b = loopConn(t, srcAddr)
	b.BindTo = netip.MustParseAddr("127.0.0.1")
	fmt.Sscan(free, &b.BindPort)
	want(t, "bind_port", (&TCPProbe{Conn: b}).Probe(ctx), Success, "")
	if got := <-from; got != b.BindPort {
		t.Errorf("connection from port %d, want bind_port %d", got, b.BindPort)
	}
	b = c
	b.BindIf = "vigil-nonexist"
	want(t, "unknown bind_if", (&TCPProbe{Conn: b}).Probe(ctx), Skip, "local error")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if r := (&TCPProbe{Conn: c}).Probe(cctx); r.Verdict == Success {
		t.Errorf("cancelled probe succeeded")
	}
}

func TestHTTPProbe(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	body := "hello vigil, this is the body"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, body)
		case "/missing":
			http.NotFound(w, r)
		case "/long":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, body[:5])
		}
	}))
	defer srv.Close()
	sum := md5.Sum([]byte(body))
	sum5 := md5.Sum([]byte(body[:5]))
	c := loopConn(t, strings.TrimPrefix(srv.URL, "http://"))
	ok := [][2]int{{200, 299}}
	tests := []struct {
		name   string
		urls   []URLCheck
		proto  string
		v      Verdict
		errHas string
	}{
		{"status 200", []URLCheck{{Path: "/ok", Codes: ok}}, "1.0", Success, ""},
		{"status 404 not accepted", []URLCheck{{Path: "/missing", Codes: ok}}, "1.0", Failure, "status code 404"},
		{"status range with 404", []URLCheck{{Path: "/missing", Codes: [][2]int{{200, 200}, {400, 404}}}}, "1.1", Success, ""},
		{"digest matches", []URLCheck{{Path: "/ok", Codes: ok, Digest: sum[:]}}, "1.0C", Success, ""},
		{"digest differs", []URLCheck{{Path: "/ok", Codes: ok, Digest: sum5[:]}}, "1.0", Failure, "MD5 digest"},
		{"digest of Content-Length bytes", []URLCheck{{Path: "/long", Codes: ok, Digest: sum5[:]}}, "1.0", Success, ""},
		{"regex", []URLCheck{{Path: "/ok", Codes: ok, Regex: regexp.MustCompile(`this is`)}}, "1.0", Success, ""},
		{"regex fails", []URLCheck{{Path: "/ok", Codes: ok, Regex: regexp.MustCompile(`^nope`)}}, "1.0", Failure, "regex"},
		{"regex sees the headers", []URLCheck{{Path: "/ok", Codes: ok, Regex: regexp.MustCompile(`(?m)^HTTP/1\.[01] 200 OK\r$`)}}, "1.0", Success, ""},
		{"regex_no_match", []URLCheck{{Path: "/ok", Codes: ok, Regex: regexp.MustCompile(`^nope`), NoMatch: true}}, "1.0", Success, ""},
	}
	for _, tc := range tests {
		r := (&HTTPProbe{Conn: c, Proto: tc.proto, URLs: tc.urls}).Probe(context.Background())
		want(t, tc.name, r, tc.v, tc.errHas)
	}
	two := &HTTPProbe{Conn: c, URLs: []URLCheck{{Path: "/ok", Codes: ok}, {Path: "/missing", Codes: ok}}}
	want(t, "first of two urls", two.Probe(context.Background()), Partial, "")
	want(t, "second of two urls", two.Probe(context.Background()), Failure, "url /missing")
	r := (&HTTPProbe{Conn: c, URLs: []URLCheck{{Path: "/ok", Codes: ok, Host: "www.example.org"}}}).Probe(context.Background())
	want(t, "virtualhost", r, Success, "")
	mu.Lock()
	if hosts[0] != c.Addr.String() || hosts[len(hosts)-1] != "www.example.org" {
		t.Errorf("Host headers %q", hosts)
	}
	mu.Unlock()
	want(t, "refused", (&HTTPProbe{Conn: loopConn(t, closedPort(t, "tcp")), URLs: []URLCheck{{Path: "/", Codes: ok}}}).Probe(context.Background()), Failure, "connection")
}

// rawServer answers every connection with reply and records the request.
func rawServer(t *testing.T, reply string) (string, <-chan string) {
	t.Helper()
	reqs := make(chan string, 10)
	addr := serveTCP(t, "127.0.0.1:0", func(c net.Conn) {
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(testTimeout))
		n, _ := c.Read(buf)
		reqs <- string(buf[:n])
		io.WriteString(c, reply)
	})
	return addr, reqs
}

// serveTCP listens on addr until the test ends and hands each connection
// to handle, closing it afterwards; it returns the address.
func serveTCP(t *testing.T, addr string, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, handle)
	return l.Addr().String()
}

// serve accepts on l until the test ends.
func serve(t *testing.T, l net.Listener, handle func(net.Conn)) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			handle(c)
			c.Close()
		}
	}()
}

// TestHTTPProbeWalk follows keepalived's url walk: one url per attempt,
// a whole pass before a success; once down, only the failed url, whose
// success restarts the walk from the first.
func TestHTTPProbeWalk(t *testing.T) {
	var bDown atomic.Bool
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/b" && bDown.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ok := [][2]int{{200, 299}}
	p := &HTTPProbe{Conn: loopConn(t, strings.TrimPrefix(srv.URL, "http://")),
		URLs: []URLCheck{{Path: "/a", Codes: ok}, {Path: "/b", Codes: ok}, {Path: "/c", Codes: ok}}}
	ctx := context.Background()
	steps := []struct {
		up    bool
		bDown bool
		v     Verdict
	}{
		{true, false, Partial},  // a
		{true, false, Partial},  // b
		{true, false, Success},  // c: a whole pass
		{true, true, Partial},   // a
		{true, true, Failure},   // b fails
		{true, true, Failure},   // b retried (up, retrying)
		{false, true, Failure},  // down: only b
		{false, false, Partial}, // b passes: restart from a
		{false, false, Partial}, // a
		{false, false, Partial}, // b
		{false, false, Success}, // c: up again
	}
	for i, s := range steps {
		bDown.Store(s.bDown)
		if r := p.ProbeAttempt(ctx, s.up); r.Verdict != s.v {
			t.Fatalf("step %d: %v %q, want %v", i, r.Verdict, r.Err, s.v)
		}
	}
	mu.Lock()
	if got := strings.Join(paths, " "); got != "/a /b /c /a /b /b /b /b /a /b /c" {
		t.Errorf("urls fetched: %s", got)
	}
	mu.Unlock()

	// fast_recovery: Again before the first whole pass and while down.
	p.FastRecovery, p.next, p.lastFailed, p.passed = true, 0, false, false
	for i, s := range []struct {
		up, bDown, again bool
		v                Verdict
	}{
		{true, false, true, Partial},  // a: up, but no whole pass yet
		{true, false, true, Partial},  // b
		{true, false, false, Success}, // c: the first whole pass
		{true, false, false, Partial}, // a: up and passed once
		{true, true, false, Failure},  // b
		{false, false, true, Partial}, // b passes: restart, down
		{false, false, true, Partial}, // a
	} {
		bDown.Store(s.bDown)
		if r := p.ProbeAttempt(ctx, s.up); r.Verdict != s.v || r.Again != s.again {
			t.Fatalf("fast_recovery step %d: %v again=%v, want %v again=%v", i, r.Verdict, r.Again, s.v, s.again)
		}
	}
}

func TestHTTPProbeWire(t *testing.T) {
	ok := [][2]int{{200, 299}}
	addr, reqs := rawServer(t, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
	r := (&HTTPProbe{Conn: loopConn(t, addr), Proto: "1.1", URLs: []URLCheck{{Path: "/x", Codes: ok}}}).Probe(context.Background())
	want(t, "no reason phrase", r, Failure, "status code 0")
	if got := <-reqs; got != "GET /x HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: "+addr+"\r\n\r\n" {
		t.Errorf("request %q", got)
	}
	addr, _ = rawServer(t, "HTTP/1.0 200 OK\r\nServer: x\r\n")
	r = (&HTTPProbe{Conn: loopConn(t, addr), URLs: []URLCheck{{Path: "/", Codes: ok}}}).Probe(context.Background())
	want(t, "no end of headers", r, Failure, "no data received")
	addr, reqs = rawServer(t, "HTTP/1.0 204 No Content\r\n\r\n")
	r = (&HTTPProbe{Conn: loopConn(t, addr), URLs: []URLCheck{{Path: "/", Codes: ok}}}).Probe(context.Background())
	want(t, "204", r, Success, "")
	if got := <-reqs; got != "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: "+addr+"\r\n\r\n" {
		t.Errorf("request %q", got)
	}
}

func TestSSLProbe(t *testing.T) {
	names := make(chan string, 4)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		names <- r.TLS.ServerName
		io.WriteString(w, "secure")
	}))
	defer srv.Close()
	tlsCfg, err := clientTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := loopConn(t, strings.TrimPrefix(srv.URL, "https://"))
	ok := [][2]int{{200, 299}}
	// The test server's certificate is self-signed: keepalived does not
	// verify, so neither does SSL_GET.
	r := (&HTTPProbe{Conn: c, TLS: tlsCfg, URLs: []URLCheck{{Path: "/", Codes: ok, Host: "a.example"}}}).Probe(context.Background())
	want(t, "no SNI", r, Success, "")
	if n := <-names; n != "" {
		t.Errorf("SNI %q sent without enable_sni", n)
	}
	r = (&HTTPProbe{Conn: c, TLS: tlsCfg, URLs: []URLCheck{{Path: "/", Codes: ok, SNI: "b.example"}}}).Probe(context.Background())
	want(t, "SNI", r, Success, "")
	if n := <-names; n != "b.example" {
		t.Errorf("SNI %q, want b.example", n)
	}
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	r = (&HTTPProbe{Conn: loopConn(t, strings.TrimPrefix(plain.URL, "http://")), TLS: tlsCfg, URLs: []URLCheck{{Path: "/", Codes: ok}}}).Probe(context.Background())
	want(t, "TLS to a plain server", r, Failure, "TLS handshake")
}

func TestMiscProbe(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) []string { return []string{testnet.WriteScript(t, dir, name, body)} }
	ctx := context.Background()
	tests := []struct {
		name    string
		argv    []string
		dynamic bool
		timeout time.Duration
		v       Verdict
		exit    int
		errHas  string
	}{
		{"exit 0", script("ok.sh", "exit 0"), false, 0, Success, 0, ""},
		{"exit 1", script("fail.sh", "exit 1"), false, 0, Failure, 1, "status 1"},
		{"exit 7 without misc_dynamic", script("seven.sh", "exit 7"), false, 0, Failure, 7, "status 7"},
		{"exit 7 with misc_dynamic", script("seven2.sh", "exit 7"), true, 0, Success, 7, ""},
		{"exit 1 with misc_dynamic", script("one.sh", "exit 1"), true, 0, Failure, 1, ""},
		{"arguments reach the script", append(script("args.sh", `[ "$1" = a ] && [ "$2" = "b c" ]`), "a", "b c"), false, 0, Success, 0, ""},
		{"timeout", script("slow.sh", "sleep 30"), false, 200 * time.Millisecond, Failure, -1, "timed out"},
		{"missing", []string{filepath.Join(dir, "nope.sh")}, false, 0, Failure, -1, "cannot be accessed"},
	}
	for _, tc := range tests {
		p := &MiscProbe{Script: check.Script{Name: tc.name, Argv: tc.argv, Timeout: tc.timeout, KillGrace: 100 * time.Millisecond}, Dynamic: tc.dynamic}
		r := p.Probe(ctx)
		want(t, tc.name, r, tc.v, tc.errHas)
		if r.ExitCode != tc.exit {
			t.Errorf("%s: exit %d, want %d", tc.name, r.ExitCode, tc.exit)
		}
	}
	// Script security: a script others may write is refused at the run.
	testnet.NeedRoot(t)
	unsafe := testnet.WriteScript(t, dir, "unsafe.sh", "exit 0")
	if err := os.Chmod(unsafe, 0o777); err != nil {
		t.Fatal(err)
	}
	r := (&MiscProbe{Script: check.Script{Name: "unsafe", Argv: []string{unsafe}}}).Probe(ctx)
	want(t, "insecure script", r, Failure, "unsafe permissions")
	r = (&MiscProbe{Script: check.Script{Name: "unsafe", Argv: []string{unsafe}, AllowUnsafe: true}}).Probe(ctx)
	want(t, "insecure script without enable_script_security", r, Success, "")
}

// dnsServer answers each query with a wrong-ID reply, a query echo (QR
// clear), then the real reply with rcode; a negative rcode stays silent.
func dnsServer(t *testing.T, rcode int) (string, <-chan []byte) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	queries := make(chan []byte, 4)
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := append([]byte(nil), buf[:n]...)
			queries <- q
			if rcode < 0 {
				continue
			}
			bad := append([]byte(nil), q...)
			bad[0] ^= 0xff
			bad[2] |= 0x80
			pc.WriteTo(bad, from)
			pc.WriteTo(q, from) // QR clear: ignored
			pc.WriteTo(q[:5], from)
			ok := append([]byte(nil), q...)
			ok[2] |= 0x80
			ok[3] = byte(rcode)
			pc.WriteTo(ok, from)
		}
	}()
	return pc.LocalAddr().String(), queries
}

func TestDNSProbe(t *testing.T) {
	ctx := context.Background()
	addr, queries := dnsServer(t, 0)
	want(t, "rcode 0", (&DNSProbe{Conn: loopConn(t, addr), QType: 28, Name: "www.example.org."}).Probe(ctx), Success, "")
	q := <-queries
	wantQ, _ := AppendDNSQuery(nil, uint16(q[0])<<8|uint16(q[1]), 28, "www.example.org")
	if string(q) != string(wantQ) || q[2] != 0x01 {
		t.Errorf("query %x, want %x", q, wantQ)
	}
	addr, _ = dnsServer(t, 3)
	want(t, "NXDOMAIN", (&DNSProbe{Conn: loopConn(t, addr), QType: 6, Name: "."}).Probe(ctx), Failure, "rcode 3")
	addr, _ = dnsServer(t, -1)
	c := loopConn(t, addr)
	c.Timeout = 200 * time.Millisecond
	want(t, "silent", (&DNSProbe{Conn: c, QType: 6}).Probe(ctx), Failure, "timeout")
}

func TestDNSQueryCodec(t *testing.T) {
	q, err := AppendDNSQuery(nil, 0xbeef, 6, ".")
	if err != nil || string(q) != "\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\x01" {
		t.Errorf("root SOA query %q %v", q, err)
	}
	q, err = AppendDNSQuery(nil, 1, 1, "a.bc")
	if err != nil || string(q[12:]) != "\x01a\x02bc\x00\x00\x01\x00\x01" {
		t.Errorf("a.bc query %q %v", q[12:], err)
	}
	for _, bad := range []string{"a..b", ".a", strings.Repeat("x", 64) + ".org", strings.Repeat("abcdefg.", 32)} {
		if _, err := AppendDNSQuery(nil, 1, 1, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if r, ok := ParseDNSReply([]byte("\x12\x34\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00")); !ok || r != (DNSReply{ID: 0x1234, QR: true, RCode: 3}) {
		t.Errorf("reply %+v %v", r, ok)
	}
	if _, ok := ParseDNSReply(make([]byte, 11)); ok {
		t.Error("short reply accepted")
	}
}

func FuzzDNSReply(f *testing.F) {
	f.Add([]byte("\x12\x34\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := ParseDNSReply(b)
		if ok != (len(b) >= 12) || (ok && r.RCode > 15) {
			t.Fatalf("%x: %+v %v", b, r, ok)
		}
	})
}

// udpServer echoes every datagram, prefixed with reply, or stays silent
// when reply is nil.
func udpServer(t *testing.T, reply []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply != nil {
				pc.WriteTo(append(append([]byte(nil), reply...), buf[:n]...), from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestUDPProbe(t *testing.T) {
	ctx := context.Background()
	// Silence is waited for 200 ms; a reply gets the full test timeout.
	short := func(addr string) Conn { c := loopConn(t, addr); c.Timeout = 200 * time.Millisecond; return c }
	full := func(addr string) Conn { return loopConn(t, addr) }
	silent := udpServer(t, nil)
	echo := udpServer(t, []byte("OK"))
	closed := closedPort(t, "udp")
	tests := []struct {
		name string
		p    UDPProbe
		v    Verdict
	}{
		{"silence is success", UDPProbe{Conn: short(silent)}, Success},
		{"port unreachable fails", UDPProbe{Conn: full(closed)}, Failure},
		{"require_reply and silence fails", UDPProbe{Conn: short(silent), RequireReply: true}, Failure},
		{"bare require_reply", UDPProbe{Conn: full(echo), RequireReply: true}, Success},
		{"pattern with wildcard", UDPProbe{Conn: full(echo), RequireReply: true, Payload: []byte("hi"),
			Pattern: []byte("OKh\x00"), Mask: []byte{0xff, 0xff, 0xff, 0x00}, MinLen: 0, MaxLen: 255}, Success},
		{"pattern mismatch", UDPProbe{Conn: full(echo), RequireReply: true, Payload: []byte("hi"),
			Pattern: []byte("NO"), Mask: []byte{0xff, 0xff}, MaxLen: 255}, Failure},
		{"reply too long", UDPProbe{Conn: full(echo), RequireReply: true, Payload: []byte("hello"),
			Pattern: []byte("OK"), Mask: []byte{0xff, 0xff}, MaxLen: 4}, Failure},
	}
	for _, tc := range tests {
		want(t, tc.name, tc.p.Probe(ctx), tc.v, "")
	}
}

func TestPingProbe(t *testing.T) {
	for _, a := range []string{"127.0.0.1:0", "[::1]:0"} {
		r := (&PingProbe{Conn: loopConn(t, a)}).Probe(context.Background())
		if r.Verdict != Success && strings.Contains(r.Err, "socket") {
			testnet.NeedRoot(t) // neither a ping socket nor a raw one
		}
		want(t, "ping "+a, r, Success, "")
	}
}

// smtpServer runs one dialogue per connection with the given banner and
// HELO reply; it records the HELO line.
func smtpServer(t *testing.T, banner, heloReply string) (string, <-chan string) {
	t.Helper()
	helos := make(chan string, 4)
	addr := serveTCP(t, "127.0.0.1:0", func(c net.Conn) {
		c.SetDeadline(time.Now().Add(testTimeout))
		r := bufio.NewReader(c)
		io.WriteString(c, banner)
		line, _ := r.ReadString('\n')
		helos <- line
		io.WriteString(c, heloReply)
		if line, _ := r.ReadString('\n'); line == "QUIT\r\n" {
			io.WriteString(c, "221 bye\r\n")
		}
	})
	return addr, helos
}

func TestSMTPProbe(t *testing.T) {
	ctx := context.Background()
	addr, helos := smtpServer(t, "220 mail.example ESMTP\r\n", "250 hello\r\n")
	want(t, "dialogue", (&SMTPProbe{Conn: loopConn(t, addr)}).Probe(ctx), Success, "")
	if h := <-helos; h != "HELO smtpchecker.keepalived.org\r\n" {
		t.Errorf("HELO line %q", h)
	}
	want(t, "helo_name", (&SMTPProbe{Conn: loopConn(t, addr), HeloName: "lb1.example"}).Probe(ctx), Success, "")
	if h := <-helos; h != "HELO lb1.example\r\n" {
		t.Errorf("HELO line %q", h)
	}
	addr, _ = smtpServer(t, "220-first line\r\n220 second\r\n", "250 hello\r\n")
	want(t, "multi-line banner", (&SMTPProbe{Conn: loopConn(t, addr)}).Probe(ctx), Failure, "banner")
	addr, _ = smtpServer(t, "554 go away\r\n", "250 hello\r\n")
	want(t, "554 banner", (&SMTPProbe{Conn: loopConn(t, addr)}).Probe(ctx), Failure, "banner")
	addr, _ = smtpServer(t, "220 ok\r\n", "501 no\r\n")
	want(t, "HELO refused", (&SMTPProbe{Conn: loopConn(t, addr)}).Probe(ctx), Failure, "HELO")
	for line, code := range map[string]int{"220": 220, "220 x": 220, "220\r\n": 220, "220-x": 0, "22x ": 0, "": 0} {
		if got := smtpStatus([]byte(line)); got != code {
			t.Errorf("smtpStatus(%q) = %d, want %d", line, got, code)
		}
	}
}

func FuzzHTTPHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"))
	f.Add([]byte("HTTP/1.1 200\r\n"))
	f.Add([]byte("220-x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c := HTTPStatus(b); c != 0 {
			i := strings.IndexByte(string(b), ' ')
			if c > 999 || i < 0 || len(b) < i+5 || b[i+4] != ' ' {
				t.Fatalf("%q: status %d", b, c)
			}
		}
		if n, ok := HTTPContentLength(b); ok && n < 0 {
			t.Fatalf("%q: length %d", b, n)
		}
		if c := smtpStatus(b); c > 999 || (c != 0 && len(b) < 3) {
			t.Fatalf("%q: SMTP status %d", b, c)
		}
	})
}

func TestStatsJSON(t *testing.T) {
	b, err := json.Marshal(CheckerStats{Kind: KindSSL, LastVerdict: Partial})
	if err != nil || !strings.Contains(string(b), `"kind":"SSL_GET"`) || !strings.Contains(string(b), `"last_verdict":"partial"`) {
		t.Fatalf("%s %v", b, err)
	}
}
