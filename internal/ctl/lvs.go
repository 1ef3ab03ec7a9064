package ctl

import (
	"strconv"

	"github.com/vigil-ha/vigil/healthcheck"
)

// LVSStatus is IPVS as vigild programs it and the real servers' health
// checkers: present when the configuration has virtual servers (or an
// lvs_sync_daemon) and vigild was not started with -P.
type LVSStatus struct {
	// Error says why IPVS is not programmed (a kernel without IPVS);
	// empty while it is.
	Error string `json:"error,omitempty"`
	// Applies counts the table reconciliations; ApplyErrors those with a
	// failed change; Changes the services and destinations changed.
	Applies     uint64 `json:"applies"`
	ApplyErrors uint64 `json:"apply_errors"`
	Changes     uint64 `json:"changes"`
	LastError   string `json:"last_error,omitempty"`
	// Foreign are the services in the kernel that the configuration does
	// not name: left alone.
	Foreign []string `json:"foreign,omitempty"`
	// Scripts counts notify_up / notify_down / quorum_up / quorum_down
	// runs, by result.
	Scripts        LVSScriptStats  `json:"scripts"`
	SyncDaemon     string          `json:"sync_daemon,omitempty"` // "master", "backup", "master+backup" or ""
	VirtualServers []VirtualServer `json:"virtual_servers"`
}

// LVSScriptStats counts the IPVS notify scripts.
type LVSScriptStats struct {
	Runs      uint64 `json:"runs"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`  // non-zero exit, timeout or foreign signal
	Errors    uint64 `json:"errors"`  // could not start (script security included)
	Dropped   uint64 `json:"dropped"` // not run: too many waiting
	Pending   int    `json:"pending"` // waiting or running now
}

// VirtualServer is one virtual_server.
type VirtualServer struct {
	Name     string   `json:"name"`     // keepalived's: [192.0.2.1]:tcp:80, FWM 3, [GROUP]:0
	Services []string `json:"services"` // the kernel services it programs
	Quorum   int      `json:"quorum"`
	QuorumUp bool     `json:"quorum_up"`
	// SorryActive: quorum is lost and the sorry server serves instead.
	SorryActive bool `json:"sorry_active"`
	// Suspended: ha_suspend and its address is not held here.
	Suspended bool         `json:"suspended,omitempty"`
	Real      []RealServer `json:"real_servers"`
}

// RealServer is one real_server and its checkers.
type RealServer struct {
	Address string `json:"address"` // address:port as configured
	Up      bool   `json:"up"`
	// Weight is the effective weight (configured, or as misc_dynamic and
	// FILE_CHECK set it); InTable whether IPVS has it as a destination.
	Weight      int64                      `json:"weight"`
	InTable     bool                       `json:"in_table"`
	Transitions uint64                     `json:"transitions"`
	Checkers    []healthcheck.CheckerStats `json:"checkers"`
}

// realServers calls f for every real server with its labels.
func (s *Status) realServers(f func(vs *VirtualServer, rs *RealServer)) {
	if s.LVS == nil {
		return
	}
	for i := range s.LVS.VirtualServers {
		vs := &s.LVS.VirtualServers[i]
		for j := range vs.Real {
			f(vs, &vs.Real[j])
		}
	}
}

// perVS is a gauge family with one sample per virtual server.
func perVS(name, help string, value func(*VirtualServer) float64) metric {
	return metric{name, gauge, help, []string{"virtual_server"}, func(s *Status, emit emitFunc) {
		if s.LVS == nil {
			return
		}
		for i := range s.LVS.VirtualServers {
			emit(value(&s.LVS.VirtualServers[i]), s.LVS.VirtualServers[i].Name)
		}
	}}
}

// perRS is a family with one sample per real server.
func perRS(name string, typ metricType, help string, value func(*RealServer) float64) metric {
	return metric{name, typ, help, []string{"virtual_server", "real_server"}, func(s *Status, emit emitFunc) {
		s.realServers(func(vs *VirtualServer, rs *RealServer) { emit(value(rs), vs.Name, rs.Address) })
	}}
}

// perChecker is a family with one sample per health checker.
func perChecker(name string, typ metricType, help string, value func(*healthcheck.CheckerStats) float64) metric {
	return metric{name, typ, help, []string{"virtual_server", "real_server", "checker", "kind"}, func(s *Status, emit emitFunc) {
		s.realServers(func(vs *VirtualServer, rs *RealServer) {
			for i := range rs.Checkers {
				c := &rs.Checkers[i]
				emit(value(c), vs.Name, rs.Address, strconv.Itoa(c.ID.Checker), c.Kind.String())
			}
		})
	}}
}

// lvs is a family with one sample and no labels, present only with IPVS.
func lvs(name string, typ metricType, help string, value func(*LVSStatus) float64) metric {
	return metric{name, typ, help, nil, func(s *Status, emit emitFunc) {
		if s.LVS != nil {
			emit(value(s.LVS))
		}
	}}
}
