package config

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

func (d *dumper) common(connect, dbr, warmup, loop time.Duration, retry int) {
	d.line("connect_timeout", secs(connect))
	d.line("retry", itoa(retry))
	d.line("delay_before_retry", secs(dbr))
	d.line("warmup", secs(warmup))
	d.line("delay_loop", secs(loop))
}

func (d *dumper) virtualServer(v *VirtualServer) {
	switch {
	case v.IsFWMark:
		d.open("virtual_server", "fwmark", strconv.FormatUint(uint64(v.FWMark), 10))
	case v.Group != "":
		d.open("virtual_server", "group", quote(v.Group))
	default:
		d.open("virtual_server", v.Addr.String(), itoa(v.Port))
	}
	d.common(v.ConnectTimeout, v.DelayBeforeRetry, v.Warmup, v.DelayLoop, v.Retry)
	d.line("lb_algo", v.Scheduler)
	for _, f := range v.SchedFlags {
		d.line(f)
	}
	d.line(append([]string{"lb_kind", v.Method}, v.Tunnel.words()...)...)
	if v.Protocol != "" {
		d.line("protocol", v.Protocol)
	}
	if v.Persistence != 0 {
		d.line("persistence_timeout", itoa(int(v.Persistence/time.Second)))
	}
	if v.PersistenceGranularity != "" {
		d.line("persistence_granularity", quote(v.PersistenceGranularity))
	}
	if v.PersistenceEngine != "" {
		d.line("persistence_engine", quote(v.PersistenceEngine))
	}
	if v.Virtualhost != "" {
		d.line("virtualhost", quote(v.Virtualhost))
	}
	for _, f := range []struct {
		on   bool
		word string
	}{{v.HASuspend, "ha_suspend"}, {v.Alpha, "alpha"}, {v.Omega, "omega"}, {v.Ops, "ops"}} {
		if f.on {
			d.line(f.word)
		}
	}
	d.line("quorum", itoa(v.Quorum))
	d.line("hysteresis", itoa(v.Hysteresis))
	d.cmd("quorum_up", v.QuorumUp, true)
	d.cmd("quorum_down", v.QuorumDown, true)
	if v.IPFamily != "" {
		d.line("ip_family", v.IPFamily)
	}
	d.line("inhibit_on_failure", onOff(v.InhibitOnFailure))
	d.line("smtp_alert", onOff(v.SMTPAlert))
	if s := v.SorryServer; s != nil {
		if s.Port != 0 {
			d.line("sorry_server", s.Addr.String(), itoa(s.Port))
		} else {
			d.line("sorry_server", s.Addr.String())
		}
		if s.Method != "" {
			d.line(append([]string{"sorry_server_lvs_method", s.Method}, s.Tunnel.words()...)...)
		}
		if v.SorryServerInhibit {
			d.line("sorry_server_inhibit")
		}
	}
	d.raws(v.Extra)
	for _, r := range v.RealServers {
		d.realServer(r, v)
	}
	d.close()
}

func (d *dumper) realServer(r *RealServer, v *VirtualServer) {
	if v.IsFWMark && r.Port == 0 {
		d.open("real_server", r.Addr.String())
	} else {
		d.open("real_server", r.Addr.String(), itoa(r.Port))
	}
	d.line("weight", itoa(r.Weight))
	if r.Method != "" {
		d.line(append([]string{"lvs_method", r.Method}, r.Tunnel.words()...)...)
	}
	if r.UThreshold != 0 {
		d.line("uthreshold", itoa(r.UThreshold))
	}
	if r.LThreshold != 0 {
		d.line("lthreshold", itoa(r.LThreshold))
	}
	d.line("inhibit_on_failure", onOff(r.InhibitOnFailure))
	d.line("alpha", onOff(r.Alpha))
	d.line("smtp_alert", onOff(r.SMTPAlert))
	if r.Virtualhost != "" {
		d.line("virtualhost", quote(r.Virtualhost))
	}
	d.cmd("notify_up", r.NotifyUp, true)
	d.cmd("notify_down", r.NotifyDown, true)
	d.common(r.ConnectTimeout, r.DelayBeforeRetry, r.Warmup, r.DelayLoop, r.Retry)
	d.raws(r.Extra)
	for _, c := range r.Checkers {
		d.checker(c)
	}
	d.close()
}

func (d *dumper) checker(c *Checker) {
	d.open(c.Kind)
	if c.Kind == "FILE_CHECK" || c.Kind == "BFD_CHECK" {
		if c.TrackFile != "" {
			d.line("track_file", quote(c.TrackFile))
			w := []string{"weight", itoa(c.FileWeight)}
			if c.FileReverse {
				w = append(w, "reverse")
			}
			d.line(w...)
		}
		d.raws(c.Extra)
		d.close()
		return
	}
	if c.Kind != "MISC_CHECK" {
		d.line("connect_timeout", secs(c.ConnectTimeout))
	}
	d.line("retry", itoa(c.Retry))
	d.line("delay_before_retry", secs(c.DelayBeforeRetry))
	d.line("warmup", secs(c.Warmup))
	d.line("delay_loop", secs(c.DelayLoop))
	d.line("alpha", onOff(c.Alpha))
	addr := func(kw string, a netip.Addr) {
		if a.IsValid() {
			d.line(kw, a.String())
		}
	}
	addr("connect_ip", c.ConnectIP)
	if c.ConnectPort != 0 {
		d.line("connect_port", itoa(c.ConnectPort))
	}
	addr("bindto", c.BindTo)
	if c.BindPort != 0 {
		d.line("bind_port", itoa(c.BindPort))
	}
	if c.BindIf != "" {
		d.line("bind_if", quote(c.BindIf))
	}
	if c.FWMark != 0 {
		d.line("fwmark", strconv.FormatUint(uint64(c.FWMark), 10))
	}
	switch c.Kind {
	case "HTTP_GET", "SSL_GET":
		if c.HTTPProtocol != "" {
			d.line("http_protocol", c.HTTPProtocol)
		}
		if c.Virtualhost != "" {
			d.line("virtualhost", quote(c.Virtualhost))
		}
		if c.EnableSNI {
			d.line("enable_sni")
		}
		if c.FastRecovery {
			d.line("fast_recovery")
		}
		for _, u := range c.URLs {
			d.open("url")
			if u.Path != "" {
				d.line("path", quote(u.Path))
			}
			if u.Digest != "" {
				d.line("digest", quote(u.Digest))
			}
			if len(u.StatusCodes) > 0 {
				w := []string{"status_code"}
				for _, r := range u.StatusCodes {
					if r[0] == r[1] {
						w = append(w, itoa(r[0]))
					} else {
						w = append(w, fmt.Sprintf("%d-%d", r[0], r[1]))
					}
				}
				d.line(w...)
			}
			if u.Virtualhost != "" {
				d.line("virtualhost", quote(u.Virtualhost))
			}
			if u.Regex != "" {
				d.line("regex", quote(u.Regex))
			}
			if u.RegexNoMatch {
				d.line("regex_no_match")
			}
			d.close()
		}
	case "MISC_CHECK":
		if c.MiscPath != nil {
			d.line("misc_path", scriptString(c.MiscPath.Argv))
			if c.MiscPath.User != "" {
				w := []string{"user", quote(c.MiscPath.User)}
				if c.MiscPath.Group != "" {
					w = append(w, quote(c.MiscPath.Group))
				}
				d.line(w...)
			}
		}
		if c.MiscTimeout != 0 {
			d.line("misc_timeout", secs(c.MiscTimeout))
		}
		if c.MiscDynamic {
			d.line("misc_dynamic")
		}
	case "DNS_CHECK":
		d.line("type", c.DNSType)
		d.line("name", quote(c.DNSName))
	case "SMTP_CHECK":
		if c.HeloName != "" {
			d.line("helo_name", quote(c.HeloName))
		}
	case "UDP_CHECK":
		if c.Payload != nil {
			d.line("payload", hex.EncodeToString(c.Payload))
		}
		if c.RequireReply {
			w := []string{"require_reply"}
			if c.ReplyPattern != nil {
				w = append(w, wildHex(c.ReplyPattern, c.ReplyMask))
			}
			d.line(w...)
		}
		d.line("min_reply_length", itoa(c.MinReplyLength))
		d.line("max_reply_length", itoa(c.MaxReplyLength))
	}
	d.raws(c.Extra)
	d.close()
}

// words prints t as the words after "lvs_method TUN" (none for the default).
func (t Tunnel) words() []string {
	var w []string
	if t.Type != "" {
		w = append(w, "type", t.Type)
	}
	if t.Port != 0 {
		w = append(w, "port", itoa(t.Port))
	}
	if t.Csum != "" {
		w = append(w, t.Csum)
	}
	return w
}

// wildHex writes a require_reply pattern: hex digits, x where the mask
// nibble is 0.
func wildHex(val, mask []byte) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 2*len(val))
	for i, v := range val {
		for _, sh := range []uint{4, 0} {
			if mask[i]>>sh&0xf == 0 {
				b = append(b, 'x')
			} else {
				b = append(b, digits[v>>sh&0xf])
			}
		}
	}
	return string(b)
}
