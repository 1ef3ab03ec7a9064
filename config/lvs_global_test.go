package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestLVSSyncDaemonAndFlushOnStop(t *testing.T) {
	const inst = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n 192.0.2.10\n }\n}\n"
	for _, tc := range []struct {
		name, global string
		want         *LVSSyncDaemon
		flush        LVSFlushOnStop
		warn         string
	}{
		{name: "bare instance takes its VRID", global: "lvs_sync_daemon eth0 VI_1",
			want: &LVSSyncDaemon{Interface: "eth0", Instance: "VI_1", SyncID: 51}},
		{name: "inst keyword and options", global: "lvs_sync_daemon eth0 inst VI_1 id 7 maxlen 1400 port 8849 ttl 2 group 224.0.0.82",
			want: &LVSSyncDaemon{Interface: "eth0", Instance: "VI_1", SyncID: 7, SyncIDSet: true, MaxLen: 1400, Port: 8849, TTL: 2,
				Group: netip.MustParseAddr("224.0.0.82")}},
		{name: "bare fourth word is the sync id", global: "lvs_sync_daemon eth0 VI_1 9",
			want: &LVSSyncDaemon{Interface: "eth0", Instance: "VI_1", SyncID: 9, SyncIDSet: true}},
		{name: "no instance", global: "lvs_sync_daemon eth0 id 3", want: &LVSSyncDaemon{Interface: "eth0", SyncID: 3, SyncIDSet: true}},
		{name: "unknown instance", global: "lvs_sync_daemon eth0 VI_9", warn: "Unable to find vrrp instance VI_9"},
		{name: "unicast group", global: "lvs_sync_daemon eth0 VI_1 group 192.0.2.1", warn: "not a multicast address"},
		{name: "id out of range", global: "lvs_sync_daemon eth0 VI_1 id 256", warn: "lvs_sync_daemon"},
		{name: "flush on stop", global: "lvs_flush_on_stop", flush: FlushOnStopAll},
		{name: "flush on stop VS", global: "lvs_flush_onstop VS", flush: FlushOnStopVS},
		{name: "flush on stop junk", global: "lvs_flush_on_stop all", warn: "want no argument or VS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := Parse("k.conf", []byte("global_defs {\n "+tc.global+"\n}\n"+inst), Options{})
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			all := strings.Join(msgs, "\n")
			if tc.warn != "" {
				if !strings.Contains(all, tc.warn) {
					t.Fatalf("complaints %q lack %q", all, tc.warn)
				}
				if cfg.Global.LVSSyncDaemon != nil {
					t.Fatalf("kept %+v after a complaint", cfg.Global.LVSSyncDaemon)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatalf("complaints: %s", all)
			}
			if cfg.Global.LVSFlushOnStop != tc.flush {
				t.Errorf("LVSFlushOnStop = %v, want %v", cfg.Global.LVSFlushOnStop, tc.flush)
			}
			got := cfg.Global.LVSSyncDaemon
			if (got == nil) != (tc.want == nil) {
				t.Fatalf("LVSSyncDaemon = %+v, want %+v", got, tc.want)
			}
			if got != nil {
				g := *got
				g.Pos = Pos{}
				if g != *tc.want {
					t.Errorf("LVSSyncDaemon = %+v, want %+v", g, *tc.want)
				}
			}
			// The dump reads back to the same model.
			again, errs := Parse("dump.conf", Dump(cfg), Options{})
			for _, e := range errs {
				if e.Severity != Notice {
					t.Errorf("dump: %v", e)
				}
			}
			if again.Global.LVSFlushOnStop != cfg.Global.LVSFlushOnStop ||
				(got != nil && (again.Global.LVSSyncDaemon == nil || again.Global.LVSSyncDaemon.SyncID != got.SyncID)) {
				t.Errorf("dump did not read back: %v\n%s", errs, Dump(cfg))
			}
		})
	}
}
