package config

import (
	"strings"
	"testing"
	"time"
)

func TestIfaceDelays(t *testing.T) {
	text := `interface_up_down_delays {
    eth0 1.5 2
    eth1 0.5
    eth2
    eth0 0.25 0.75
    eth1 300
    eth2 1 2 3
}
` + instConf("    advert_int 1\n")
	cfg, complaints, _ := load(t, text, testOpts())
	want := []IfaceDelay{
		{Interface: "eth0", Down: 250 * time.Millisecond, Up: 750 * time.Millisecond},
		{Interface: "eth1", Down: 500 * time.Millisecond},
		{Interface: "eth2", Down: time.Second, Up: 2 * time.Second},
	}
	if len(cfg.IfaceDelays) != len(want) {
		t.Fatalf("delays %+v", cfg.IfaceDelays)
	}
	for i, w := range want {
		g := cfg.IfaceDelays[i]
		if g.Interface != w.Interface || g.Down != w.Down || g.Up != w.Up || !g.Pos.IsValid() {
			t.Errorf("delay %d: %+v, want %+v", i, g, w)
		}
	}
	for _, w := range []string{"t.conf:4:5: interface_up_down_delays: no timeouts specified for eth2",
		`t.conf:6:10: interface_up_down_delays: invalid down delay "300" for eth1`,
		"t.conf:7:14: interface_up_down_delays: too many parameters for eth2"} {
		if !containsPrefix(complaints, w) {
			t.Errorf("no complaint %q in %q", w, complaints)
		}
	}
}

// TestIfaceDelaysBounded: a delay must stay below (down_timer_adverts-1)
// advert intervals of the interface's instances; a longer one is cut to
// that less advert_int/256, with a warning at its line.
func TestIfaceDelaysBounded(t *testing.T) {
	cases := []struct {
		name, delays, body string
		down, up           time.Duration
		warn               string
	}{
		{"below", "eth0 1.9 1.9", "    advert_int 1\n", 1900 * time.Millisecond, 1900 * time.Millisecond, ""},
		{"at the limit", "eth0 2 1", "    advert_int 1\n", 2*time.Second - time.Second/256, time.Second, "debounce timer not less than 2 * advert_int (using 1.996094s)"},
		{"down_timer_adverts 5", "eth0 3.5 3.9", "    advert_int 1\n    down_timer_adverts 5\n", 3500 * time.Millisecond, 3900 * time.Millisecond, ""},
		{"down_timer_adverts 1", "eth0 0.5 0.5", "    advert_int 1\n    down_timer_adverts 1\n", 0, 0, "cannot use debounce timers with down_timer_adverts = 1 (delays reset to 0)"},
		{"another interface's instance", "eth1 9 9", "    advert_int 1\n", 9 * time.Second, 9 * time.Second, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, complaints, _ := load(t, "interface_up_down_delays {\n    "+c.delays+"\n}\n"+instConf(c.body), testOpts())
			d := cfg.IfaceDelays[0]
			if d.Down != c.down || d.Up != c.up {
				t.Fatalf("down %v up %v, want %v %v", d.Down, d.Up, c.down, c.up)
			}
			found := false
			for _, s := range complaints {
				if c.warn != "" && strings.Contains(s, "t.conf:2:5: interface_up_down_delays: (VI_1)") && strings.Contains(s, c.warn) {
					found = true
				}
			}
			if c.warn != "" && !found {
				t.Errorf("no warning %q in %q", c.warn, complaints)
			}
			if c.warn == "" && len(complaints) != 0 {
				t.Errorf("complaints %q", complaints)
			}
		})
	}
}

func containsPrefix(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestDynamicInterfaces: without dynamic_interfaces an instance on an
// interface that does not exist cannot run (Fatal), a tracked one is
// dropped; with it both stay, with a notice.
func TestDynamicInterfaces(t *testing.T) {
	body := "    track_interface {\n        ethX\n    }\n"
	conf := strings.Replace(instConf(body), "interface eth0", "interface ethY", 1)
	cfg, complaints, errs := load(t, conf, testOpts())
	if ExitCode(cfg, errs, nil) != ExitCannot || !containsPrefix(complaints, "fatal t.conf:2:15: interface: (VI_1) interface ethY does not exist") ||
		!containsPrefix(complaints, "tracked interface ethX does not exist (ignored)") {
		t.Errorf("without dynamic_interfaces: %q", complaints)
	}
	cfg, complaints, errs = load(t, "global_defs {\n    dynamic_interfaces\n}\n"+conf, testOpts())
	if ExitCode(cfg, errs, nil) >= ExitCannot || len(cfg.Instances) != 1 || cfg.Instances[0].Interface != "ethY" ||
		len(cfg.Instances[0].TrackInterfaces) != 1 {
		t.Fatalf("with dynamic_interfaces: %q", complaints)
	}
	for _, w := range []string{"notice t.conf:5:15: interface: interface ethY doesn't currently exist - will use if created",
		"notice t.conf:8:9: track_interface: interface ethX doesn't currently exist"} {
		if !containsPrefix(complaints, w) {
			t.Errorf("no %q in %q", w, complaints)
		}
	}
}

// TestIfaceDelaysUnknownInterface: as in keepalived, a delay for an
// interface that does not exist stops the start, unless
// dynamic_interfaces, when it waits for the interface.
func TestIfaceDelaysUnknownInterface(t *testing.T) {
	text := "interface_up_down_delays {\n    ethZ 1\n}\n" + instConf("")
	cfg, complaints, errs := load(t, text, testOpts())
	if ExitCode(cfg, errs, nil) != ExitCannot || len(cfg.IfaceDelays) != 0 ||
		!containsPrefix(complaints, "fatal t.conf:2:5: interface_up_down_delays: unknown interface ethZ specified for up/down delay") {
		t.Errorf("without dynamic_interfaces: %q", complaints)
	}
	cfg, complaints, errs = load(t, "global_defs {\n    dynamic_interfaces\n}\n"+text, testOpts())
	if ExitCode(cfg, errs, nil) >= ExitCannot || len(cfg.IfaceDelays) != 1 {
		t.Errorf("with dynamic_interfaces: %q", complaints)
	}
}
