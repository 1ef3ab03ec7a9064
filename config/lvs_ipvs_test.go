package config

import (
	"slices"
	"testing"
)

// TestLVSForwardingAndFlags holds the parts of virtual_server that the
// ipvs package programs: scheduler flags, tunnel options, lvs_flush, and
// the complaints (with file:line) for what the kernel cannot be given.
func TestLVSForwardingAndFlags(t *testing.T) {
	vsConf := func(body string) string {
		return "virtual_server 192.0.2.1 80 {\n protocol TCP\n" + body + " real_server 198.51.100.1 80 {\n }\n}\n"
	}
	tests := []struct {
		name string
		text string
		want string // a complaint that must be present ("" = none about these keywords)
		chk  func(t *testing.T, c *Config)
	}{
		{"unknown method", vsConf(" lb_algo rr\n lb_kind BOGUS\n"), `warning t.conf:4:10: lb_kind: unknown forwarding method "BOGUS" (ignored)`, nil},
		{"unknown scheduler", vsConf(" lb_algo bogus\n lb_kind NAT\n"), `warning t.conf:3:10: lb_algo: invalid scheduler "bogus" (ignored)`, nil},
		{"tunnel options", vsConf(" lb_algo rr\n lvs_method TUN type gue port 6080 csum\n"), "", func(t *testing.T, c *Config) {
			r := c.VirtualServers[0].RealServers[0]
			if r.Method != "TUN" || r.Tunnel != (Tunnel{Type: "gue", Port: 6080, Csum: "csum"}) {
				t.Errorf("real server method %q tunnel %+v, want TUN gue 6080 csum (inherited)", r.Method, r.Tunnel)
			}
		}},
		{"gue without port", vsConf(" lb_algo rr\n lvs_method TUN type gue\n"), `warning t.conf:4:2: lvs_method: a gue tunnel needs a port (ignored)`, nil},
		{"ipip with csum", vsConf(" lb_algo rr\n lvs_method TUN csum\n"), `warning t.conf:4:2: lvs_method: an ipip tunnel has no checksum options (ignored)`, nil},
		{"gre remcsum", vsConf(" lb_algo rr\n lvs_method TUN type gre remcsum\n"), `warning t.conf:4:2: lvs_method: a gre tunnel cannot use remcsum (ignored)`, nil},
		{"port on gre", vsConf(" lb_algo rr\n lvs_method TUN type gre port 5\n"), `warning t.conf:4:2: lvs_method: only a gue tunnel takes a port (ignored)`, nil},
		{"tunnel options on DR", vsConf(" lb_algo rr\n lvs_method DR type gre\n"), `warning t.conf:4:16: lvs_method: tunnel options only apply to TUN (ignored)`, nil},
		{"sh flags after lb_algo sh", vsConf(" lb_algo sh\n sh-port\n sh-fallback\n flag-3\n lb_kind NAT\n"), "", func(t *testing.T, c *Config) {
			if got := c.VirtualServers[0].SchedFlags; !slices.Equal(got, []string{"sh-port", "sh-fallback", "flag-3"}) {
				t.Errorf("SchedFlags = %q", got)
			}
		}},
		{"sh flag before lb_algo", vsConf(" sh-port\n lb_algo sh\n lb_kind NAT\n"), `warning t.conf:3:2: sh-port: sh-port only applies to the sh scheduler (ignored)`, func(t *testing.T, c *Config) {
			if got := c.VirtualServers[0].SchedFlags; len(got) != 0 {
				t.Errorf("SchedFlags = %q, want none", got)
			}
		}},
		{"lvs_timeouts", "global_defs {\n lvs_timeouts tcp 7200 udp 60\n}\n" + vsConf(" lb_algo rr\n lb_kind NAT\n"), "", func(t *testing.T, c *Config) {
			if c.Global.LVSTimeouts != (LVSTimeouts{TCP: 7200, UDP: 60}) {
				t.Errorf("LVSTimeouts = %+v", c.Global.LVSTimeouts)
			}
		}},
		{"lvs_timeouts unknown name", "global_defs {\n lvs_timeouts tcp 7200 sctp 5\n}\n", `warning t.conf:2:24: lvs_timeouts: unknown timeout "sctp" (ignored)`, nil},
		{"lvs_timeouts out of range", "global_defs {\n lvs_timeouts udp 2678401\n}\n", `warning t.conf:2:19: lvs_timeouts: "2678401" is not a number in [0, 2678400] (ignored)`, nil},
		{"lvs_timeouts without values", "global_defs {\n lvs_timeouts tcp\n}\n", `warning t.conf:2:2: lvs_timeouts: want one or more of: tcp SECS, tcpfin SECS, udp SECS (ignored)`, nil},
		{"lvs_flush", "global_defs {\n lvs_flush\n}\n" + vsConf(" lb_algo rr\n lb_kind NAT\n"), "", func(t *testing.T, c *Config) {
			if !c.Global.LVSFlush {
				t.Error("LVSFlush not set")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, complaints, _ := load(t, tt.text, testOpts())
			if tt.want != "" && !slices.Contains(complaints, tt.want) {
				t.Errorf("complaints %q\nlack %q", complaints, tt.want)
			}
			if tt.want == "" {
				for _, s := range complaints {
					if s[:7] == "warning" || s[:5] == "fatal" {
						t.Errorf("unexpected complaint %q", s)
					}
				}
			}
			if tt.chk != nil {
				tt.chk(t, c)
			}
		})
	}
}
