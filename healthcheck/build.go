package healthcheck

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
)

// Build turns every checker of cfg into a Spec, and every real server
// into a RealServer with its configured weight. A checker that cannot run
// (an unknown kind such as BFD_CHECK, a regex Go cannot compile, a digest
// that is not 32 hex digits, an unknown script user, an unreadable SSL
// key pair) is left out and reported, with its position, in the returned
// errors; the others still run, so a real server with a dropped checker
// has one checker fewer, as in keepalived.
func Build(cfg *config.Config) ([]RealServer, []Spec, []error) {
	var rss []RealServer
	var specs []Spec
	var errs []error
	var tlsBase *tls.Config
	tlsErr := error(nil)
	for vi, vs := range cfg.VirtualServers {
		for ri, rs := range vs.RealServers {
			id := RSID{VS: vi, RS: ri}
			rss = append(rss, RealServer{ID: id, Weight: rs.Weight})
			for ci, ck := range rs.Checkers {
				kind, ok := ParseKind(ck.Kind)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: %s: not supported, checker ignored", ck.Pos, ck.Kind))
					continue
				}
				sp := Spec{ID: CheckerID{id, ci}, Core: CoreConfig{Kind: kind, Timing: Timing{
					DelayLoop: ck.DelayLoop, DelayBeforeRetry: ck.DelayBeforeRetry, Retry: ck.Retry,
					Warmup: ck.Warmup, Alpha: ck.Alpha}, BaseWeight: rs.Weight}}
				conn := connOf(ck, rs)
				var err error
				if conn.Timeout <= 0 && kind != KindMisc && kind != KindFile {
					errs = append(errs, fmt.Errorf("%s: %s: connect_timeout must be above 0; checker ignored", ck.Pos, ck.Kind))
					continue
				}
				switch kind {
				case KindTCP:
					sp.Prober = &TCPProbe{Conn: conn}
				case KindSMTP:
					sp.Prober = &SMTPProbe{Conn: conn, HeloName: ck.HeloName}
				case KindUDP:
					conn.BindIf = "" // keepalived's UDP_CHECK ignores bind_if
					sp.Prober = &UDPProbe{Conn: conn, Payload: ck.Payload, RequireReply: ck.RequireReply,
						Pattern: ck.ReplyPattern, Mask: ck.ReplyMask, MinLen: ck.MinReplyLength, MaxLen: ck.MaxReplyLength}
				case KindPing:
					sp.Prober = &PingProbe{Conn: conn}
				case KindDNS:
					qt, ok := DNSType(ck.DNSType)
					if !ok {
						err = fmt.Errorf("unknown DNS type %q", ck.DNSType)
						break
					}
					if _, err = AppendDNSQuery(nil, 0, qt, ck.DNSName); err == nil {
						sp.Prober = &DNSProbe{Conn: conn, QType: qt, Name: ck.DNSName}
					}
				case KindHTTP, KindSSL:
					hp := &HTTPProbe{Conn: conn, Proto: ck.HTTPProtocol, MaxDuration: ck.DelayLoop + ck.ConnectTimeout, FastRecovery: ck.FastRecovery}
					if kind == KindSSL {
						if tlsBase == nil && tlsErr == nil {
							tlsBase, tlsErr = clientTLS(cfg.SSL)
						}
						if err = tlsErr; err != nil {
							break
						}
						hp.TLS = tlsBase
					}
					hp.URLs, err = urlChecks(ck, vs)
					sp.Prober = hp
				case KindMisc:
					sp.Core.MiscDynamic = ck.MiscDynamic
					var s check.Script
					s, err = miscScript(cfg, vs, ck, id, ci)
					sp.Prober = &MiscProbe{Script: s, Dynamic: ck.MiscDynamic}
				case KindFile:
					sp.TrackFile, sp.FileWeight, sp.FileReverse = ck.TrackFile, ck.FileWeight, ck.FileReverse
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %s: %w; checker ignored", ck.Pos, ck.Kind, err))
					continue
				}
				specs = append(specs, sp)
			}
		}
	}
	return rss, specs, errs
}

// connOf resolves the connection keywords: connect_ip and connect_port
// default to the real server's address and port.
func connOf(ck *config.Checker, rs *config.RealServer) Conn {
	ip := ck.ConnectIP
	if !ip.IsValid() {
		ip = rs.Addr
	}
	port := ck.ConnectPort
	if port == 0 {
		port = rs.Port
	}
	return Conn{Addr: netip.AddrPortFrom(ip, uint16(port)), BindTo: ck.BindTo, BindPort: ck.BindPort,
		BindIf: ck.BindIf, FWMark: ck.FWMark, Timeout: ck.ConnectTimeout}
}

// urlChecks resolves the url blocks: Host is the url's virtualhost, else
// the checker's (which config already resolved from the real and virtual
// server); SNI, with enable_sni, skips the real server's virtualhost, as
// keepalived does.
func urlChecks(ck *config.Checker, vs *config.VirtualServer) ([]URLCheck, error) {
	var out []URLCheck
	for _, u := range ck.URLs {
		if u.Path == "" {
			continue
		}
		uc := URLCheck{Path: u.Path, Codes: u.StatusCodes, NoMatch: u.RegexNoMatch}
		uc.Host = u.Virtualhost
		if uc.Host == "" {
			uc.Host = ck.Virtualhost
		}
		if ck.EnableSNI {
			uc.SNI = u.Virtualhost
			if uc.SNI == "" && ck.IsSet("virtualhost") {
				uc.SNI = ck.Virtualhost
			}
			if uc.SNI == "" {
				uc.SNI = vs.Virtualhost
			}
		}
		if u.Digest != "" {
			d, err := hex.DecodeString(u.Digest)
			if err != nil || len(d) != 16 {
				return nil, fmt.Errorf("url %s: digest %q is not 32 hex digits", u.Path, u.Digest)
			}
			uc.Digest = d
		}
		if u.Regex != "" {
			re, err := regexp.Compile(u.Regex)
			if err != nil {
				return nil, fmt.Errorf("url %s: regex: %w", u.Path, err)
			}
			uc.Regex = re
		}
		out = append(out, uc)
	}
	if len(out) == 0 {
		return nil, errors.New("no url with a path")
	}
	return out, nil
}

// clientTLS is SSL_GET's TLS configuration: any protocol version, no
// certificate verification (keepalived never sets a verify mode), and the
// SSL block's client certificate when given.
func clientTLS(ssl *config.SSL) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10} //nolint:gosec // keepalived does not verify
	if ssl == nil || ssl.Certificate == "" {
		return cfg, nil
	}
	if ssl.Password != "" {
		return nil, errors.New("SSL: password-protected keys are not supported")
	}
	key := ssl.Key
	if key == "" {
		key = ssl.Certificate
	}
	pair, err := tls.LoadX509KeyPair(ssl.Certificate, key)
	if err != nil {
		return nil, fmt.Errorf("SSL: %w", err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}

// miscScript builds the check.Script for misc_path: its user (else
// script_user, else keepalived's default), misc_timeout (0: the virtual
// server's delay_loop), and unsafe scripts allowed only without
// enable_script_security.
func miscScript(cfg *config.Config, vs *config.VirtualServer, ck *config.Checker, id RSID, ci int) (check.Script, error) {
	user, group := ck.MiscPath.User, ck.MiscPath.Group
	if user == "" {
		user, group = cfg.Global.ScriptUser, cfg.Global.ScriptGroup
	}
	uid, gid, err := check.LookupCredential(user, group)
	if err != nil {
		return check.Script{}, err
	}
	timeout := ck.MiscTimeout
	if timeout == 0 {
		timeout = vs.DelayLoop
	}
	return check.Script{
		Name: fmt.Sprintf("MISC_CHECK %d/%d/%d", id.VS, id.RS, ci), Argv: ck.MiscPath.Argv, Timeout: timeout,
		Credential: uid != 0 || gid != 0, UID: uid, GID: gid, AllowUnsafe: !cfg.Global.EnableScriptSecurity,
	}, nil
}
