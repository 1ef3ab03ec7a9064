package ctl

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vrrp"
)

// With MetricsConfig.KeepalivedNames the endpoint also serves the
// families of the widely used keepalived exporter
// (github.com/mehdy/keepalived-exporter) under its names, labels and value
// encodings, so that dashboards and alerts written for keepalived keep
// working: those vigil can answer truthfully, each from the status
// counters that mean what keepalived's do. docs/metrics.md maps each name
// to its source and lists the ones left out.

// keepalivedLabels are the exporter's labels of its per-instance
// counters: instance name, interface, VRID.
var keepalivedLabels = []string{"iname", "intf", "vrid"}

// kaCounter is one of the exporter's per-instance counters.
func kaCounter(name, help string, value func(*InstanceStatus) uint64) metric {
	return metric{name, counter, help, keepalivedLabels, func(s *Status, emit emitFunc) {
		for i := range s.Instances {
			in := &s.Instances[i]
			emit(float64(value(in)), in.Name, in.Interface, strconv.Itoa(in.VRID))
		}
	}}
}

// received sums an instance's received adverts over the given verdicts.
func received(in *InstanceStatus, verdicts ...vrrp.DropReason) uint64 {
	var n uint64
	for _, r := range verdicts {
		n += in.Received[r.String()]
	}
	return n
}

// kaStateByVIP is keepalived_vrrp_state or keepalived_vrrp_excluded_state:
// the instance's state (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, as keepalived
// numbers them) once per virtual address, labelled with the address as
// keepalived writes it and the address's device; the state family has one
// sample with an empty address for an instance without addresses.
func kaStateByVIP(name, help string, excluded bool) metric {
	return metric{name, gauge, help, []string{"iname", "intf", "vrid", "ip_address"}, func(s *Status, emit emitFunc) {
		for i := range s.Instances {
			in := &s.Instances[i]
			state, vrid := float64(stateNumber(in.State)), strconv.Itoa(in.VRID)
			n := 0
			seen := map[string]bool{}
			for _, v := range in.VIPs {
				isExcluded := false
				for _, e := range in.ExcludedVIPs {
					isExcluded = isExcluded || e == v
				}
				if isExcluded != excluded || seen[v] {
					continue
				}
				seen[v] = true
				addr, dev, ok := keepalivedVIP(v)
				if !ok {
					continue
				}
				emit(state, in.Name, dev, vrid, addr)
				n++
			}
			if !excluded && n == 0 {
				emit(state, in.Name, in.Interface, vrid, "")
			}
		}
	}}
}

// keepalivedVIP splits a status VIP ("PREFIX dev DEV") into the address
// as keepalived writes it (the prefix length only when it is not the
// full length) and the device.
func keepalivedVIP(v string) (addr, dev string, ok bool) {
	p, dev, ok := strings.Cut(v, " dev ")
	if !ok {
		return "", "", false
	}
	prefix, err := netip.ParsePrefix(p)
	if err != nil {
		return "", "", false
	}
	if prefix.Bits() == prefix.Addr().BitLen() {
		return prefix.Addr().String(), dev, true
	}
	return prefix.String(), dev, true
}

// keepalivedMetrics are the exporter's families vigil can answer, with its
// help texts.
var keepalivedMetrics = []metric{
	global("keepalived_up", gauge, "Status", func(*Status) float64 { return 1 }),
	kaStateByVIP("keepalived_vrrp_state", "State of vrrp", false),
	kaStateByVIP("keepalived_vrrp_excluded_state", "State of vrrp with excluded VIP", true),
	kaCounter("keepalived_advertisements_received_total", "Advertisements received", func(in *InstanceStatus) uint64 {
		// keepalived counts an advert once its TTL, version,
		// authentication, interval, type, length and checksum are right,
		// before it checks the address list.
		return received(in, vrrp.DropNone, vrrp.WarnAddrList, vrrp.DropAddrList)
	}),
	kaCounter("keepalived_advertisements_sent_total", "Advertisements sent", func(in *InstanceStatus) uint64 { return in.AdvertsSent }),
	kaCounter("keepalived_become_master_total", "Became master", func(in *InstanceStatus) uint64 { return in.BecomeMaster }),
	kaCounter("keepalived_release_master_total", "Released master", func(in *InstanceStatus) uint64 { return in.ReleaseMaster }),
	kaCounter("keepalived_packet_length_errors_total", "Packet length errors", func(in *InstanceStatus) uint64 { return received(in, vrrp.DropLength) }),
	kaCounter("keepalived_advertisements_interval_errors_total", "Advertisement interval errors", func(in *InstanceStatus) uint64 { return received(in, vrrp.DropInterval) }),
	kaCounter("keepalived_ip_ttl_errors_total", "TTL errors", func(in *InstanceStatus) uint64 { return received(in, vrrp.DropTTL) }),
	kaCounter("keepalived_invalid_type_received_total", "Invalid type errors", func(in *InstanceStatus) uint64 { return received(in, vrrp.DropType) }),
	kaCounter("keepalived_address_list_errors_total", "Address list errors", func(in *InstanceStatus) uint64 {
		// keepalived counts a differing list whether or not it drops the
		// advert, and a unicast advert to a multicast instance (or the
		// reverse) too.
		return received(in, vrrp.DropAddrList, vrrp.WarnAddrList, vrrp.DropDstMismatch)
	}),
	kaCounter("keepalived_authentication_mismatch_total", "Authentication mismatch", func(in *InstanceStatus) uint64 { return received(in, vrrp.DropAuthType) }),
	kaCounter("keepalived_authentication_failure_total", "Authentication failure", func(in *InstanceStatus) uint64 {
		return received(in, vrrp.DropAuthMismatch, vrrp.DropAHICV, vrrp.DropAHSPI, vrrp.DropAHReplay)
	}),
	kaCounter("keepalived_priority_zero_received_total", "Priority zero received", func(in *InstanceStatus) uint64 { return in.PriorityZeroReceived }),
	kaCounter("keepalived_priority_zero_sent_total", "Priority zero sent", func(in *InstanceStatus) uint64 { return in.PriorityZeroSent }),
	metric{"keepalived_script_status", gauge, "Tracker Script Status", []string{"name"}, func(s *Status, emit emitFunc) {
		for _, sc := range s.Tracking.Scripts { // 0 BAD, 1 GOOD
			emit(b2f(sc.State == check.StateOK.String()), sc.Name)
		}
	}},
	metric{"keepalived_script_state", gauge, "Tracker Script State", []string{"name"}, func(s *Status, emit emitFunc) {
		for _, sc := range s.Tracking.Scripts { // 0 idle, 1 running
			emit(b2f(sc.Running), sc.Name)
		}
	}},
}
