package config

import (
	"fmt"
	"strings"
	"testing"
)

// checkerConf wraps a checker block in a virtual and a real server; the
// checker block opens on line 9.
func checkerConf(kind, body string) string {
	return "track_file tf {\n file /run/x\n}\nvirtual_server 192.0.2.1 80 {\n protocol UDP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 {\n" +
		"  " + kind + " {\n" + body + "  }\n }\n}\n"
}

// TestCheckerKeywords: the UDP_CHECK and FILE_CHECK keywords, keepalived's
// per-kind defaults, and the complaints about bad values, with positions.
func TestCheckerKeywords(t *testing.T) {
	tests := []struct {
		name     string
		conf     string
		check    func(t *testing.T, ck *Checker)
		complain string // a complaint that must be reported; "" = none at all
	}{
		{"UDP_CHECK defaults", checkerConf("UDP_CHECK", ""), func(t *testing.T, ck *Checker) {
			if ck.Payload != nil || ck.RequireReply || ck.MinReplyLength != 0 || ck.MaxReplyLength != 255 || ck.Warmup != ck.DelayLoop {
				t.Errorf("%+v", ck)
			}
		}, ""},
		{"payload with spaces", checkerConf("UDP_CHECK", "   payload de ad BEEF\n"), func(t *testing.T, ck *Checker) {
			if fmt.Sprintf("%x", ck.Payload) != "deadbeef" {
				t.Errorf("payload %x", ck.Payload)
			}
		}, ""},
		{"odd payload", checkerConf("UDP_CHECK", "   payload abc\n"), func(t *testing.T, ck *Checker) {
			if ck.Payload != nil {
				t.Errorf("payload %x kept", ck.Payload)
			}
		}, "t.conf:10:4: payload: need an even, non-zero number of hex digits (ignored)"},
		{"bad pattern digit", checkerConf("UDP_CHECK", "   require_reply 0g\n"), func(t *testing.T, ck *Checker) {
			if !ck.RequireReply || ck.ReplyPattern != nil {
				t.Errorf("%+v", ck)
			}
		}, `t.conf:10:4: require_reply: invalid hex digit 'g' (ignored)`},
		{"x is a wildcard only in require_reply", checkerConf("UDP_CHECK", "   payload 0x\n"), nil,
			`t.conf:10:4: payload: invalid hex digit 'x' (ignored)`},
		{"FILE_CHECK weight from the track_file", checkerConf("FILE_CHECK", "   track_file tf\n"), func(t *testing.T, ck *Checker) {
			if ck.TrackFile != "tf" || ck.FileWeight != 1 || ck.FileReverse {
				t.Errorf("%+v", ck)
			}
		}, ""},
		{"FILE_CHECK reverse", checkerConf("FILE_CHECK", "   track_file tf\n   weight -5 reverse\n"), func(t *testing.T, ck *Checker) {
			if ck.FileWeight != -5 || !ck.FileReverse || !ck.IsSet("weight") {
				t.Errorf("%+v", ck)
			}
		}, ""},
		{"FILE_CHECK unknown track_file", checkerConf("FILE_CHECK", "   track_file nope\n"), nil,
			`t.conf:9:3: FILE_CHECK: track_file "nope" not found (checker ignored)`},
		{"MISC_CHECK retry 0 unless set", checkerConf("MISC_CHECK", "   misc_path /bin/true\n"), func(t *testing.T, ck *Checker) {
			if ck.Retry != 0 || ck.IsSet("retry") {
				t.Errorf("retry %d", ck.Retry)
			}
		}, ""},
		{"a real server's retry wins over the kind's default", strings.Replace(checkerConf("DNS_CHECK", ""), " real_server 198.51.100.1 80 {\n", " real_server 198.51.100.1 80 {\n  retry 2\n", 1),
			func(t *testing.T, ck *Checker) {
				if ck.Retry != 2 || ck.DelayBeforeRetry != ck.DelayLoop {
					t.Errorf("retry %d delay_before_retry %v", ck.Retry, ck.DelayBeforeRetry)
				}
			}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, errs := Parse("t.conf", []byte(tc.conf), Options{})
			found := false
			for _, e := range errs {
				if e.Severity == Notice && strings.Contains(e.Error(), "not implemented") {
					continue // the LVS blocks are not wired into vigild yet
				}
				if tc.complain == "" || !strings.Contains(e.Error(), tc.complain) {
					if tc.complain == "" {
						t.Errorf("unexpected complaint %v", e)
					}
					continue
				}
				found = true
			}
			if tc.complain != "" && !found {
				t.Errorf("no complaint %q in %v", tc.complain, errs)
			}
			if tc.check != nil {
				rs := c.VirtualServers[0].RealServers[0]
				if len(rs.Checkers) != 1 {
					t.Fatalf("%d checkers", len(rs.Checkers))
				}
				tc.check(t, rs.Checkers[0])
			}
		})
	}
}
