package config

import (
	"strings"
	"testing"
)

// strictConf breaks every rule keepalived's vrrp_strict enforces when it
// loads an instance.
const strictConf = `global_defs {
    vrrp_strict
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    version 2
    advert_int 1
    accept
    preempt_delay 5
    down_timer_adverts 5
    garp_lower_prio_repeat 2
    garp_lower_prio_delay 3
    lower_prio_no_advert false
    higher_prio_send_advert true
    use_vmac vrrp51 02:00:5e:00:01:33
    vmac_xmit_base
    unicast_peer {
        192.0.2.2
    }
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

// TestStrictRulesAtLoad: under vrrp_strict each rule keepalived 2.2.7
// applies in vrrp_complete_instance is enforced at load, with a warning at
// the offending line and the value keepalived falls back to.
func TestStrictRulesAtLoad(t *testing.T) {
	cfg, errs := Parse("s.conf", []byte(strictConf), Options{ConfigID: "t"})
	var got []string
	for _, e := range errs {
		if e.Severity == Warning {
			got = append(got, e.Error())
		}
	}
	for _, want := range []string{
		"s.conf:5:5: state: (VI_1) state MASTER must match being address owner (priority 255) in strict mode",
		"s.conf:11:5: accept: (VI_1) accept mode for VRRP version 2 does not comply with RFC 3768",
		"s.conf:12:5: preempt_delay: (VI_1) preempt_delay is incompatible with strict mode",
		"s.conf:13:5: down_timer_adverts: (VI_1) down_timer_adverts is incompatible with strict mode",
		"s.conf:14:5: garp_lower_prio_repeat: (VI_1) strict mode requires no repeat garps",
		"s.conf:15:5: garp_lower_prio_delay: (VI_1) strict mode requires no repeat garp delay",
		"s.conf:16:5: lower_prio_no_advert: (VI_1) strict mode requires lower_prio_no_advert",
		"s.conf:17:5: higher_prio_send_advert: (VI_1) strict mode requires higher_prio_send_advert to be clear",
		"s.conf:18:5: use_vmac: (VI_1) cannot specify a MAC address in strict mode",
		"s.conf:19:5: vmac_xmit_base: (VI_1) vmac_xmit_base is incompatible with strict mode",
		"s.conf:20:5: unicast_peer: (VI_1) unicast peers are not supported in strict mode",
		"s.conf:23:5: authentication: (VI_1) strict mode does not support authentication",
	} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("no warning %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
	x := cfg.Instances[0]
	if x.WantMaster || x.Accept || x.PreemptDelay != 0 || x.DownTimerAdverts != 3 || x.GARPLowerPrioRepeat != 0 ||
		x.GARPLowerPrioDelay != 0 || !x.LowerPrioNoAdvert || x.HigherPrioSendAdvert || x.UseVMAC.MAC != "" ||
		x.UseVMAC.XmitBase || len(x.UnicastPeers) != 0 || x.Auth != nil {
		t.Errorf("strict instance not reset: %+v", x)
	}
}
