package config

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	chk "github.com/vigil-ha/vigil/check"
)

var testIfaces = map[string]bool{"eth0": true, "eth1": true, "eth2": true}

func testOpts() Options {
	return Options{ConfigID: "node1", InterfaceExists: func(n string) bool { return testIfaces[n] }}
}

// load parses text as t.conf and returns the model and the complaints as
// strings ("t.conf:line:col: keyword: message (fallback)").
func load(t *testing.T, text string, opts Options) (*Config, []string, []*Error) {
	t.Helper()
	cfg, errs := Parse("t.conf", []byte(text), opts)
	var out []string
	for _, e := range errs {
		if !e.Pos.IsValid() || e.Pos.File == "" {
			t.Errorf("complaint without position: %v", e)
		}
		out = append(out, e.Severity.String()+" "+e.Error())
	}
	return cfg, out, errs
}

const minimal = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.10/24
    }
}
`

// inst builds a config with one instance whose body is extra lines.
func instConf(body string) string {
	return "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n" + body + "    virtual_ipaddress {\n        192.0.2.10/24\n    }\n}\n"
}

func TestInstanceDefaults(t *testing.T) {
	cfg, complaints, _ := load(t, minimal, testOpts())
	if len(complaints) != 0 {
		t.Fatalf("complaints on a minimal config: %q", complaints)
	}
	x := cfg.Instances[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"Name", x.Name, "VI_1"},
		{"Pos", x.Pos, Pos{"t.conf", 1, 1}},
		{"WantMaster", x.WantMaster, false},
		{"Priority", x.Priority, 100},
		{"AdvertInterval", x.AdvertInterval, time.Second},
		{"Version", x.Version, 2},
		{"Preempt", x.Preempt, true},
		{"Accept", x.Accept, true},
		{"IPv6", x.IPv6, false},
		{"GARPMasterDelay", x.GARPMasterDelay, 5 * time.Second},
		{"GARPMasterRepeat", x.GARPMasterRepeat, 5},
		{"GARPMasterRefresh", x.GARPMasterRefresh, time.Duration(0)},
		{"GARPMasterRefreshRepeat", x.GARPMasterRefreshRepeat, 1},
		{"DownTimerAdverts", x.DownTimerAdverts, 3},
		{"McastDstIP", x.McastDstIP, netip.MustParseAddr("224.0.0.18")},
		{"VIP", x.VIPs[0].Prefix, netip.MustParsePrefix("192.0.2.10/24")},
		{"VIP dev", x.VIPs[0].Dev, "eth0"},
		{"VIP pos", x.VIPs[0].Pos, Pos{"t.conf", 5, 9}},
		{"Auth", x.Auth == nil, true},
		{"UnicastTTL", x.UnicastTTL, 255},
		{"Global.VRRPVersion", cfg.Global.VRRPVersion, 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

type check func(t *testing.T, c *Config)

type keywordCase struct {
	name  string
	conf  string
	check check
	want  []string // complaints, exactly, in order
}

// keywordCases is the per-keyword table: each case sets keywords and
// checks the resolved value and every complaint with its position.
func keywordCases() []keywordCase {
	inst := func(f func(t *testing.T, x *Instance)) check {
		return func(t *testing.T, c *Config) {
			t.Helper()
			if len(c.Instances) != 1 {
				t.Fatalf("%d instances", len(c.Instances))
			}
			f(t, c.Instances[0])
		}
	}
	eq := func(t *testing.T, what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	return []keywordCase{
		{"state MASTER without priority means 255", instConf("    state MASTER\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "Priority", x.Priority, 255)
			eq(t, "WantMaster", x.WantMaster, true)
		}), nil},
		{"priority 255 without state means MASTER", instConf("    priority 255\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "WantMaster", x.WantMaster, true)
		}), nil},
		{"priority range low", instConf("    priority 0\n"), inst(func(t *testing.T, x *Instance) { eq(t, "Priority", x.Priority, 100) }),
			[]string{`warning t.conf:4:14: priority: "0" is not a number in [1, 255] (using 100)`}},
		{"priority range high", instConf("    priority 256\n"), inst(func(t *testing.T, x *Instance) { eq(t, "Priority", x.Priority, 100) }),
			[]string{`warning t.conf:4:14: priority: "256" is not a number in [1, 255] (using 100)`}},
		{"state SLAVE falls back to BACKUP", instConf("    state SLAVE\n    priority 200\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "WantMaster", x.WantMaster, false)
		}), []string{`warning t.conf:4:11: state: (VI_1) unknown state "SLAVE" (using BACKUP)`}},
		{"virtual_router_id is required", "vrrp_instance A {\n interface eth0\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n", func(t *testing.T, c *Config) {
			eq(t, "instances", len(c.Instances), 0)
		}, []string{`fatal t.conf:1:1: virtual_router_id: (A) the virtual router id must be set (vigild does not start)`}},
		{"virtual_router_id range", "vrrp_instance A {\n interface eth0\n virtual_router_id 256\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n", nil,
			[]string{`fatal t.conf:1:1: virtual_router_id: (A) the virtual router id must be set (vigild does not start)`,
				`warning t.conf:3:20: virtual_router_id: "256" is not a number in [1, 255] (ignored)`}},
		{"advert_int v2 rounds to whole seconds", instConf("    advert_int 1.6\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "AdvertInterval", x.AdvertInterval, 2*time.Second)
		}), []string{`warning t.conf:4:5: advert_int: (VI_1) VRRPv2 advertisement interval 1.6s must be an integer (rounded to 2)`}},
		{"advert_int v3 rounds to 10 ms", instConf("    version 3\n    advert_int 0.123\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "AdvertInterval", x.AdvertInterval, 120*time.Millisecond)
		}), []string{`warning t.conf:5:5: advert_int: (VI_1) VRRPv3 advertisement interval 0.123s must be in units of 10ms (rounded to 0.12)`}},
		{"advert_int v3 upper bound", instConf("    version 3\n    advert_int 50\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "AdvertInterval", x.AdvertInterval, 40950*time.Millisecond)
		}), []string{`warning t.conf:5:5: advert_int: (VI_1) VRRPv3 advertisement interval must be less than 40.96s (using 40.95)`}},
		{"advert_int 0 is ignored", instConf("    advert_int 0\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "AdvertInterval", x.AdvertInterval, time.Second)
		}), []string{`warning t.conf:4:16: advert_int: (VI_1) advert interval "0" not valid; must be in [0.01, 255] (ignored)`}},
		{"v3 ignores authentication", instConf("    version 3\n    authentication {\n        auth_type PASS\n        auth_pass secret\n    }\n"),
			inst(func(t *testing.T, x *Instance) { eq(t, "Auth", x.Auth == nil, true) }),
			[]string{`warning t.conf:5:5: authentication: (VI_1) VRRP version 3 does not support authentication (no authentication)`}},
		{"auth_pass truncated to 8", instConf("    authentication {\n        auth_type PASS\n        auth_pass 1234567890\n    }\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "Pass", x.Auth.Pass, "12345678")
				eq(t, "Type", x.Auth.Type, "PASS")
				eq(t, "Auth.Pos", x.Auth.Pos, Pos{"t.conf", 4, 5})
			}), []string{`warning t.conf:6:19: auth_pass: (VI_1) password longer than 8 characters (truncated to "12345678")`}},
		{"AH with state MASTER points at state", instConf("    state MASTER\n    priority 200\n    authentication {\n        auth_type AH\n        auth_pass x\n    }\n"),
			inst(func(t *testing.T, x *Instance) { eq(t, "WantMaster", x.WantMaster, false) }),
			[]string{`warning t.conf:4:5: state: (VI_1) initial state MASTER is incompatible with AH authentication (starting as BACKUP)`}},
		{"AH on IPv4 VRRPv2 acts: no complaint", instConf("    version 2\n    authentication {\n        auth_type AH\n        auth_pass 0123456789\n    }\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "Type", x.Auth.Type, "AH")
				eq(t, "Pass", x.Auth.Pass, "01234567")
			}), []string{`warning t.conf:7:19: auth_pass: (VI_1) password longer than 8 characters (truncated to "01234567")`}},
		{"AH with VRRPv3: ignored, as keepalived", instConf("    version 3\n    authentication {\n        auth_type AH\n        auth_pass x\n    }\n"),
			inst(func(t *testing.T, x *Instance) { eq(t, "Auth", x.Auth == nil, true) }),
			[]string{`warning t.conf:5:5: authentication: (VI_1) VRRP version 3 does not support authentication (no authentication)`}},
		{"AH with IPv6: version 3, so no authentication, as keepalived", "vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n version 2\n authentication {\n auth_type AH\n auth_pass x\n }\n virtual_ipaddress {\n fe80::1/64\n }\n}\n",
			inst(func(t *testing.T, x *Instance) { eq(t, "Auth", x.Auth == nil, true); eq(t, "Version", x.Version, 3) }),
			[]string{`warning t.conf:4:2: version: (V6) VRRP version 2 does not support IPv6 (using version 3)`,
				`warning t.conf:5:2: authentication: (V6) VRRP version 3 does not support authentication (no authentication)`}},
		{"IPv6 VIPs make version 3", "vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n fe80::1/64\n 2001:db8::1/64\n }\n}\n",
			inst(func(t *testing.T, x *Instance) {
				eq(t, "IPv6", x.IPv6, true)
				eq(t, "Version", x.Version, 3)
				eq(t, "McastDstIP", x.McastDstIP, netip.MustParseAddr("ff02::12"))
			}), nil},
		{"mixed families: the odd VIP is dropped", "vrrp_instance M {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n 192.0.2.1\n 2001:db8::1\n }\n}\n",
			inst(func(t *testing.T, x *Instance) { eq(t, "VIPs", len(x.VIPs), 1) }),
			[]string{`warning t.conf:6:2: virtual_ipaddress: (M) address family of 2001:db8::1/128 must match the instance (address ignored)`}},
		{"nopreempt with BACKUP", instConf("    state BACKUP\n    nopreempt\n"), inst(func(t *testing.T, x *Instance) { eq(t, "Preempt", x.Preempt, false) }), nil},
		{"nopreempt only with state BACKUP", instConf("    state MASTER\n    priority 150\n    nopreempt\n"),
			inst(func(t *testing.T, x *Instance) { eq(t, "Preempt", x.Preempt, true) }),
			[]string{`warning t.conf:6:5: nopreempt: (VI_1) nopreempt does not work with initial state MASTER (use state BACKUP) (preempting)`}},
		{"preempt_delay", instConf("    preempt_delay 5.5\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "PreemptDelay", x.PreemptDelay, 5500*time.Millisecond)
		}), nil},
		{"preempt_delay range", instConf("    preempt_delay 1001\n"), inst(func(t *testing.T, x *Instance) { eq(t, "PreemptDelay", x.PreemptDelay, time.Duration(0)) }),
			[]string{`warning t.conf:4:19: preempt_delay: "1001" is not a time in [0, 1000] seconds (using 0)`}},
		{"garp inherits from global_defs", "global_defs {\n vrrp_garp_master_delay 10\n vrrp_garp_master_repeat 3\n vrrp_garp_master_refresh 60\n}\n" + instConf(""),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "GARPMasterDelay", x.GARPMasterDelay, 10*time.Second)
				eq(t, "GARPMasterRepeat", x.GARPMasterRepeat, 3)
				eq(t, "GARPMasterRefresh", x.GARPMasterRefresh, 60*time.Second)
			}), nil},
		{"garp instance overrides global", "global_defs {\n vrrp_garp_master_delay 10\n}\n" + instConf("    garp_master_delay 2\n    garp_master_repeat 0\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "GARPMasterDelay", x.GARPMasterDelay, 2*time.Second)
				eq(t, "GARPMasterRepeat", x.GARPMasterRepeat, 1)
			}), []string{`warning t.conf:8:24: garp_master_repeat: (VI_1) must be greater than 0 (using 1)`}},
		{"garp_master_delay in global_defs is unknown", "global_defs {\n garp_master_delay 3\n}\n", nil,
			[]string{`warning t.conf:2:2: garp_master_delay: unknown keyword in global_defs; in global_defs it is spelled vrrp_garp_master_delay (ignored)`}},
		{"vrrp_garp_interval 0 is rejected", "global_defs {\n vrrp_garp_interval 0\n vrrp_gna_interval 0.001\n}\n", func(t *testing.T, c *Config) {
			eq(t, "GARPInterval", c.Global.GARPInterval, time.Duration(0))
			eq(t, "GNAInterval", c.Global.GNAInterval, time.Millisecond)
		}, []string{`warning t.conf:2:21: vrrp_garp_interval: "0" is not a time in [0.000001, 4294] seconds (keeping 0)`}},
		{"router_id and vrrp_version", "global_defs {\n router_id fw1\n vrrp_version 3\n}\n" + instConf(""), func(t *testing.T, c *Config) {
			eq(t, "RouterID", c.Global.RouterID, "fw1")
			eq(t, "Version", c.Instances[0].Version, 3)
		}, nil},
		{"unicast peers and source", instConf("    unicast_src_ip 192.0.2.1\n    unicast_peer {\n        192.0.2.2\n        192.0.2.3 min_ttl 250\n    }\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "UnicastSrcIP", x.UnicastSrcIP, netip.MustParseAddr("192.0.2.1"))
				eq(t, "peers", len(x.UnicastPeers), 2)
				eq(t, "MinTTL", x.UnicastPeers[1].MinTTL, 250)
				eq(t, "McastDstIP", x.McastDstIP.IsValid(), false)
			}), nil},
		{"unicast_src_ip without peers", instConf("    unicast_src_ip 192.0.2.1\n"), nil,
			[]string{`warning t.conf:4:5: unicast_src_ip: (VI_1) a unicast keyword has been specified without any unicast peers (deprecated) (using multicast)`}},
		{"interface lo refused", "vrrp_instance A {\n interface lo\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n", nil,
			[]string{`fatal t.conf:1:1: interface: (A) no interface and no unicast peers (vigild does not start)`,
				`warning t.conf:2:12: interface: (A) cannot use a loopback interface (lo) for vrrp (ignored)`}},
		{"interface must exist", "vrrp_instance A {\n interface eth9\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n", nil,
			[]string{`fatal t.conf:2:12: interface: (A) interface eth9 does not exist (vigild does not start)`}},
		{"duplicate VRID on one interface and family", minimal + strings.Replace(minimal, "VI_1", "VI_2", 1), nil,
			[]string{`fatal t.conf:10:5: virtual_router_id: VI_1 and VI_2 both use VRID 51 with IPv4 on interface eth0 (vigild does not start)`}},
		{"IPv4 and IPv6 may share a VRID", minimal + "vrrp_instance V6 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n fe80::1\n }\n}\n",
			func(t *testing.T, c *Config) { eq(t, "instances", len(c.Instances), 2) }, nil},
		{"track_script resolves and inherits the weight", "vrrp_script chk {\n script \"/bin/true\"\n weight -20\n}\n" + instConf("    track_script {\n        chk\n        nope\n    }\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "tracks", len(x.TrackScripts), 1)
				eq(t, "Weight", x.TrackScripts[0].Weight, -20)
				eq(t, "HasWeight", x.TrackScripts[0].HasWeight, false)
			}), []string{`warning t.conf:10:9: track_script: (VI_1) track script nope not found (ignored)`}},
		{"vrrp_script defaults", "vrrp_script chk {\n script \"/usr/bin/test -f '/tmp/a b'\"\n interval 2\n}\n", func(t *testing.T, c *Config) {
			s := c.Scripts["chk"]
			eq(t, "argv", strings.Join(s.Cmd.Argv, "|"), "/usr/bin/test|-f|/tmp/a b")
			eq(t, "Timeout", s.Timeout, 2*time.Second)
			eq(t, "Rise", s.Rise, 1)
			eq(t, "Fall", s.Fall, 1)
			eq(t, "Cmd.Pos", s.Cmd.Pos, Pos{"t.conf", 2, 9})
		}, nil},
		{"vrrp_script without script is removed", "vrrp_script chk {\n interval 2\n}\n", func(t *testing.T, c *Config) {
			eq(t, "scripts", len(c.Scripts), 0)
		}, []string{`warning t.conf:1:1: vrrp_script: no script set for vrrp_script chk (script removed)`}},
		{"weight range", "vrrp_script chk {\n script /bin/true\n weight 300\n}\n", nil,
			[]string{`warning t.conf:3:9: weight: "300" is not a number in [-253, 253] (ignored)`}},
		{"sync group fills SyncGroup and drops unknown members", instConf("") + "vrrp_sync_group G {\n group {\n VI_1\n VI_9\n }\n notify_master \"/x.sh master\"\n}\n",
			func(t *testing.T, c *Config) {
				eq(t, "SyncGroup", c.Instances[0].SyncGroup, "G")
				eq(t, "members", strings.Join(c.SyncGroups[0].Members, ","), "VI_1")
				eq(t, "notify", strings.Join(c.SyncGroups[0].Notify.Master.Argv, ","), "/x.sh,master")
			}, []string{`warning t.conf:8:1: vrrp_sync_group: sync group G has only 1 virtual router (kept)`,
				`warning t.conf:11:2: group: virtual router VI_9 specified in sync group G does not exist (ignored)`}},
		{"notify scripts with user", instConf("    notify_master \"/etc/k/m.sh a\" nobody\n    notify_backup /etc/k/b.sh\n    notify \"/etc/k/any.sh\"\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "master", strings.Join(x.Notify.Master.Argv, ","), "/etc/k/m.sh,a")
				eq(t, "user", x.Notify.Master.User, "nobody")
				eq(t, "backup", x.Notify.Backup.Argv[0], "/etc/k/b.sh")
				eq(t, "any", x.Notify.Any.Argv[0], "/etc/k/any.sh")
			}), nil},
		{"route types vigild does not install are skipped with a notice", instConf("    virtual_routes {\n        local 192.0.2.77/32 dev eth0\n        blackhole 203.0.113.0/24\n    }\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "routes", len(x.Routes), 1)
			eq(t, "type", x.Routes[0].Type, "blackhole")
		}), []string{`notice t.conf:5:9: virtual_routes: route type local not implemented by vigil (route skipped)`, `warning t.conf:6:19: virtual_routes: cannot track route 203.0.113.0/24 with no interface specified (not tracked)`}},
		{"excluded VIPs, routes, address options", instConf("    virtual_ipaddress_excluded {\n        192.0.2.20/24 dev eth1 label eth1:v brd + scope link\n        2001:db8::5/64 -nodad\n    }\n    virtual_routes {\n        198.51.100.0/24 via 192.0.2.254 dev eth0 metric 5 table 10\n    }\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "excluded", len(x.ExcludedVIPs), 2)
				a := x.ExcludedVIPs[0]
				eq(t, "Dev", a.Dev, "eth1")
				eq(t, "Label", a.Label, "eth1:v")
				eq(t, "BroadcastAuto", a.BroadcastAuto, true)
				eq(t, "Scope", a.Scope, "link")
				eq(t, "NoDAD", x.ExcludedVIPs[1].NoDAD, true)
				eq(t, "ExcludedVIPs[1].Dev", x.ExcludedVIPs[1].Dev, "eth0")
				r := x.Routes[0]
				eq(t, "route", r.Dst.String()+" "+r.Via.String()+" "+r.Dev, "198.51.100.0/24 192.0.2.254 eth0")
				eq(t, "Metric", r.Metric, 5)
				eq(t, "Table", r.Table, 10)
			}), nil},
		{"metric is not an address option", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1 metric 5\n }\n}\n", nil,
			[]string{`warning t.conf:5:12: virtual_ipaddress: unknown option "metric" for an address (ignored)`,
				`warning t.conf:5:19: virtual_ipaddress: unknown option "5" for an address (ignored)`}},
		{"accept and no_accept; strict defaults", "global_defs {\n vrrp_strict\n}\n" + instConf("    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n"),
			inst(func(t *testing.T, x *Instance) {
				eq(t, "Accept", x.Accept, false)
				eq(t, "Strict", x.Strict, true)
				eq(t, "Auth", x.Auth == nil, true)
				eq(t, "LowerPrioNoAdvert", x.LowerPrioNoAdvert, true)
			}), []string{`warning t.conf:7:5: authentication: (VI_1) strict mode does not support authentication (no authentication)`}},
		{"VIPs beyond what an advert carries become excluded", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n~SEQx(N,1,90) fe80::${N}\n }\n}\n",
			inst(func(t *testing.T, x *Instance) {
				eq(t, "VIPs", len(x.VIPs), 89)
				eq(t, "excluded", len(x.ExcludedVIPs), 1)
				eq(t, "excluded[0]", x.ExcludedVIPs[0].Prefix.String(), "fe80::5a/128")
			}), []string{`warning t.conf:5:15: virtual_ipaddress: (A) number of VIPs (90) exceeds the space available in an advert (default MTU 1500: at most 89 addresses) (the excess is moved to virtual_ipaddress_excluded)`}},
		{"unknown keyword with a block is skipped whole", instConf("    frobnicate {\n        priority 1\n    }\n    priority 90\n"),
			inst(func(t *testing.T, x *Instance) { eq(t, "Priority", x.Priority, 90) }),
			[]string{`warning t.conf:4:5: frobnicate: unknown keyword in vrrp_instance (ignored)`}},
		{"extra closing brace", minimal + "}\n", nil, []string{`warning t.conf:8:1: }: extra '}' (ignored)`}},
		{"missing closing brace", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n", nil,
			[]string{`warning t.conf:1:1: vrrp_instance: missing '}' at the end of the block (the block is closed at the end of the file)`}},
		{"not implemented keywords are notices", "global_defs {\n enable_snmp_vrrp\n notification_email {\n a@example.org\n }\n}\n", func(t *testing.T, c *Config) {
			eq(t, "email", strings.Join(c.Global.NotificationEmail, ","), "a@example.org")
			eq(t, "extra", c.Global.Extra[0].Keyword, "enable_snmp_vrrp")
		}, []string{`notice t.conf:2:2: enable_snmp_vrrp: not implemented by vigil (accepted and ignored)`}},
		{"mail alerts: smtp_alert_vrrp, else smtp_alert, for instances and groups", "global_defs {\n smtp_alert\n smtp_alert_vrrp off\n no_email_faults\n smtp_alert_checker\n}\n" +
			"vrrp_sync_group G {\n group {\n A\n }\n}\nvrrp_sync_group H {\n group {\n B\n }\n smtp_alert\n}\n" +
			"vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n" +
			"vrrp_instance B {\n interface eth0\n virtual_router_id 2\n smtp_alert yes\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n", func(t *testing.T, c *Config) {
			eq(t, "A", c.Instances[0].SMTPAlert, false)
			eq(t, "B", c.Instances[1].SMTPAlert, true)
			eq(t, "G", c.SyncGroups[0].SMTPAlert, false)
			eq(t, "H", c.SyncGroups[1].SMTPAlert, true)
			eq(t, "no_email_faults", c.Global.NoEmailFaults, true)
		}, []string{`warning t.conf:7:1: vrrp_sync_group: sync group G has only 1 virtual router (kept)`,
			`warning t.conf:12:1: vrrp_sync_group: sync group H has only 1 virtual router (kept)`}},
		{"mail alerts: smtp_alert is the default without smtp_alert_vrrp", "global_defs {\n smtp_alert\n}\n" +
			"vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n" +
			"vrrp_instance B {\n interface eth0\n virtual_router_id 2\n smtp_alert off\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n", func(t *testing.T, c *Config) {
			eq(t, "A", c.Instances[0].SMTPAlert, true)
			eq(t, "B", c.Instances[1].SMTPAlert, false)
		}, nil},
		{"checker mail alerts: real servers mail by default, virtual servers do not", ckMailConf("", "", ""), func(t *testing.T, c *Config) {
			v := c.VirtualServers[0]
			eq(t, "vs", v.SMTPAlert, false)
			eq(t, "rs", v.RealServers[0].SMTPAlert, true)
			eq(t, "no_checker_emails", c.Global.NoCheckerEmails, false)
		}, nil},
		{"checker mail alerts: smtp_alert_checker, else smtp_alert; a real server does not take its virtual server's",
			ckMailConf(" smtp_alert\n smtp_alert_checker off\n no_checker_emails\n", " smtp_alert on\n", ""), func(t *testing.T, c *Config) {
				v := c.VirtualServers[0]
				eq(t, "vs", v.SMTPAlert, true)
				eq(t, "rs", v.RealServers[0].SMTPAlert, false)
				eq(t, "no_checker_emails", c.Global.NoCheckerEmails, true)
			}, nil},
		{"checker mail alerts: smtp_alert alone is the default of both", ckMailConf(" smtp_alert no\n", "", "  smtp_alert\n"), func(t *testing.T, c *Config) {
			v := c.VirtualServers[0]
			eq(t, "vs", v.SMTPAlert, false)
			eq(t, "rs", v.RealServers[0].SMTPAlert, true)
		}, nil},
		{"checker mail alerts: smtp_alert_checker on", ckMailConf(" smtp_alert_checker\n", "", "  smtp_alert off\n"), func(t *testing.T, c *Config) {
			v := c.VirtualServers[0]
			eq(t, "vs", v.SMTPAlert, true)
			eq(t, "rs", v.RealServers[0].SMTPAlert, false)
		}, nil},
		{"use_vmac and vmac_xmit_base", instConf("    use_vmac vrrp.51\n    vmac_xmit_base\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "Name", x.UseVMAC.Name, "vrrp.51")
			eq(t, "XmitBase", x.UseVMAC.XmitBase, true)
		}), nil},
		{"use_vmac with a MAC and a bad name", instConf("    use_vmac vr/p 00:11:22:33:44:55\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "Name", x.UseVMAC.Name, "")
		}), []string{`warning t.conf:4:14: use_vmac: VMAC interface name "vr/p" is not a valid interface name (using the default name)`,
			`notice t.conf:4:19: use_vmac: a VMAC MAC address of one's own (00:11:22:33:44:55) is not implemented by vigil (the RFC 5798 virtual MAC is used)`}},
		{"vmac_prefix", "global_defs {\n    vmac_prefix vr\n}\n" + instConf(""), func(t *testing.T, c *Config) {
			eq(t, "VMACPrefix", c.Global.VMACPrefix, "vr")
		}, nil},
		{"vmac_prefix unusable", "global_defs {\n    vmac_prefix ../x\n}\n" + instConf(""), func(t *testing.T, c *Config) {
			eq(t, "VMACPrefix", c.Global.VMACPrefix, "")
		}, []string{`warning t.conf:2:17: vmac_prefix: VMAC prefix "../x" is not usable in an interface name (ignored)`}},
		{"mcast_src_ip and mcast_dst_ip", instConf("    mcast_src_ip 192.0.2.5\n    mcast_dst_ip 224.0.0.19\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "McastSrcIP", x.McastSrcIP, netip.MustParseAddr("192.0.2.5"))
			eq(t, "McastDstIP", x.McastDstIP, netip.MustParseAddr("224.0.0.19"))
		}), nil},
		{"track_interface", instConf("    track_interface {\n        eth1 weight -10\n        eth2\n        eth9\n    }\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "n", len(x.TrackInterfaces), 2)
			eq(t, "Weight", x.TrackInterfaces[0].Weight, -10)
		}), []string{`warning t.conf:7:9: track_interface: (VI_1) tracked interface eth9 does not exist (ignored)`}},
		{"conntrack_sync block", instConf("") + "conntrack_sync {\n interface eth2\n local_address 198.51.100.1\n peer_address 198.51.100.2\n port 3781\n track_group VI_1\n filter {\n protocol tcp udp\n ignore_address 192.0.2.0/24\n }\n}\n",
			func(t *testing.T, c *Config) {
				s := c.ConntrackSync
				eq(t, "Interface", s.Interface, "eth2")
				eq(t, "LocalAddr", s.LocalAddr, netip.MustParseAddr("198.51.100.1"))
				eq(t, "PeerAddr", s.PeerAddr, netip.MustParseAddr("198.51.100.2"))
				eq(t, "Port", s.Port, 3781)
				eq(t, "TrackGroup", s.TrackGroup, "VI_1")
				eq(t, "AckWindow", s.AckWindow, 300)
				eq(t, "ResendQueue", s.ResendQueue, 131072)
				eq(t, "protocols", fmt.Sprint(s.Filter.Protocols[0].Name, s.Filter.Protocols[1].Name, s.Rules.Protocols), "TCPUDP[6 17]")
			}, nil},
		{"conntrack_sync needs its keywords", "conntrack_sync {\n port 3780\n}\n", nil,
			[]string{`fatal t.conf:1:1: interface: conntrack_sync needs interface (vigild does not start)`,
				`fatal t.conf:1:1: local_address: conntrack_sync needs local_address (vigild does not start)`,
				`fatal t.conf:1:1: peer_address: conntrack_sync needs peer_address (vigild does not start)`,
				`fatal t.conf:1:1: track_group: conntrack_sync needs track_group (vigild does not start)`}},
		{"missing parameter", instConf("    priority\n"), nil, []string{`fatal t.conf:4:5: priority: missing parameter (vigild does not start)`}},
		{"unicast peers ignored in strict mode", "global_defs {\n vrrp_strict\n}\n" + instConf("    unicast_peer {\n        192.0.2.2\n    }\n"),
			inst(func(t *testing.T, x *Instance) { eq(t, "peers", len(x.UnicastPeers), 0) }),
			[]string{`warning t.conf:7:5: unicast_peer: (VI_1) a unicast keyword has been specified without any unicast peers (deprecated) (using multicast)`,
				`warning t.conf:7:5: unicast_peer: (VI_1) unicast peers are not supported in strict mode (unicast peers ignored)`}},
		{"nftables table, priority and counters", "global_defs {\n nftables fw\n nftables_priority -5\n nftables_counters\n}\n" + instConf("    no_accept\n"),
			func(t *testing.T, c *Config) {
				eq(t, "NFTables", c.Global.NFTables, "fw")
				eq(t, "NFTablesPriority", c.Global.NFTablesPriority, -5)
				eq(t, "NFTablesCounters", c.Global.NFTablesCounters, true)
				eq(t, "Accept", c.Instances[0].Accept, false)
			}, nil},
		{"vrrp_priority", "global_defs {\n vrrp_priority -15\n}\n" + instConf(""),
			func(t *testing.T, c *Config) {
				if p := c.Global.VRRPPriority; p == nil || *p != -15 {
					t.Errorf("VRRPPriority = %v, want -15", p)
				}
			}, nil},
		{"vrrp_priority unset", instConf(""),
			func(t *testing.T, c *Config) {
				if p := c.Global.VRRPPriority; p != nil {
					t.Errorf("VRRPPriority = %d, want unset", *p)
				}
			}, nil},
		{"vrrp_priority out of range", "global_defs {\n vrrp_priority 20\n}\n" + instConf(""),
			func(t *testing.T, c *Config) {
				if p := c.Global.VRRPPriority; p != nil {
					t.Errorf("VRRPPriority = %d, want unset", *p)
				}
			}, []string{`warning t.conf:2:16: vrrp_priority: "20" is not a number in [-20, 19] (ignored)`}},
		{"nftables table name must be an identifier", "global_defs {\n nftables fw-1\n}\n" + instConf(""),
			func(t *testing.T, c *Config) { eq(t, "NFTables", c.Global.NFTables, "vigil") },
			[]string{`warning t.conf:2:11: nftables: nftfilter: invalid table name: "fw-1" (a letter, then letters, digits or _) (using table vigil)`}},
		{"startup and shutdown scripts with timeouts", "global_defs {\n startup_script_timeout 3\n startup_script \"/bin/true start\"\n shutdown_script /bin/true\n shutdown_script_timeout 1001\n shutdown_script /bin/false\n}\n" + instConf(""),
			func(t *testing.T, c *Config) {
				g := &c.Global
				eq(t, "startup", g.StartupScript != nil && g.StartupScript.Argv[1] == "start", true)
				eq(t, "startup timeout", g.StartupScriptTimeout, 3*time.Second)
				eq(t, "shutdown", g.ShutdownScript != nil && g.ShutdownScript.Argv[0] == "/bin/true", true)
				eq(t, "shutdown timeout", g.ShutdownScriptTimeout, 10*time.Second)
			},
			[]string{`warning t.conf:5:26: shutdown_script_timeout: "1001" is not a number in [1, 1000] (ignored)`,
				`warning t.conf:6:2: shutdown_script: shutdown_script already specified (ignored)`}},
		{"no VIP with v3 is fatal", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n}\n", nil,
			[]string{`fatal t.conf:1:1: virtual_ipaddress: (A) no VIP specified; at least one is required (vigild does not start)`}},
		{"virtual_server defaults and warnings", "virtual_server 192.0.2.1 80 {\n real_server 198.51.100.1 80 {\n  TCP_CHECK {\n  }\n }\n}\n", func(t *testing.T, c *Config) {
			v := c.VirtualServers[0]
			eq(t, "Scheduler", v.Scheduler, "wlc")
			eq(t, "Method", v.Method, "NAT")
			eq(t, "Protocol", v.Protocol, "UDP")
			eq(t, "DelayLoop", v.DelayLoop, 60*time.Second)
			ck := v.RealServers[0].Checkers[0]
			eq(t, "ConnectTimeout", ck.ConnectTimeout, 5*time.Second)
			eq(t, "Retry", ck.Retry, 1)
		}, []string{`warning t.conf:1:1: lb_algo: virtual server 192.0.2.1:80: no scheduler set (using wlc)`, `warning t.conf:1:1: lb_kind: virtual server 192.0.2.1:80: no forwarding method set (using NAT)`, `warning t.conf:1:1: protocol: virtual server 192.0.2.1:80: no protocol set (using UDP)`}},
		{"virtual_server without real servers", "virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n}\n", func(t *testing.T, c *Config) {
			eq(t, "vs", len(c.VirtualServers), 0)
		}, []string{`warning t.conf:1:1: virtual_server: virtual server 192.0.2.1:80 has no real servers (virtual server ignored)`}},
		{"fwmark with protocol", "virtual_server fwmark 3 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 198.51.100.1 {\n }\n}\n", nil, []string{`warning t.conf:1:1: protocol: virtual server FWM 3: protocol specified for fwmark (protocol ignored)`}},
		{"checker inheritance vs -> rs -> checker", "virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n connect_timeout 7\n retry 4\n real_server 198.51.100.1 8080 {\n  delay_before_retry 3\n  HTTP_GET {\n   url {\n    path /\n   }\n   retry 2\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				r := c.VirtualServers[0].RealServers[0]
				ck := r.Checkers[0]
				eq(t, "rs.Retry", r.Retry, 4)
				eq(t, "ck.ConnectTimeout", ck.ConnectTimeout, 7*time.Second)
				eq(t, "ck.DelayBeforeRetry", ck.DelayBeforeRetry, 3*time.Second)
				eq(t, "ck.Retry", ck.Retry, 2)
				eq(t, "status", ck.URLs[0].StatusCodes[0], [2]int{200, 299})
			}, nil},
		{"real server port defaults to the virtual server port", "virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 198.51.100.1 {\n }\n}\n",
			func(t *testing.T, c *Config) { eq(t, "Port", c.VirtualServers[0].RealServers[0].Port, 80) }, nil},
		{"invalid scheduler", "virtual_server 192.0.2.1 80 {\n lb_algo bogus\n lb_kind DR\n protocol TCP\n real_server 198.51.100.1 80 {\n }\n}\n", nil, []string{`warning t.conf:1:1: lb_algo: virtual server 192.0.2.1:80: no scheduler set (using wlc)`, `warning t.conf:2:10: lb_algo: invalid scheduler "bogus" (ignored)`}},
		{"vrrp_mcast_group4 must be multicast", "global_defs {\n vrrp_mcast_group4 192.0.2.1\n}\n" + instConf(""), nil, []string{`warning t.conf:2:20: vrrp_mcast_group4: 192.0.2.1 is not an IPv4 multicast address (keeping 224.0.0.18)`}},
		{"script_user and notify_fifo", "global_defs {\n script_user root\n notify_fifo /run/k.fifo\n vrrp_notify_fifo /run/v.fifo root\n}\n" + instConf(""), func(t *testing.T, c *Config) {
			eq(t, "ScriptUser", c.Global.ScriptUser, "root")
			eq(t, "NotifyFIFO", c.Global.NotifyFIFO.Argv[0], "/run/k.fifo")
			eq(t, "VRRPNotifyFIFO.User", c.Global.VRRPNotifyFIFO.User, "root")
		}, nil},
		{"static addresses routes rules", "static_ipaddress {\n 192.0.2.5/24 dev eth0\n}\nstatic_routes {\n 198.51.100.0/24 via 192.0.2.1 dev eth0\n blackhole 203.0.113.0/24\n}\nstatic_rules {\n from 192.0.2.0/24 table 10 preference 50\n}\n",
			func(t *testing.T, c *Config) {
				eq(t, "addr", c.StaticAddresses[0].Prefix.String(), "192.0.2.5/24")
				eq(t, "type", c.StaticRoutes[1].Type, "blackhole")
				eq(t, "NoTrack", c.StaticRoutes[1].NoTrack, true)
				eq(t, "rule", c.StaticRules[0].Preference, 50)
			}, []string{`warning t.conf:6:12: static_routes: cannot track route 203.0.113.0/24 with no interface specified (not tracked)`}},
		{"track_file and vrrp_track_process", "vrrp_track_file tf {\n file /run/x\n weight -3\n}\nvrrp_track_process p {\n process sshd -D\n param_match initial\n quorum 2\n}\n" + instConf("    track_file {\n        tf\n    }\n    track_process {\n        p weight 5\n    }\n"),
			func(t *testing.T, c *Config) {
				eq(t, "File", c.TrackFiles["tf"].File, "/run/x")
				eq(t, "Args", strings.Join(c.TrackProcesses["p"].Args, ","), "-D")
				x := c.Instances[0]
				eq(t, "tf weight", x.TrackFiles[0].Weight, -3)
				eq(t, "p weight", x.TrackProcesses[0].Weight, 5)
			}, nil},
		{"unrendered template braces", instConf("    virtual_ipaddress_excluded {\n        {{ vip }}\n    }\n"), nil, []string{`warning t.conf:5:9: {: unexpected '{' in virtual_ipaddress_excluded (the block is skipped)`}},
		{"undefined parameter splits into tokens", instConf("    priority ${PRIO}\n"), nil, []string{`warning t.conf:4:14: priority: "$" is not a number in [1, 255] (using 100)`, `warning t.conf:4:15: {: unexpected '{' (the block is skipped)`}},
		{"include of a missing file", "include /nonexistent/*.conf\n" + instConf(""), nil, []string{`notice t.conf:1:1: include: no file matches "/nonexistent/*.conf" (nothing included)`}},
		{"negated conditional", "@^node1 bogus\n@node1 global_defs {\n@node1 router_id a\n@node1 }\n" + instConf(""), func(t *testing.T, c *Config) {
			eq(t, "RouterID", c.Global.RouterID, "a")
		}, nil},
		{"unicast peers of the wrong family", instConf("    unicast_peer {\n        2001:db8::2\n        192.0.2.2\n    }\n"), nil, []string{`warning t.conf:5:9: unicast_peer: (VI_1) unicast peer 2001:db8::2 does not match the instance family (peer ignored)`}},
		{"preempt_delay with nopreempt", instConf("    nopreempt\n    preempt_delay 3\n"), nil, []string{`warning t.conf:5:5: preempt_delay: (VI_1) preempt_delay is incompatible with nopreempt (no preempt delay)`}},
		{"accept in strict v2 is reset", "global_defs {\n vrrp_strict\n}\n" + instConf("    accept\n"), nil, []string{`warning t.conf:7:5: accept: (VI_1) accept mode for VRRP version 2 does not comply with RFC 3768 (no accept mode)`}},
		{"includem of a missing file", "includem /nonexistent/*.conf\n" + instConf(""), nil, []string{`fatal t.conf:1:1: includem: no file matches "/nonexistent/*.conf" (vigild does not start)`}},
		{"includer of a missing file", "includer /nonexistent/x.conf\n" + instConf(""), nil, []string{`notice t.conf:1:1: includer: no file matches "/nonexistent/x.conf" (nothing included)`}},
		{"includew with an unmatched wildcard", "includew /nonexistent/*.conf\n" + instConf(""), nil, []string{`fatal t.conf:1:1: includew: no file matches wildcard "/nonexistent/*.conf" (vigild does not start)`}},
		{"includeb with an unmatched brace", "includeb /nonexistent/{a,b}.conf\n" + instConf(""), nil, []string{`fatal t.conf:1:1: includeb: no file matches "/nonexistent/a.conf" (vigild does not start)`, `fatal t.conf:1:1: includeb: no file matches "/nonexistent/b.conf" (vigild does not start)`}},
		{"braces on their own lines and glued", "vrrp_instance A\n{\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {192.0.2.9/24}}\nvrrp_script s{script /bin/true}\n", func(t *testing.T, c *Config) {
			eq(t, "VIPs", len(c.Instances[0].VIPs), 1)
			eq(t, "script", c.Scripts["s"].Cmd.Argv[0], "/bin/true")
		}, nil},
		{"comments after values", instConf("    priority 120 # main router\n    advert_int 2 ! slower\n"), inst(func(t *testing.T, x *Instance) {
			eq(t, "Priority", x.Priority, 120)
			eq(t, "AdvertInterval", x.AdvertInterval, 2*time.Second)
		}), nil},
		{"missing open brace", "global_defs\n router_id x\n}\n" + instConf(""), func(t *testing.T, c *Config) {
			eq(t, "RouterID", c.Global.RouterID, "x")
		}, []string{`warning t.conf:1:1: global_defs: missing '{' at the start of the block (the following lines are read as the block's contents)`}},
		{"first IPv6 VIP should be link local", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 2001:db8::1\n }\n}\n", nil,
			[]string{`notice t.conf:5:2: virtual_ipaddress: (A) the first IPv6 VIP address should be link local (running anyway)`}},
		{"first IPv6 VIP must be link local in strict mode", "global_defs {\n vrrp_strict\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 2001:db8::1\n }\n}\n", nil,
			[]string{`warning t.conf:8:2: virtual_ipaddress: (A) the first IPv6 VIP address must be link local (running anyway)`}},
		{"duplicate instance name", minimal + strings.Replace(minimal, "51", "52", 1), nil, []string{`warning t.conf:8:15: vrrp_instance: vrrp instance VI_1 already defined at t.conf:1:1 (the second definition is ignored)`}},
	}
}

func TestKeywordTable(t *testing.T) {
	cases := keywordCases()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, got, _ := load(t, c.conf, testOpts())
			if !slices.Equal(got, c.want) {
				t.Errorf("complaints:\n got %q\nwant %q", got, c.want)
			}
			if c.check != nil {
				c.check(t, cfg)
			}
		})
	}
}

// The errors of chk.CheckScriptAs are what config classifies.
var _ scriptFault = (*chk.SecurityError)(nil)

// fakeScripts judges scripts by name: the part after the last slash says
// what chk.CheckScriptAs would find, and every call is recorded.
type fakeScripts struct{ calls []string }

func (f *fakeScripts) check(argv0, user, group string) (string, error) {
	f.calls = append(f.calls, argv0+" as "+user+":"+group)
	fault := func(err error) error { return &chk.SecurityError{Script: argv0, Path: argv0, Err: err} }
	switch argv0[strings.LastIndexByte(argv0, '/')+1:] {
	case "missing.sh":
		return "", fault(chk.ErrNotFound)
	case "unsafe.sh":
		return "", fault(chk.ErrInsecure)
	case "noexec.sh":
		return "", fault(chk.ErrNotExecutable)
	case "fifo-dir.sh":
		return "", fault(chk.ErrWrongFileType)
	}
	return argv0, nil
}

// TestScriptSecurity is keepalived's check_script_secure as its callers use
// it, case by case: what is disabled, what a disabled vrrp_script does to
// tracking, and the -t exit code.
func TestScriptSecurity(t *testing.T) {
	conf := func(sec, track, notify string) string {
		return "global_defs {\n" + sec + " script_user root\n}\nvrrp_script chk {\n script \"/etc/k/" + track + " arg\"\n weight 0\n}\n" +
			instConf("    track_script {\n        chk\n    }\n    notify_master /etc/k/"+notify+"\n")
	}
	const on = " enable_script_security\n"
	cases := []struct {
		name          string
		conf          string
		trackRemoved  bool
		notifyRemoved bool
		exit          int
		want          []string
	}{
		{"safe scripts with script security", conf(on, "ok.sh", "ok.sh"), false, false, 0, nil},
		{"safe scripts without script security", conf("", "ok.sh", "ok.sh"), false, false, 6, []string{
			`security t.conf:5:9: vrrp_script chk: script /etc/k/ok.sh is executed but script security is not enabled (the script runs anyway; set enable_script_security)`,
			`security t.conf:14:19: notify script of VI_1: script /etc/k/ok.sh is executed but script security is not enabled (the script runs anyway; set enable_script_security)`,
		}},
		{"unsafe scripts with script security are disabled", conf(on, "unsafe.sh", "unsafe.sh"), true, true, 5, []string{
			`warning t.conf:6:9: vrrp_script chk: check: script /etc/k/unsafe.sh: unsafe permissions (script disabled and removed from tracking)`,
			`notice t.conf:15:19: notify script of VI_1: check: script /etc/k/unsafe.sh: unsafe permissions (script disabled)`,
		}},
		{"unsafe scripts without script security run", conf("", "unsafe.sh", "unsafe.sh"), false, false, 6, []string{
			`security t.conf:5:9: vrrp_script chk: script /etc/k/unsafe.sh is executed but script security is not enabled: check: script /etc/k/unsafe.sh: unsafe permissions (the script runs anyway; set enable_script_security)`,
			`security t.conf:14:19: notify script of VI_1: script /etc/k/unsafe.sh is executed but script security is not enabled: check: script /etc/k/unsafe.sh: unsafe permissions (the script runs anyway; set enable_script_security)`,
		}},
		{"missing scripts are disabled", conf(on, "missing.sh", "missing.sh"), true, true, 5, []string{
			`warning t.conf:6:9: vrrp_script chk: check: script /etc/k/missing.sh: cannot be accessed (script disabled and removed from tracking)`,
			`notice t.conf:15:19: notify script of VI_1: check: script /etc/k/missing.sh: cannot be accessed (script disabled)`,
		}},
		{"missing scripts are disabled without script security", conf("", "missing.sh", "missing.sh"), true, true, 5, []string{
			`warning t.conf:5:9: vrrp_script chk: check: script /etc/k/missing.sh: cannot be accessed (script disabled and removed from tracking)`,
			`notice t.conf:14:19: notify script of VI_1: check: script /etc/k/missing.sh: cannot be accessed (script disabled)`,
		}},
		{"scripts not executable are disabled quietly", conf(on, "noexec.sh", "noexec.sh"), true, true, 0, []string{
			`notice t.conf:6:9: vrrp_script chk: check: script /etc/k/noexec.sh: not executable (script disabled and removed from tracking)`,
			`notice t.conf:15:19: notify script of VI_1: check: script /etc/k/noexec.sh: not executable (script disabled)`,
		}},
		{"a wrong file type on the path disables even without script security", conf("", "fifo-dir.sh", "ok.sh"), true, false, 6, []string{
			`warning t.conf:5:9: vrrp_script chk: check: script /etc/k/fifo-dir.sh: wrong file type (script disabled and removed from tracking)`,
			`security t.conf:5:9: vrrp_script chk: scripts are executed but script security is not enabled (set enable_script_security)`,
			`security t.conf:14:19: notify script of VI_1: script /etc/k/ok.sh is executed but script security is not enabled (the script runs anyway; set enable_script_security)`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeScripts{}
			opts := testOpts()
			opts.CheckScript = f.check
			cfg, got, errs := load(t, c.conf, opts)
			if !slices.Equal(got, c.want) {
				t.Errorf("complaints:\n got %q\nwant %q", got, c.want)
			}
			if code := ExitCode(cfg, errs, nil); code != c.exit {
				t.Errorf("ExitCode = %d, want %d", code, c.exit)
			}
			x := cfg.Instances[0]
			if removed := cfg.Scripts["chk"] == nil && len(x.TrackScripts) == 0; removed != c.trackRemoved {
				t.Errorf("vrrp_script removed = %v (scripts %v, tracked %v), want %v", removed, cfg.Scripts, x.TrackScripts, c.trackRemoved)
			}
			if removed := x.Notify.Master == nil; removed != c.notifyRemoved {
				t.Errorf("notify_master removed = %v, want %v", removed, c.notifyRemoved)
			}
			for _, call := range f.calls {
				if !strings.HasSuffix(call, " as root:") {
					t.Errorf("checked %s, want as script_user root", call)
				}
			}
		})
	}
}

// TestScriptSecurityUsers: each script is judged for the user it runs as:
// its own, the vrrp_script's user, else script_user, else the default
// ("").
func TestScriptSecurityUsers(t *testing.T) {
	text := "vrrp_script a {\n script /etc/k/a.sh\n user nobody nogroup\n}\nvrrp_script b {\n script /etc/k/b.sh\n}\n" +
		instConf("    track_script {\n a\n b\n    }\n    notify_master \"/etc/k/m.sh\" daemon\n    notify_backup /etc/k/bk.sh\n")
	f := &fakeScripts{}
	opts := testOpts()
	opts.CheckScript = f.check
	load(t, "global_defs {\n enable_script_security\n}\n"+text, opts)
	want := []string{"/etc/k/a.sh as nobody:nogroup", "/etc/k/b.sh as :", "/etc/k/bk.sh as :", "/etc/k/m.sh as daemon:"}
	if slices.Sort(f.calls); !slices.Equal(f.calls, want) {
		t.Errorf("checked %q, want %q", f.calls, want)
	}
	f.calls = nil
	load(t, "global_defs {\n enable_script_security\n script_user root wheel\n}\n"+text, opts)
	want = []string{"/etc/k/a.sh as nobody:nogroup", "/etc/k/b.sh as root:wheel", "/etc/k/bk.sh as root:wheel", "/etc/k/m.sh as daemon:"}
	if slices.Sort(f.calls); !slices.Equal(f.calls, want) {
		t.Errorf("checked %q, want %q", f.calls, want)
	}
}

func TestExitCode(t *testing.T) {
	mk := func(sev ...Severity) []*Error {
		var out []*Error
		for _, s := range sev {
			out = append(out, &Error{Pos: Pos{"f", 1, 1}, Severity: s})
		}
		return out
	}
	cfg := &Config{}
	cases := []struct {
		errs []*Error
		err  error
		want int
	}{
		{nil, nil, 0},
		{mk(Notice), nil, 0},
		{mk(Warning), nil, 5},
		{mk(Warning, Security), nil, 6},
		{mk(Security, Warning, Fatal), nil, 4},
		{nil, os.ErrNotExist, 4},
	}
	for i, c := range cases {
		if got := ExitCode(cfg, c.errs, c.err); got != c.want {
			t.Errorf("case %d: ExitCode = %d, want %d", i, got, c.want)
		}
	}
	_, _, err := Load("/nonexistent/keepalived.conf", Options{})
	if err == nil || ExitCode(nil, nil, err) != 4 {
		t.Errorf("missing file: err=%v code=%d", err, ExitCode(nil, nil, err))
	}
}

func TestStrictMakesComplaintsFatal(t *testing.T) {
	opts := testOpts()
	opts.Strict = true
	_, got, errs := load(t, instConf("    priority 0\n    debug 1\n"), opts)
	for _, e := range errs {
		if e.Severity != Fatal {
			t.Errorf("not fatal under --strict: %v", e)
		}
	}
	if len(got) != 2 || ExitCode(&Config{}, errs, nil) != 4 {
		t.Errorf("got %q", got)
	}
}

func TestComplaintsSortedAndUnique(t *testing.T) {
	conf := "$X=bogus 1\n$X\n$X\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n $X\n}\n"
	_, got, _ := load(t, conf, testOpts())
	want := []string{
		"warning t.conf:2:1: bogus: unknown keyword in top level (ignored)",
		"warning t.conf:3:1: bogus: unknown keyword in top level (ignored)",
		"warning t.conf:10:2: bogus: unknown keyword in vrrp_instance (ignored)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// Identical complaints at one position appear once.
	errs := tidy([]*Error{{Pos: Pos{"a", 2, 1}, Keyword: "k", Severity: Warning}, {Pos: Pos{"a", 1, 1}, Keyword: "k", Severity: Warning}, {Pos: Pos{"a", 2, 1}, Keyword: "k", Severity: Warning}}, "a")
	if len(errs) != 2 || errs[0].Pos.Line != 1 {
		t.Errorf("tidy: %v", errs)
	}
}

// keepalived227 lists the keywords of keepalived 2.2.7's parser tables per
// block (from its install_keyword calls); vigil must accept every one.
var keepalived227 = map[string]string{
	"global_defs":                             `process_names process_name vrrp_process_name checker_process_name lvs_process_name bfd_process_name router_id notification_email_from smtp_server smtp_helo_name smtp_connect_timeout notification_email smtp_alert startup_script startup_script_timeout shutdown_script shutdown_script_timeout max_auto_priority min_auto_priority_delay smtp_alert_vrrp smtp_alert_checker checker_log_all_failures dynamic_interfaces no_email_faults default_interface disable_local_igmp lvs_timeouts lvs_flush lvs_flush_on_stop lvs_flush_onstop lvs_sync_daemon vrrp_mcast_group4 vrrp_mcast_group6 vrrp_garp_master_delay vrrp_garp_master_repeat vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay vrrp_garp_lower_prio_repeat vrrp_down_timer_adverts vrrp_garp_interval vrrp_gna_interval vrrp_min_garp vrrp_garp_extra_if vrrp_vmac_garp_intvl vrrp_lower_prio_no_advert vrrp_higher_prio_send_advert vrrp_version vrrp_iptables vrrp_ipsets nftables nftables_priority nftables_ifindex nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_counters vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_strict vrrp_priority vrrp_no_swap vrrp_rt_priority vrrp_cpu_affinity vrrp_rlimit_rttime vrrp_rlimit_rtime notify_fifo notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script vrrp_notify_priority_changes fifo_write_vrrp_states_on_reload lvs_notify_fifo lvs_notify_fifo_script checker_priority checker_no_swap checker_rt_priority checker_cpu_affinity checker_rlimit_rttime checker_rlimit_rtime bfd_priority bfd_no_swap bfd_rt_priority bfd_cpu_affinity bfd_rlimit_rttime bfd_rlimit_rtime snmp_socket enable_traps enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_checker enable_dbus dbus_service_name script_user enable_script_security vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs process_monitor_rcv_bufs_force lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force rs_init_notifies no_checker_emails vrrp_rx_bufs_policy vrrp_rx_bufs_multiplier vrrp_startup_delay log_unknown_vrids vmac_prefix vmac_addr_prefix umask random_seed reload_check_config reload_time_file reload_repeat reload_file include_check config_save_dir tmp_config_directory data_use_instance`,
	"top level":                               `linkbeat_use_polling net_namespace net_namespace_ipvs namespace_with_ipsets use_pid_dir instance child_wait_time global_defs track_group static_ipaddress static_routes static_rules vrrp_sync_group garp_group linkbeat_interfaces vrrp_instance vrrp_script vrrp_track_process interface_up_down_delays track_file vrrp_track_file bfd_instance SSL virtual_server_group virtual_server`,
	"vrrp_instance":                           `use_vmac use_vmac_addr vmac_xmit_base use_ipvlan unicast_peer unicast_fault_no_peer check_unicast_src old_unicast_checksum native_ipv6 state interface vrf dont_track_primary track_interface track_script track_file track_process track_bfd mcast_src_ip unicast_src_ip mcast_dst_ip track_src_ip virtual_router_id unicast_ttl version priority advert_int virtual_ipaddress virtual_ipaddress_excluded promote_secondaries linkbeat_use_polling virtual_routes virtual_rules accept no_accept skip_check_adv_addr strict_mode preempt nopreempt preempt_delay debug notify_backup notify_master notify_fault notify_stop notify_deleted notify notify_master_rx_lower_pri smtp_alert notify_priority_changes lvs_sync_daemon_interface garp_master_delay garp_master_refresh garp_master_repeat garp_master_refresh_repeat garp_lower_prio_delay garp_lower_prio_repeat down_timer_adverts garp_extra_if vmac_garp_intvl lower_prio_no_advert higher_prio_send_advert kernel_rx_buf_size authentication`,
	"vrrp_instance/authentication":            `auth_type auth_pass`,
	"vrrp_sync_group":                         `group track_interface track_script track_file track_process track_bfd notify_backup notify_master notify_fault notify_stop notify smtp_alert global_tracking sync_group_tracking_weight notify_priority_changes`,
	"vrrp_script":                             `script interval timeout weight rise fall user init_fail`,
	"vrrp_track_process":                      `process param_match weight quorum quorum_max delay terminate_delay fork_delay full_command`,
	"track_file":                              `file weight init_file`,
	"virtual_server":                          `ip_family retry delay_before_retry warmup connect_timeout delay_loop inhibit_on_failure lb_algo lvs_sched hashed ops flag-1 flag-2 flag-3 sh-port sh-fallback mh-port mh-fallback lb_kind lvs_method persistence_engine persistence_timeout persistence_granularity protocol ha_suspend smtp_alert virtualhost snmp_name alpha omega quorum_up quorum_down quorum hysteresis weight sorry_server sorry_server_inhibit sorry_server_lvs_method real_server`,
	"virtual_server/real_server":              `weight lvs_method uthreshold lthreshold inhibit_on_failure notify_up notify_down alpha retry delay_before_retry warmup connect_timeout delay_loop smtp_alert virtualhost snmp_name TCP_CHECK HTTP_GET SSL_GET MISC_CHECK DNS_CHECK SMTP_CHECK UDP_CHECK PING_CHECK FILE_CHECK BFD_CHECK`,
	"virtual_server/real_server/HTTP_GET":     `connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry delay_before_retry warmup delay_loop alpha log_all_failures nb_get_retry virtualhost http_protocol enable_sni fast_recovery url`,
	"virtual_server/real_server/HTTP_GET/url": `path digest status_code virtualhost regex regex_no_match regex_options regex_min_offset regex_max_offset regex_stack`,
	"virtual_server/real_server/MISC_CHECK":   `misc_path misc_timeout misc_dynamic user`,
	"virtual_server/real_server/DNS_CHECK":    `type name`,
	"virtual_server/real_server/SMTP_CHECK":   `helo_name host`,
	"virtual_server/real_server/UDP_CHECK":    `payload require_reply min_reply_length max_reply_length`,
	"SSL":                                     `password ca certificate key`,
}

func TestKeywordsCoverKeepalived(t *testing.T) {
	have := map[string]map[string]KeywordInfo{}
	for _, k := range Keywords() {
		if have[k.Block] == nil {
			have[k.Block] = map[string]KeywordInfo{}
		}
		have[k.Block][k.Keyword] = k
		if k.Syntax == "" {
			t.Errorf("%s/%s has no syntax", k.Block, k.Keyword)
		}
	}
	for blk, list := range keepalived227 {
		for _, kw := range strings.Fields(list) {
			if _, ok := have[blk][kw]; !ok {
				t.Errorf("keyword %q of keepalived's %s is missing", kw, blk)
			}
		}
	}
	// Every keyword parses without an "unknown keyword" complaint.
	if k := have["vrrp_instance"]["priority"]; k.Tier != P0 || k.Status != Supported {
		t.Errorf("priority: %+v", k)
	}
}

// ckMailConf is a virtual server with one real server, with global, vs
// and rs lines added.
func ckMailConf(global, vs, rs string) string {
	return "global_defs {\n" + global + "}\n" +
		"virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" + vs +
		" real_server 198.51.100.1 80 {\n" + rs + "  TCP_CHECK {\n  }\n }\n}\n"
}
